/* ops.c - the op table tl_ops[], made of the rows of ops.def, and the glue
 * its rows name: each op's shape inference, scratch size, forward and
 * backward on a node, which unpack the node and call the kernels.  An
 * elementwise op (TL_OP_MAP) has none of its own: fwd_map and bwd_map call
 * the kernel pair its row names.  The glue reads an op's attributes through
 * the slot names its row gives them (DENSE_UNITS, ..., internal.h). */
#include "internal.h"
#include "kernels.h"
#include "batchnorm.h"
#include "conv.h"
#include "pool.h"
#include "zeroshot.h"
#include "selftaught.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define B64(B, n) ((int64_t)(B) * (n))

const char *const tl_init_names[TL_INIT_COUNT + 1] = {"he", "glorot", "zeros", "ones", NULL};

/* ---- shape helpers ---- */

static tl_status same_shape(tl_node *node, const tl_node *src) {
    node->ndim = src->ndim;
    memcpy(node->shape, src->shape, sizeof node->shape);
    node->size = src->size;
    return TL_OK;
}

static tl_status infer_unary(tl_net *net, tl_node *node, const int *shape, int ndim) {
    (void)shape; (void)ndim;
    return same_shape(node, tl_in(net, node, 0));
}

/* ---- input ---- */

static tl_status infer_input(tl_net *net, tl_node *node, const int *shape, int ndim) {
    if (ndim < 1 || ndim > TL_MAX_DIM)
        return tl_set_error(net, TL_ERR_SHAPE, "input '%s': expected a shape of 1 to %d dimensions, got %d",
                            node->name, TL_MAX_DIM, ndim);
    node->ndim = ndim;
    node->size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return tl_set_error(net, TL_ERR_SHAPE, "input '%s': dimension %d is %d, expected a positive size",
                                node->name, i, shape[i]);
        node->shape[i] = shape[i];
        node->size *= shape[i];
    }
    if (node->size > TL_INT_MAX)
        return tl_set_error(net, TL_ERR_SHAPE, "input '%s': %lld elements per example exceed 2^31-1",
                            node->name, (long long)node->size);
    return TL_OK;
}

/* ---- dense: y = x W^T + b ---- */

static tl_status infer_dense(tl_net *net, tl_node *node, const int *shape, int ndim) {
    (void)shape; (void)ndim;
    const tl_node *x = tl_in(net, node, 0);
    int units = node->iattr[DENSE_UNITS], init = node->iattr[DENSE_INIT];
    if (x->size > TL_INT_MAX)
        return tl_set_error(net, TL_ERR_SHAPE, "dense '%s': input of %lld features is too large",
                            node->name, (long long)x->size);
    node->ndim = 1;
    node->shape[0] = units;
    node->size = units;
    int in = (int)x->size;
    int wshape[2] = {units, in};
    tl_status st = tl_declare_param(net, node, "w", wshape, 2, in, units, init);
    if (st == TL_OK && node->iattr[DENSE_USE_BIAS])
        st = tl_declare_param(net, node, "b", &units, 1, in, units, TL_INIT_ZERO);
    return st;
}

static void fwd_dense(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    const tl_node *x = tl_in(net, node, 0);
    tl_dense_forward(node->owned_out, x->out, tl_pval(net, node, 0), node->n_param > 1 ? tl_pval(net, node, 1) : NULL,
                     B, (int)x->size, (int)node->size);
}

static void bwd_dense(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    tl_dense_backward(x->dout, tl_pgrad(net, node, 0), node->n_param > 1 ? tl_pgrad(net, node, 1) : NULL, node->dout,
                      x->out, tl_pval(net, node, 0), B, (int)x->size, (int)node->size, node->assign_in & 1,
                      node->assign_grads);
}

/* ---- activations ---- */

/* relu is leaky_relu with alpha 0: one forward and one backward for both, and the slope of
 * either for the conv that writes it (fwd_conv2d). */
