/* conv.c - convolution, pooling and batch normalisation kernels.
 *
 * A convolution is lowered onto sgemm: im2col writes the receptive fields of
 * n examples side by side, col (K, n*P) with K = C*KH*KW and P = OH*OW, so
 * that
 *   forward   Y' (OC, n*P) = W (OC, K) col,
 *   backward  dW += dY' col^T,   dcol = W^T dY'  (then col2im into dx),
 * where Y' is the output in (OC, n, P) order; a copy moves it to NCHW.  The
 * batch goes in chunks of n examples whose col is about 4 MB (CHUNK_BYTES),
 * each chunk keeping its own col in the scratch for the backward: big enough
 * that the GEMMs keep both OpenBLAS threads busy, small enough to stay in
 * cache between im2col and the GEMMs.  (A layout with the windows as rows,
 * colT (n*P, K), makes OpenBLAS 1.2-2x faster on the GEMMs of the MNIST-M
 * network, but its im2row, row2im and transposes cost more than that: 14.9
 * against 14.3 ms per step at batch 64.)  The loops around the GEMMs run on
 * the core's pool (pool.c).  No allocation: the scratch is the op's planned
 * aux buffer. */
#include "conv.h"
#include "blas.h"
#include "pool.h"

#include <math.h>
#include <string.h>

#define P_OF(g) ((int64_t)(g)->OH * (g)->OW)
#define K_OF(g) ((int64_t)(g)->C * (g)->KH * (g)->KW)

int64_t tl_conv2d_scratch(const tl_conv_geom *g) { return (K_OF(g) + g->OC) * P_OF(g); }

/* Valid output columns [*lo, *hi) of window column kw: 0 <= ow*SW - PW + kw < W. */
static void valid_cols(const tl_conv_geom *g, int kw, int *lo, int *hi) {
    int l = 0, h = g->OW;
    while (l < g->OW && l * g->SW - g->PW + kw < 0) l++;
    while (h > l && (h - 1) * g->SW - g->PW + kw >= g->W) h--;
    *lo = l, *hi = h;
}

/* Receptive fields of B examples x (B,C,H,W) into col (K, B*P), row
 * k = (c, kh, kw), column b*P + oh*OW + ow.  Rows are written one after the
 * other (sequential stores into a matrix larger than the cache, while the
 * batch of inputs stays in L2); inner copies are plain loops, OW is short.
 * Rows [k0, k1) per call: the pool splits the rows between threads. */
typedef struct {
    float *col;
    const float *x;
    float *dx;
    int B;
    const tl_conv_geom *g;
} col_job;

static void im2col_rows(void *ctx, int64_t k0, int64_t k1) {
    const col_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int B = j->B, H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    const int64_t P = (int64_t)OH * OW, in_sz = (int64_t)g->C * H * W;
    for (int64_t k = k0; k < k1; k++) {
        const int c = (int)(k / (g->KH * g->KW)), kh = (int)(k / g->KW % g->KH), kw = (int)(k % g->KW);
        float *row = j->col + k * B * P;
        int lo, hi;
        valid_cols(g, kw, &lo, &hi);
        for (int b = 0; b < B; b++, row += P) {
            const float *xc = j->x + b * in_sz + (int64_t)c * H * W;
            for (int oh = 0; oh < OH; oh++) {
                float *r = row + (int64_t)oh * OW;
                int ih = oh * g->SH - g->PH + kh;
                if (ih < 0 || ih >= H) {
                    for (int ow = 0; ow < OW; ow++) r[ow] = 0.0f;
                    continue;
                }
                const float *xr = xc + (int64_t)ih * W - g->PW + kw;
                for (int ow = 0; ow < lo; ow++) r[ow] = 0.0f;
                if (SW == 1)
                    for (int ow = lo; ow < hi; ow++) r[ow] = xr[ow];
                else
                    for (int ow = lo; ow < hi; ow++) r[ow] = xr[(int64_t)ow * SW];
                for (int ow = hi; ow < OW; ow++) r[ow] = 0.0f;
            }
        }
    }
}

/* Items per part of a parallel loop whose items are `floats` floats each:
 * about 16K floats a part, so that a part is worth waking a thread for. */
static int64_t grain_of(int64_t floats) {
    return floats >= 16384 ? 1 : 16384 / (floats > 0 ? floats : 1);
}

