/* kmeans.h - k-means clustering in the core: Lloyd iterations from a
 * k-means++ seeding in scikit-learn's greedy variant (each new centre is the
 * best of n_local_trials candidates drawn with probability proportional to
 * the squared distance to the nearest centre so far; scikit-learn's default
 * is 2 + floor(ln k)), and the distance matrices behind predict and transform.
 *
 * Every product X C^T goes through tl_gemm (one OpenBLAS thread) on blocks
 * of rows fixed by the data's size, and the sums over rows are reduced in
 * a fixed order, so a seed gives the same bits on any thread count.  Nothing
 * here prints or exits; errors return a tl_status and a message in err. */
#ifndef TL_KMEANS_H
#define TL_KMEANS_H
#include <stddef.h>
#include <stdint.h>

#include "tl.h"

typedef struct tl_kmeans_cfg {
    int k;               /* clusters, 1..n */
    int max_iter;        /* Lloyd iterations at most, >= 1 */
    double tol;          /* relative: stop when the centres' squared shift sums to <= tol * mean feature variance */
    uint64_t seed;       /* k-means++ draws */
    int n_local_trials;  /* candidates per centre; <= 0: 2 + floor(ln k) */
    const float *init;   /* (k, d) starting centres, or NULL for k-means++ */
} tl_kmeans_cfg;

/* Clusters the n rows of X (n, d).  centers (k, d), labels (n) receive the
 * result; *inertia the sum of squared distances of the rows to their
 * centres, *n_iter the Lloyd iterations run.  Labels are those of the
 * returned centres.  A NaN or infinity in X or init is an error. */
tl_status tl_kmeans(const float *X, int64_t n, int d, const tl_kmeans_cfg *cfg, float *centers, int32_t *labels,
                    double *inertia, int *n_iter, char *err, size_t errlen);

/* k-means++ (greedy) seeding alone: centers (k, d) receive k rows of X. */
tl_status tl_kmeans_plusplus(const float *X, int64_t n, int d, int k, uint64_t seed, int n_local_trials,
                             float *centers, int64_t *indices, char *err, size_t errlen);

/* Squared euclidean distances out (n, k) between the rows of X (n, d) and
 * C (k, d): |x|^2 + |c|^2 - 2 x.c clipped at 0.  labels (n) (may be NULL)
 * receive each row's nearest centre (the lowest index on ties). */
tl_status tl_sqdist(const float *X, int64_t n, int d, const float *C, int k, float *out, int32_t *labels,
                    char *err, size_t errlen);

#endif
