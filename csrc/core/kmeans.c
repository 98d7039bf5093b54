/* kmeans.c - k-means in the core (kmeans.h).
 *
 * The rows are cut into G groups fixed by n, k and d alone (at most
 * KM_GROUPS, each a run of chunks of KM_CHUNK rows); the pool runs the groups
 * (tl_parallel_for), each chunk's product X C^T is one one-thread tl_gemm,
 * and everything a group sums (cluster sums and counts, potentials, inertia)
 * it sums into its own slot, which are then added in group order: the same
 * bits for any number of threads. */
#include "kmeans.h"

#include "blas.h"
#include "internal.h" /* tl_rng_next */
#include "threadpool.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KM_CHUNK 256
#define KM_GROUPS 16
#define KM_GROUP_BUDGET (8 << 20) /* doubles of per-group cluster sums, all groups together */

static tl_status km_error(char *err, size_t len, tl_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static tl_status km_error(char *err, size_t len, tl_status st, const char *fmt, ...) {
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return st;
}

static int km_groups(int64_t n, int k, int d) {
    int64_t g = (n + KM_CHUNK - 1) / KM_CHUNK;
    if (g > KM_GROUPS) g = KM_GROUPS;
    int64_t cap = KM_GROUP_BUDGET / ((int64_t)k * d > 0 ? (int64_t)k * d : 1);
    if (g > cap) g = cap;
    return g < 1 ? 1 : (int)g;
}
static int64_t group_lo(int64_t n, int G, int64_t g) { return n * g / G; }

/* the first row holding a NaN or infinity, or -1 */
static int64_t first_nonfinite(const float *x, int64_t n, int d) {
    for (int64_t i = 0; i < n; i++) {
        const float *r = x + i * d;
        uint32_t bad = 0;
        for (int j = 0; j < d; j++) {
            uint32_t u;
            memcpy(&u, &r[j], sizeof u);
            bad |= ~u & 0x7f800000u ? 0u : 1u;
        }
        if (bad) return i;
    }
    return -1;
}

static tl_status check_sizes(int64_t n, int d, int k, char *err, size_t errlen) {
    if (n < 1) return km_error(err, errlen, TL_ERR_SHAPE, "k-means: expected at least 1 example, got %lld", (long long)n);
    if (d < 1) return km_error(err, errlen, TL_ERR_SHAPE, "k-means: expected at least 1 feature, got %d", d);
    if (k < 1) return km_error(err, errlen, TL_ERR_VALUE, "k-means: n_clusters must be positive, got %d", k);
    if (k > n)
        return km_error(err, errlen, TL_ERR_VALUE, "k-means: n_clusters=%d is larger than the number of examples (%lld)",
                        k, (long long)n);
    return TL_OK;
}

static double sq_norm(const float *x, int d) {
    double s = 0.0;
    for (int j = 0; j < d; j++) s += (double)x[j] * x[j];
    return s;
}

/* ------------------------------------------------------------ distances */

typedef struct {
    const float *X, *C;
    int64_t n;
    int d, k, G;
    const double *xx, *cc; /* row and centre squared norms */
    float *out;            /* (n, k) */
    int32_t *labels;       /* may be NULL */
} sqdist_job;

static void sqdist_groups(void *ctx, int64_t g0, int64_t g1) {
    const sqdist_job *j = ctx;
    for (int64_t g = g0; g < g1; g++) {
        for (int64_t lo = group_lo(j->n, j->G, g), hi = group_lo(j->n, j->G, g + 1); lo < hi; lo += KM_CHUNK) {
            const int m = (int)(hi - lo < KM_CHUNK ? hi - lo : KM_CHUNK);
            float *o = j->out + lo * j->k;
            tl_gemm(0, CblasNoTrans, CblasTrans, m, j->k, j->d, -2.0f, j->X + lo * j->d, j->d, j->C, j->d, 0.0f, o, j->k);
            for (int i = 0; i < m; i++) {
                float *r = o + (int64_t)i * j->k;
                int best = 0; /* on |c|^2 - 2 x.c, as the Lloyd iterations: the labels of fit */
                double bv = j->cc[0] + (double)r[0];
                for (int c = 0; c < j->k; c++) {
                    double u = j->cc[c] + (double)r[c], v = j->xx[lo + i] + u;
                    if (u < bv) bv = u, best = c;
                    r[c] = v > 0.0 ? (float)v : 0.0f;
                }
                if (j->labels) j->labels[lo + i] = best;
            }
        }
    }
}

tl_status tl_sqdist(const float *X, int64_t n, int d, const float *C, int k, float *out, int32_t *labels, char *err,
                    size_t errlen) {
    if (n < 1 || d < 1 || k < 1)
        return km_error(err, errlen, TL_ERR_SHAPE, "distances: expected positive sizes, got %lld x %d against %d centres",
                        (long long)n, d, k);
    int64_t bad = first_nonfinite(X, n, d);
    if (bad >= 0) return km_error(err, errlen, TL_ERR_NONFINITE, "distances: example %lld holds NaN or infinity", (long long)bad);
    if ((bad = first_nonfinite(C, k, d)) >= 0)
        return km_error(err, errlen, TL_ERR_NONFINITE, "distances: centre %lld holds NaN or infinity", (long long)bad);
    double *xx = malloc(sizeof(double) * (size_t)n), *cc = malloc(sizeof(double) * (size_t)k);
    if (!xx || !cc) {
        free(xx); free(cc);
        return km_error(err, errlen, TL_ERR_NOMEM, "distances: out of memory");
    }
    for (int64_t i = 0; i < n; i++) xx[i] = sq_norm(X + i * d, d);
    for (int c = 0; c < k; c++) cc[c] = sq_norm(C + (int64_t)c * d, d);
    sqdist_job j = {X, C, n, d, k, km_groups(n, 1, 1), xx, cc, out, labels};
    tl_parallel_for(j.G, 1, sqdist_groups, &j);
    free(xx); free(cc);
    return TL_OK;
}

/* ------------------------------------------------------------ k-means++ */

typedef struct {
    const float *X;
    int64_t n;
    int d, t, G;
    const float *cand;     /* (t, d) */
    const double *xx, *cc; /* (n), (t) */
    const double *closest; /* (n) or NULL (the first centre: no minimum) */
    double *cand_d;        /* (t, n): min(closest, distance to candidate) */
    double *pot;           /* (G, t) */
    float *buf;            /* (G, KM_CHUNK * t) */
} seed_job;

static void seed_groups(void *ctx, int64_t g0, int64_t g1) {
    const seed_job *j = ctx;
    for (int64_t g = g0; g < g1; g++) {
        float *buf = j->buf + g * KM_CHUNK * j->t;
        double *pot = j->pot + g * j->t;
        for (int c = 0; c < j->t; c++) pot[c] = 0.0;
        for (int64_t lo = group_lo(j->n, j->G, g), hi = group_lo(j->n, j->G, g + 1); lo < hi; lo += KM_CHUNK) {
            const int m = (int)(hi - lo < KM_CHUNK ? hi - lo : KM_CHUNK);
            tl_gemm(0, CblasNoTrans, CblasTrans, m, j->t, j->d, 1.0f, j->X + lo * j->d, j->d, j->cand, j->d, 0.0f, buf,
                    j->t);
            for (int i = 0; i < m; i++)
                for (int c = 0; c < j->t; c++) {
                    double v = j->xx[lo + i] + j->cc[c] - 2.0 * (double)buf[(int64_t)i * j->t + c];
                    if (v < 0.0) v = 0.0;
                    if (j->closest && j->closest[lo + i] < v) v = j->closest[lo + i];
                    j->cand_d[(int64_t)c * j->n + lo + i] = v;
                    pot[c] += v;
                }
        }
    }
}

static double rng_unit(uint64_t *s) { return (double)(tl_rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* the potentials of the t candidates: sums over groups in group order */
static void seed_round(seed_job *j, double *pots) {
    tl_parallel_for(j->G, 1, seed_groups, j);
    for (int c = 0; c < j->t; c++) {
        double s = 0.0;
        for (int g = 0; g < j->G; g++) s += j->pot[(int64_t)g * j->t + c];
        pots[c] = s;
    }
}

static tl_status plusplus(const float *X, int64_t n, int d, int k, uint64_t seed, int trials, const double *xx,
                          float *centers, int64_t *indices, char *err, size_t errlen) {
    if (trials <= 0) trials = 2 + (int)floor(log((double)k));
    const int G = km_groups(n, 1, 1);
    double *closest = malloc(sizeof(double) * (size_t)n), *cand_d = malloc(sizeof(double) * (size_t)n * trials),
           *cum = malloc(sizeof(double) * (size_t)n), *pot = malloc(sizeof(double) * (size_t)G * trials),
           *cc = malloc(sizeof(double) * (size_t)trials), *pots = malloc(sizeof(double) * (size_t)trials);
    float *cand = malloc(sizeof(float) * (size_t)trials * d), *buf = malloc(sizeof(float) * (size_t)G * KM_CHUNK * trials);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)trials);
    tl_status st = TL_OK;
    if (!closest || !cand_d || !cum || !pot || !cc || !pots || !cand || !buf || !ids) {
        st = km_error(err, errlen, TL_ERR_NOMEM, "k-means++: out of memory for %lld examples", (long long)n);
        goto done;
    }
    uint64_t rng = seed;
    int64_t first = (int64_t)(rng_unit(&rng) * (double)n);
    if (first >= n) first = n - 1;
    memcpy(centers, X + first * d, sizeof(float) * (size_t)d);
    if (indices) indices[0] = first;
    seed_job j = {X, n, d, 1, G, centers, xx, cc, NULL, cand_d, pot, buf};
    cc[0] = xx[first];
    seed_round(&j, pots);
    memcpy(closest, cand_d, sizeof(double) * (size_t)n);
    double current = pots[0];
    for (int c = 1; c < k; c++) {
        double acc = 0.0;
        for (int64_t i = 0; i < n; i++) cum[i] = acc += closest[i];
        for (int t = 0; t < trials; t++) {
            double r = rng_unit(&rng) * current;
            int64_t lo = 0, hi = n; /* the first i with cum[i] >= r (numpy's searchsorted, side left) */
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (cum[mid] < r) lo = mid + 1;
                else hi = mid;
            }
            ids[t] = lo < n ? lo : n - 1;
            memcpy(cand + (int64_t)t * d, X + ids[t] * d, sizeof(float) * (size_t)d);
            cc[t] = xx[ids[t]];
        }
        j.t = trials, j.cand = cand, j.closest = closest;
        seed_round(&j, pots);
        int best = 0;
        for (int t = 1; t < trials; t++)
            if (pots[t] < pots[best]) best = t;
        current = pots[best];
        memcpy(closest, cand_d + (int64_t)best * n, sizeof(double) * (size_t)n);
        memcpy(centers + (int64_t)c * d, X + ids[best] * d, sizeof(float) * (size_t)d);
        if (indices) indices[c] = ids[best];
    }
done:
    free(closest); free(cand_d); free(cum); free(pot); free(cc); free(pots); free(cand); free(buf); free(ids);
    return st;
}