static float leaky_alpha(const tl_node *node) {
    return node->op == TL_OP_LEAKY_RELU ? node->fattr[LEAKY_RELU_ALPHA] : 0.0f;
}
static void fwd_leaky(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    if (node->act_done) return; /* written by the conv before it (plan.c) */
    tl_leaky_relu_forward(node->owned_out, tl_in(net, node, 0)->out, leaky_alpha(node), B64(B, node->size));
}
/* The backward tests the node's own output, y > 0 exactly where x > 0 (alpha >= 0, NaN in both), so
 * that a conv with the activation fused need not store its output (plan.c). */
static void bwd_leaky(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    tl_leaky_relu_backward(x->dout, node->dout, node->out, leaky_alpha(node), B64(B, node->size),
                           node->assign_in & 1);
}
/* the elementwise ops (TL_OP_MAP): the kernel pair of the node's row */
static void fwd_map(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    tl_ops[node->op].map.forward(node->owned_out, tl_in(net, node, 0)->out, B64(B, node->size));
}
static void bwd_map(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    tl_ops[node->op].map.backward(x->dout, node->dout, x->out, node->out, B64(B, node->size));
}
static void fwd_softmax(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    tl_softmax_forward(node->owned_out, tl_in(net, node, 0)->out, B, (int)node->size);
}
static void bwd_softmax(tl_net *net, tl_node *node, int B) {
    tl_softmax_backward(tl_in(net, node, 0)->dout, node->dout, node->out, B, (int)node->size);
}

/* ---- add: y = sum_k x_k ---- */

static tl_status infer_add(tl_net *net, tl_node *node, const int *shape, int ndim) {
    (void)shape; (void)ndim;
    const tl_node *a = tl_in(net, node, 0);
    for (int k = 1; k < node->n_in; k++) {
        const tl_node *b = tl_in(net, node, k);
        int same = a->ndim == b->ndim;
        for (int i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
        if (!same)
            return tl_set_error(net, TL_ERR_SHAPE,
                                "add '%s': input %d ('%s') has %lld features per example, input 0 ('%s') has %lld; "
                                "shapes must be equal",
                                node->name, k, b->name, (long long)b->size, a->name, (long long)a->size);
    }
    return same_shape(node, a);
}
static void fwd_add(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    int64_t N = B64(B, node->size);
    float *y = node->owned_out;
    memcpy(y, tl_in(net, node, 0)->out, sizeof(float) * (size_t)N);
    for (int k = 1; k < node->n_in; k++) {
        const float *x = tl_in(net, node, k)->out;
        for (int64_t i = 0; i < N; i++) y[i] += x[i];
    }
}
static void bwd_add(tl_net *net, tl_node *node, int B) {
    int64_t N = B64(B, node->size);
    for (int k = 0; k < node->n_in; k++) {
        float *dx = tl_in(net, node, k)->dout;
        if (!dx) continue;
        for (int64_t i = 0; i < N; i++) dx[i] += node->dout[i];
    }
}

/* ---- concat along the first per-example axis (features, or channels of C,H,W) ---- */

static tl_status infer_concat(tl_net *net, tl_node *node, const int *shape, int ndim) {
    (void)shape; (void)ndim;
    const tl_node *a = tl_in(net, node, 0);
    tl_status st = same_shape(node, a);
    for (int k = 1; k < node->n_in; k++) {
        const tl_node *b = tl_in(net, node, k);
        int same = a->ndim == b->ndim;
        for (int i = 1; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
        if (!same)
            return tl_set_error(net, TL_ERR_SHAPE,
                                "concat '%s': input %d ('%s', rank %d) does not match input 0 ('%s', rank %d) "
                                "beyond the first axis",
                                node->name, k, b->name, b->ndim, a->name, a->ndim);
        node->shape[0] += b->shape[0];
        node->size += b->size;
    }
    return st;
}
static void fwd_concat(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    for (int i = 0; i < B; i++) {
        float *y = node->owned_out + B64(i, node->size);
        for (int k = 0; k < node->n_in; k++) {
            const tl_node *x = tl_in(net, node, k);
            memcpy(y, x->out + B64(i, x->size), sizeof(float) * (size_t)x->size);
            y += x->size;
        }
    }
}
static void bwd_concat(tl_net *net, tl_node *node, int B) {
    for (int i = 0; i < B; i++) {
        const float *dy = node->dout + B64(i, node->size);
        for (int k = 0; k < node->n_in; k++) {
            const tl_node *x = tl_in(net, node, k);
            if (x->dout) {
                float *dx = x->dout + B64(i, x->size);
                for (int64_t j = 0; j < x->size; j++) dx[j] += dy[j];
            }
            dy += x->size;
        }
    }
}

/* ---- reshape: a view, forward and backward move no data ---- */

static tl_status infer_reshape(tl_net *net, tl_node *node, const int *shape, int ndim) {
    const tl_node *x = tl_in(net, node, 0);
    if (ndim < 1 || ndim > TL_MAX_DIM)
        return tl_set_error(net, TL_ERR_SHAPE, "reshape '%s': expected a target shape of 1 to %d dimensions, got %d",
                            node->name, TL_MAX_DIM, ndim);
    int free_axis = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1 && free_axis < 0) {
            free_axis = i;
        } else if (shape[i] <= 0) {
            return tl_set_error(net, TL_ERR_SHAPE, "reshape '%s': dimension %d is %d, expected a positive size "
                                "(or one -1)", node->name, i, shape[i]);
        } else {
            known *= shape[i];
        }
        node->shape[i] = shape[i];
    }
    if (free_axis >= 0) {
        if (x->size % known)
            return tl_set_error(net, TL_ERR_SHAPE, "reshape '%s': %lld features of '%s' do not divide into %lld",
                                node->name, (long long)x->size, x->name, (long long)known);
        node->shape[free_axis] = (int)(x->size / known);
        known = x->size;
    }
    if (known != x->size)
        return tl_set_error(net, TL_ERR_SHAPE, "reshape '%s': target has %lld features per example, input '%s' has %lld",
                            node->name, (long long)known, x->name, (long long)x->size);
    node->ndim = ndim;
    node->size = known;
    return TL_OK;
}
static void fwd_view(tl_net *net, tl_node *node, int B, int train) {
    (void)B; (void)train;
    node->out = tl_in(net, node, 0)->out; /* dout is aliased at planning */
}
static void bwd_none(tl_net *net, tl_node *node, int B) { (void)net; (void)node; (void)B; }

