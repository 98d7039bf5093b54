/* pool.c - max and average pooling kernels of (B, C, H, W) planes, no
 * padding (the window geometry is a tl_conv_geom, conv.h).  The planes run
 * side by side on the core's pool (threadpool.c), each written by one part,
 * so the bits do not depend on the thread count. */
#include "pool.h"
#include "threadpool.h"

#include <math.h>
#include <string.h>

typedef struct {
    float *out;
    int32_t *argmax;
    const float *inp;
    const tl_conv_geom *g;
    int set; /* backward: overwrite instead of adding */
    const tl_pool_gate *gate; /* backward: the activation before the pool, or NULL */
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

static int64_t plane_grain(const tl_conv_geom *g) { return tl_grain_of((int64_t)g->H * g->W); }

void tl_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int B, const tl_conv_geom *g) {
    pool_job j = {out, argmax, inp, g, 0, NULL};
    tl_parallel_for((int64_t)B * g->C, plane_grain(g), maxpool_planes, &j);
}

/* dx = the gradient of 2x2 stride-2 windows that tile the plane (H = 2 OH,
 * W = 2 OW): each input is in one window, so every element is stored once
 * (dy at the winner, 0 elsewhere), a row pair at a time, instead of zeroing
 * the plane and adding dy at the winners. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* The gradient a pooled output passes back: dy, or, with y (the pool's gate), through the activation
 * before the pool: y > 0 ? dy : alpha dy, y the pooled output (the activation's output at the winner),
 * as the activation's own backward (tl_leaky_relu_backward) computes it there */
static inline float gated(float dy, const float *y, int64_t k, float alpha) {
    return y && !(y[k] > 0.0f) ? alpha * dy : dy;
}

static void maxpool_back_2x2_set(float *restrict dx, const float *restrict dy, const int32_t *restrict am,
                                 const float *restrict y, float alpha, int OH, int OW) {
    const int W = 2 * OW;
    for (int oh = 0; oh < OH; oh++) {
        float *restrict top = dx + (int64_t)2 * oh * W, *restrict bot = top + W;
        const float *restrict d = dy + (int64_t)oh * OW;
        const int32_t *restrict a = am + (int64_t)oh * OW;
        const int32_t t0 = 2 * oh * W, b0 = t0 + W;
        int ow = 0;
        /* four windows at a time: the winner's offset in its window selects dy or 0 for each of the
         * window's four elements, and the pairs of a row are interleaved into 8 contiguous floats */
        for (; ow + 4 <= OW; ow += 4) {
            v4f v;
            v4i k;
            memcpy(&v, d + ow, sizeof v);
            memcpy(&k, a + ow, sizeof k);
            if (y) { /* v = y > 0 ? v : alpha v (a NaN in y takes alpha v) */
                v4f yv;
                memcpy(&yv, y + (int64_t)oh * OW + ow, sizeof yv);
                const v4i pos = yv > (v4f){0.0f, 0.0f, 0.0f, 0.0f};
                v = (v4f)(((v4i)v & pos) | ((v4i)(alpha * v) & ~pos));
            }
            const v4i r = k - ((v4i){0, 2, 4, 6} + (t0 + 2 * ow));
            const v4i iv = (v4i)v;
            const v4f tl = (v4f)(iv & (r == 0)), tr = (v4f)(iv & (r == 1));
            const v4f bl = (v4f)(iv & (r == W)), br = (v4f)(iv & (r == W + 1));
            const v4f t_lo = __builtin_shuffle(tl, tr, (v4i){0, 4, 1, 5});
            const v4f t_hi = __builtin_shuffle(tl, tr, (v4i){2, 6, 3, 7});
            const v4f b_lo = __builtin_shuffle(bl, br, (v4i){0, 4, 1, 5});
            const v4f b_hi = __builtin_shuffle(bl, br, (v4i){2, 6, 3, 7});
            memcpy(top + 2 * ow, &t_lo, sizeof t_lo);
            memcpy(top + 2 * ow + 4, &t_hi, sizeof t_hi);
            memcpy(bot + 2 * ow, &b_lo, sizeof b_lo);
            memcpy(bot + 2 * ow + 4, &b_hi, sizeof b_hi);
        }
        for (; ow < OW; ow++) {
            const int32_t k = a[ow], t = t0 + 2 * ow, b = b0 + 2 * ow;
            const float v = gated(d[ow], y, (int64_t)oh * OW + ow, alpha);
            top[2 * ow] = k == t ? v : 0.0f;
            top[2 * ow + 1] = k == t + 1 ? v : 0.0f;
            bot[2 * ow] = k == b ? v : 0.0f;
            bot[2 * ow + 1] = k == b + 1 ? v : 0.0f;
        }
    }
}

static void maxpool_back_planes(void *ctx, int64_t pl0, int64_t pl1) {
    const pool_job *j = ctx; /* out: dinp, inp: dout */
    const tl_conv_geom *g = j->g;
    const int64_t in_pl = (int64_t)g->H * g->W, out_pl = (int64_t)g->OH * g->OW;
    const int tiles = g->KH == 2 && g->KW == 2 && g->SH == 2 && g->SW == 2 && g->H == 2 * g->OH && g->W == 2 * g->OW;
    for (int64_t pl = pl0; pl < pl1; pl++) {
        float *dx = j->out + pl * in_pl;
        const float *dy = j->inp + pl * out_pl;
        const int32_t *am = j->argmax + pl * out_pl;
        const float *y = j->gate ? j->gate->y + pl * out_pl : NULL;
        const float alpha = j->gate ? j->gate->alpha : 0.0f;
        if (j->set && tiles) {
            maxpool_back_2x2_set(dx, dy, am, y, alpha, g->OH, g->OW);
            continue;
        }
        if (j->set) memset(dx, 0, sizeof(float) * (size_t)in_pl);
        for (int64_t k = 0; k < out_pl; k++) dx[am[k]] += gated(dy[k], y, k, alpha);
    }
}

void tl_maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax, const tl_pool_gate *gate, int B,
                           const tl_conv_geom *g, int set) {
    pool_job j = {dinp, (int32_t *)argmax, dout, g, set, gate};
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
    pool_job j = {out, NULL, inp, g, 0, NULL};
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
    pool_job j = {dinp, NULL, dout, g, 0, NULL};
    tl_parallel_for((int64_t)B * g->C, plane_grain(g), avgpool_back_planes, &j);
}