tl_status tl_kmeans_plusplus(const float *X, int64_t n, int d, int k, uint64_t seed, int n_local_trials,
                             float *centers, int64_t *indices, char *err, size_t errlen) {
    tl_status st = check_sizes(n, d, k, err, errlen);
    if (st) return st;
    int64_t bad = first_nonfinite(X, n, d);
    if (bad >= 0) return km_error(err, errlen, TL_ERR_NONFINITE, "k-means: example %lld holds NaN or infinity", (long long)bad);
    double *xx = malloc(sizeof(double) * (size_t)n);
    if (!xx) return km_error(err, errlen, TL_ERR_NOMEM, "k-means++: out of memory");
    for (int64_t i = 0; i < n; i++) xx[i] = sq_norm(X + i * d, d);
    st = plusplus(X, n, d, k, seed, n_local_trials, xx, centers, indices, err, errlen);
    free(xx);
    return st;
}

/* ------------------------------------------------------------ Lloyd */

typedef struct {
    const float *X;
    int64_t n;
    int d, k, G, accumulate;
    const float *C;
    const double *cc;
    int32_t *labels;
    double *sums;   /* (G, k, d) */
    int64_t *count; /* (G, k) */
    float *buf;     /* (G, KM_CHUNK * k) */
    float *part;    /* (G, k, d): a chunk's sums in float, added to the group's doubles after the chunk */
} lloyd_job;

