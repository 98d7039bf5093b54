/* conv_direct.c - a direct convolution for the forward pass at stride 1, on
 * CPUs with AVX-512F, or with AVX2 and FMA (checked at run time; the build
 * stays generic).  conv.c runs it for every forward it applies to; a training
 * backward then lowers each chunk of the input itself, for the weight
 * gradient.
 *
 * The lowering (im2col or im2row), OpenBLAS's packing of it and the copy of
 * the channel-major result into NCHW were about a third of a step of a
 * frozen MNIST-M trunk (conv 5x5x32 on 1x28x28, conv 5x5x48 on 32x12x12);
 * here they are gone from prediction, evaluation and frozen trunks, and a
 * training step keeps the lowering only for its weight gradient.
 * Here the output positions lie on the lanes, and each output channel of a
 * tile has its accumulator; each term (c, kh, kw) is one load of the input
 * under the lanes (contiguous in the NCHW input at stride 1) and one FMA per
 * channel with its weight broadcast, summed over (c, kh, kw) in that order,
 * and stored with the bias straight into the NCHW output (and, where plan.c
 * fused a relu or leaky_relu into the conv, its output from the same
 * registers; then the conv's own only if something else reads it).
 *   AVX2: a tile is 3 runs of 8 consecutive outputs of a row (the runs taken
 *         row by row, so that an 8-wide map gives 3 rows a tile) times 4
 *         channels: 12 accumulators, 7 loads a term for 12 FMAs; a row's last
 *         run masks its missing lanes, the last tile of a plane may have 1
 *         or 2 runs.  (It was 8 outputs times 8 channels, 8 accumulators and
 *         9 loads a term for 8 FMAs: frozen MNIST-M trunk, batch 64, 5.66 ->
 *         3.84 ms a step, training 14.25 -> 12.55 ms, medians of alternating
 *         runs on a loaded Zen 3.)
 *   AVX-512F: a tile is 8 consecutive outputs of two rows (lanes 0-7 the
 *         first, 8-15 the second: two masked loads a term) times 16
 *         channels, so that the 8 x 8 outputs of a small map fill whole
 *         tiles; masks drop the missing columns and a lone last row.
 * Padding: each example is first copied into a zero-padded plane in its
 * scratch.  Per example, the same bits for any batch, chunk or thread count,
 * and on AVX2 and AVX-512 CPUs alike: the two kernels sum each output in the
 * same order with the same FMAs (.ci/ctests compares their bits); not the
 * bits of the GEMM path (another order of the sums), which runs where this
 * one does not apply.
 *
 * Built with -DTL_DIRECT_EMU512 (the C tests' fourth build), the AVX-512
 * kernel is the one used on any CPU, its intrinsics defined in plain C by
 * avx512_emu.h with the same results (fmaf is a fused multiply-add) and
 * masked lanes never read nor written, so that its logic is tested, under
 * AddressSanitizer too, where the CPU has no AVX-512.  -DTL_DIRECT_NO_AVX512
 * keeps the AVX2 kernel on CPUs that have both, for timing one against the
 * other. */
#include "conv_direct.h"
#include "threadpool.h"

#include <pthread.h>
#include <string.h>

#if defined(TL_DIRECT_EMU512)
#include "avx512_emu.h"
#define HAVE_AVX2 0
#define HAVE_512 1
#define TARGET512
#elif defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2 1
#ifdef TL_DIRECT_NO_AVX512
#define HAVE_512 0
#else
#define HAVE_512 1
#endif
#define TARGET512 __attribute__((target("avx512f")))
#else
#define HAVE_AVX2 0
#define HAVE_512 0
#endif
#define HAVE_DIRECT (HAVE_AVX2 || HAVE_512)

#define OCB_MAX 16  /* output channels a tile: AVX2_OCB (AVX2) or 16 (AVX-512) */
#define LANES 8    /* outputs of a row a tile */
#define AVX2_OCB 4  /* output channels of an AVX2 tile */
#define AVX2_RUNS 3 /* runs of LANES outputs of an AVX2 tile */

enum { ISA_NONE, ISA_AVX2, ISA_512 };

int64_t tl_conv2d_direct_packed(const tl_conv_geom *g) {
    return (int64_t)(g->OC + OCB_MAX - 1) / OCB_MAX * OCB_MAX * g->C * g->KH * g->KW;
}

#if HAVE_DIRECT
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int cpu_isa;
static void probe_cpu(void) {
#if defined(TL_DIRECT_EMU512)
    cpu_isa = ISA_512;
#else
    __builtin_cpu_init();
    if (HAVE_512 && __builtin_cpu_supports("avx512f")) /* libgcc checks the OS saves the zmm state too */
        cpu_isa = ISA_512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        cpu_isa = ISA_AVX2;
#endif
}
static int isa(void) {
    pthread_once(&cpu_once, probe_cpu);
    return cpu_isa;
}
#endif

