/* selftaught.h - kernels of the self-taught learning ops (sparse autoencoders).
 * Conventions as kernels.h: outputs first, gradients prefixed d, backward
 * kernels accumulate (+=). */
#ifndef TL_SELFTAUGHT_H
#define TL_SELFTAUGHT_H
#include <stdint.h>

/* the mean activations are clamped into [TL_KL_EPS, 1 - TL_KL_EPS] (the KL divergence's poles) */
#define TL_KL_EPS 1e-6

/* KL sparsity penalty of a sparse autoencoder (Ng, "Sparse autoencoder", CS294A
 * notes; the UFLDL exercise): rhohat_j = the mean of h (B, H) over the rows
 * labelled 0 (rows labelled -1 are skipped), clamped as above; the loss is
 * sum_j rho log(rho / rhohat_j) + (1 - rho) log((1 - rho) / (1 - rhohat_j)).
 * rhohat (H) receives the clamped means, *n the rows counted; 0 when none. */
double tl_kl_sparsity_forward(float *rhohat, const float *h, const int32_t *mask, int B, int H, float rho, int *n);
/* dh_ij += scale / n (-rho / rhohat_j + (1 - rho) / (1 - rhohat_j)) on the counted rows */
void tl_kl_sparsity_backward(float *dh, const float *rhohat, const int32_t *mask, int B, int H, float rho, int n,
                             float scale);

#endif
