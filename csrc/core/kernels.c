/* kernels.c - pure kernels: dense layers through cblas_sgemm, activations,
 * and the fused losses.  No allocation, no state, no I/O. */
#include "kernels.h"
#include "blas.h"
#include "threadpool.h"

#include <math.h>
#include <string.h>

void tl_dense_forward(float *out, const float *inp, const float *w, const float *b, int B, int IN, int OUT) {
    if (b) {
        for (int i = 0; i < B; i++) memcpy(out + (int64_t)i * OUT, b, sizeof(float) * (size_t)OUT);
    }
    tl_gemm(1, CblasNoTrans, CblasTrans, B, OUT, IN, 1.0f, inp, IN, w, IN, b ? 1.0f : 0.0f, out, OUT);
}

void tl_dense_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                       const float *w, int B, int IN, int OUT, int set_dx, int set_w) {
    if (dinp)
        tl_gemm(1, CblasNoTrans, CblasNoTrans, B, IN, OUT, 1.0f, dout, OUT, w, IN, set_dx ? 0.0f : 1.0f,
                 dinp, IN);
    if (dw)
        tl_gemm(1, CblasTrans, CblasNoTrans, OUT, IN, B, 1.0f, dout, OUT, inp, IN, set_w ? 0.0f : 1.0f,
                 dw, IN);
    if (db) {
        if (set_w) memset(db, 0, sizeof(float) * (size_t)OUT);
        for (int i = 0; i < B; i++) {
            const float *d = dout + (int64_t)i * OUT;
            for (int o = 0; o < OUT; o++) db[o] += d[o];
        }
    }
}

/* Elementwise ops of conv-sized activations go through the pool in parts of
 * at least TL_GRAIN_FLOATS elements; dense-sized ones stay on the caller. */
typedef struct {
    float *out;
    const float *a, *b;
    float s;
    int set;
} ew_job;

static void leaky_fwd_range(void *ctx, int64_t lo, int64_t hi) {
    const ew_job *j = ctx;
    float *restrict out = j->out;
    const float *restrict inp = j->a;
    const float a = j->s;
    for (int64_t i = lo; i < hi; i++) out[i] = inp[i] > 0.0f ? inp[i] : a * inp[i];
}

static void leaky_bwd_range(void *ctx, int64_t lo, int64_t hi) {
    const ew_job *j = ctx;
    float *restrict dinp = j->out;
    const float *restrict dout = j->a, *restrict inp = j->b;
    const float a = j->s;
    if (j->set)
        for (int64_t i = lo; i < hi; i++) dinp[i] = inp[i] > 0.0f ? dout[i] : a * dout[i];
    else
        for (int64_t i = lo; i < hi; i++) dinp[i] += inp[i] > 0.0f ? dout[i] : a * dout[i];
}

void tl_leaky_relu_forward(float *out, const float *inp, float a, int64_t N) {
    ew_job j = {out, inp, NULL, a, 0};
    tl_parallel_for(N, TL_GRAIN_FLOATS, leaky_fwd_range, &j);
}

void tl_leaky_relu_backward(float *dinp, const float *dout, const float *inp, float a, int64_t N, int set) {
    ew_job j = {dinp, dout, inp, a, set};
    tl_parallel_for(N, TL_GRAIN_FLOATS, leaky_bwd_range, &j);
}

void tl_sigmoid_forward(float *out, const float *inp, int64_t N) {
    for (int64_t i = 0; i < N; i++) out[i] = 1.0f / (1.0f + expf(-inp[i]));
}