static void im2col(float *col, const float *x, int B, const tl_conv_geom *g) {
    col_job j = {col, x, NULL, B, g};
    tl_parallel_for(K_OF(g), grain_of((int64_t)B * P_OF(g)), im2col_rows, &j);
}

/* dx += the sum of the receptive-field gradients in col (the adjoint of
 * im2col), for examples [b0, b1): each thread owns whole examples of dx. */
static void col2im_examples(void *ctx, int64_t b0, int64_t b1) {
    const col_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int B = j->B, H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    const int64_t P = (int64_t)OH * OW, in_sz = (int64_t)g->C * H * W;
    const float *row = j->col;
    for (int c = 0; c < g->C; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++, row += (int64_t)B * P) {
                int lo, hi;
                valid_cols(g, kw, &lo, &hi);
                for (int64_t b = b0; b < b1; b++) {
                    const float *rb = row + b * P;
                    float *dc = j->dx + b * in_sz + (int64_t)c * H * W;
                    for (int oh = 0; oh < OH; oh++) {
                        int ih = oh * g->SH - g->PH + kh;
                        if (ih < 0 || ih >= H) continue;
                        const float *r = rb + (int64_t)oh * OW;
                        float *dr = dc + (int64_t)ih * W - g->PW + kw;
                        if (SW == 1)
                            for (int ow = lo; ow < hi; ow++) dr[ow] += r[ow];
                        else
                            for (int ow = lo; ow < hi; ow++) dr[(int64_t)ow * SW] += r[ow];
                    }
                }
            }
}

static void col2im(float *dx, const float *col, int B, const tl_conv_geom *g) {
    col_job j = {(float *)col, NULL, dx, B, g};
    tl_parallel_for(B, 1, col2im_examples, &j);
}

/* Between the GEMM's (OC, B*P) layout and NCHW: src is the GEMM's result
 * (forward) or dY (backward), out the other layout. */
typedef struct {
    float *out;
    const float *src;
    const float *b;
    float *db;
    int B;
    const tl_conv_geom *g;
} bias_job;

/* The GEMM's result into NCHW with the bias, examples [i0, i1). */
static void scatter_bias(void *ctx, int64_t i0, int64_t i1) {
    const bias_job *j = ctx;
    const int64_t P = P_OF(j->g), BP = (int64_t)j->B * P;
    for (int64_t i = i0; i < i1; i++)
        for (int o = 0; o < j->g->OC; o++) {
            float *y = j->out + (i * j->g->OC + o) * P;
            const float *s = j->src + (int64_t)o * BP + i * P;
            float bias = j->b ? j->b[o] : 0.0f;
            for (int64_t p = 0; p < P; p++) y[p] = s[p] + bias;
        }
}

/* dY (B, OC, P) into (OC, B*P) and db += its sums, channels [o0, o1). */
static void gather_dy(void *ctx, int64_t o0, int64_t o1) {
    const bias_job *j = ctx;
    const int64_t P = P_OF(j->g), BP = (int64_t)j->B * P;
    for (int64_t o = o0; o < o1; o++) {
        float s = 0.0f;
        for (int i = 0; i < j->B; i++) {
            const float *d = j->src + ((int64_t)i * j->g->OC + o) * P;
            memcpy(j->out + o * BP + (int64_t)i * P, d, sizeof(float) * (size_t)P);
            if (j->db)
                for (int64_t p = 0; p < P; p++) s += d[p];
        }
        if (j->db) j->db[o] += s;
    }
}

/* Examples per chunk: the batch goes through the lowering in chunks whose
 * im2col matrix stays under CHUNK_BYTES, so that it is still in cache when
 * the GEMMs read it back.  MNIST-M network, 2 threads, minimum ms per
 * training step (runs interleaved), whole batch / chunks of 16, 8, 4, 2, 1 MB:
 *   batch 64:  14.2-14.7 / 14.3-14.9, 13.3-14.7, 13.5-14.0, 14.0-14.2, 14.3-14.9
 *   batch 128: 30.0-31.0 / 27.3-27.7, 27.4, 27.2, 28.0
 * (the second conv's col is 12.5 MB at batch 64; 4 MB is 20 examples). */
#define CHUNK_BYTES ((int64_t)4 << 20)
static int chunk_examples(const tl_conv_geom *g, int B) {
    int64_t per = K_OF(g) * P_OF(g) * (int64_t)sizeof(float);
    int64_t n = per > 0 ? CHUNK_BYTES / per : B;
    if (n < 1) n = 1;
    return n >= B ? B : (int)n;
}