/* ---- dropout (inverted): y = x m / (1 - p) in training, y = x in evaluation ---- */

static int64_t aux_same(const tl_net *net, const tl_node *node) { (void)net; return node->size; }
static void fwd_dropout(tl_net *net, tl_node *node, int B, int train) {
    int64_t N = B64(B, node->size);
    const float *x = tl_in(net, node, 0)->out;
    float *m = node->aux, *y = node->owned_out, p = node->fattr[DROPOUT_RATE];
    if (train && p > 0.0f) {
        float keep = 1.0f / (1.0f - p);
        for (int64_t i = 0; i < N; i++) m[i] = tl_rng_uniform(&net->drop_rng) >= p ? keep : 0.0f;
    } else {
        for (int64_t i = 0; i < N; i++) m[i] = 1.0f;
    }
    for (int64_t i = 0; i < N; i++) y[i] = x[i] * m[i];
}
static void bwd_dropout(tl_net *net, tl_node *node, int B) {
    int64_t N = B64(B, node->size);
    float *dx = tl_in(net, node, 0)->dout;
    for (int64_t i = 0; i < N; i++) dx[i] += node->dout[i] * node->aux[i];
}

/* ---- gradient reversal: y = x forward, dx = -lambda dy backward ---- */

static void bwd_grl(tl_net *net, tl_node *node, int B) {
    int64_t N = B64(B, node->size);
    float *dx = tl_in(net, node, 0)->dout, s = -node->fattr[GRAD_REVERSE_LAMBDA];
    for (int64_t i = 0; i < N; i++) dx[i] += s * node->dout[i];
}

/* ---- conv2d: y = W * x + b over (C,H,W); pools: windows without padding ---- */

/* the pools' attributes come from one list (POOL_ATTRS in ops.def) */
_Static_assert((int)MAXPOOL2D_KH == (int)AVGPOOL2D_KH && (int)MAXPOOL2D_KW == (int)AVGPOOL2D_KW &&
                   (int)MAXPOOL2D_SH == (int)AVGPOOL2D_SH && (int)MAXPOOL2D_SW == (int)AVGPOOL2D_SW,
               "one window layout for both pools");