/* dx += dy y (1 - y) */
void tl_sigmoid_backward(float *dinp, const float *dout, const float *inp, const float *out, int64_t N) {
    (void)inp;
    for (int64_t i = 0; i < N; i++) dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void tl_tanh_forward(float *out, const float *inp, int64_t N) {
    for (int64_t i = 0; i < N; i++) out[i] = tanhf(inp[i]);
}

/* dx += dy (1 - y^2) */
void tl_tanh_backward(float *dinp, const float *dout, const float *inp, const float *out, int64_t N) {
    (void)inp;
    for (int64_t i = 0; i < N; i++) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

/* y = softmax(x / T) for one row; returns log of the normaliser of x/T shifted by its max */
static float softmax_row(float *y, const float *x, int C, float invT) {
    float m = x[0];
    for (int c = 1; c < C; c++) m = x[c] > m ? x[c] : m;
    float s = 0.0f;
    for (int c = 0; c < C; c++) {
        y[c] = expf((x[c] - m) * invT);
        s += y[c];
    }
    float inv = 1.0f / s;
    for (int c = 0; c < C; c++) y[c] *= inv;
    return logf(s);
}

void tl_softmax_forward(float *out, const float *inp, int B, int C) {
    for (int i = 0; i < B; i++) softmax_row(out + (int64_t)i * C, inp + (int64_t)i * C, C, 1.0f);
}

void tl_softmax_backward(float *dinp, const float *dout, const float *out, int B, int C) {
    for (int i = 0; i < B; i++) {
        const float *y = out + (int64_t)i * C, *dy = dout + (int64_t)i * C;
        float *dx = dinp + (int64_t)i * C;
        float dot = 0.0f;
        for (int c = 0; c < C; c++) dot += dy[c] * y[c];
        for (int c = 0; c < C; c++) dx[c] += y[c] * (dy[c] - dot);
    }
}

double tl_softmax_ce_forward(float *probs, const float *logits, const int32_t *labels, int B, int C, int *n, int *correct) {
    double total = 0.0;
    int cnt = 0, ok = 0;
    for (int i = 0; i < B; i++) {
        const float *z = logits + (int64_t)i * C;
        float *p = probs + (int64_t)i * C;
        float lse = softmax_row(p, z, C, 1.0f);
        int y = labels[i];
        if (y < 0) continue;
        float m = z[0];
        int am = 0;
        for (int c = 1; c < C; c++)
            if (z[c] > m) {
                m = z[c];
                am = c;
            }
        total += (double)(lse - (z[y] - m)); /* -log p_y without underflow */
        cnt++;
        ok += am == y;
    }
    *n = cnt;
    *correct = ok;
    return cnt ? total / cnt : 0.0;
}

void tl_softmax_ce_backward(float *dlogits, const float *probs, const int32_t *labels, int B, int C, float scale,
                            int set) {
    for (int i = 0; i < B; i++) {
        int y = labels[i];
        float *d = dlogits + (int64_t)i * C;
        if (y < 0) {
            if (set) memset(d, 0, sizeof(float) * (size_t)C);
            continue;
        }
        const float *p = probs + (int64_t)i * C;
        if (set)
            for (int c = 0; c < C; c++) d[c] = scale * p[c];
        else
            for (int c = 0; c < C; c++) d[c] += scale * p[c];
        d[y] -= scale;
    }
}

double tl_sigmoid_bce_forward(const float *logits, const float *t, int64_t N, int64_t *n, int64_t *correct) {
    double total = 0.0;
    int64_t cnt = 0, ok = 0;
    for (int64_t i = 0; i < N; i++) {
        if (isnan(t[i])) continue;
        float z = logits[i];
        /* max(z,0) - z t + log(1 + e^-|z|), stable for any z */
        total += (double)(fmaxf(z, 0.0f) - z * t[i] + log1pf(expf(-fabsf(z))));
        cnt++;
        ok += (z > 0.0f) == (t[i] > 0.5f);
    }
    *n = cnt;
    *correct = ok;
    return cnt ? total / (double)cnt : 0.0;
}

void tl_sigmoid_bce_backward(float *dlogits, const float *logits, const float *t, int64_t N, float scale) {
    for (int64_t i = 0; i < N; i++) {
        if (isnan(t[i])) continue;
        float s = 1.0f / (1.0f + expf(-logits[i]));
        dlogits[i] += scale * (s - t[i]);
    }
}

double tl_mse_forward(const float *y, const float *t, int64_t N, int64_t *n) {
    double total = 0.0;
    int64_t cnt = 0;
    for (int64_t i = 0; i < N; i++) {
        if (isnan(t[i])) continue;
        double d = (double)y[i] - (double)t[i];
        total += d * d;
        cnt++;
    }
    *n = cnt;
    return cnt ? total / (double)cnt : 0.0;
}

void tl_mse_backward(float *dy, const float *y, const float *t, int64_t N, float scale) {
    for (int64_t i = 0; i < N; i++) {
        if (isnan(t[i])) continue;
        dy[i] += 2.0f * scale * (y[i] - t[i]);
    }
}

static int row_has_nan(const float *q, int C) {
    for (int c = 0; c < C; c++)
        if (isnan(q[c])) return 1;
    return 0;
}

double tl_soft_ce_forward(float *probs, const float *logits, const float *q, int B, int C, float T, int *n) {
    double total = 0.0;
    int cnt = 0;
    float invT = 1.0f / T;
    for (int i = 0; i < B; i++) {
        const float *z = logits + (int64_t)i * C, *qi = q + (int64_t)i * C;
        float *p = probs + (int64_t)i * C;
        float lse = softmax_row(p, z, C, invT);
        if (row_has_nan(qi, C)) continue;
        float m = z[0];
        for (int c = 1; c < C; c++) m = z[c] > m ? z[c] : m;
        double row = 0.0;
        for (int c = 0; c < C; c++)
            if (qi[c] != 0.0f) row -= (double)qi[c] * (double)((z[c] - m) * invT - lse);
        total += row;
        cnt++;
    }
    *n = cnt;
    return cnt ? (double)T * (double)T * total / cnt : 0.0;
}

void tl_soft_ce_backward(float *dlogits, const float *probs, const float *q, int B, int C, float T, float scale) {
    for (int i = 0; i < B; i++) {
        const float *qi = q + (int64_t)i * C, *p = probs + (int64_t)i * C;
        if (row_has_nan(qi, C)) continue;
        float sq = 0.0f;
        for (int c = 0; c < C; c++) sq += qi[c];
        float *d = dlogits + (int64_t)i * C;
        for (int c = 0; c < C; c++) d[c] += scale * T * (p[c] * sq - qi[c]);
    }
}

double tl_coral_forward(float *xc, float *xd, float *cov, const float *x, const int32_t *domain, int B, int D,
                        int *ns, int *nt) {
    int cnt[2] = {0, 0};
    for (int i = 0; i < B; i++)
        if (domain[i] == 0 || domain[i] == 1) cnt[domain[i]]++;
    *ns = cnt[0];
    *nt = cnt[1];
    if (cnt[0] < 2 || cnt[1] < 2) return 0.0;
    /* the two domain means live in cov (>= 2D floats) until M overwrites them */
    float w[2] = {1.0f / (float)(cnt[0] - 1), -1.0f / (float)(cnt[1] - 1)};
    for (int d = 0; d < 2; d++) {
        float *m = cov + (int64_t)d * D;
        memset(m, 0, sizeof(float) * (size_t)D);
    }
    for (int i = 0; i < B; i++) {
        int g = domain[i];
        if (g != 0 && g != 1) continue;
        const float *xi = x + (int64_t)i * D;
        float *m = cov + (int64_t)g * D;
        for (int j = 0; j < D; j++) m[j] += xi[j];
    }
    for (int g = 0; g < 2; g++) {
        float *m = cov + (int64_t)g * D, inv = 1.0f / (float)cnt[g];
        for (int j = 0; j < D; j++) m[j] *= inv;
    }
    for (int i = 0; i < B; i++) {
        int g = domain[i];
        float *ci = xc + (int64_t)i * D, *di = xd + (int64_t)i * D;
        if (g != 0 && g != 1) {
            memset(ci, 0, sizeof(float) * (size_t)D);
            memset(di, 0, sizeof(float) * (size_t)D);
            continue;
        }
        const float *xi = x + (int64_t)i * D, *m = cov + (int64_t)g * D;
        for (int j = 0; j < D; j++) {
            di[j] = xi[j] - m[j];
            ci[j] = w[g] * di[j];
        }
    }
    /* M = Xd^T W Xd = C_s - C_t */
    tl_gemm(1, CblasTrans, CblasNoTrans, D, D, B, 1.0f, xd, D, xc, D, 0.0f, cov, D);
    double total = 0.0;
    for (int64_t k = 0; k < (int64_t)D * D; k++) total += (double)cov[k] * (double)cov[k];
    return total / (4.0 * (double)D * (double)D);
}

void tl_coral_backward(float *dx, const float *xc, const float *cov, int B, int D, int ns, int nt, float scale) {
    if (ns < 2 || nt < 2 || !dx) return;
    /* d/dXd |Xd^T W Xd|^2 / (4 D^2) = W Xd M / D^2; the centring passes it unchanged
     * because the rows of W Xd M of each domain sum to zero */
    tl_gemm(1, CblasNoTrans, CblasNoTrans, B, D, D, scale / ((float)D * (float)D), xc, D, cov, D, 1.0f,
             dx, D);
}

void tl_scale_forward(float *out, const float *inp, const float *alpha, int B, int C, int S) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *x = inp + ((int64_t)b * C + c) * S;
            float *y = out + ((int64_t)b * C + c) * S, a = alpha[c];
            for (int s = 0; s < S; s++) y[s] = a * x[s];
        }
}

void tl_scale_backward(float *dinp, float *dalpha, const float *dout, const float *inp, const float *alpha,
                       int B, int C, int S) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            int64_t o = ((int64_t)b * C + c) * S;
            const float *dy = dout + o;
            if (dinp) {
                float a = alpha[c], *dx = dinp + o;
                for (int s = 0; s < S; s++) dx[s] += a * dy[s];
            }
            if (dalpha) {
                const float *x = inp + o;
                double acc = 0.0;
                for (int s = 0; s < S; s++) acc += (double)x[s] * dy[s];
                dalpha[c] += (float)acc;
            }
        }
}
