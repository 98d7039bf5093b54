/* kernels.h - pure kernels on float arrays.
 * Outputs first, gradients prefixed d, sizes in capitals.  A NULL gradient
 * pointer means "not needed" and costs no work.  Backward kernels accumulate
 * (+=) into their gradient outputs; those with a `set` flag overwrite them
 * instead where it is nonzero (the planner's single writer of a buffer,
 * which then need not be zeroed first). */
#ifndef TL_KERNELS_H
#define TL_KERNELS_H
#include <stdint.h>

/* y = x W^T + b; x (B,IN), W (OUT,IN), b (OUT), y (B,OUT) */
void tl_dense_forward(float *out, const float *inp, const float *w, const float *b, int B, int IN, int OUT);
/* dx += dy W; dW += dy^T x; db += sum_b dy (set_dx: dx =; set_w: dW =, db =) */
void tl_dense_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                       const float *w, int B, int IN, int OUT, int set_dx, int set_w);

/* y = max(x, a x) (a = 0: ReLU); N elements */
void tl_leaky_relu_forward(float *out, const float *inp, float a, int64_t N);
void tl_leaky_relu_backward(float *dinp, const float *dout, const float *inp, float a, int64_t N, int set);
/* The kernel pair of each elementwise op of the table (TL_OP_MAP in ops.def, whose row says
 * y = f(x)): y = f(x) over N elements; dx += dy f'(x), given x and y. */
#define TL_OP(...)
#define TL_OP_MAP(ID, nm, doc_) \
    void tl_##nm##_forward(float *out, const float *inp, int64_t N); \
    void tl_##nm##_backward(float *dinp, const float *dout, const float *inp, const float *out, int64_t N);
#include "ops.def"
/* row softmax over C; dx += y (dy - <dy, y>) */
void tl_softmax_forward(float *out, const float *inp, int B, int C);
void tl_softmax_backward(float *dinp, const float *dout, const float *out, int B, int C);

/* y = alpha x per channel: x, y (B, C, S), alpha (C); C = 1 for one scalar.
 * dx += alpha dy; dalpha += sum_{b,s} x dy */
void tl_scale_forward(float *out, const float *inp, const float *alpha, int B, int C, int S);
void tl_scale_backward(float *dinp, float *dalpha, const float *dout, const float *inp, const float *alpha,
                       int B, int C, int S);

/* Softmax cross-entropy with integer labels, -1 = unlabelled (skipped).
 * probs (B,C) receives softmax(z); returns the mean over labelled rows
 * (0 when none), their count in *n and how many of them argmax gets right in *correct. */
double tl_softmax_ce_forward(float *probs, const float *logits, const int32_t *labels, int B, int C, int *n, int *correct);
/* dz += scale (p - onehot(y)) / n on labelled rows (set: dz = that, and 0 on unlabelled rows) */
void tl_softmax_ce_backward(float *dlogits, const float *probs, const int32_t *labels, int B, int C, float scale,
                            int set);
/* Binary cross-entropy on logits, targets in [0,1], NaN = missing.
 * Mean over present entries (0 when none); count in *n; entries where
 * (z > 0) == (t > 0.5) in *correct. */
double tl_sigmoid_bce_forward(const float *logits, const float *t, int64_t N, int64_t *n, int64_t *correct);
void tl_sigmoid_bce_backward(float *dlogits, const float *logits, const float *t, int64_t N, float scale);
/* Mean squared error over present (non-NaN target) entries. */
double tl_mse_forward(const float *y, const float *t, int64_t N, int64_t *n);
void tl_mse_backward(float *dy, const float *y, const float *t, int64_t N, float scale);
/* Soft-target cross-entropy at temperature T (distillation, LwF):
 * loss = T^2 mean_rows( -sum_c q log softmax(z/T) ); rows whose targets
 * hold a NaN are skipped.  probs (B,C) receives softmax(z/T). */
double tl_soft_ce_forward(float *probs, const float *logits, const float *q, int B, int C, float T, int *n);
void tl_soft_ce_backward(float *dlogits, const float *probs, const float *q, int B, int C, float T, float scale);

/* CORAL (Sun & Saenko 2016, Deep CORAL): loss = |C_s - C_t|_F^2 / (4 D^2) between the
 * feature covariances (unbiased) of the rows of x (B,D) labelled domain 0 (source) and
 * 1 (target); rows labelled -1 are skipped.  Scratch: xc (B,D) receives the rows centred
 * on their domain's mean times w_i = 1/(ns-1) (source), -1/(nt-1) (target), 0 (skipped);
 * xd (B,D) the centred rows unscaled; cov (max(D*D, 2D) floats) receives M = C_s - C_t (D,D).  The loss is 0
 * (and no gradient flows) unless both domains have at least 2 rows; *ns, *nt: rows seen. */
double tl_coral_forward(float *xc, float *xd, float *cov, const float *x, const int32_t *domain, int B, int D,
                        int *ns, int *nt);
/* dx += scale / D^2 * W Xd M (W = diag(w)): the gradient of the loss times scale */
void tl_coral_backward(float *dx, const float *xc, const float *cov, int B, int D, int ns, int nt, float scale);

#endif