static void shape3_str(char *buf, size_t n, const tl_node *x) {
    int k = snprintf(buf, n, "(");
    for (int i = 0; i < x->ndim && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, i ? ", %d" : "%d", x->shape[i]);
    if (k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, x->ndim == 1 ? ",)" : ")");
}

/* Geometry of a conv (is_conv) or pooling node from its input and attributes. */
void tl_node_geom(tl_net *net, const tl_node *node, tl_conv_geom *g) {
    const tl_node *x = tl_in(net, node, 0);
    const int *a = node->iattr;
    g->C = x->shape[0], g->H = x->shape[1], g->W = x->shape[2];
    if (node->op == TL_OP_CONV2D) {
        g->KH = a[CONV2D_KH], g->KW = a[CONV2D_KW], g->SH = a[CONV2D_SH], g->SW = a[CONV2D_SW];
        g->PH = a[CONV2D_PH], g->PW = a[CONV2D_PW], g->OC = a[CONV2D_FILTERS];
    } else {
        g->KH = a[MAXPOOL2D_KH], g->KW = a[MAXPOOL2D_KW], g->SH = a[MAXPOOL2D_SH], g->SW = a[MAXPOOL2D_SW];
        g->PH = g->PW = 0, g->OC = g->C;
    }
    g->OH = g->SH > 0 ? (g->H + 2 * g->PH - g->KH) / g->SH + 1 : 0;
    g->OW = g->SW > 0 ? (g->W + 2 * g->PW - g->KW) / g->SW + 1 : 0;
}

static tl_status infer_window(tl_net *net, tl_node *node) {
    const char *op = tl_ops[node->op].info.name;
    const tl_node *x = tl_in(net, node, 0);
    char xs[96];
    shape3_str(xs, sizeof xs, x);
    if (x->ndim != 3)
        return tl_set_error(net, TL_ERR_SHAPE, "%s '%s': expected an input of shape (C, H, W), got '%s' of shape %s "
                            "(rank %d)", op, node->name, x->name, xs, x->ndim);
    tl_conv_geom g;
    tl_node_geom(net, node, &g);
    if (g.KH <= 0 || g.KW <= 0)
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': kernel must be positive, got %dx%d", op, node->name, g.KH, g.KW);
    if (g.SH <= 0 || g.SW <= 0)
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': stride must be positive, got %dx%d", op, node->name, g.SH, g.SW);
    if (g.PH < 0 || g.PW < 0)
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': padding must be >= 0, got %dx%d", op, node->name, g.PH, g.PW);
    if (g.KH > g.H + 2 * g.PH || g.KW > g.W + 2 * g.PW)
        return tl_set_error(net, TL_ERR_SHAPE, "%s '%s': kernel %dx%d is larger than the %sinput %dx%d of '%s' %s",
                            op, node->name, g.KH, g.KW, g.PH || g.PW ? "padded " : "", g.H + 2 * g.PH, g.W + 2 * g.PW,
                            x->name, xs);
    node->ndim = 3;
    node->shape[0] = g.OC, node->shape[1] = g.OH, node->shape[2] = g.OW;
    node->size = (int64_t)g.OC * g.OH * g.OW;
    if ((int64_t)g.C * g.KH * g.KW * g.OH * g.OW > TL_INT_MAX)
        return tl_set_error(net, TL_ERR_SHAPE, "%s '%s': im2col of %d x %dx%d windows at %dx%d exceeds 2^31-1 floats",
                            op, node->name, g.C, g.KH, g.KW, g.OH, g.OW);
    return TL_OK;
}

