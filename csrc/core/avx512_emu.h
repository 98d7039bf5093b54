/* avx512_emu.h - the AVX-512F intrinsics that conv_direct.c's AVX-512 kernel
 * uses, defined in plain C, for the C tests' build with -DTL_DIRECT_EMU512:
 * the kernel's own source then runs on a CPU without AVX-512, with the same
 * results (fmaf rounds once, as the FMA instruction does).  As Intel
 * documents them, masked-off lanes of a load are zero (maskz) or kept from
 * src (mask), and are neither read nor written: reading or writing one here
 * would be an out-of-bounds access that AddressSanitizer reports. */
#ifndef TL_AVX512_EMU_H
#define TL_AVX512_EMU_H
#include <math.h>
#include <stdint.h>

typedef struct {
    float f[16];
} emu_m512;
typedef uint16_t emu_mmask16;

static inline emu_m512 emu_setzero_ps(void) {
    emu_m512 r;
    for (int l = 0; l < 16; l++) r.f[l] = 0.0f;
    return r;
}
static inline emu_m512 emu_set1_ps(float a) {
    emu_m512 r;
    for (int l = 0; l < 16; l++) r.f[l] = a;
    return r;
}
static inline emu_m512 emu_add_ps(emu_m512 a, emu_m512 b) {
    for (int l = 0; l < 16; l++) a.f[l] += b.f[l];
    return a;
}
/* a * b + c, rounded once */
static inline emu_m512 emu_fmadd_ps(emu_m512 a, emu_m512 b, emu_m512 c) {
    for (int l = 0; l < 16; l++) c.f[l] = fmaf(a.f[l], b.f[l], c.f[l]);
    return c;
}
static inline emu_m512 emu_mask_loadu_ps(emu_m512 src, emu_mmask16 k, const void *p) {
    for (int l = 0; l < 16; l++)
        if (k >> l & 1) src.f[l] = ((const float *)p)[l];
    return src;
}
static inline emu_m512 emu_maskz_loadu_ps(emu_mmask16 k, const void *p) {
    return emu_mask_loadu_ps(emu_setzero_ps(), k, p);
}
static inline emu_m512 emu_mul_ps(emu_m512 a, emu_m512 b) {
    for (int l = 0; l < 16; l++) a.f[l] *= b.f[l];
    return a;
}
/* the one predicate used: greater than, ordered (a NaN compares false) */
#define EMU_CMP_GT_OQ 30
static inline emu_mmask16 emu_cmp_ps_mask(emu_m512 a, emu_m512 b, int pred) {
    emu_mmask16 k = 0;
    for (int l = 0; l < 16; l++)
        if (pred == EMU_CMP_GT_OQ && a.f[l] > b.f[l]) k |= (emu_mmask16)(1u << l);
    return k;
}
static inline emu_m512 emu_mask_mov_ps(emu_m512 src, emu_mmask16 k, emu_m512 a) {
    for (int l = 0; l < 16; l++)
        if (k >> l & 1) src.f[l] = a.f[l];
    return src;
}
static inline void emu_mask_storeu_ps(void *p, emu_mmask16 k, emu_m512 a) {
    for (int l = 0; l < 16; l++)
        if (k >> l & 1) ((float *)p)[l] = a.f[l];
}

#define __m512 emu_m512
#define __mmask16 emu_mmask16
#define _mm512_setzero_ps emu_setzero_ps
#define _mm512_set1_ps emu_set1_ps
#define _mm512_add_ps emu_add_ps
#define _mm512_fmadd_ps emu_fmadd_ps
#define _mm512_mask_loadu_ps emu_mask_loadu_ps
#define _mm512_maskz_loadu_ps emu_maskz_loadu_ps
#define _mm512_mask_storeu_ps emu_mask_storeu_ps
#define _mm512_mul_ps emu_mul_ps
#define _mm512_cmp_ps_mask emu_cmp_ps_mask
#define _mm512_mask_mov_ps emu_mask_mov_ps
#define _CMP_GT_OQ EMU_CMP_GT_OQ
#endif
