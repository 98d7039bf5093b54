/* pool.h - pure kernels of max and average pooling, NCHW, no padding; the
 * window geometry is conv.h's tl_conv_geom.  Outputs first, gradients
 * prefixed d; backward kernels accumulate (+=) unless `set` says overwrite. */
#ifndef TL_POOLING_H
#define TL_POOLING_H
#include "conv.h"

#include <stdint.h>

/* Max pooling (no padding); argmax (B,C,OH,OW) receives the index of the
 * winner within its (H,W) plane. */
void tl_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int B, const tl_conv_geom *g);
/* gate: the relu or leaky_relu whose output the pool read, its backward done here (plan.c): dinp is
 * then the gradient of the activation's input, the pooled gradient passed back as y > 0 ? dy : alpha dy
 * with y the pool's output (the activation's output at the winner); NULL: the pool's own gradient. */
typedef struct {
    const float *y; /* the pool's output */
    float alpha;
} tl_pool_gate;
void tl_maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax, const tl_pool_gate *gate, int B,
                           const tl_conv_geom *g, int set);
/* Average pooling (no padding): y = mean of the window. */
void tl_avgpool2d_forward(float *out, const float *inp, int B, const tl_conv_geom *g);
void tl_avgpool2d_backward(float *dinp, const float *dout, int B, const tl_conv_geom *g);

#endif
