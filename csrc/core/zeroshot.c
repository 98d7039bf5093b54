/* zeroshot.c - the compat op (see zeroshot.h): scores of B examples against
 * C classes, forward and backward.  Each example carries its own (D, C)
 * block of class embeddings, so the class tower's gradient is the sum over
 * the batch of what each example's scores send back; the cost is B D C
 * multiply-adds each way. */
#include "zeroshot.h"

#include <math.h>
#include <string.h>

#define COMPAT_EPS 1e-8f /* norms below it are clamped: a zero vector scores 0 */

const char *const tl_compat_metrics[3] = {"dot", "cosine", NULL};

void tl_compat_forward(float *s, float *norms, const float *x, const float *g, int B, int D, int C, int cosine) {
    for (int b = 0; b < B; b++) {
        const float *xb = x + (int64_t)b * D, *gb = g + (int64_t)b * D * C;
        float *sb = s + (int64_t)b * C;
        for (int c = 0; c < C; c++) sb[c] = 0.0f;
        for (int d = 0; d < D; d++) {
            float xd = xb[d];
            const float *row = gb + (int64_t)d * C;
            for (int c = 0; c < C; c++) sb[c] += xd * row[c];
        }
        if (!cosine) continue;
        float *nb = norms + (int64_t)b * (1 + C), *ng = nb + 1;
        double sx = 0.0;
        for (int d = 0; d < D; d++) sx += (double)xb[d] * xb[d];
        for (int c = 0; c < C; c++) ng[c] = 0.0f;
        for (int d = 0; d < D; d++) {
            const float *row = gb + (int64_t)d * C;
            for (int c = 0; c < C; c++) ng[c] += row[c] * row[c];
        }
        nb[0] = (float)sqrt(sx);
        float a = nb[0] > COMPAT_EPS ? nb[0] : COMPAT_EPS;
        for (int c = 0; c < C; c++) {
            ng[c] = sqrtf(ng[c]);
            sb[c] /= a * (ng[c] > COMPAT_EPS ? ng[c] : COMPAT_EPS);
        }
    }
}

void tl_compat_backward(float *dx, float *dg, const float *ds, const float *s, const float *norms, const float *x,
                        const float *g, int B, int D, int C, int cosine) {
    if (!dx && !dg) return;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (int64_t)b * D, *gb = g + (int64_t)b * D * C, *dsb = ds + (int64_t)b * C;
        float *dxb = dx ? dx + (int64_t)b * D : NULL, *dgb = dg ? dg + (int64_t)b * D * C : NULL;
        if (!cosine) {
            for (int d = 0; d < D; d++) {
                const float *row = gb + (int64_t)d * C;
                if (dxb) {
                    float acc = 0.0f;
                    for (int c = 0; c < C; c++) acc += dsb[c] * row[c];
                    dxb[d] += acc;
                }
                if (dgb) {
                    float *drow = dgb + (int64_t)d * C, xd = xb[d];
                    for (int c = 0; c < C; c++) drow[c] += xd * dsb[c];
                }
            }
            continue;
        }
        /* s = u.v / (a b): ds/du = v / (a b) - s u / a^2, ds/dv = u / (a b) - s v / b^2,
         * the second terms absent where a norm is clamped (a constant there) */
        const float *nb = norms + (int64_t)b * (1 + C), *ng = nb + 1, *sb = s + (int64_t)b * C;
        float a = nb[0] > COMPAT_EPS ? nb[0] : COMPAT_EPS, ua = nb[0] > COMPAT_EPS ? 1.0f / (a * a) : 0.0f;
        float sx = 0.0f; /* sum_c ds_c s_c, the x term's weight */
        for (int c = 0; c < C; c++) sx += dsb[c] * sb[c];
        for (int d = 0; d < D; d++) {
            const float *row = gb + (int64_t)d * C;
            float xd = xb[d], acc = 0.0f;
            float *drow = dgb ? dgb + (int64_t)d * C : NULL;
            for (int c = 0; c < C; c++) {
                float bc = ng[c] > COMPAT_EPS ? ng[c] : COMPAT_EPS, inv = 1.0f / (a * bc);
                acc += dsb[c] * row[c] * inv;
                if (drow) {
                    float vb = ng[c] > COMPAT_EPS ? sb[c] / (bc * bc) : 0.0f;
                    drow[c] += dsb[c] * (xd * inv - vb * row[c]);
                }
            }
            if (dxb) dxb[d] += acc - sx * ua * xd;
        }
    }
}

tl_status tl_compat_infer(tl_net *net, tl_node *node, const int *shape, int ndim) {
    (void)shape; (void)ndim;
    const tl_node *x = tl_in(net, node, 0), *g = tl_in(net, node, 1);
    if (x->size > TL_INT_MAX || g->size > TL_INT_MAX)
        return tl_set_error(net, TL_ERR_SHAPE, "compat '%s': inputs of %lld and %lld features are too large",
                            node->name, (long long)x->size, (long long)g->size);
    if (!(g->ndim == 2 || (g->ndim == 3 && g->shape[2] == 1)) || g->shape[0] != x->size)
        return tl_set_error(net, TL_ERR_SHAPE,
                            "compat '%s': input 1 ('%s') must hold the class embeddings as (D, C) or (D, C, 1) "
                            "with D = %lld, the features of input 0 ('%s'); got rank %d with first axis %d and %lld features",
                            node->name, g->name, (long long)x->size, x->name, g->ndim, g->shape[0],
                            (long long)g->size);
    node->ndim = 1;
    node->shape[0] = (int)(g->size / x->size);
    node->size = node->shape[0];
    return TL_OK;
}

int64_t tl_compat_aux(const tl_net *net, const tl_node *node) {
    (void)net;
    return node->iattr[COMPAT_METRIC] == TL_COMPAT_COSINE ? 1 + node->size : 0;
}

void tl_compat_fwd(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    const tl_node *x = tl_in(net, node, 0), *g = tl_in(net, node, 1);
    tl_compat_forward(node->owned_out, node->aux, x->out, g->out, B, (int)x->size, (int)node->size,
                      node->iattr[COMPAT_METRIC] == TL_COMPAT_COSINE);
}

void tl_compat_bwd(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0), *g = tl_in(net, node, 1);
    tl_compat_backward(x->dout, g->dout, node->dout, node->out, node->aux, x->out, g->out, B, (int)x->size,
                       (int)node->size, node->iattr[COMPAT_METRIC] == TL_COMPAT_COSINE);
}
