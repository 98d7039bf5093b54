/* blas.c - the core's GEMM (blas.h), and a probe of it (bench/ compares
 * the core's throughput with it). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "tl.h"
#include "blas.h"

#include "threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* OpenBLAS on one thread: checked on every call (an int compare), since a
 * caller may have set it since (openblas_set_num_threads is process-wide);
 * set under a lock, since GEMMs run in several of the pool's threads at once
 * and OpenBLAS's setter is not safe to call from two threads. */
static pthread_mutex_t blas_mu = PTHREAD_MUTEX_INITIALIZER;
static void one_blas_thread(void) {
    if (tl_blas_get_threads() == 1) return;
    pthread_mutex_lock(&blas_mu);
    if (tl_blas_get_threads() != 1) tl_blas_set_threads(1);
    pthread_mutex_unlock(&blas_mu);
}

/* A product of at least 2 GEMM_GRAIN flops and 2 GEMM_ALIGN rows or columns
 * of C goes in GEMM_MAX_BLOCKS blocks of its longer side (whole micro-kernel
 * tiles of GEMM_ALIGN), so that the shorter operand is the one each block
 * packs again; the blocks depend on the shape alone.  More blocks cost more
 * than they give: each packs the shorter operand again, where OpenBLAS's own
 * threads share their packed panels (bench/README.md, "GEMM blocks"). */
#define GEMM_GRAIN 4.0e6
#define GEMM_ALIGN 16
#define GEMM_MAX_BLOCKS 2

typedef struct {
    enum CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc, bs, rows, side; /* side: M when the blocks split rows, else N */
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void gemm_blocks(void *ctx, int64_t k0, int64_t k1) {
    const gemm_job *j = ctx;
    for (int64_t k = k0; k < k1; k++) {
        const int lo = (int)k * j->bs, len = j->side - lo < j->bs ? j->side - lo : j->bs;
        if (len <= 0) continue;
        if (j->rows) { /* rows [lo, lo + len) of C: of op(A) */
            const float *a = j->A + (j->ta == CblasNoTrans ? (int64_t)lo * j->lda : lo);
            tl_sgemm(CblasRowMajor, j->ta, j->tb, len, j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb, j->beta,
                     j->C + (int64_t)lo * j->ldc, j->ldc);
        } else { /* columns [lo, lo + len) of C: of op(B) */
            const float *b = j->B + (j->tb == CblasNoTrans ? lo : (int64_t)lo * j->ldb);
            tl_sgemm(CblasRowMajor, j->ta, j->tb, j->M, len, j->K, j->alpha, j->A, j->lda, b, j->ldb, j->beta,
                     j->C + lo, j->ldc);
        }
    }
}

void tl_gemm(int par, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    one_blas_thread();
    const int rows = M > N, side = rows ? M : N;
    const double flops = 2.0 * M * N * K;
    int nb = 1;
    while (nb < GEMM_MAX_BLOCKS && flops / (2 * nb) >= GEMM_GRAIN && side / (2 * nb) >= GEMM_ALIGN) nb *= 2;
    if (!par || nb == 1) {
        tl_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int bs = ((side + nb - 1) / nb + GEMM_ALIGN - 1) / GEMM_ALIGN * GEMM_ALIGN;
    gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, bs, rows, side, alpha, beta, A, B, C};
    tl_parallel_for(nb, 1, gemm_blocks, &j);
}

int tl_sgemm_probe(int M, int N, int K, int reps, double *secs) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N),
          *c = malloc(sizeof(float) * (size_t)M * N);
    if (!a || !b || !c) {
        free(a); free(b); free(c);
        return 1;
    }
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    tl_gemm(1, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N); /* warm up */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < reps; r++)
        tl_gemm(1, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    free(a); free(b); free(c);
    return 0;
}
