/* conv.c - the 2-d convolution's kernels (pooling: pool.c; batch normalisation: batchnorm.c).
 *
 * A convolution is lowered onto sgemm.  Two lowerings of the input, by the
 * length of a window row (rows_lowering):
 *   rows, when KW*C >= ROW_RUN: im2row writes the receptive field of each
 *     output position of n examples as one row, colT (n*P, K), K = KH*KW*C in
 *     (kh, kw, c) order, read from the input in NHWC order (a transposed
 *     copy, none when C = 1), so that a row is KH runs of KW*C contiguous
 *     floats, copied and added back (row2im) with unit stride; the weights
 *     go to W' (OC, K), the same (kh, kw, c) order, once per call;
 *   columns, otherwise: im2col writes col (K, n*P), K = C*KH*KW in
 *     (c, kh, kw) order, one row per window offset (long rows for few
 *     channels, e.g. a first conv on grey images).
 * Both compute the output channel-major,
 *   forward   Y' (OC, n*P) = W' colT^T  or  W col,   y (NCHW) = Y' + b,
 *   backward  dW' += dY' colT  or  dW += dY' col^T,
 *             dcolT = dY'^T W'  or  dcol = W^T dY'  (then row2im / col2im),
 * so that moving Y' to NCHW and dY back are contiguous copies of P floats.
 * Rows pay off for long window rows and lose for short ones (bench/README.md,
 * "The convolution's two lowerings").
 * The batch goes in chunks of examples whose lowered input is at most 512 KB
 * (CHUNK_BYTES, a core's L2), each chunk keeping its own in the scratch for
 * the backward.  Where the direct convolution applies (conv_direct.c) the
 * forward runs it instead, and the backward lowers each chunk itself before
 * its weight gradient (none when the weights are frozen).  The chunks run
 * side by side on the core's pool (threadpool.c), each on one thread with
 * its lowering, one-thread GEMMs (blas.c) and copies; the weight gradient is
 * summed per group of chunks and the groups' sums added in order.  A batch
 * of one chunk spreads its loops and GEMMs over the pool instead.  Every part writes memory of its own, in
 * an order fixed by the shapes, so the results are the same bits for any
 * thread count.  No allocation: the scratch is the op's planned aux buffer. */
#include "conv.h"
#include "blas.h"
#include "conv_direct.h"
#include "threadpool.h"

#include <math.h>
#include <string.h>

#define P_OF(g) ((int64_t)(g)->OH * (g)->OW)
#define K_OF(g) ((int64_t)(g)->C * (g)->KH * (g)->KW)
#define IN_OF(g) ((int64_t)(g)->C * (g)->H * (g)->W)

/* per example: colT (P, K), yT or dyT (P, OC), the NHWC input or dx (C*H*W) */
int64_t tl_conv2d_scratch(const tl_conv_geom *g) { return (K_OF(g) + g->OC) * P_OF(g) + IN_OF(g); }

typedef struct {
    float *dst;
    const float *src;
    const float *b; /* bias (forward) */
    float *db;      /* bias gradient (backward) */
    int B;
    const tl_conv_geom *g;
    int set;        /* backward: overwrite dst instead of adding */
    tl_conv_act act; /* forward: the activation's output too (ych_to_nchw), act.out NULL: none */
} conv_job;

/* d[c * ldd + r] (+)= s[r * lds + c] (+ bias[c]) for r < R, c < Cn: a
 * transpose in TILE x TILE blocks, so that both sides are read and written
 * a cache line at a time (bench/README.md, "Tiled transposes"). */
#define TILE 16
static void transpose(float *restrict d, int64_t ldd, const float *restrict s, int64_t lds, int64_t R, int64_t Cn,
                      const float *bias, int add) {
    for (int64_t r0 = 0; r0 < R; r0 += TILE) {
        const int64_t r1 = r0 + TILE < R ? r0 + TILE : R;
        for (int64_t c0 = 0; c0 < Cn; c0 += TILE) {
            const int64_t c1 = c0 + TILE < Cn ? c0 + TILE : Cn;
            for (int64_t c = c0; c < c1; c++) {
                const float bc = bias ? bias[c] : 0.0f;
                float *dc = d + c * ldd;
                if (add)
                    for (int64_t r = r0; r < r1; r++) dc[r] += s[r * lds + c];
                else
                    for (int64_t r = r0; r < r1; r++) dc[r] = s[r * lds + c] + bc;
            }
        }
    }
}

