/* conv.h - pure kernels of the 2-d convolution, lowered onto sgemm through
 * im2col (or run directly, conv_direct.h), and the window geometry it shares
 * with pooling (pool.h).  Layout NCHW throughout; outputs first, gradients prefixed d, a NULL
 * gradient means "not needed".  Backward kernels accumulate (+=) into their
 * gradient outputs, or overwrite them where their `set` flags say so.  No allocation: scratch comes from the caller (the op's
 * planned aux buffer). */
#ifndef TL_CONV_H
#define TL_CONV_H
#include <stdint.h>

/* Geometry of a convolution or a pooling window. */
typedef struct tl_conv_geom {
    int C, H, W;     /* input channels and size */
    int OC, OH, OW;  /* output channels (filters) and size */
    int KH, KW;      /* window */
    int SH, SW;      /* stride */
    int PH, PW;      /* zero padding on each side */
} tl_conv_geom;

/* Scratch floats of tl_conv2d_forward/backward: B * tl_conv2d_scratch (per
 * example) + tl_conv2d_scratch_once (the weights in the lowering's order, the
 * partial weight gradients of the groups of chunks, or the direct path's
 * packed weights). */
int64_t tl_conv2d_scratch(const tl_conv_geom *g);
int64_t tl_conv2d_scratch_once(const tl_conv_geom *g);

/* An activation written with a convolution's output: out (the output's
 * shape) = y > 0 ? y : alpha y, the bits of tl_leaky_relu_forward; out NULL:
 * none. */
typedef struct tl_conv_act {
    float *out;
    float alpha;
} tl_conv_act;

/* y = W * x + b (cross-correlation, as in PyTorch), and act->out from y;
 * out may be NULL where act->out is not (the activation alone).
 * x (B,C,H,W), w (OC,C,KH,KW), b (OC) or NULL, y (B,OC,OH,OW);
 * scratch (B * tl_conv2d_scratch + tl_conv2d_scratch_once floats): the
 * lowered input, kept for the backward.  Where the direct convolution
 * applies (conv_direct.c: stride 1, AVX2 and FMA) it runs instead, whose sums
 * come in another order than the lowering's, and the backward lowers the
 * input itself. */
void tl_conv2d_forward(float *out, const tl_conv_act *act, float *scratch, const float *inp, const float *w,
                       const float *b, int B, const tl_conv_geom *g);
/* dW += dY col^T; db += sum dY; dx += col2im(W^T dY) (set_dx: dx =; set_w:
 * dW =, db =).  Needs the scratch of the forward on the same batch and its
 * input x; overwrites the scratch. */
void tl_conv2d_backward(float *dinp, float *dw, float *db, float *scratch, const float *dout, const float *inp,
                        const float *w, int B, const tl_conv_geom *g, int set_dx, int set_w);

#endif
