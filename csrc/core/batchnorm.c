/* batchnorm.c - batch normalisation kernels, per channel of (B, C, S). */
#include "batchnorm.h"

#include <math.h>
#include <stdint.h>

void tl_batchnorm_forward(float *out, float *xhat, float *mean, float *invstd, float *running_mean,
                          float *running_var, const float *inp, const float *gamma, const float *beta, int B, int C,
                          int S, float momentum, float eps, int mode) {
    const int64_t CS = (int64_t)C * S, N = (int64_t)B * S;
    const int keep = mode != TL_BN_RUNNING; /* xhat, mean, invstd wanted by a backward */
    for (int c = 0; c < C; c++) {
        float mu, is;
        if (mode == TL_BN_BATCH) {
            double s = 0.0;
            for (int i = 0; i < B; i++) {
                const float *x = inp + i * CS + (int64_t)c * S;
                for (int64_t j = 0; j < S; j++) s += x[j];
            }
            double m = s / (double)N, v = 0.0;
            for (int i = 0; i < B; i++) {
                const float *x = inp + i * CS + (int64_t)c * S;
                for (int64_t j = 0; j < S; j++) {
                    double d = x[j] - m;
                    v += d * d;
                }
            }
            double var = v / (double)N; /* biased: normalises the batch */
            mu = (float)m;
            is = (float)(1.0 / sqrt(var + (double)eps));
            mean[c] = mu;
            invstd[c] = is;
            if (momentum != 0.0f) {
                double unb = N > 1 ? v / (double)(N - 1) : var;
                running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mu;
                running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unb;
            }
        } else {
            mu = running_mean[c];
            is = 1.0f / sqrtf(running_var[c] + eps);
            if (keep) {
                mean[c] = mu;
                invstd[c] = is;
            }
        }
        const float ga = gamma[c], be = beta[c];
        for (int i = 0; i < B; i++) {
            const float *x = inp + i * CS + (int64_t)c * S;
            float *y = out + i * CS + (int64_t)c * S;
            if (keep) {
                float *xh = xhat + i * CS + (int64_t)c * S;
                for (int64_t j = 0; j < S; j++) {
                    xh[j] = (x[j] - mu) * is;
                    y[j] = ga * xh[j] + be;
                }
            } else {
                for (int64_t j = 0; j < S; j++) y[j] = ga * (x[j] - mu) * is + be;
            }
        }
    }
}

void tl_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *xhat,
                           const float *invstd, const float *gamma, int B, int C, int S, int batch) {
    const int64_t CS = (int64_t)C * S, N = (int64_t)B * S;
    for (int c = 0; c < C; c++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < B; i++) {
            const float *dy = dout + i * CS + (int64_t)c * S, *xh = xhat + i * CS + (int64_t)c * S;
            for (int64_t j = 0; j < S; j++) {
                sdy += dy[j];
                sdyx += (double)dy[j] * xh[j];
            }
        }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dinp) continue;
        if (!batch) { /* the running statistics are constants: y is affine in x */
            const float k = gamma[c] * invstd[c];
            for (int i = 0; i < B; i++) {
                const float *dy = dout + i * CS + (int64_t)c * S;
                float *dx = dinp + i * CS + (int64_t)c * S;
                for (int64_t j = 0; j < S; j++) dx[j] += k * dy[j];
            }
            continue;
        }
        const float k = gamma[c] * invstd[c] / (float)N, a = (float)sdy, b = (float)sdyx;
        for (int i = 0; i < B; i++) {
            const float *dy = dout + i * CS + (int64_t)c * S, *xh = xhat + i * CS + (int64_t)c * S;
            float *dx = dinp + i * CS + (int64_t)c * S;
            for (int64_t j = 0; j < S; j++) dx[j] += k * ((float)N * dy[j] - a - xh[j] * b);
        }
    }
}