static tl_status infer_conv2d(tl_net *net, tl_node *node, const int *shape, int ndim) {
    (void)shape; (void)ndim;
    tl_status st = infer_window(net, node);
    if (st) return st;
    tl_conv_geom g;
    tl_node_geom(net, node, &g);
    int wshape[4] = {g.OC, g.C, g.KH, g.KW};
    st = tl_declare_param(net, node, "w", wshape, 4, g.C * g.KH * g.KW, g.OC * g.KH * g.KW, TL_INIT_HE);
    if (st == TL_OK && node->iattr[CONV2D_USE_BIAS])
        st = tl_declare_param(net, node, "b", &g.OC, 1, g.C * g.KH * g.KW, g.OC * g.KH * g.KW, TL_INIT_ZERO);
    return st;
}
static int64_t aux_conv2d(const tl_net *net, const tl_node *node) {
    tl_conv_geom g;
    tl_node_geom((tl_net *)net, node, &g);
    return tl_conv2d_scratch(&g);
}
static int64_t aux_once_conv2d(const tl_net *net, const tl_node *node) {
    tl_conv_geom g;
    tl_node_geom((tl_net *)net, node, &g);
    return tl_conv2d_scratch_once(&g);
}
static void fwd_conv2d(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    tl_conv_geom g;
    tl_node_geom(net, node, &g);
    const tl_node *act = node->act_into >= 0 ? &net->nodes[node->act_into] : NULL;
    const tl_conv_act a = {act ? act->owned_out : NULL, act ? leaky_alpha(act) : 0.0f};
    tl_conv2d_forward(node->out_elided ? NULL : node->owned_out, &a, node->aux, tl_in(net, node, 0)->out,
                      tl_pval(net, node, 0), node->n_param > 1 ? tl_pval(net, node, 1) : NULL, B, &g);
}
static void bwd_conv2d(tl_net *net, tl_node *node, int B) {
    tl_conv_geom g;
    tl_node_geom(net, node, &g);
    tl_conv2d_backward(tl_in(net, node, 0)->dout, tl_pgrad(net, node, 0),
                       node->n_param > 1 ? tl_pgrad(net, node, 1) : NULL, node->aux, node->dout,
                       tl_in(net, node, 0)->out, tl_pval(net, node, 0), B, &g, node->assign_in & 1,
                       node->assign_grads);
}

static tl_status infer_pool(tl_net *net, tl_node *node, const int *shape, int ndim) {
    (void)shape; (void)ndim;
    return infer_window(net, node);
}
static void fwd_maxpool(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    tl_conv_geom g;
    tl_node_geom(net, node, &g);
    tl_maxpool2d_forward(node->owned_out, (int32_t *)node->aux, tl_in(net, node, 0)->out, B, &g);
}
/* With pool_gate (plan.c), the backward of the relu / leaky_relu before the pool too: into that
 * activation's input gradient, which it alone overwrites. */
static void bwd_maxpool(tl_net *net, tl_node *node, int B) {
    tl_conv_geom g;
    tl_node_geom(net, node, &g);
    if (node->pool_gate >= 0) {
        const tl_node *act = &net->nodes[node->pool_gate];
        const tl_pool_gate gate = {node->out, leaky_alpha(act)};
        tl_maxpool2d_backward(tl_in(net, act, 0)->dout, node->dout, (const int32_t *)node->aux, &gate, B, &g, 1);
        return;
    }
    tl_maxpool2d_backward(tl_in(net, node, 0)->dout, node->dout, (const int32_t *)node->aux, NULL, B, &g,
                          node->assign_in & 1);
}
static void fwd_avgpool(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    tl_conv_geom g;
    tl_node_geom(net, node, &g);
    tl_avgpool2d_forward(node->owned_out, tl_in(net, node, 0)->out, B, &g);
}
static void bwd_avgpool(tl_net *net, tl_node *node, int B) {
    tl_conv_geom g;
    tl_node_geom(net, node, &g);
    tl_avgpool2d_backward(tl_in(net, node, 0)->dout, node->dout, B, &g);
}

/* ---- batchnorm over channels (C,...) or features (F) ----
 * params w (gamma), b (beta), running_mean, running_var (buffers: saved, never trained).
 * aux per example: xhat (size), then mean and invstd (C each) after the B rows.
 * Keras's rule: in a training step a layer whose gamma and beta are both frozen runs in
 * inference mode (normalises with the running statistics and leaves them alone), so a frozen
 * model predicts the same after fit; an explicit training forward (train 1) uses the batch. */

