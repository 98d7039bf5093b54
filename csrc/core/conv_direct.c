/* conv_direct.c - a direct convolution for the forward pass: stride 1, on
 * CPUs with AVX2 and FMA (checked at run time; the build stays generic).
 * conv.c runs it for every forward it applies to; a training backward then
 * lowers each chunk of the input itself, for the weight gradient.
 *
 * The lowering (im2col or im2row), OpenBLAS's packing of it and the copy of
 * the channel-major result into NCHW were about a third of a step of a
 * frozen MNIST-M trunk (conv 5x5x32 on 1x28x28, conv 5x5x48 on 32x12x12);
 * here they are gone from prediction, evaluation and frozen trunks, and a
 * training step keeps the lowering only for its weight gradient.
 * Here the output positions lie on the lanes: a tile is 8 consecutive
 * outputs of one row (contiguous in the NCHW input at stride 1, one unaligned
 * load per window offset) times 8 output channels (8 accumulators, one
 * broadcast weight each), summed over (c, kh, kw) in that order with one FMA
 * per term, and stored with the bias straight into the NCHW output.  A row's
 * last tile masks its missing lanes.  Padding: each example is first copied
 * into a zero-padded plane in its scratch.  Per example, the same bits for
 * any batch, chunk or thread count; not the bits of the GEMM path (another
 * order of the sums), which runs where this one does not apply. */
#include "conv_direct.h"
#include "threadpool.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_DIRECT 1
#else
#define HAVE_DIRECT 0
#endif

#define OCB 8 /* output channels a tile */
#define LANES 8

int64_t tl_conv2d_direct_packed(const tl_conv_geom *g) {
    return (int64_t)(g->OC + OCB - 1) / OCB * OCB * g->C * g->KH * g->KW;
}

#if HAVE_DIRECT
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int cpu_avx2_fma;
static void probe_cpu(void) {
    __builtin_cpu_init();
    cpu_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

int tl_conv2d_direct_ok(const tl_conv_geom *g) {
#if HAVE_DIRECT
    pthread_once(&cpu_once, probe_cpu);
    return cpu_avx2_fma && g->SH == 1 && g->SW == 1;
#else
    (void)g;
    return 0;
#endif
}

#if HAVE_DIRECT
/* wp (OC / 8 blocks, C, KH, KW, 8): the weights of 8 output channels side by side, zeros past OC */
static void pack_weights(float *restrict wp, const float *restrict w, const tl_conv_geom *g) {
    const int64_t K = (int64_t)g->C * g->KH * g->KW;
    const int nb = (g->OC + OCB - 1) / OCB;
    for (int ob = 0; ob < nb; ob++)
        for (int64_t k = 0; k < K; k++)
            for (int o = 0; o < OCB; o++) {
                const int oc = ob * OCB + o;
                wp[((int64_t)ob * K + k) * OCB + o] = oc < g->OC ? w[(int64_t)oc * K + k] : 0.0f;
            }
}

typedef struct {
    float *out, *scratch;
    const float *inp, *wp, *b;
    const tl_conv_geom *g;
    int64_t sc_sz;
} direct_job;

#define FMA8(xv, wk)                                                                 \
    do {                                                                             \
        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss((wk) + 0), xv, a0);                 \
        a1 = _mm256_fmadd_ps(_mm256_broadcast_ss((wk) + 1), xv, a1);                 \
        a2 = _mm256_fmadd_ps(_mm256_broadcast_ss((wk) + 2), xv, a2);                 \
        a3 = _mm256_fmadd_ps(_mm256_broadcast_ss((wk) + 3), xv, a3);                 \
        a4 = _mm256_fmadd_ps(_mm256_broadcast_ss((wk) + 4), xv, a4);                 \
        a5 = _mm256_fmadd_ps(_mm256_broadcast_ss((wk) + 5), xv, a5);                 \
        a6 = _mm256_fmadd_ps(_mm256_broadcast_ss((wk) + 6), xv, a6);                 \
        a7 = _mm256_fmadd_ps(_mm256_broadcast_ss((wk) + 7), xv, a7);                 \
    } while (0)

/* One tile: outputs y[oc0 + o][row, ow0 + l] for o < no, l < nw (nw < 8: masked).
 * x points at input (c = 0, row, ow0) of the (padded) example, planes of Hp x Wp. */