static void lloyd_groups(void *ctx, int64_t g0, int64_t g1) {
    const lloyd_job *j = ctx;
    const int d = j->d, k = j->k;
    for (int64_t g = g0; g < g1; g++) {
        float *buf = j->buf + g * KM_CHUNK * k, *part = j->part + g * (int64_t)k * d;
        double *sums = j->accumulate ? j->sums + g * (int64_t)k * d : NULL;
        int64_t *count = j->accumulate ? j->count + g * k : NULL;
        if (sums) {
            memset(sums, 0, sizeof(double) * (size_t)k * d);
            memset(count, 0, sizeof(int64_t) * (size_t)k);
        }
        for (int64_t lo = group_lo(j->n, j->G, g), hi = group_lo(j->n, j->G, g + 1); lo < hi; lo += KM_CHUNK) {
            const int m = (int)(hi - lo < KM_CHUNK ? hi - lo : KM_CHUNK);
            const float *x = j->X + lo * d;
            tl_gemm(0, CblasNoTrans, CblasTrans, m, k, d, -2.0f, x, d, j->C, d, 0.0f, buf, k);
            if (sums) memset(part, 0, sizeof(float) * (size_t)k * d);
            for (int i = 0; i < m; i++) {
                const float *r = buf + (int64_t)i * k;
                int best = 0;
                double bv = j->cc[0] + (double)r[0];
                for (int c = 1; c < k; c++) {
                    double v = j->cc[c] + (double)r[c];
                    if (v < bv) bv = v, best = c;
                }
                j->labels[lo + i] = best;
                if (sums) {
                    float *s = part + (int64_t)best * d;
                    const float *xi = x + (int64_t)i * d;
                    for (int f = 0; f < d; f++) s[f] += xi[f];
                    count[best]++;
                }
            }
            if (sums)
                for (int64_t q = 0; q < (int64_t)k * d; q++) sums[q] += part[q];
        }
    }
}

