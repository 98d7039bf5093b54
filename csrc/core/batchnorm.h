/* batchnorm.h - pure kernels of batch normalisation: no allocation, the
 * scratch (xhat, mean, invstd) comes from the op's planned aux buffer. */
#ifndef TL_BATCHNORM_H
#define TL_BATCHNORM_H

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