/* channels C and positions S per channel: (C, ...) or C features of a flat input */
static void bn_dims(const tl_node *x, int *C, int *S) {
    *C = x->ndim == 1 ? (int)x->size : x->shape[0];
    *S = (int)(x->size / *C);
}
static tl_status infer_batchnorm(tl_net *net, tl_node *node, const int *shape, int ndim) {
    tl_status st = infer_unary(net, node, shape, ndim);
    if (st) return st;
    int C, S;
    bn_dims(tl_in(net, node, 0), &C, &S);
    const char *sfx[4] = {"w", "b", "running_mean", "running_var"};
    const int init[4] = {TL_INIT_ONE, TL_INIT_ZERO, TL_INIT_ZERO, TL_INIT_ONE};
    for (int k = 0; k < 4 && st == TL_OK; k++) st = tl_declare_param(net, node, sfx[k], &C, 1, C, C, init[k]);
    return st;
}
static int64_t aux_batchnorm(const tl_net *net, const tl_node *node) {
    int C, S;
    bn_dims(tl_in((tl_net *)net, node, 0), &C, &S);
    return node->size + 2 * (int64_t)C;
}
static void fwd_batchnorm(tl_net *net, tl_node *node, int B, int train) {
    int C, S;
    const tl_node *x = tl_in(net, node, 0);
    bn_dims(x, &C, &S);
    float *stats = node->aux + B64(B, node->size);
    node->bn_frozen = train == TL_TRAIN_STEP && !net->params[node->param[0]].trainable &&
                      !net->params[node->param[1]].trainable;
    int mode = node->bn_frozen ? TL_BN_FROZEN : train ? TL_BN_BATCH : TL_BN_RUNNING;
    tl_batchnorm_forward(node->owned_out, node->aux, stats, stats + C, tl_pval(net, node, 2), tl_pval(net, node, 3),
                         x->out, tl_pval(net, node, 0), tl_pval(net, node, 1), B, C, S,
                         node->fattr[BATCHNORM_MOMENTUM], node->fattr[BATCHNORM_EPS], mode);
}
static void bwd_batchnorm(tl_net *net, tl_node *node, int B) {
    int C, S;
    const tl_node *x = tl_in(net, node, 0);
    bn_dims(x, &C, &S);
    const float *stats = node->aux + B64(B, node->size);
    tl_batchnorm_backward(x->dout, tl_pgrad(net, node, 0), tl_pgrad(net, node, 1), node->dout, node->aux, stats + C,
                          tl_pval(net, node, 0), B, C, S, !node->bn_frozen);
}

/* ---- scale: y = alpha x, alpha one scalar or one per channel (C,...) / feature (F) ---- */

static tl_status infer_scale(tl_net *net, tl_node *node, const int *shape, int ndim) {
    tl_status st = infer_unary(net, node, shape, ndim);
    if (st) return st;
    int C = 1, S;
    if (node->iattr[SCALE_PER_CHANNEL]) bn_dims(tl_in(net, node, 0), &C, &S);
    st = tl_declare_param(net, node, "alpha", &C, 1, C, C, TL_INIT_ONE);
    if (st == TL_OK) net->params[node->param[node->n_param - 1]].fill = node->fattr[SCALE_INIT]; /* alpha at start */
    return st;
}
static void scale_dims(const tl_net *net, const tl_node *node, int *C, int *S) {
    if (node->iattr[SCALE_PER_CHANNEL]) {
        bn_dims(tl_in((tl_net *)net, node, 0), C, S);
    } else {
        *C = 1, *S = (int)node->size;
    }
}
static void fwd_scale(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    int C, S;
    scale_dims(net, node, &C, &S);
    tl_scale_forward(node->owned_out, tl_in(net, node, 0)->out, tl_pval(net, node, 0), B, C, S);
}
static void bwd_scale(tl_net *net, tl_node *node, int B) {
    int C, S;
    const tl_node *x = tl_in(net, node, 0);
    scale_dims(net, node, &C, &S);
    tl_scale_backward(x->dout, tl_pgrad(net, node, 0), node->dout, x->out, tl_pval(net, node, 0), B, C, S);
}

/* ---- losses (size 0: no activation buffer; value in node->loss) ---- */