typedef struct {
    const float *X, *C;
    int64_t n;
    int d, G;
    const int32_t *labels;
    double *part; /* (G) */
} inertia_job;

static void inertia_groups(void *ctx, int64_t g0, int64_t g1) {
    const inertia_job *j = ctx;
    for (int64_t g = g0; g < g1; g++) {
        double s = 0.0;
        for (int64_t i = group_lo(j->n, j->G, g), hi = group_lo(j->n, j->G, g + 1); i < hi; i++) {
            const float *x = j->X + i * j->d, *c = j->C + (int64_t)j->labels[i] * j->d;
            for (int f = 0; f < j->d; f++) {
                double e = (double)x[f] - c[f];
                s += e * e;
            }
        }
        j->part[g] = s;
    }
}

static void centre_norms(const float *C, int k, int d, double *cc) {
    for (int c = 0; c < k; c++) cc[c] = sq_norm(C + (int64_t)c * d, d);
}

/* the mean over features of the features' variances (scikit-learn's scale of tol) */
static double mean_variance(const float *X, int64_t n, int d) {
    double *mu = calloc((size_t)d, sizeof(double));
    if (!mu) return 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int f = 0; f < d; f++) mu[f] += X[i * d + f];
    for (int f = 0; f < d; f++) mu[f] /= (double)n;
    double v = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int f = 0; f < d; f++) {
            double e = X[i * d + f] - mu[f];
            v += e * e;
        }
    free(mu);
    return v / ((double)n * d);
}

