/* conv.h - pure kernels of the convolutional ops: 2-d convolution lowered
 * onto sgemm through im2col, max and average pooling, batch normalisation.
 * Layout NCHW throughout; outputs first, gradients prefixed d, a NULL
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

/* Batch normalisation of x (B,C,S) per channel c over (B,S), by mode:
 *   TL_BN_BATCH:   y = gamma (x - mean_B) / sqrt(var_B + eps) + beta, xhat (B,C,S) and
 *                  mean, invstd (C) kept for backward; running := (1-m) running + m stat
 *                  (unbiased variance), nothing when m = 0;
 *   TL_BN_RUNNING: the same with running_mean / running_var, which stay as they are
 *                  (xhat, mean, invstd may be NULL);
 *   TL_BN_FROZEN:  TL_BN_RUNNING keeping xhat, mean and invstd for backward (a frozen
 *                  layer in a training step: inference mode, gradients still flow). */
enum { TL_BN_RUNNING = 0, TL_BN_BATCH = 1, TL_BN_FROZEN = 2 };
void tl_batchnorm_forward(float *out, float *xhat, float *mean, float *invstd, float *running_mean,
                          float *running_var, const float *inp, const float *gamma, const float *beta, int B, int C,
                          int S, float momentum, float eps, int mode);
/* Backward: dgamma += sum dy xhat, dbeta += sum dy; with batch statistics (batch != 0)
 * dx += gamma invstd / N (N dy - sum dy - xhat sum dy xhat), N = B S; with the running
 * statistics (constants) dx += gamma invstd dy. */
void tl_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *xhat,
                           const float *invstd, const float *gamma, int B, int C, int S, int batch);

#endif