static void conv_forward_chunk(float *out, float *scratch, const float *inp, const float *w, const float *b, int B,
                               const tl_conv_geom *g) {
    const int64_t P = P_OF(g), K = K_OF(g), BP = (int64_t)B * P;
    float *col = scratch, *yt = scratch + K * BP; /* col (K, B*P), yt (OC, B*P) */
    im2col(col, inp, B, g);
    tl_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->OC, (int)BP, (int)K, 1.0f, w, (int)K, col, (int)BP, 0.0f,
             yt, (int)BP);
    bias_job j = {out, yt, b, NULL, B, g};
    tl_parallel_for(B, 1, scatter_bias, &j);
}

static void conv_backward_chunk(float *dinp, float *dw, float *db, float *scratch, const float *dout, const float *w,
                                int B, const tl_conv_geom *g) {
    const int64_t P = P_OF(g), K = K_OF(g), BP = (int64_t)B * P;
    float *col = scratch, *dyt = scratch + K * BP; /* col (K, B*P), dyt (OC, B*P) */
    bias_job j = {dyt, dout, NULL, db, B, g};
    tl_parallel_for(g->OC, 1, gather_dy, &j);
    if (dw)
        tl_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->OC, (int)K, (int)BP, 1.0f, dyt, (int)BP, col, (int)BP,
                 1.0f, dw, (int)K);
    if (dinp) {
        /* col is no longer needed: dcol overwrites it */
        tl_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)BP, g->OC, 1.0f, w, (int)K, dyt, (int)BP, 0.0f,
                 col, (int)BP);
        col2im(dinp, col, B, g);
    }
}

void tl_conv2d_forward(float *out, float *scratch, const float *inp, const float *w, const float *b, int B,
                       const tl_conv_geom *g) {
    const int ch = chunk_examples(g, B);
    const int64_t in_sz = (int64_t)g->C * g->H * g->W, out_sz = (int64_t)g->OC * P_OF(g);
    const int64_t sc_sz = tl_conv2d_scratch(g);
    for (int i = 0; i < B; i += ch) {
        const int n = B - i < ch ? B - i : ch;
        conv_forward_chunk(out + i * out_sz, scratch + i * sc_sz, inp + i * in_sz, w, b, n, g);
    }
}

void tl_conv2d_backward(float *dinp, float *dw, float *db, float *scratch, const float *dout, const float *w, int B,
                        const tl_conv_geom *g) {
    if (!dinp && !dw && !db) return;
    const int ch = chunk_examples(g, B);
    const int64_t in_sz = (int64_t)g->C * g->H * g->W, out_sz = (int64_t)g->OC * P_OF(g);
    const int64_t sc_sz = tl_conv2d_scratch(g);
    for (int i = 0; i < B; i += ch) {
        const int n = B - i < ch ? B - i : ch;
        conv_backward_chunk(dinp ? dinp + i * in_sz : NULL, dw, db, scratch + i * sc_sz, dout + i * out_sz, w, n, g);
    }
}

/* ---- pooling ---- */

typedef struct {
    float *out;
    int32_t *argmax;
    const float *inp;
    const tl_conv_geom *g;
} pool_job;

/* 2x2 windows, stride 2, W even, W <= MP_BUF: the maxima of the horizontal
 * pairs of a block of rows first (one long loop over contiguous pairs), then
 * of the vertical pairs of those; both loops are branch-free and vectorize,
 * where the loop over the OW windows of one row is too short to.  The
 * winner is the one of the generic loop: the first maximum in row-major
 * order of the window, or its last NaN (NaN wins, as in PyTorch). */
