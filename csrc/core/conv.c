/* conv.c - convolution, pooling and batch normalisation kernels.
 *
 * A convolution is lowered onto one sgemm per direction over the whole
 * batch: im2col writes the receptive fields of all B examples side by side,
 * col (K, B*P) with K = C*KH*KW and P = OH*OW, so that
 *   forward   Y' (OC, B*P) = W (OC, K) col,
 *   backward  dW += dY' col^T,   dcol = W^T dY'  (then col2im into dx),
 * where Y' is the output in (OC, B, P) order; a copy moves it to NCHW.  Big
 * GEMMs keep both OpenBLAS threads busy, which one small GEMM per example
 * does not; chunks of the batch sized for the cache (col of ~1-4 MB,
 * recomputed in backward) measured 25-60% slower per training step of the
 * MNIST-M network at batch 64 on 2 cores, so the whole batch goes at once.
 * No allocation: the scratch (col and Y') is the op's planned aux buffer. */
#include "conv.h"
#include "blas.h"

#include <math.h>
#include <string.h>

#define P_OF(g) ((int64_t)(g)->OH * (g)->OW)
#define K_OF(g) ((int64_t)(g)->C * (g)->KH * (g)->KW)

int64_t tl_conv2d_scratch(const tl_conv_geom *g) { return (K_OF(g) + g->OC) * P_OF(g); }

/* Valid output columns [*lo, *hi) of window column kw: 0 <= ow*SW - PW + kw < W. */
static void valid_cols(const tl_conv_geom *g, int kw, int *lo, int *hi) {
    int l = 0, h = g->OW;
    while (l < g->OW && l * g->SW - g->PW + kw < 0) l++;
    while (h > l && (h - 1) * g->SW - g->PW + kw >= g->W) h--;
    *lo = l, *hi = h;
}

/* Receptive fields of B examples x (B,C,H,W) into col (K, B*P), row
 * k = (c, kh, kw), column b*P + oh*OW + ow.  Rows are written one after the
 * other (sequential stores into a matrix larger than the cache, while the
 * batch of inputs stays in L2); inner copies are plain loops, OW is short. */
static void im2col(float *col, const float *x, int B, const tl_conv_geom *g) {
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    const int64_t P = (int64_t)OH * OW, in_sz = (int64_t)g->C * H * W;
    float *row = col;
    for (int c = 0; c < g->C; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                int lo, hi;
                valid_cols(g, kw, &lo, &hi);
                for (int b = 0; b < B; b++, row += P) {
                    const float *xc = x + b * in_sz + (int64_t)c * H * W;
                    for (int oh = 0; oh < OH; oh++) {
                        float *r = row + (int64_t)oh * OW;
                        int ih = oh * g->SH - g->PH + kh;
                        if (ih < 0 || ih >= H) {
                            for (int ow = 0; ow < OW; ow++) r[ow] = 0.0f;
                            continue;
                        }
                        const float *xr = xc + (int64_t)ih * W - g->PW + kw;
                        for (int ow = 0; ow < lo; ow++) r[ow] = 0.0f;
                        if (SW == 1)
                            for (int ow = lo; ow < hi; ow++) r[ow] = xr[ow];
                        else
                            for (int ow = lo; ow < hi; ow++) r[ow] = xr[(int64_t)ow * SW];
                        for (int ow = hi; ow < OW; ow++) r[ow] = 0.0f;
                    }
                }
            }
}

/* dx += the sum of the receptive-field gradients in col (the adjoint of im2col). */
static void col2im(float *dx, const float *col, int B, const tl_conv_geom *g) {
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    const int64_t P = (int64_t)OH * OW, in_sz = (int64_t)g->C * H * W;
    const float *row = col;
    for (int c = 0; c < g->C; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                int lo, hi;
                valid_cols(g, kw, &lo, &hi);
                for (int b = 0; b < B; b++, row += P) {
                    float *dc = dx + b * in_sz + (int64_t)c * H * W;
                    for (int oh = 0; oh < OH; oh++) {
                        int ih = oh * g->SH - g->PH + kh;
                        if (ih < 0 || ih >= H) continue;
                        const float *r = row + (int64_t)oh * OW;
                        float *dr = dc + (int64_t)ih * W - g->PW + kw;
                        if (SW == 1)
                            for (int ow = lo; ow < hi; ow++) dr[ow] += r[ow];
                        else
                            for (int ow = lo; ow < hi; ow++) dr[(int64_t)ow * SW] += r[ow];
                    }
                }
            }
}

void tl_conv2d_forward(float *out, float *scratch, const float *inp, const float *w, const float *b, int B,
                       const tl_conv_geom *g) {
    const int64_t P = P_OF(g), K = K_OF(g), BP = (int64_t)B * P;
    float *col = scratch, *yt = scratch + K * BP; /* col (K, B*P), yt (OC, B*P) */
    im2col(col, inp, B, g);
    tl_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->OC, (int)BP, (int)K, 1.0f, w, (int)K, col, (int)BP, 0.0f,
             yt, (int)BP);
    for (int i = 0; i < B; i++)
        for (int o = 0; o < g->OC; o++) {
            float *y = out + ((int64_t)i * g->OC + o) * P;
            const float *s = yt + (int64_t)o * BP + (int64_t)i * P;
            float bias = b ? b[o] : 0.0f;
            for (int64_t p = 0; p < P; p++) y[p] = s[p] + bias;
        }
}