__attribute__((target("avx2,fma"))) static void tile(float *restrict y, int64_t P, const float *restrict x,
                                                     int64_t plane, int Wp, const float *restrict wk,
                                                     const float *restrict bias, int no, int nw,
                                                     const tl_conv_geom *g) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    const int C = g->C, KH = g->KH, KW = g->KW;
    if (nw == LANES) {
        for (int c = 0; c < C; c++)
            for (int kh = 0; kh < KH; kh++) {
                const float *xr = x + c * plane + (int64_t)kh * Wp;
                for (int kw = 0; kw < KW; kw++, wk += OCB) {
                    const __m256 xv = _mm256_loadu_ps(xr + kw);
                    FMA8(xv, wk);
                }
            }
    } else {
        int32_t m[LANES];
        for (int l = 0; l < LANES; l++) m[l] = l < nw ? -1 : 0;
        const __m256i mask = _mm256_loadu_si256((const __m256i *)m);
        for (int c = 0; c < C; c++)
            for (int kh = 0; kh < KH; kh++) {
                const float *xr = x + c * plane + (int64_t)kh * Wp;
                for (int kw = 0; kw < KW; kw++, wk += OCB) {
                    const __m256 xv = _mm256_maskload_ps(xr + kw, mask);
                    FMA8(xv, wk);
                }
            }
    }
    __m256 acc[OCB] = {a0, a1, a2, a3, a4, a5, a6, a7};
    for (int o = 0; o < no; o++) {
        const __m256 v = bias ? _mm256_add_ps(acc[o], _mm256_set1_ps(bias[o])) : acc[o];
        if (nw == LANES) {
            _mm256_storeu_ps(y + o * P, v);
        } else {
            float t[LANES];
            _mm256_storeu_ps(t, v);
            memcpy(y + o * P, t, sizeof(float) * (size_t)nw);
        }
    }
}

/* examples [b0, b1) */
static void direct_examples(void *ctx, int64_t b0, int64_t b1) {
    const direct_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int C = g->C, H = g->H, W = g->W, PH = g->PH, PW = g->PW, OH = g->OH, OW = g->OW, OC = g->OC;
    const int Hp = H + 2 * PH, Wp = W + 2 * PW;
    const int64_t plane = (int64_t)Hp * Wp, P = (int64_t)OH * OW, K = (int64_t)C * g->KH * g->KW;
    const int nb = (OC + OCB - 1) / OCB;
    for (int64_t b = b0; b < b1; b++) {
        const float *x = j->inp + b * (int64_t)C * H * W;
        if (PH || PW) { /* the example into a zero-padded copy in its scratch */
            float *xp = j->scratch + b * j->sc_sz;
            memset(xp, 0, sizeof(float) * (size_t)(C * plane));
            for (int c = 0; c < C; c++)
                for (int h = 0; h < H; h++)
                    memcpy(xp + c * plane + (int64_t)(h + PH) * Wp + PW, x + ((int64_t)c * H + h) * W,
                           sizeof(float) * (size_t)W);
            x = xp;
        }
        float *yb = j->out + b * OC * P;
        for (int ob = 0; ob < nb; ob++) {
            const int no = OC - ob * OCB < OCB ? OC - ob * OCB : OCB;
            const float *wk = j->wp + (int64_t)ob * K * OCB;
            const float *bias = j->b ? j->b + ob * OCB : NULL;
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow += LANES)
                    tile(yb + (int64_t)ob * OCB * P + (int64_t)oh * OW + ow, P, x + (int64_t)oh * Wp + ow, plane, Wp,
                         wk, bias, no, OW - ow < LANES ? OW - ow : LANES, g);
        }
    }
}
#endif

void tl_conv2d_direct(float *out, float *scratch, int64_t sc_sz, float *wp, const float *inp, const float *w,
                      const float *b, int B, const tl_conv_geom *g) {
#if HAVE_DIRECT
    pack_weights(wp, w, g);
    direct_job j = {out, scratch, inp, wp, b, g, sc_sz};
    const int64_t per = (int64_t)g->OC * g->OH * g->OW * g->C * g->KH * g->KW; /* multiply-adds an example */
    tl_parallel_for(B, per >= TL_GRAIN_FLOATS * 64 ? 1 : TL_GRAIN_FLOATS * 64 / (per > 0 ? per : 1), direct_examples,
                    &j);
#else
    (void)out, (void)scratch, (void)sc_sz, (void)wp, (void)inp, (void)w, (void)b, (void)B, (void)g;
#endif
}