int tl_conv2d_direct_ok(const tl_conv_geom *g) {
#if HAVE_DIRECT
    return isa() != ISA_NONE && g->SH == 1 && g->SW == 1;
#else
    (void)g;
    return 0;
#endif
}

#if HAVE_DIRECT
/* wp (OC / ocb blocks, C, KH, KW, ocb): the weights of ocb output channels side by side, zeros past OC */
static void pack_weights(float *restrict wp, const float *restrict w, int ocb, const tl_conv_geom *g) {
    const int64_t K = (int64_t)g->C * g->KH * g->KW;
    const int nb = (g->OC + ocb - 1) / ocb;
    for (int ob = 0; ob < nb; ob++)
        for (int64_t k = 0; k < K; k++)
            for (int o = 0; o < ocb; o++) {
                const int oc = ob * ocb + o;
                wp[((int64_t)ob * K + k) * ocb + o] = oc < g->OC ? w[(int64_t)oc * K + k] : 0.0f;
            }
}

typedef struct {
    float *out, *scratch;
    const float *inp, *wp, *b;
    const tl_conv_geom *g;
    int64_t sc_sz;
    int isa;
    float *act; /* the activation's output, or NULL */
    float alpha;
} direct_job;
#endif

#if HAVE_AVX2
/* One AVX2 tile: M runs of outputs (run i: up to 8 consecutive outputs of one row, at yoff[i] in each
 * channel's plane, reading the input from xoff[i] on; nw[i] of them, masked below 8; whole: all 8)
 * times N output channels, y[oc0 + o][yoff[i] + l] for o < no, l < nw[i].  Its M x N accumulators
 * (12 of the 16 registers) leave the FMAs' latency slack to hide and load M + N floats a term for
 * M x N FMAs.  x points at input (c = 0) of the (padded) example, planes of Hp x Wp. */
__attribute__((always_inline, target("avx2,fma"))) static inline void tile_avx2(
    const int M, const int N, const int WHOLE, float *restrict y, float *restrict r, float alpha, int64_t P,
    const float *restrict x, int64_t plane, int Wp, const float *restrict wk, const float *restrict bias, int no,
    const int *xoff, const int *yoff, const int *nw, const tl_conv_geom *g) {
    __m256 acc[AVX2_RUNS][AVX2_OCB]; /* [M][N] used */
    __m256i mask[AVX2_RUNS];
    const float *xp[AVX2_RUNS];
    _Pragma("GCC unroll 4") for (int i = 0; i < M; i++) {
        xp[i] = x + xoff[i];
        _Pragma("GCC unroll 4") for (int o = 0; o < N; o++) acc[i][o] = _mm256_setzero_ps();
        if (!WHOLE) {
            int32_t m[LANES];
            for (int l = 0; l < LANES; l++) m[l] = l < nw[i] ? -1 : 0;
            mask[i] = _mm256_loadu_si256((const __m256i *)m);
        }
    }
    const int C = g->C, KH = g->KH, KW = g->KW;
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < KH; kh++) {
            const int64_t at = c * plane + (int64_t)kh * Wp;
            for (int kw = 0; kw < KW; kw++, wk += N) {
                __m256 xv[AVX2_RUNS];
                _Pragma("GCC unroll 4") for (int i = 0; i < M; i++) xv[i] =
                    WHOLE ? _mm256_loadu_ps(xp[i] + at + kw) : _mm256_maskload_ps(xp[i] + at + kw, mask[i]);
                _Pragma("GCC unroll 4") for (int o = 0; o < N; o++) {
                    const __m256 wv = _mm256_broadcast_ss(wk + o);
                    _Pragma("GCC unroll 4") for (int i = 0; i < M; i++) acc[i][o] =
                        _mm256_fmadd_ps(wv, xv[i], acc[i][o]);
                }
            }
        }
    const __m256 zero = _mm256_setzero_ps(), va = _mm256_set1_ps(alpha);
    _Pragma("GCC unroll 4") for (int o = 0; o < N; o++) /* N, not no: constant indices keep acc in registers */
        _Pragma("GCC unroll 4") for (int i = 0; i < M; i++) {
            if (o >= no) break;
            const __m256 v = bias ? _mm256_add_ps(acc[i][o], _mm256_set1_ps(bias[o])) : acc[i][o];
            /* v > 0 ? v : alpha v, as tl_leaky_relu_forward (a NaN takes alpha v) */
            const __m256 f = r ? _mm256_blendv_ps(_mm256_mul_ps(va, v), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ)) : v;
            if (WHOLE) {
                if (y) _mm256_storeu_ps(y + o * P + yoff[i], v);
                if (r) _mm256_storeu_ps(r + o * P + yoff[i], f);
            } else {
                if (y) _mm256_maskstore_ps(y + o * P + yoff[i], mask[i], v);
                if (r) _mm256_maskstore_ps(r + o * P + yoff[i], mask[i], f);
            }
        }
}