/* scikit-learn's relocation of empty clusters: each takes one of the rows
 * farthest from their own centres (largest first, lower row on ties) */
static tl_status relocate(const float *X, int64_t n, int d, int k, const float *old, const int32_t *labels, double *sums,
                          int64_t *count) {
    int n_empty = 0;
    for (int c = 0; c < k; c++) n_empty += count[c] == 0;
    if (!n_empty) return TL_OK;
    double *dist = malloc(sizeof(double) * (size_t)n);
    int64_t *far = malloc(sizeof(int64_t) * (size_t)n_empty);
    if (!dist || !far) {
        free(dist); free(far);
        return TL_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        const float *x = X + i * d, *c = old + (int64_t)labels[i] * d;
        double s = 0.0;
        for (int f = 0; f < d; f++) {
            double e = (double)x[f] - c[f];
            s += e * e;
        }
        dist[i] = s;
    }
    for (int e = 0; e < n_empty; e++) { /* n_empty is small: a selection per empty cluster */
        int64_t b = -1;
        for (int64_t i = 0; i < n; i++)
            if (dist[i] >= 0.0 && (b < 0 || dist[i] > dist[b])) b = i;
        far[e] = b;
        if (b >= 0) dist[b] = -1.0;
    }
    int e = 0;
    for (int c = 0; c < k && e < n_empty; c++) {
        if (count[c] != 0) continue;
        int64_t i = far[e++];
        if (i < 0) continue;
        int old_c = labels[i];
        const float *x = X + i * d;
        for (int f = 0; f < d; f++) {
            sums[(int64_t)old_c * d + f] -= x[f];
            sums[(int64_t)c * d + f] = x[f];
        }
        count[c] = 1;
        count[old_c] -= 1;
    }
    free(dist); free(far);
    return TL_OK;
}

