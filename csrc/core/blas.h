/* blas.h - which CBLAS the core links against.
 * The PyPI wheel scipy-openblas32 prefixes its symbols with "scipy_"
 * (its pkg-config sets -DBLAS_SYMBOL_PREFIX=scipy_); Debian's libopenblas
 * does not.  Everything in the core calls tl_sgemm. */
#ifndef TL_BLAS_H
#define TL_BLAS_H
#include <cblas.h>
#if defined(TL_BLAS_SCIPY_PREFIX)
#define tl_sgemm scipy_cblas_sgemm
#else
#define tl_sgemm cblas_sgemm
#endif
#endif
