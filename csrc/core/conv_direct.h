/* conv_direct.h - the direct convolution of conv_direct.c, called by conv.c
 * for the forward passes it applies to. */
#ifndef TL_CONV_DIRECT_H
#define TL_CONV_DIRECT_H
#include "conv.h"

/* Whether the direct path applies: stride 1 and a CPU with AVX2 and FMA. */
int tl_conv2d_direct_ok(const tl_conv_geom *g);
/* Floats of its packed weights. */
int64_t tl_conv2d_direct_packed(const tl_conv_geom *g);
/* y = W * x + b and the activation as tl_conv2d_forward; scratch: sc_sz floats an example (a
 * padded copy of it when the geometry pads); wp: tl_conv2d_direct_packed floats. */
void tl_conv2d_direct(float *out, const tl_conv_act *act, float *scratch, int64_t sc_sz, float *wp, const float *inp,
                      const float *w, const float *b, int B, const tl_conv_geom *g);
#endif