#define MP_BUF 2048
static void maxpool_2x2(const pool_job *j, int64_t pl0, int64_t pl1) {
    const tl_conv_geom *g = j->g;
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const int rp = MP_BUF / W; /* pairs of rows per block */
    float hv[MP_BUF];
    int32_t hk[MP_BUF];
    for (int64_t pl = pl0; pl < pl1; pl++) {
        const float *x = j->inp + pl * H * W;
        for (int oh0 = 0; oh0 < OH; oh0 += rp) {
            const int oh1 = oh0 + rp < OH ? oh0 + rp : OH;
            const int n = (oh1 - oh0) * W; /* horizontal pairs in rows 2 oh0 .. 2 oh1 - 1 */
            const float *restrict xs = x + (int64_t)2 * oh0 * W;
            const int32_t base = 2 * oh0 * W;
            for (int i = 0; i < n; i++) {
                float a = xs[2 * i], b = xs[2 * i + 1];
                int t = (b > a) | (b != b);
                float v = t ? b : a;
                int32_t k = base + 2 * i + t;
                hv[i] = v;
                hk[i] = k;
            }
            for (int oh = oh0; oh < oh1; oh++) {
                const float *top = hv + (int64_t)(oh - oh0) * 2 * OW, *bot = top + OW;
                const int32_t *ktop = hk + (int64_t)(oh - oh0) * 2 * OW, *kbot = ktop + OW;
                float *restrict y = j->out + (pl * OH + oh) * OW;
                int32_t *restrict am = j->argmax + (pl * OH + oh) * OW;
                for (int ow = 0; ow < OW; ow++) {
                    float a = top[ow], b = bot[ow];
                    int32_t ka = ktop[ow], kb = kbot[ow];
                    int t = (b > a) | (b != b);
                    float v = t ? b : a;
                    int32_t k = t ? kb : ka;
                    y[ow] = v;
                    am[ow] = k;
                }
            }
        }
    }
}

static void maxpool_planes(void *ctx, int64_t pl0, int64_t pl1) {
    const pool_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    if (g->KH == 2 && g->KW == 2 && g->SH == 2 && g->SW == 2 && g->W % 2 == 0 && g->W <= MP_BUF) {
        maxpool_2x2(j, pl0, pl1);
        return;
    }
    /* a row of outputs at a time, window offsets outermost: selects over ow vectorize */
    for (int64_t pl = pl0; pl < pl1; pl++) {
        const float *x = j->inp + pl * H * W;
        for (int oh = 0; oh < OH; oh++) {
            float *y = j->out + (pl * OH + oh) * OW;
            int32_t *am = j->argmax + (pl * OH + oh) * OW;
            const int h0 = oh * g->SH;
            for (int ow = 0; ow < OW; ow++) {
                y[ow] = x[(int64_t)h0 * W + ow * SW];
                am[ow] = h0 * W + ow * SW;
            }
            for (int kh = 0; kh < g->KH; kh++)
                for (int kw = 0; kw < g->KW; kw++) {
                    const float *xr = x + (int64_t)(h0 + kh) * W + kw;
                    const int32_t base = (h0 + kh) * W + kw;
                    for (int ow = 0; ow < OW; ow++) {
                        float v = xr[ow * SW];
                        int take = v > y[ow] || v != v; /* NaN wins, as in PyTorch */
                        y[ow] = take ? v : y[ow];
                        am[ow] = take ? base + ow * SW : am[ow];
                    }
                }
        }
    }
}

static int64_t plane_grain(const tl_conv_geom *g) { return grain_of((int64_t)g->H * g->W); }

void tl_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int B, const tl_conv_geom *g) {
    pool_job j = {out, argmax, inp, g};
    tl_parallel_for((int64_t)B * g->C, plane_grain(g), maxpool_planes, &j);
}

static void maxpool_back_planes(void *ctx, int64_t pl0, int64_t pl1) {
    const pool_job *j = ctx; /* out: dinp, inp: dout */
    const int64_t in_pl = (int64_t)j->g->H * j->g->W, out_pl = (int64_t)j->g->OH * j->g->OW;
    for (int64_t pl = pl0; pl < pl1; pl++) {
        float *dx = j->out + pl * in_pl;
        const float *dy = j->inp + pl * out_pl;
        const int32_t *am = j->argmax + pl * out_pl;
        for (int64_t k = 0; k < out_pl; k++) dx[am[k]] += dy[k];
    }
}

void tl_maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax, int B, const tl_conv_geom *g) {
    pool_job j = {dinp, (int32_t *)argmax, dout, g};
    tl_parallel_for((int64_t)B * g->C, plane_grain(g), maxpool_back_planes, &j);
}

static void avgpool_planes(void *ctx, int64_t pl0, int64_t pl1) {
    const pool_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const float inv = 1.0f / (float)(g->KH * g->KW);
    for (int64_t pl = pl0; pl < pl1; pl++) {
        const float *x = j->inp + pl * H * W;
        float *y = j->out + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *xw = x + (int64_t)oh * g->SH * W + (int64_t)ow * g->SW;
                float s = 0.0f;
                for (int kh = 0; kh < g->KH; kh++)
                    for (int kw = 0; kw < g->KW; kw++) s += xw[(int64_t)kh * W + kw];
                y[oh * OW + ow] = s * inv;
            }
    }
}

