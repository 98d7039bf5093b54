/* selftaught.c - kernels of the self-taught learning ops (selftaught.h). */
#include "selftaught.h"

#include <math.h>
#include <string.h>

double tl_kl_sparsity_forward(float *rhohat, const float *h, const int32_t *mask, int B, int H, float rho, int *n) {
    int m = 0;
    memset(rhohat, 0, sizeof(float) * (size_t)H);
    for (int i = 0; i < B; i++) {
        if (mask[i] != 0) continue;
        const float *r = h + (int64_t)i * H;
        for (int j = 0; j < H; j++) rhohat[j] += r[j];
        m++;
    }
    *n = m;
    if (!m) return 0.0;
    double loss = 0.0;
    for (int j = 0; j < H; j++) {
        double q = (double)rhohat[j] / m;
        if (q < TL_KL_EPS) q = TL_KL_EPS;
        if (q > 1.0 - TL_KL_EPS) q = 1.0 - TL_KL_EPS;
        rhohat[j] = (float)q;
        loss += rho * log(rho / q) + (1.0 - rho) * log((1.0 - rho) / (1.0 - q));
    }
    return loss;
}

void tl_kl_sparsity_backward(float *dh, const float *rhohat, const int32_t *mask, int B, int H, float rho, int n,
                             float scale) {
    if (!n) return;
    const float s = scale / (float)n;
    for (int i = 0; i < B; i++) {
        if (mask[i] != 0) continue;
        float *d = dh + (int64_t)i * H;
        for (int j = 0; j < H; j++) d[j] += s * (-rho / rhohat[j] + (1.0f - rho) / (1.0f - rhohat[j]));
    }
}
