/* blas.h - the GEMM of the core.
 * Every GEMM of the core goes through tl_gemm, which runs OpenBLAS on one
 * thread and spreads a large product over the core's pool (threadpool.c) in
 * blocks of C fixed by the shape alone: one set of threads for everything
 * (no OpenBLAS threads spinning against the pool's), the same bits for any
 * thread count (OpenBLAS's results depend on its own thread count: a GEMM on
 * one and on two threads differs in the last bits), and GEMMs that run side
 * by side in the pool's parts (conv.c's chunks) without queueing on
 * OpenBLAS's lock for threaded GEMMs.
 * The PyPI wheel scipy-openblas32 prefixes its symbols with "scipy_"
 * (its pkg-config sets -DBLAS_SYMBOL_PREFIX=scipy_); Debian's libopenblas
 * does not. */
#ifndef TL_BLAS_H
#define TL_BLAS_H
#include <cblas.h>
#if defined(TL_BLAS_SCIPY_PREFIX)
#define tl_sgemm scipy_cblas_sgemm
#define tl_blas_get_threads scipy_openblas_get_num_threads
#define tl_blas_set_threads scipy_openblas_set_num_threads
#else
#define tl_sgemm cblas_sgemm
#define tl_blas_get_threads openblas_get_num_threads
#define tl_blas_set_threads openblas_set_num_threads
#endif

/* C (M, N) = alpha op(A) op(B) + beta C, row-major.  par: spread the blocks
 * over the pool (a caller already in a part of the pool passes 0: one call). */
void tl_gemm(int par, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
#endif