void tl_avgpool2d_forward(float *out, const float *inp, int B, const tl_conv_geom *g) {
    pool_job j = {out, NULL, inp, g};
    tl_parallel_for((int64_t)B * g->C, plane_grain(g), avgpool_planes, &j);
}

static void avgpool_back_planes(void *ctx, int64_t pl0, int64_t pl1) {
    const pool_job *j = ctx; /* out: dinp, inp: dout */
    const tl_conv_geom *g = j->g;
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const float inv = 1.0f / (float)(g->KH * g->KW);
    for (int64_t pl = pl0; pl < pl1; pl++) {
        float *dx = j->out + pl * H * W;
        const float *dy = j->inp + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float *dw = dx + (int64_t)oh * g->SH * W + (int64_t)ow * g->SW;
                float d = dy[oh * OW + ow] * inv;
                for (int kh = 0; kh < g->KH; kh++)
                    for (int kw = 0; kw < g->KW; kw++) dw[(int64_t)kh * W + kw] += d;
            }
    }
}

void tl_avgpool2d_backward(float *dinp, const float *dout, int B, const tl_conv_geom *g) {
    pool_job j = {dinp, NULL, dout, g};
    tl_parallel_for((int64_t)B * g->C, plane_grain(g), avgpool_back_planes, &j);
}

/* ---- batch normalisation ---- */

void tl_batchnorm_forward(float *out, float *xhat, float *mean, float *invstd, float *running_mean,
                          float *running_var, const float *inp, const float *gamma, const float *beta, int B, int C,
                          int S, float momentum, float eps, int train) {
    const int64_t CS = (int64_t)C * S, N = (int64_t)B * S;
    for (int c = 0; c < C; c++) {
        float mu, is;
        if (train) {
            double s = 0.0;
            for (int i = 0; i < B; i++) {
                const float *x = inp + i * CS + (int64_t)c * S;
                for (int64_t j = 0; j < S; j++) s += x[j];
            }
            double m = s / (double)N, v = 0.0;
            for (int i = 0; i < B; i++) {
                const float *x = inp + i * CS + (int64_t)c * S;
                for (int64_t j = 0; j < S; j++) {
                    double d = x[j] - m;
                    v += d * d;
                }
            }
            double var = v / (double)N; /* biased: normalises the batch */
            mu = (float)m;
            is = (float)(1.0 / sqrt(var + (double)eps));
            mean[c] = mu;
            invstd[c] = is;
            if (momentum != 0.0f) {
                double unb = N > 1 ? v / (double)(N - 1) : var;
                running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mu;
                running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unb;
            }
        } else {
            mu = running_mean[c];
            is = 1.0f / sqrtf(running_var[c] + eps);
        }
        const float ga = gamma[c], be = beta[c];
        for (int i = 0; i < B; i++) {
            const float *x = inp + i * CS + (int64_t)c * S;
            float *y = out + i * CS + (int64_t)c * S;
            if (train) {
                float *xh = xhat + i * CS + (int64_t)c * S;
                for (int64_t j = 0; j < S; j++) {
                    xh[j] = (x[j] - mu) * is;
                    y[j] = ga * xh[j] + be;
                }
            } else {
                for (int64_t j = 0; j < S; j++) y[j] = ga * (x[j] - mu) * is + be;
            }
        }
    }
}

void tl_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *xhat,
                           const float *invstd, const float *gamma, int B, int C, int S) {
    const int64_t CS = (int64_t)C * S, N = (int64_t)B * S;
    for (int c = 0; c < C; c++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < B; i++) {
            const float *dy = dout + i * CS + (int64_t)c * S, *xh = xhat + i * CS + (int64_t)c * S;
            for (int64_t j = 0; j < S; j++) {
                sdy += dy[j];
                sdyx += (double)dy[j] * xh[j];
            }
        }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dinp) continue;
        const float k = gamma[c] * invstd[c] / (float)N, a = (float)sdy, b = (float)sdyx;
        for (int i = 0; i < B; i++) {
            const float *dy = dout + i * CS + (int64_t)c * S, *xh = xhat + i * CS + (int64_t)c * S;
            float *dx = dinp + i * CS + (int64_t)c * S;
            for (int64_t j = 0; j < S; j++) dx[j] += k * ((float)N * dy[j] - a - xh[j] * b);
        }
    }
}