static tl_status infer_loss(tl_net *net, tl_node *node, const int *shape, int ndim) {
    (void)shape; (void)ndim;
    const tl_node *x = tl_in(net, node, 0);
    if (node->op == TL_OP_CORAL && (x->size < 2 || x->size > 46340))
        return tl_set_error(net, TL_ERR_SHAPE, "coral '%s': needs 2 to 46340 features (a D x D covariance), "
                            "input '%s' has %lld", node->name, x->name, (long long)x->size);
    if ((node->op == TL_OP_SOFTMAX_CE || node->op == TL_OP_SOFT_CE) && x->size < 2)
        return tl_set_error(net, TL_ERR_SHAPE, "%s '%s': needs at least 2 classes, input '%s' has %lld features",
                            tl_ops[node->op].info.name, node->name, x->name, (long long)x->size);
    node->ndim = 0;
    node->size = 0;
    return TL_OK;
}
static int64_t aux_probs(const tl_net *net, const tl_node *node) { return tl_in((tl_net *)net, node, 0)->size; }

static void fwd_softmax_ce(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    const tl_node *x = tl_in(net, node, 0);
    int n = 0, ok = 0;
    node->loss = tl_softmax_ce_forward(node->aux, x->out, node->target, B, (int)x->size, &n, &ok);
    node->loss_count = n;
    node->loss_correct = ok;
}
static void bwd_softmax_ce(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    if (!x->dout) return;
    if (!node->loss_count) { /* no labelled row: no gradient */
        if (node->assign_in & 1) memset(x->dout, 0, sizeof(float) * (size_t)B64(B, x->size));
        return;
    }
    tl_softmax_ce_backward(x->dout, node->aux, node->target, B, (int)x->size, node->loss_weight / (float)node->loss_count,
                           node->assign_in & 1);
}
static void fwd_bce(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    const tl_node *x = tl_in(net, node, 0);
    int64_t n = 0, ok = 0;
    node->loss = tl_sigmoid_bce_forward(x->out, node->target, B64(B, x->size), &n, &ok);
    node->loss_count = n;
    node->loss_correct = ok;
}
static void bwd_bce(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    if (!node->loss_count || !x->dout) return;
    tl_sigmoid_bce_backward(x->dout, x->out, node->target, B64(B, x->size), node->loss_weight / (float)node->loss_count);
}
static void fwd_mse(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    const tl_node *x = tl_in(net, node, 0);
    int64_t n = 0;
    node->loss = tl_mse_forward(x->out, node->target, B64(B, x->size), &n);
    node->loss_count = n;
}
static void bwd_mse(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    if (!node->loss_count || !x->dout) return;
    tl_mse_backward(x->dout, x->out, node->target, B64(B, x->size), node->loss_weight / (float)node->loss_count);
}
static void fwd_soft_ce(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    const tl_node *x = tl_in(net, node, 0);
    int n = 0;
    node->loss = tl_soft_ce_forward(node->aux, x->out, node->target, B, (int)x->size, node->fattr[SOFT_CE_TEMPERATURE],
                                    &n);
    node->loss_count = n;
}
static void bwd_soft_ce(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    if (!node->loss_count || !x->dout) return;
    tl_soft_ce_backward(x->dout, node->aux, node->target, B, (int)x->size, node->fattr[SOFT_CE_TEMPERATURE],
                        node->loss_weight / (float)node->loss_count);
}

/* CORAL: |C_s - C_t|_F^2 / (4 D^2) between the covariances of the rows labelled 0 and 1.
 * aux per example: centred rows times their domain weight, then the centred rows;
 * once: M = C_s - C_t (D, D) (>= 2D floats: the two means live there first). */
static int64_t aux_coral(const tl_net *net, const tl_node *node) { return 2 * tl_in((tl_net *)net, node, 0)->size; }
static int64_t aux_once_coral(const tl_net *net, const tl_node *node) {
    int64_t D = tl_in((tl_net *)net, node, 0)->size;
    return D * D > 2 * D ? D * D : 2 * D;
}
static void coral_parts(const tl_node *node, int B, float **xc, float **xd, float **cov) {
    int64_t D = node->aux_size / 2;
    *xc = node->aux;
    *xd = node->aux + B64(B, D);
    *cov = node->aux + B64(B, node->aux_size);
}
static void fwd_coral(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    const tl_node *x = tl_in(net, node, 0);
    float *xc, *xd, *cov;
    coral_parts(node, B, &xc, &xd, &cov);
    int ns = 0, nt = 0;
    node->loss = tl_coral_forward(xc, xd, cov, x->out, node->target, B, (int)x->size, &ns, &nt);
    node->loss_count = ns >= 2 && nt >= 2 ? ns + nt : 0;
    node->loss_correct = 0;
}
static void bwd_coral(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    if (!node->loss_count || !x->dout) return;
    float *xc, *xd, *cov;
    coral_parts(node, B, &xc, &xd, &cov);
    const int32_t *d = node->target;
    int ns = 0, nt = 0;
    for (int i = 0; i < B; i++) ns += d[i] == 0, nt += d[i] == 1;
    tl_coral_backward(x->dout, xc, cov, B, (int)x->size, ns, nt, node->loss_weight);
}

