/* batchnorm.h - pure kernels of batch normalisation: no allocation, the
 * scratch (xhat, mean, invstd) comes from the op's planned aux buffer. */
#ifndef TL_BATCHNORM_H
#define TL_BATCHNORM_H

/* Batch normalisation of x (B,C,S) per channel c over (B,S):
 *   train: y = gamma (x - mean_B) / sqrt(var_B + eps) + beta, xhat (B,C,S) and
 *          mean, invstd (C) kept for backward; running := (1-m) running + m stat
 *          (unbiased variance), nothing when m = 0;
 *   eval:  the same with running_mean / running_var (xhat, mean, invstd may be NULL). */
void tl_batchnorm_forward(float *out, float *xhat, float *mean, float *invstd, float *running_mean,
                          float *running_var, const float *inp, const float *gamma, const float *beta, int B, int C,
                          int S, float momentum, float eps, int train);
/* Train-mode backward: dgamma += sum dy xhat, dbeta += sum dy,
 * dx += gamma invstd / N (N dy - sum dy - xhat sum dy xhat), N = B S. */
void tl_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *xhat,
                           const float *invstd, const float *gamma, int B, int C, int S);

#endif