tl_status tl_kmeans(const float *X, int64_t n, int d, const tl_kmeans_cfg *cfg, float *centers, int32_t *labels,
                    double *inertia, int *n_iter, char *err, size_t errlen) {
    const int k = cfg->k;
    tl_status st = check_sizes(n, d, k, err, errlen);
    if (st) return st;
    if (cfg->max_iter < 1) return km_error(err, errlen, TL_ERR_VALUE, "k-means: max_iter must be positive, got %d", cfg->max_iter);
    if (!(cfg->tol >= 0.0) || isinf(cfg->tol))
        return km_error(err, errlen, TL_ERR_VALUE, "k-means: tol must be finite and >= 0, got %g", cfg->tol);
    int64_t bad = first_nonfinite(X, n, d);
    if (bad >= 0) return km_error(err, errlen, TL_ERR_NONFINITE, "k-means: example %lld holds NaN or infinity", (long long)bad);
    if (cfg->init && (bad = first_nonfinite(cfg->init, k, d)) >= 0)
        return km_error(err, errlen, TL_ERR_NONFINITE, "k-means: initial centre %lld holds NaN or infinity", (long long)bad);

    const int G = km_groups(n, k, d);
    double *sums = malloc(sizeof(double) * (size_t)G * k * d), *total = malloc(sizeof(double) * (size_t)k * d),
           *cc = malloc(sizeof(double) * (size_t)k), *xx = NULL, *part = malloc(sizeof(double) * (size_t)G);
    int64_t *count = malloc(sizeof(int64_t) * (size_t)G * k), *tcount = malloc(sizeof(int64_t) * (size_t)k);
    float *buf = malloc(sizeof(float) * (size_t)G * KM_CHUNK * k), *other = malloc(sizeof(float) * (size_t)k * d),
          *fpart = malloc(sizeof(float) * (size_t)G * k * d);
    int32_t *old = malloc(sizeof(int32_t) * (size_t)n);
    if (!sums || !total || !cc || !part || !count || !tcount || !buf || !other || !old || !fpart) {
        st = km_error(err, errlen, TL_ERR_NOMEM, "k-means: out of memory for %lld x %d with k=%d", (long long)n, d, k);
        goto done;
    }
    if (cfg->init) {
        memcpy(centers, cfg->init, sizeof(float) * (size_t)k * d);
    } else {
        if (!(xx = malloc(sizeof(double) * (size_t)n))) {
            st = km_error(err, errlen, TL_ERR_NOMEM, "k-means: out of memory");
            goto done;
        }
        for (int64_t i = 0; i < n; i++) xx[i] = sq_norm(X + i * d, d);
        if ((st = plusplus(X, n, d, k, cfg->seed, cfg->n_local_trials, xx, centers, NULL, err, errlen))) goto done;
    }
    const double tol = cfg->tol > 0.0 ? cfg->tol * mean_variance(X, n, d) : 0.0;
    for (int64_t i = 0; i < n; i++) old[i] = -1;
    float *cur = centers, *next = other;
    int strict = 0, it = 0;
    lloyd_job j = {X, n, d, k, G, 1, cur, cc, labels, sums, count, buf, fpart};
    for (it = 0; it < cfg->max_iter; it++) {
        centre_norms(cur, k, d, cc);
        j.C = cur, j.accumulate = 1;
        tl_parallel_for(G, 1, lloyd_groups, &j);
        memset(total, 0, sizeof(double) * (size_t)k * d);
        memset(tcount, 0, sizeof(int64_t) * (size_t)k);
        for (int g = 0; g < G; g++) {
            const double *s = sums + (int64_t)g * k * d;
            for (int64_t q = 0; q < (int64_t)k * d; q++) total[q] += s[q];
            for (int c = 0; c < k; c++) tcount[c] += count[(int64_t)g * k + c];
        }
        if (relocate(X, n, d, k, cur, labels, total, tcount)) {
            st = km_error(err, errlen, TL_ERR_NOMEM, "k-means: out of memory");
            goto done;
        }
        double shift = 0.0;
        for (int c = 0; c < k; c++) {
            const double inv = tcount[c] > 0 ? 1.0 / (double)tcount[c] : 1.0;
            for (int f = 0; f < d; f++) {
                float v = (float)(total[(int64_t)c * d + f] * inv);
                double e = (double)v - cur[(int64_t)c * d + f];
                shift += e * e;
                next[(int64_t)c * d + f] = v;
            }
        }
        float *t = cur;
        cur = next, next = t;
        if (!memcmp(labels, old, sizeof(int32_t) * (size_t)n)) {
            strict = 1;
            it++;
            break;
        }
        if (shift <= tol) {
            it++;
            break;
        }
        memcpy(old, labels, sizeof(int32_t) * (size_t)n);
    }
    if (!strict) { /* the labels of the last centres */
        centre_norms(cur, k, d, cc);
        j.C = cur, j.accumulate = 0;
        tl_parallel_for(G, 1, lloyd_groups, &j);
    }
    if (cur != centers) memcpy(centers, cur, sizeof(float) * (size_t)k * d);
    inertia_job ij = {X, centers, n, d, G, labels, part};
    tl_parallel_for(G, 1, inertia_groups, &ij);
    double s = 0.0;
    for (int g = 0; g < G; g++) s += part[g];
    *inertia = s;
    *n_iter = it;
done:
    free(sums); free(total); free(cc); free(xx); free(part); free(count); free(tcount); free(buf); free(other); free(old);
    free(fpart);
    return st;
}