/* Valid output columns [*lo, *hi) of window column kw: 0 <= ow*SW - PW + kw < W. */
static void valid_cols(const tl_conv_geom *g, int kw, int *lo, int *hi) {
    int l = 0, h = g->OW;
    while (l < g->OW && l * g->SW - g->PW + kw < 0) l++;
    while (h > l && (h - 1) * g->SW - g->PW + kw >= g->W) h--;
    *lo = l, *hi = h;
}

/* The columns lowering: the receptive fields of B examples x (B,C,H,W)
 * into col (K, B*P), row
 * k = (c, kh, kw), column b*P + oh*OW + ow.  Rows are written one after the
 * other (sequential stores into a matrix larger than the cache, while the
 * batch of inputs stays in L2); inner copies are plain loops, OW is short.
 * Rows [k0, k1) per call: the pool splits the rows between threads. */
static void im2col_rows(void *ctx, int64_t k0, int64_t k1) {
    const conv_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int B = j->B, H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    const int64_t P = (int64_t)OH * OW, in_sz = (int64_t)g->C * H * W;
    for (int64_t k = k0; k < k1; k++) {
        const int c = (int)(k / (g->KH * g->KW)), kh = (int)(k / g->KW % g->KH), kw = (int)(k % g->KW);
        float *row = j->dst + k * B * P;
        int lo, hi;
        valid_cols(g, kw, &lo, &hi);
        for (int b = 0; b < B; b++, row += P) {
            const float *xc = j->src + b * in_sz + (int64_t)c * H * W;
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

static void im2col(float *col, const float *x, int B, const tl_conv_geom *g) {
    conv_job j = {.dst = col, .src = x, .B = B, .g = g};
    tl_parallel_for(K_OF(g), tl_grain_of((int64_t)B * P_OF(g)), im2col_rows, &j);
}

/* (B, C, HW) -> (B, HW, C), examples [b0, b1) */
static void to_nhwc(void *ctx, int64_t b0, int64_t b1) {
    const conv_job *j = ctx;
    const int64_t C = j->g->C, HW = (int64_t)j->g->H * j->g->W;
    for (int64_t b = b0; b < b1; b++) transpose(j->dst + b * C * HW, C, j->src + b * C * HW, HW, C, HW, NULL, 0);
}

/* dst (B, C, HW) += src (B, HW, C) (= when set), examples [b0, b1) */
static void add_from_nhwc(void *ctx, int64_t b0, int64_t b1) {
    const conv_job *j = ctx;
    const int64_t C = j->g->C, HW = (int64_t)j->g->H * j->g->W;
    for (int64_t b = b0; b < b1; b++)
        transpose(j->dst + b * C * HW, HW, j->src + b * C * HW, C, HW, C, NULL, !j->set);
}

/* Rows [r0, r1) of colT from the NHWC input: row r = b*P + oh*OW + ow. */
static void im2row_rows(void *ctx, int64_t r0, int64_t r1) {
    const conv_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int H = g->H, W = g->W, C = g->C, KH = g->KH, KW = g->KW, OW = g->OW;
    const int64_t P = P_OF(g), K = K_OF(g), in_sz = IN_OF(g), run = (int64_t)KW * C;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t b = r / P;
        const int oh = (int)(r % P / OW), ow = (int)(r % OW);
        const int iw0 = ow * g->SW - g->PW;
        const float *xb = j->src + b * in_sz;
        float *restrict d = j->dst + r * K;
        for (int kh = 0; kh < KH; kh++, d += run) {
            const int ih = oh * g->SH - g->PH + kh;
            if (ih < 0 || ih >= H) {
                for (int64_t t = 0; t < run; t++) d[t] = 0.0f;
                continue;
            }
            const float *restrict xr = xb + ((int64_t)ih * W + iw0) * C;
            if (iw0 >= 0 && iw0 + KW <= W) {
                for (int64_t t = 0; t < run; t++) d[t] = xr[t];
                continue;
            }
            for (int kw = 0; kw < KW; kw++) {
                const int iw = iw0 + kw;
                float *dk = d + (int64_t)kw * C;
                if (iw < 0 || iw >= W)
                    for (int c = 0; c < C; c++) dk[c] = 0.0f;
                else
                    for (int c = 0; c < C; c++) dk[c] = xr[(int64_t)kw * C + c];
            }
        }
    }
}

/* dx (NHWC) += the rows of dcolT, examples [b0, b1): the adjoint of im2row. */
static void row2im_examples(void *ctx, int64_t b0, int64_t b1) {
    const conv_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int H = g->H, W = g->W, C = g->C, KH = g->KH, KW = g->KW, OH = g->OH, OW = g->OW;
    const int64_t P = P_OF(g), K = K_OF(g), in_sz = IN_OF(g), run = (int64_t)KW * C;
    if (j->set) memset(j->dst + b0 * in_sz, 0, sizeof(float) * (size_t)((b1 - b0) * in_sz));
    for (int64_t b = b0; b < b1; b++) {
        float *xb = j->dst + b * in_sz;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *restrict d = j->src + (b * P + (int64_t)oh * OW + ow) * K;
                const int iw0 = ow * g->SW - g->PW;
                for (int kh = 0; kh < KH; kh++, d += run) {
                    const int ih = oh * g->SH - g->PH + kh;
                    if (ih < 0 || ih >= H) continue;
                    float *restrict xr = xb + ((int64_t)ih * W + iw0) * C;
                    if (iw0 >= 0 && iw0 + KW <= W) {
                        for (int64_t t = 0; t < run; t++) xr[t] += d[t];
                        continue;
                    }
                    for (int kw = 0; kw < KW; kw++) {
                        const int iw = iw0 + kw;
                        if (iw < 0 || iw >= W) continue;
                        for (int c = 0; c < C; c++) xr[(int64_t)kw * C + c] += d[(int64_t)kw * C + c];
                    }
                }
            }
    }
}

/* dx += the sum of the receptive-field gradients in col (the adjoint of
 * im2col), for examples [b0, b1): each thread owns whole examples of dx. */
static void col2im_examples(void *ctx, int64_t b0, int64_t b1) {
    const conv_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int B = j->B, H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    const int64_t P = (int64_t)OH * OW, in_sz = (int64_t)g->C * H * W;
    const float *row = j->src;
    if (j->set) memset(j->dst + b0 * in_sz, 0, sizeof(float) * (size_t)((b1 - b0) * in_sz));
    for (int c = 0; c < g->C; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++, row += (int64_t)B * P) {
                int lo, hi;
                valid_cols(g, kw, &lo, &hi);
                for (int64_t b = b0; b < b1; b++) {
                    const float *rb = row + b * P;
                    float *dc = j->dst + b * in_sz + (int64_t)c * H * W;
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

static void col2im(float *dx, const float *col, int B, const tl_conv_geom *g, int set) {
    conv_job j = {.dst = dx, .src = col, .B = B, .g = g, .set = set};
    tl_parallel_for(B, 1, col2im_examples, &j);
}

/* y (B, OC, P) = Y' (OC, B*P) plus the bias, examples [b0, b1). */
static void ych_to_nchw(void *ctx, int64_t b0, int64_t b1) {
    const conv_job *j = ctx;
    const int64_t P = P_OF(j->g), OC = j->g->OC, BP = (int64_t)j->B * P;
    for (int64_t b = b0; b < b1; b++)
        for (int64_t o = 0; o < OC; o++) {
            const float *restrict s = j->src + o * BP + b * P;
            const float bias = j->b ? j->b[o] : 0.0f;
            if (j->dst) {
                float *restrict y = j->dst + (b * OC + o) * P;
                for (int64_t p = 0; p < P; p++) y[p] = s[p] + bias;
            }
            if (!j->act.out) continue;
            float *restrict r = j->act.out + (b * OC + o) * P;
            const float a = j->act.alpha;
            for (int64_t p = 0; p < P; p++) {
                const float y = s[p] + bias;
                r[p] = y > 0.0f ? y : a * y;
            }
        }
}

/* dY' (OC, B*P) = dY (B, OC, P) and db += its row sums, channels [o0, o1):
 * the sum in DB_LANES partial sums side by side (a fixed order, so the same
 * bits on any thread count), then added up. */
#define DB_LANES 64
static void dy_to_channels(void *ctx, int64_t o0, int64_t o1) {
    const conv_job *j = ctx;
    const int64_t P = P_OF(j->g), OC = j->g->OC, BP = (int64_t)j->B * P;
    for (int64_t o = o0; o < o1; o++) {
        float *restrict d = j->dst + o * BP;
        for (int b = 0; b < j->B; b++) memcpy(d + b * P, j->src + ((int64_t)b * OC + o) * P, sizeof(float) * (size_t)P);
        if (!j->db) continue;
        float acc[DB_LANES] = {0.0f};
        int64_t i = 0;
        for (; i + DB_LANES <= BP; i += DB_LANES)
            for (int l = 0; l < DB_LANES; l++) acc[l] += d[i + l];
        float t = 0.0f;
        for (; i < BP; i++) t += d[i];
        for (int l = 0; l < DB_LANES; l++) t += acc[l];
        j->db[o] += t;
    }
}

/* W (OC, C, KH, KW) -> W' (OC, KH, KW, C) */
static void weights_to_rows(float *wr, const float *w, const tl_conv_geom *g) {
    const int C = g->C, KH = g->KH, KW = g->KW;
    for (int o = 0; o < g->OC; o++)
        for (int c = 0; c < C; c++)
            for (int kh = 0; kh < KH; kh++)
                for (int kw = 0; kw < KW; kw++)
                    wr[(((int64_t)o * KH + kh) * KW + kw) * C + c] = w[(((int64_t)o * C + c) * KH + kh) * KW + kw];
}

/* dW (OC, C, KH, KW) += dW' (OC, KH, KW, C) (= when set) */
static void add_weight_rows(float *dw, const float *dwr, const tl_conv_geom *g, int set) {
    const int C = g->C, KH = g->KH, KW = g->KW;
    for (int o = 0; o < g->OC; o++)
        for (int c = 0; c < C; c++)
            for (int kh = 0; kh < KH; kh++)
                for (int kw = 0; kw < KW; kw++) {
                    float *d = dw + (((int64_t)o * C + c) * KH + kh) * KW + kw;
                    const float s = dwr[(((int64_t)o * KH + kh) * KW + kw) * C + c];
                    *d = set ? s : *d + s;
                }
}

/* Examples per chunk: the batch goes through the lowering in chunks whose
 * lowered input stays under CHUNK_BYTES, so that it is still in a core's L2
 * when the GEMM reads it back; the chunks run side by side on the pool
 * (512 KB timed best of 256 KB to 4 MB: bench/README.md, "Convolution chunk size"). */
#define CHUNK_BYTES ((int64_t)512 << 10)
static int chunk_examples(const tl_conv_geom *g, int B) {
    int64_t per = K_OF(g) * P_OF(g) * (int64_t)sizeof(float);
    int64_t n = per > 0 ? CHUNK_BYTES / per : B;
    if (n < 1) n = 1;
    return n >= B ? B : (int)n;
}

/* The rows lowering when a window row holds at least ROW_RUN floats (its
 * copies are then long enough to beat im2col's gathers), else the columns. */
#define ROW_RUN 16
static int rows_lowering(const tl_conv_geom *g) { return (int64_t)g->KW * g->C >= ROW_RUN; }

/* the parts of a chunk's scratch */
typedef struct {
    float *col, *yt, *xh;
} conv_scratch;

static conv_scratch scratch_of(float *scratch, int B, const tl_conv_geom *g) {
    conv_scratch s;
    s.col = scratch;
    s.yt = s.col + (int64_t)B * P_OF(g) * K_OF(g);
    s.xh = s.yt + (int64_t)B * P_OF(g) * g->OC;
    return s;
}

/* The chunk's lowered input into its scratch: colT from an NHWC copy (rows) or col. */
static void lower_chunk(const conv_scratch *s, const float *inp, int B, const tl_conv_geom *g) {
    if (rows_lowering(g)) {
        const float *xh = inp;
        if (g->C > 1) {
            conv_job t = {.dst = s->xh, .src = inp, .B = B, .g = g};
            tl_parallel_for(B, tl_grain_of(IN_OF(g)), to_nhwc, &t);
            xh = s->xh;
        }
        conv_job r = {.dst = s->col, .src = xh, .B = B, .g = g};
        tl_parallel_for((int64_t)B * P_OF(g), tl_grain_of(K_OF(g)), im2row_rows, &r);
    } else {
        im2col(s->col, inp, B, g);
    }
}

/* par: the loops and the GEMMs on the pool (one chunk), or all inline (a chunk in a part of the pool) */
static void conv_forward_chunk(float *out, tl_conv_act act, float *scratch, const float *inp, const float *wr,
                               const float *b, int B, const tl_conv_geom *g, int par) {
    const int64_t P = P_OF(g), K = K_OF(g), BP = (int64_t)B * P;
    const conv_scratch s = scratch_of(scratch, B, g);
    lower_chunk(&s, inp, B, g);
    if (rows_lowering(g))
        tl_gemm(par, CblasNoTrans, CblasTrans, g->OC, (int)BP, (int)K, 1.0f, wr, (int)K, s.col, (int)K, 0.0f, s.yt,
                (int)BP);
    else
        tl_gemm(par, CblasNoTrans, CblasNoTrans, g->OC, (int)BP, (int)K, 1.0f, wr, (int)K, s.col, (int)BP, 0.0f, s.yt,
                (int)BP);
    conv_job y = {.dst = out, .src = s.yt, .b = b, .B = B, .g = g, .act = act};
    tl_parallel_for(B, tl_grain_of(g->OC * P), ych_to_nchw, &y);
}

/* wbeta: 0 overwrites dW (the first chunk of a single writer), 1 adds; set_dx: dx is overwritten;
 * lower: the forward ran the direct convolution and kept no lowered input, so the weight gradient
 * lowers the chunk's input (inp) first; par as for the forward */
static void conv_backward_chunk(float *dinp, float *dwr, float *db, float *scratch, const float *dout, const float *wr,
                                const float *inp, int lower, int B, const tl_conv_geom *g, float wbeta, int set_dx,
                                int par) {
    const int64_t P = P_OF(g), K = K_OF(g), BP = (int64_t)B * P;
    const conv_scratch s = scratch_of(scratch, B, g);
    const int rows = rows_lowering(g);
    if (lower && dwr) lower_chunk(&s, inp, B, g);
    conv_job d = {.dst = s.yt, .src = dout, .db = db, .B = B, .g = g};
    tl_parallel_for(g->OC, 1, dy_to_channels, &d);
    if (dwr) /* dW' += dY' colT, or dW += dY' col^T */
        tl_gemm(par, CblasNoTrans, rows ? CblasNoTrans : CblasTrans, g->OC, (int)K, (int)BP, 1.0f, s.yt,
                 (int)BP, s.col, rows ? (int)K : (int)BP, wbeta, dwr, (int)K);
    if (!dinp) return;
    /* the lowered input is no longer needed: its gradient overwrites it */
    if (rows) {
        tl_gemm(par, CblasTrans, CblasNoTrans, (int)BP, (int)K, g->OC, 1.0f, s.yt, (int)BP, wr, (int)K,
                 0.0f, s.col, (int)K);
        /* C > 1: row2im into the zeroed NHWC scratch, then to dx; C = 1: into dx itself */
        const int nhwc = g->C > 1;
        conv_job r = {.dst = nhwc ? s.xh : dinp, .src = s.col, .B = B, .g = g, .set = nhwc || set_dx};
        tl_parallel_for(B, 1, row2im_examples, &r);
        if (nhwc) {
            conv_job t = {.dst = dinp, .src = s.xh, .B = B, .g = g, .set = set_dx};
            tl_parallel_for(B, tl_grain_of(IN_OF(g)), add_from_nhwc, &t);
        }
    } else {
        tl_gemm(par, CblasTrans, CblasNoTrans, (int)K, (int)BP, g->OC, 1.0f, wr, (int)K, s.yt, (int)BP,
                 0.0f, s.col, (int)BP);
        col2im(dinp, s.col, B, g, set_dx);
    }
}

/* The weights in the lowering's order: W' in the once-scratch (rows), or W itself. */
static const float *lowered_weights(float *once, const float *w, const tl_conv_geom *g) {
    if (!rows_lowering(g)) return w;
    weights_to_rows(once, w, g);
    return once;
}

/* The batch's chunks: as few as keep each under CHUNK_BYTES of lowered
 * input, of equal size (within one example); chunk c holds examples
 * [B c / n, B (c + 1) / n).  They depend on the batch and the geometry only. */
static int n_chunks(const tl_conv_geom *g, int B) {
    const int per = chunk_examples(g, B);
    return (B + per - 1) / per;
}
static int chunk_lo(int B, int nc, int64_t c) { return (int)((int64_t)B * c / nc); }

/* The weight gradient of a batch is summed in at most CONV_GROUPS groups of
 * consecutive chunks, each group on one thread into its own partial sum,
 * then the partial sums in group order: the same bits for any thread count. */
#define CONV_GROUPS 8
static int n_groups(int nc) { return nc < CONV_GROUPS ? nc : CONV_GROUPS; }

/* per node: W' and dW' (OC, K), then the partial sums of groups 1.. (dW' and db);
 * the direct path's packed weights use the start */
int64_t tl_conv2d_scratch_once(const tl_conv_geom *g) {
    const int64_t gemm = 2 * g->OC * K_OF(g) + (CONV_GROUPS - 1) * (g->OC * K_OF(g) + g->OC);
    const int64_t direct = tl_conv2d_direct_packed(g);
    return gemm > direct ? gemm : direct;
}

/* One call of the forward or backward: its arrays and the chunking. */
typedef struct {
    const tl_conv_geom *g;
    int B, nc;
    float *scratch;
    const float *wr;
    /* forward */
    float *out;
    tl_conv_act act;
    const float *inp, *b;
    /* backward */
    float *dinp, *dwr, *db, *part;
    const float *dout;
    float wbeta0; /* beta of the first chunk's dW GEMM into dwr */
    int set_dx, lower;
} conv_call;

static void forward_chunks(void *ctx, int64_t c0, int64_t c1) {
    const conv_call *r = ctx;
    const tl_conv_geom *g = r->g;
    const int64_t in_sz = IN_OF(g), out_sz = (int64_t)g->OC * P_OF(g), sc_sz = tl_conv2d_scratch(g);
    for (int64_t c = c0; c < c1; c++) {
        const int i = chunk_lo(r->B, r->nc, c), n = chunk_lo(r->B, r->nc, c + 1) - i;
        const tl_conv_act act = {r->act.out ? r->act.out + i * out_sz : NULL, r->act.alpha};
        conv_forward_chunk(r->out ? r->out + i * out_sz : NULL, act, r->scratch + i * sc_sz, r->inp + i * in_sz, r->wr,
                           r->b, n, g, r->nc == 1);
    }
}

/* The partial sums of group k > 0: dW' (OC, K), then db (OC), in the once-scratch after W' and dW'. */
static float *group_part(const conv_call *r, int64_t k) {
    return r->part + (k - 1) * (r->g->OC * K_OF(r->g) + r->g->OC);
}

/* Groups [g0, g1): group 0 sums into dwr and db, group k > 0 into its partial sums. */
static void backward_groups(void *ctx, int64_t g0, int64_t g1) {
    const conv_call *r = ctx;
    const tl_conv_geom *g = r->g;
    const int64_t in_sz = IN_OF(g), out_sz = (int64_t)g->OC * P_OF(g), sc_sz = tl_conv2d_scratch(g);
    const int64_t wsz = g->OC * K_OF(g);
    const int ng = n_groups(r->nc);
    for (int64_t k = g0; k < g1; k++) {
        float *dwr = r->dwr, *db = r->db;
        if (k > 0) {
            float *p = group_part(r, k);
            dwr = dwr ? p : NULL;
            if (db) {
                db = p + wsz;
                memset(db, 0, sizeof(float) * (size_t)g->OC);
            }
        }
        const int64_t c0 = (int64_t)r->nc * k / ng, c1 = (int64_t)r->nc * (k + 1) / ng;
        for (int64_t c = c0; c < c1; c++) {
            const int i = chunk_lo(r->B, r->nc, c), n = chunk_lo(r->B, r->nc, c + 1) - i;
            const float wbeta = c > c0 ? 1.0f : k == 0 ? r->wbeta0 : 0.0f;
            conv_backward_chunk(r->dinp ? r->dinp + i * in_sz : NULL, dwr, db, r->scratch + i * sc_sz,
                                r->dout + i * out_sz, r->wr, r->inp + i * in_sz, r->lower, n, g, wbeta, r->set_dx,
                                r->nc == 1);
        }
    }
}

/* dwr += the partial sums of groups 1..ng-1, in order, elements [e0, e1) */
static void sum_group_weights(void *ctx, int64_t e0, int64_t e1) {
    const conv_call *r = ctx;
    const int64_t ng = n_groups(r->nc);
    for (int64_t k = 1; k < ng; k++) {
        const float *restrict p = group_part(r, k);
        float *restrict d = r->dwr;
        for (int64_t e = e0; e < e1; e++) d[e] += p[e];
    }
}

/* Runs fn over the n chunks or groups of a call: several side by side on
 * the pool, each part running its loops and GEMMs inline; one with its
 * loops and GEMMs spread over the pool. */
static void run_chunks(int64_t n, tl_range_fn fn, conv_call *r) {
    if (n < 2)
        fn(r, 0, n);
    else
        tl_parallel_for(n, 1, fn, r);
}

void tl_conv2d_forward(float *out, const tl_conv_act *act, float *scratch, const float *inp, const float *w,
                       const float *b, int B, const tl_conv_geom *g) {
    const tl_conv_act none = {NULL, 0.0f};
    if (!act) act = &none;
    if (tl_conv2d_direct_ok(g)) { /* no lowered input kept: the backward lowers each chunk itself */
        tl_conv2d_direct(out, act, scratch, tl_conv2d_scratch(g), scratch + (int64_t)B * tl_conv2d_scratch(g), inp, w,
                         b, B, g);
        return;
    }
    conv_call r = {0};
    r.g = g, r.B = B, r.nc = n_chunks(g, B), r.scratch = scratch, r.act = *act;
    r.wr = lowered_weights(scratch + (int64_t)B * tl_conv2d_scratch(g), w, g);
    r.out = out, r.inp = inp, r.b = b;
    run_chunks(r.nc, forward_chunks, &r);
}

void tl_conv2d_backward(float *dinp, float *dw, float *db, float *scratch, const float *dout, const float *inp,
                        const float *w, int B, const tl_conv_geom *g, int set_dx, int set_w) {
    if (!dinp && !dw && !db) return;
    float *once = scratch + (int64_t)B * tl_conv2d_scratch(g);
    const int64_t wsz = g->OC * K_OF(g);
    conv_call r = {0};
    r.g = g, r.B = B, r.nc = n_chunks(g, B), r.scratch = scratch;
    r.wr = lowered_weights(once, w, g);
    /* rows: dW' (OC, K) is summed in the once-scratch (its first chunk
     * overwrites it) and permuted into dW at the end */
    r.dwr = dw && rows_lowering(g) ? once + wsz : dw;
    r.wbeta0 = r.dwr != dw || set_w ? 0.0f : 1.0f;
    r.db = db, r.part = once + 2 * wsz, r.dinp = dinp, r.dout = dout, r.set_dx = set_dx;
    r.inp = inp, r.lower = tl_conv2d_direct_ok(g);
    if (db && set_w) memset(db, 0, sizeof(float) * (size_t)g->OC);
    const int ng = n_groups(r.nc);
    run_chunks(ng, backward_groups, &r);
    if (ng > 1 && r.dwr) tl_parallel_for(wsz, TL_GRAIN_FLOATS, sum_group_weights, &r);
    if (ng > 1 && db)
        for (int k = 1; k < ng; k++)
            for (int o = 0; o < g->OC; o++) db[o] += group_part(&r, k)[wsz + o];
    if (r.dwr && r.dwr != dw) add_weight_rows(dw, r.dwr, g, set_w);
}