void tl_conv2d_backward(float *dinp, float *dw, float *db, float *scratch, const float *dout, const float *w, int B,
                        const tl_conv_geom *g) {
    if (!dinp && !dw && !db) return;
    const int64_t P = P_OF(g), K = K_OF(g), BP = (int64_t)B * P;
    float *col = scratch, *dyt = scratch + K * BP; /* col (K, B*P), dyt (OC, B*P) */
    for (int i = 0; i < B; i++)
        for (int o = 0; o < g->OC; o++) {
            const float *d = dout + ((int64_t)i * g->OC + o) * P;
            memcpy(dyt + (int64_t)o * BP + (int64_t)i * P, d, sizeof(float) * (size_t)P);
            if (db) {
                float s = 0.0f;
                for (int64_t p = 0; p < P; p++) s += d[p];
                db[o] += s;
            }
        }
    if (dw)
        tl_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->OC, (int)K, (int)BP, 1.0f, dyt, (int)BP, col, (int)BP,
                 1.0f, dw, (int)K);
    if (dinp) {
        /* col is no longer needed: dcol overwrites it */
        tl_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)BP, g->OC, 1.0f, w, (int)K, dyt, (int)BP, 0.0f,
                 col, (int)BP);
        col2im(dinp, col, B, g);
    }
}

/* ---- pooling ---- */

void tl_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int B, const tl_conv_geom *g) {
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    int64_t planes = (int64_t)B * g->C;
    /* a row of outputs at a time, window offsets outermost: selects over ow vectorize */
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        for (int oh = 0; oh < OH; oh++) {
            float *y = out + (pl * OH + oh) * OW;
            int32_t *am = argmax + (pl * OH + oh) * OW;
            const int h0 = oh * g->SH;
            for (int ow = 0; ow < OW; ow++) {
                y[ow] = x[(int64_t)h0 * W + ow * SW];
                am[ow] = h0 * W + ow * SW;
            }
            for (int kh = 0; kh < g->KH; kh++)
                for (int kw = 0; kw < g->KW; kw++) {
                    const float *xr = x + (int64_t)(h0 + kh) * W + kw;
                    const int32_t base = (h0 + kh) * W + kw;
                    for (int ow = 0; ow < OW; ow++) {
                        float v = xr[ow * SW];
                        int take = v > y[ow] || v != v; /* NaN wins, as in PyTorch */
                        y[ow] = take ? v : y[ow];
                        am[ow] = take ? base + ow * SW : am[ow];
                    }
                }
        }
    }
}

void tl_maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax, int B, const tl_conv_geom *g) {
    const int64_t in_pl = (int64_t)g->H * g->W, out_pl = (int64_t)g->OH * g->OW, planes = (int64_t)B * g->C;
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = dinp + pl * in_pl;
        const float *dy = dout + pl * out_pl;
        const int32_t *am = argmax + pl * out_pl;
        for (int64_t j = 0; j < out_pl; j++) dx[am[j]] += dy[j];
    }
}

void tl_avgpool2d_forward(float *out, const float *inp, int B, const tl_conv_geom *g) {
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const float inv = 1.0f / (float)(g->KH * g->KW);
    int64_t planes = (int64_t)B * g->C;
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        float *y = out + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *xw = x + (int64_t)oh * g->SH * W + (int64_t)ow * g->SW;
                float s = 0.0f;
                for (int kh = 0; kh < g->KH; kh++)
                    for (int kw = 0; kw < g->KW; kw++) s += xw[(int64_t)kh * W + kw];
                y[oh * OW + ow] = s * inv;
            }
    }
}

void tl_avgpool2d_backward(float *dinp, const float *dout, int B, const tl_conv_geom *g) {
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const float inv = 1.0f / (float)(g->KH * g->KW);
    int64_t planes = (int64_t)B * g->C;
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = dinp + pl * H * W;
        const float *dy = dout + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float *dw = dx + (int64_t)oh * g->SH * W + (int64_t)ow * g->SW;
                float d = dy[oh * OW + ow] * inv;
                for (int kh = 0; kh < g->KH; kh++)
                    for (int kw = 0; kw < g->KW; kw++) dw[(int64_t)kh * W + kw] += d;
            }
    }
}

/* ---- batch normalisation ---- */

void tl_batchnorm_forward(float *out, float *xhat, float *mean, float *invstd, float *running_mean,
                          float *running_var, const float *inp, const float *gamma, const float *beta, int B, int C,
                          int S, float momentum, float eps, int train) {
    const int64_t CS = (int64_t)C * S, N = (int64_t)B * S;
    for (int c = 0; c < C; c++) {
        float mu, is;
        if (train) {
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
        }
        const float ga = gamma[c], be = beta[c];
        for (int i = 0; i < B; i++) {
            const float *x = inp + i * CS + (int64_t)c * S;
            float *y = out + i * CS + (int64_t)c * S;
            if (train) {
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
                           const float *invstd, const float *gamma, int B, int C, int S) {
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
        const float k = gamma[c] * invstd[c] / (float)N, a = (float)sdy, b = (float)sdyx;
        for (int i = 0; i < B; i++) {
            const float *dy = dout + i * CS + (int64_t)c * S, *xh = xhat + i * CS + (int64_t)c * S;
            float *dx = dinp + i * CS + (int64_t)c * S;
            for (int64_t j = 0; j < S; j++) dx[j] += k * ((float)N * dy[j] - a - xh[j] * b);
        }
    }
}