/* KL sparsity (a sparse autoencoder's penalty on the mean activation of its code).
 * Once per node: the clamped mean activations (H). */
static int64_t aux_once_kl(const tl_net *net, const tl_node *node) { return tl_in((tl_net *)net, node, 0)->size; }
static void fwd_kl_sparsity(tl_net *net, tl_node *node, int B, int train) {
    (void)train;
    const tl_node *x = tl_in(net, node, 0);
    int n = 0;
    node->loss = tl_kl_sparsity_forward(node->aux, x->out, node->target, B, (int)x->size,
                                        node->fattr[KL_SPARSITY_RHO], &n);
    node->loss_count = n;
    node->loss_correct = 0;
}
static void bwd_kl_sparsity(tl_net *net, tl_node *node, int B) {
    const tl_node *x = tl_in(net, node, 0);
    if (!node->loss_count || !x->dout) return;
    tl_kl_sparsity_backward(x->dout, node->aux, node->target, B, (int)x->size, node->fattr[KL_SPARSITY_RHO],
                            (int)node->loss_count, node->loss_weight);
}

static void fwd_none(tl_net *net, tl_node *node, int B, int train) { (void)net; (void)node; (void)B; (void)train; }

/* ---- the table: the rows of ops.def ----
 * Every field by name.  A row's attribute count is its slot enum's
 * <ID>_N_ATTRS and each attribute sits at its slot (internal.h), PARAMS
 * counts what it lists: no row holds a hand-counted number. */
#define COUNT_OF(type, ...) ((int)(sizeof((type[]){__VA_ARGS__}) / sizeof(type)))
#define UNARY .info.min_inputs = 1, .info.max_inputs = 1
#define LOSS(target_) UNARY, .info.is_loss = 1, .info.target = target_
#define PARAMS(...) .info.params = {__VA_ARGS__}, .info.n_params = COUNT_OF(tl_param_def, __VA_ARGS__)
#define DOC(s) .info.doc = s

const tl_op_def tl_ops[] = {
#define TL_OP(ID, nm, attrs, ...) [TL_OP_##ID] = {.info.name = #nm, .info.n_attrs = ID##_N_ATTRS, attrs __VA_ARGS__},
#define TL_OP_MAP(ID, nm, doc_) \
    [TL_OP_##ID] = {.info.name = #nm, UNARY, DOC(doc_), .infer = infer_unary, .forward = fwd_map, \
                    .backward = bwd_map, .map = {tl_##nm##_forward, tl_##nm##_backward}},
#define TL_ATTRS(...) .info.attrs = {__VA_ARGS__},
#define TL_NO_ATTRS
#define TL_ATTR(slot, ...) [slot] = {__VA_ARGS__}
#include "ops.def"
};

/* The ids and the rows come from the one list: one row per id, in its order. */
_Static_assert(sizeof tl_ops / sizeof tl_ops[0] == TL_OP_COUNT, "one op table row per op of tl_op");

const tl_op_info *tl_op_get(int op) {
    if (op < 0 || op >= TL_OP_COUNT) return NULL;
    return &tl_ops[op].info;
}

int tl_op_find(const char *name) {
    for (int i = 0; i < TL_OP_COUNT; i++)
        if (!strcmp(tl_ops[i].info.name, name)) return i;
    return -1;
}

int tl_op_attr_find(int op, const char *name) {
    const tl_op_info *o = tl_op_get(op);
    for (int k = 0; o && k < o->n_attrs; k++)
        if (!strcmp(o->attrs[k].name, name)) return k;
    return -1;
}