#define TILE_AVX2(M, W)                                                                                          \
    __attribute__((noinline, target("avx2,fma"))) static void tile_##M##_##W(                                    \
        float *restrict y, float *restrict r, float alpha, int64_t P, const float *restrict x, int64_t plane,    \
        int Wp, const float *restrict wk, const float *restrict bias, int no, const int *xoff, const int *yoff, \
        const int *nw, const tl_conv_geom *g) {                                                                  \
        tile_avx2(M, AVX2_OCB, W, y, r, alpha, P, x, plane, Wp, wk, bias, no, xoff, yoff, nw, g);                \
    }
TILE_AVX2(1, 0)
TILE_AVX2(2, 0)
TILE_AVX2(3, 0)
TILE_AVX2(1, 1)
TILE_AVX2(2, 1)
TILE_AVX2(3, 1)
typedef void (*tile_avx2_fn)(float *restrict, float *restrict, float, int64_t, const float *restrict, int64_t, int,
                             const float *restrict, const float *restrict, int, const int *, const int *, const int *,
                             const tl_conv_geom *);
/* [whole][runs] */
static const tile_avx2_fn tiles_avx2[2][AVX2_RUNS + 1] = {{NULL, tile_1_0, tile_2_0, tile_3_0},
                                                          {NULL, tile_1_1, tile_2_1, tile_3_1}};
#endif

#if HAVE_512
#define FMA16(xv, wk)                                                              \
    do {                                                                           \
        a0 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[0]), xv, a0);                     \
        a1 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[1]), xv, a1);                     \
        a2 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[2]), xv, a2);                     \
        a3 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[3]), xv, a3);                     \
        a4 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[4]), xv, a4);                     \
        a5 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[5]), xv, a5);                     \
        a6 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[6]), xv, a6);                     \
        a7 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[7]), xv, a7);                     \
        a8 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[8]), xv, a8);                     \
        a9 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[9]), xv, a9);                     \
        a10 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[10]), xv, a10);                  \
        a11 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[11]), xv, a11);                  \
        a12 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[12]), xv, a12);                  \
        a13 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[13]), xv, a13);                  \
        a14 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[14]), xv, a14);                  \
        a15 = _mm512_fmadd_ps(_mm512_set1_ps((wk)[15]), xv, a15);                  \
    } while (0)

/* One AVX-512 tile: outputs y[oc0 + o][row + r, ow0 + l] for o < no, r < nr (1 or 2), l < nw (<= 8);
 * lane r * 8 + l.  x points at input (c = 0, row, ow0) of the (padded) example, planes of Hp x Wp.
 * Lanes 8-15 load from Wp - 8 floats further on and store OW - 8 further on, so that lane 8 meets the
 * second row; with one row their mask is empty and the offsets 0. */
TARGET512 static void tile16(float *restrict y, float *restrict r, float alpha, int64_t P, int OW,
                             const float *restrict x, int64_t plane, int Wp, const float *restrict wk,
                             const float *restrict bias, int no, int nw, int nr, const tl_conv_geom *g) {
    const __mmask16 lo = (__mmask16)((1u << nw) - 1u), hi = nr == 2 ? (__mmask16)(lo << LANES) : 0;
    const int64_t xo = nr == 2 ? Wp - LANES : 0, yo = nr == 2 ? OW - LANES : 0;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512 a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
    const int C = g->C, KH = g->KH, KW = g->KW;
#define TERMS(LO, HI)                                                              \
    for (int c = 0; c < C; c++)                                                    \
        for (int kh = 0; kh < KH; kh++) {                                          \
            const float *xr = x + c * plane + (int64_t)kh * Wp;                    \
            for (int kw = 0; kw < KW; kw++, wk += 16) {                            \
                __m512 xv = _mm512_maskz_loadu_ps(LO, xr + kw);                    \
                xv = _mm512_mask_loadu_ps(xv, HI, xr + kw + xo);                   \
                FMA16(xv, wk);                                                     \
            }                                                                      \
        }
    if (nw == LANES && nr == 2) { /* whole tiles: constant masks, which stay in registers */
        TERMS(0x00ff, 0xff00)
    } else {
        TERMS(lo, hi)
    }
#undef TERMS
    const __m512 acc[16] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
    for (int o = 0; o < no; o++) {
        const __m512 v = bias ? _mm512_add_ps(acc[o], _mm512_set1_ps(bias[o])) : acc[o];
        if (y) {
            _mm512_mask_storeu_ps(y + o * P, lo, v);
            _mm512_mask_storeu_ps(y + o * P + yo, hi, v);
        }
        if (r) { /* v > 0 ? v : alpha v, as tl_leaky_relu_forward: alpha v, then v where v > 0 */
            const __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
            const __m512 f = _mm512_mask_mov_ps(_mm512_mul_ps(_mm512_set1_ps(alpha), v), pos, v);
            _mm512_mask_storeu_ps(r + o * P, lo, f);
            _mm512_mask_storeu_ps(r + o * P + yo, hi, f);
        }
    }
}
#endif

#if HAVE_DIRECT
/* examples [b0, b1) */
static void direct_examples(void *ctx, int64_t b0, int64_t b1) {
    const direct_job *j = ctx;
    const tl_conv_geom *g = j->g;
    const int C = g->C, H = g->H, W = g->W, PH = g->PH, PW = g->PW, OH = g->OH, OW = g->OW, OC = g->OC;
    const int Hp = H + 2 * PH, Wp = W + 2 * PW, ocb = j->isa == ISA_512 ? 16 : AVX2_OCB;
    const int64_t plane = (int64_t)Hp * Wp, P = (int64_t)OH * OW, K = (int64_t)C * g->KH * g->KW;
    const int nb = (OC + ocb - 1) / ocb;
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
        for (int ob = 0; ob < nb; ob++) {
            const int no = OC - ob * ocb < ocb ? OC - ob * ocb : ocb;
            const float *wk = j->wp + (int64_t)ob * K * ocb;
            const float *bias = j->b ? j->b + ob * ocb : NULL;
            const int64_t at = b * OC * P + (int64_t)ob * ocb * P; /* the block's first output */
            float *yo = j->out ? j->out + at : NULL, *ro = j->act ? j->act + at : NULL;
#if HAVE_512
            if (j->isa == ISA_512) {
                for (int oh = 0; oh < OH; oh += 2)
                    for (int ow = 0; ow < OW; ow += LANES)
                        tile16(yo ? yo + (int64_t)oh * OW + ow : NULL, ro ? ro + (int64_t)oh * OW + ow : NULL,
                               j->alpha, P, OW, x + (int64_t)oh * Wp + ow, plane, Wp, wk, bias, no,
                               OW - ow < LANES ? OW - ow : LANES, OH - oh < 2 ? 1 : 2, g);
                continue;
            }
#endif
#if HAVE_AVX2
            /* the runs of 8 outputs, row by row, AVX2_RUNS a tile */
            const int rpr = (OW + LANES - 1) / LANES, nrun = OH * rpr;
            for (int s0 = 0; s0 < nrun; s0 += AVX2_RUNS) {
                const int m = nrun - s0 < AVX2_RUNS ? nrun - s0 : AVX2_RUNS;
                int xoff[AVX2_RUNS], yoff[AVX2_RUNS], nw[AVX2_RUNS], whole = 1;
                for (int i = 0; i < m; i++) {
                    const int oh = (s0 + i) / rpr, ow = (s0 + i) % rpr * LANES;
                    xoff[i] = oh * Wp + ow, yoff[i] = oh * OW + ow, nw[i] = OW - ow < LANES ? OW - ow : LANES;
                    whole &= nw[i] == LANES;
                }
                tiles_avx2[whole][m](yo, ro, j->alpha, P, x, plane, Wp, wk, bias, no, xoff, yoff, nw, g);
            }
#endif
        }
    }
}
#endif

void tl_conv2d_direct(float *out, const tl_conv_act *act, float *scratch, int64_t sc_sz, float *wp, const float *inp,
                      const float *w, const float *b, int B, const tl_conv_geom *g) {
#if HAVE_DIRECT
    direct_job j = {out, scratch, inp, wp, b, g, sc_sz, isa(), act->out, act->alpha};
    pack_weights(wp, w, j.isa == ISA_512 ? 16 : AVX2_OCB, g);
    const int64_t per = (int64_t)g->OC * g->OH * g->OW * g->C * g->KH * g->KW; /* multiply-adds an example */
    tl_parallel_for(B, per >= TL_GRAIN_FLOATS * 64 ? 1 : TL_GRAIN_FLOATS * 64 / (per > 0 ? per : 1), direct_examples,
                    &j);
#else
    (void)out, (void)act, (void)scratch, (void)sc_sz, (void)wp, (void)inp, (void)w, (void)b, (void)B, (void)g;
#endif
}
