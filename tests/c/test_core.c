/* test_core.c - tests of the C core alone (no Python): the op table,
 * building and its errors, finite-difference gradients, freezing and masks,
 * unlabelled examples, re-planning for other batch sizes, check_finite,
 * optimizer steps, runs of steps over shuffled rows (train.c) and their
 * per-step schedules, gradient
 * buffers left to a single writer (plan.c), the stride-1 convolution's tiles
 * and their masks (conv_direct.c), BatchNorm's modes (a frozen layer in a training step).  Built and run by .ci/ctests, plainly,
 * under ASan + UBSan, under TSan, and under ASan + UBSan with the AVX-512
 * kernel of the direct convolution emulated (-DTL_DIRECT_EMU512).  Exit status: number of failed checks (0 = all passed). */
#include "batchnorm.h"
#include "conv.h"
#include "conv_direct.h"
#include "kernels.h"
#include "pool.h"
#include "tl.h"
#include "kmeans.h"
#include "threadpool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_checks, n_failed;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        n_checks++;                                                              \
        if (!(cond)) {                                                           \
            n_failed++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
        }                                                                        \
    } while (0)

#define OK(call) CHECK((call) == TL_OK, "%s", tl_net_error(net))

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 16777216.0f * 2.0f - 1.0f;
}

/* x(5) -> dense h(4) -> tanh -> dense o(3) -> softmax_ce + mse on o */
typedef struct {
    tl_net *net;
    int x, h, t, o, ce, mse;
} mlp;

static tl_status mlp_build(mlp *m, uint64_t seed) {
    memset(m, 0, sizeof *m);
    tl_status st = tl_net_create(&m->net, seed);
    if (st) return st;
    tl_net *net = m->net;
    int shape[1] = {5};
    tl_attrs dh = {2, {"units", "init"}, {4, TL_INIT_HE}}, dout = {2, {"units", "init"}, {3, TL_INIT_GLOROT}};
    if ((st = tl_net_add(net, TL_OP_INPUT, NULL, 0, "x", NULL, shape, 1, &m->x))) return st;
    if ((st = tl_net_add(net, TL_OP_DENSE, &m->x, 1, "h", &dh, NULL, 0, &m->h))) return st;
    if ((st = tl_net_add(net, TL_OP_TANH, &m->h, 1, "t", NULL, NULL, 0, &m->t))) return st;
    if ((st = tl_net_add(net, TL_OP_DENSE, &m->t, 1, "o", &dout, NULL, 0, &m->o))) return st;
    if ((st = tl_net_finalize(net))) return st;
    if ((st = tl_net_add_loss(net, TL_OP_SOFTMAX_CE, m->o, "ce", 0.7f, NULL, &m->ce))) return st;
    return tl_net_add_loss(net, TL_OP_MSE, m->o, "mse", 1.3f, NULL, &m->mse);
}

enum { B = 6 };
static float X[B * 5], T[B * 3];
static int32_t Y[B] = {0, 2, -1, 1, 2, -1};

static void bind(tl_net *net, const mlp *m) {
    tl_net_set_input(net, m->x, X);
    tl_net_set_target(net, m->ce, Y);
    tl_net_set_target(net, m->mse, T);
}

static double objective(tl_net *net) {
    double l[2];
    if (tl_net_forward(net, B, 1, l) != TL_OK) return NAN;
    return 0.7 * l[0] + 1.3 * l[1];
}

static void test_op_table(void) {
    int losses = 0;
    for (int op = 0; op < TL_OP_COUNT; op++) {
        const tl_op_info *o = tl_op_get(op);
        CHECK(o && o->name && *o->name, "op %d has no name", op);
        if (!o) continue;
        CHECK(o->max_inputs < 0 || o->max_inputs >= o->min_inputs, "op %s", o->name);
        for (int k = 0; k < op; k++) CHECK(strcmp(tl_op_get(k)->name, o->name), "duplicate op name %s", o->name);
        losses += o->is_loss;
        CHECK(!o->is_loss || o->target != TL_TARGET_NONE, "loss %s without target kind", o->name);
        CHECK(!o->classification || o->is_loss, "op %s counts correct predictions but is no loss", o->name);
        /* attributes: named, unique, defaults within the limits (each is stored at its index in the row) */
        CHECK(o->n_attrs >= 0 && o->n_attrs <= TL_MAX_ATTRS, "op %s: %d attributes", o->name, o->n_attrs);
        for (int k = 0; k < o->n_attrs; k++) {
            const tl_attr_def *d = &o->attrs[k];
            CHECK(d->name && *d->name && tl_op_attr_find(op, d->name) == k, "op %s attribute %d", o->name, k);
            int fl = d->kind == TL_ATTR_FLOAT;
            CHECK((d->kind == TL_ATTR_CHOICE) == (d->choices != NULL), "op %s.%s choices", o->name, d->name);
            CHECK(!d->settable || fl, "op %s.%s: only float attributes change between steps", o->name, d->name);
            int ok_def = isnan(d->def) ||
                         ((d->lo_open ? d->def > d->lo : d->def >= d->lo) && (d->hi_open ? d->def < d->hi : d->def <= d->hi));
            CHECK(ok_def, "op %s.%s: default %g outside its limits", o->name, d->name, d->def);
        }
        /* the counted rows: nothing past the count; pairs come as two ints; parameters named once, their
         * condition a bool attribute of the row */
        CHECK(o->n_attrs == TL_MAX_ATTRS || !o->attrs[o->n_attrs].name, "op %s: an attribute past the count", o->name);
        for (int k = 0; k < o->n_attrs; k++) {
            const tl_attr_def *d = &o->attrs[k];
            if (!d->pair) continue;
            int halves = 0;
            for (int j = 0; j < o->n_attrs; j++)
                halves += o->attrs[j].pair && !strcmp(o->attrs[j].pair, d->pair) && o->attrs[j].kind == TL_ATTR_INT;
            CHECK(halves == 2, "op %s: pair %s has %d int halves", o->name, d->pair, halves);
        }
        CHECK(o->n_params >= 0 && o->n_params <= TL_MAX_PARAMS &&
                  (o->n_params == TL_MAX_PARAMS || !o->params[o->n_params].name),
              "op %s: %d parameters", o->name, o->n_params);
        for (int k = 0; k < o->n_params; k++) {
            const tl_param_def *p = &o->params[k];
            CHECK(p->name && *p->name, "op %s parameter %d", o->name, k);
            for (int j = 0; j < k; j++) CHECK(strcmp(o->params[j].name, p->name), "op %s: %s twice", o->name, p->name);
            int w = p->when ? tl_op_attr_find(op, p->when) : -1;
            CHECK(!p->when || (w >= 0 && o->attrs[w].kind == TL_ATTR_BOOL), "op %s.%s: when %s", o->name, p->name,
                  p->when);
        }
        CHECK(tl_op_find(o->name) == op, "find op %s", o->name);
    }
    CHECK(losses >= 4, "%d losses", losses);
    CHECK(tl_op_get(TL_OP_COUNT) == NULL && tl_op_get(-1) == NULL, "out-of-range op");
    CHECK(tl_op_find("conv3d") == -1 && tl_op_attr_find(TL_OP_DENSE, "unit") == -1, "unknown names");
}

static void test_build_errors(void) {
    tl_net *net;
    CHECK(tl_net_create(&net, 1) == TL_OK, "create");
    int x, id = -1, shape[2] = {2, 3}, bad[1] = {0};
    tl_attrs dense = {1, {"units"}, {4}}, no_units = {1, {"use_bias"}, {0}}, typo = {2, {"units", "unit"}, {4, 4}};
    tl_attrs zero = {1, {"units"}, {0}}, twice = {2, {"units", "units"}, {4, 5}}, bad_init = {2, {"units", "init"}, {4, 9}};
    CHECK(tl_net_finalize(net) == TL_ERR_STATE, "finalize an empty network");
    OK(tl_net_add(net, TL_OP_INPUT, NULL, 0, "x", NULL, shape, 2, &x));
    CHECK(tl_net_add(net, TL_OP_INPUT, NULL, 0, "y", NULL, bad, 1, &id) == TL_ERR_SHAPE, "zero size");
    CHECK(strstr(tl_net_error(net), "'y'") != NULL, "message names the node: %s", tl_net_error(net));
    CHECK(tl_net_add(net, 999, &x, 1, "z", NULL, NULL, 0, &id) == TL_ERR_VALUE, "unknown op");
    int missing = 5;
    CHECK(tl_net_add(net, TL_OP_RELU, &missing, 1, "r", NULL, NULL, 0, &id) == TL_ERR_VALUE,
          "input that does not exist");
    CHECK(tl_net_add(net, TL_OP_DENSE, &x, 1, "d", &no_units, NULL, 0, &id) == TL_ERR_VALUE, "required attribute");
    CHECK(strstr(tl_net_error(net), "'units'") && strstr(tl_net_error(net), "required"), "%s", tl_net_error(net));
    CHECK(tl_net_add(net, TL_OP_DENSE, &x, 1, "d", &typo, NULL, 0, &id) == TL_ERR_VALUE, "unknown attribute");
    CHECK(strstr(tl_net_error(net), "'unit'") && strstr(tl_net_error(net), "units, init, use_bias"), "%s",
          tl_net_error(net));
    CHECK(tl_net_add(net, TL_OP_DENSE, &x, 1, "d", &twice, NULL, 0, &id) == TL_ERR_VALUE, "attribute twice");
    CHECK(tl_net_add(net, TL_OP_DENSE, &x, 1, "d", &zero, NULL, 0, &id) == TL_ERR_VALUE, "units 0");
    CHECK(!strcmp(tl_net_error(net), "dense 'd': units must be positive, got 0"), "%s", tl_net_error(net));
    CHECK(tl_net_add(net, TL_OP_DENSE, &x, 1, "d", &bad_init, NULL, 0, &id) == TL_ERR_VALUE, "init 9");
    CHECK(tl_net_n_nodes(net) == 1 && tl_net_n_params(net) == 0, "failed adds leave nothing behind");
    int rs[1] = {7};
    CHECK(tl_net_add(net, TL_OP_RESHAPE, &x, 1, "rs", NULL, rs, 1, &id) == TL_ERR_SHAPE, "reshape");
    CHECK(strstr(tl_net_error(net), "7") && strstr(tl_net_error(net), "6"), "numbers in: %s", tl_net_error(net));
    CHECK(tl_net_add(net, TL_OP_MSE, &x, 1, "l", NULL, NULL, 0, &id) == TL_ERR_STATE, "loss via add");
    CHECK(tl_net_add_loss(net, TL_OP_MSE, x, "l", 1.0f, NULL, &id) == TL_ERR_STATE, "loss before finalize");
    OK(tl_net_add(net, TL_OP_DENSE, &x, 1, "d", &dense, NULL, 0, &id));
    CHECK(tl_net_n_nodes(net) == 2 && tl_net_n_params(net) == 2, "%d nodes %d params", tl_net_n_nodes(net),
          tl_net_n_params(net));
    OK(tl_net_finalize(net));
    CHECK(tl_net_add(net, TL_OP_RELU, &id, 1, "r", NULL, NULL, 0, &id) == TL_ERR_STATE, "after finalize");
    CHECK(tl_param_find(net, "d.w") == 0 && tl_param_find(net, "d.b") == 1 && tl_param_find(net, "q") == -1, "find");
    int ps[TL_MAX_DIM];
    CHECK(tl_param_shape(net, 0, ps) == 2 && ps[0] == 4 && ps[1] == 6, "dense weight shape");
    CHECK(tl_param_set_reg(net, 0, -1.0f, 0, 0) == TL_ERR_VALUE, "negative l2");
    CHECK(tl_net_add_loss(net, TL_OP_MSE, id, "l", NAN, NULL, &x) == TL_ERR_VALUE, "NaN weight");
    tl_optim_cfg cfg = {TL_OPTIM_SGD, 1.5f, 0, 0, 0, 0, 0};
    CHECK(tl_net_set_optim(net, &cfg) == TL_ERR_VALUE, "momentum 1.5");
    CHECK(tl_net_train_step(net, 2, 0.1f, NULL, NULL) == TL_ERR_STATE, "step without optimizer");
    for (int a = 0; a < TL_ARENA_COUNT; a++) CHECK(tl_arena_names[a] != NULL, "arena %d has no name", a);
    for (int k = 0; k < TL_OPTIM_COUNT; k++) { /* every row of the optimizer table: a name, defaults it accepts */
        cfg = tl_optim_defaults((tl_optim)k);
        CHECK(tl_optims[k].name && cfg.kind == (tl_optim)k, "optimizer row %d", k);
        CHECK(tl_net_set_optim(net, &cfg) == TL_OK, "defaults of %s: %s", tl_optims[k].name, tl_net_error(net));
        for (int j = 0; j < k; j++) CHECK(strcmp(tl_optims[j].name, tl_optims[k].name), "optimizer name %d twice", k);
    }
    CHECK(tl_net_plan(net, 0) == TL_ERR_VALUE, "batch 0");
    tl_net_free(net);
}

static void test_gradients(void) {
    mlp m;
    tl_net *net;
    CHECK(mlp_build(&m, 3) == TL_OK, "build");
    net = m.net;
    bind(net, &m);
    tl_net_set_input_grad(net, m.x, 1);
    double l[2], reg;
    OK(tl_net_forward_backward(net, B, 0, l, &reg));
    CHECK(l[0] > 0 && l[1] > 0, "losses %g %g", l[0], l[1]);
    int64_t cnt, ok;
    tl_net_loss_stats(net, 0, &cnt, &ok);
    CHECK(cnt == 4, "labelled count %lld", (long long)cnt);
    /* analytic copies */
    int64_t A = tl_net_arena_size(net);
    float *g = malloc(sizeof(float) * (size_t)A), gx[B * 5];
    memcpy(g, tl_net_arena(net, TL_ARENA_GRAD), sizeof(float) * (size_t)A);
    memcpy(gx, tl_node_grad(net, m.x), sizeof gx);
    float *w = tl_net_arena(net, TL_ARENA_VALUE);
    const float eps = 1e-2f;
    double num2 = 0, diff2 = 0, ana2 = 0;
    for (int p = 0; p < tl_net_n_params(net); p++) {
        int64_t off = tl_param_offset(net, p);
        for (int64_t i = 0; i < tl_param_size(net, p); i++) {
            float old = w[off + i];
            w[off + i] = old + eps;
            double fp = objective(net);
            w[off + i] = old - eps;
            double fm = objective(net);
            w[off + i] = old;
            double num = (fp - fm) / (2.0 * eps), ana = g[off + i];
            num2 += num * num;
            ana2 += ana * ana;
            diff2 += (num - ana) * (num - ana);
        }
    }
    CHECK(ana2 > 1e-6, "parameter gradient is trivially zero");
    CHECK(sqrt(diff2) < 1e-2 * sqrt(fmax(num2, ana2)), "parameter gradient rel err %g", sqrt(diff2 / num2));
    num2 = diff2 = ana2 = 0;
    for (int i = 0; i < B * 5; i++) {
        float old = X[i];
        X[i] = old + eps;
        double fp = objective(net);
        X[i] = old - eps;
        double fm = objective(net);
        X[i] = old;
        double num = (fp - fm) / (2.0 * eps);
        num2 += num * num;
        ana2 += (double)gx[i] * gx[i];
        diff2 += (num - gx[i]) * (num - gx[i]);
    }
    CHECK(ana2 > 1e-8, "input gradient is trivially zero");
    CHECK(sqrt(diff2) < 1e-2 * sqrt(fmax(num2, ana2)), "input gradient rel err %g", sqrt(diff2 / num2));
    free(g);
    tl_net_free(net);
}

static void test_freeze_mask_and_steps(void) {
    mlp m;
    CHECK(mlp_build(&m, 4) == TL_OK, "build");
    tl_net *net = m.net;
    bind(net, &m);
    tl_optim_cfg cfg = {TL_OPTIM_ADAM, 0, 0, 0.01f, 0.9f, 0.999f, 1e-8f};
    OK(tl_net_set_optim(net, &cfg));
    int ph = tl_param_find(net, "h.w"), po = tl_param_find(net, "o.w");
    OK(tl_param_set_trainable(net, ph, 0));
    OK(tl_param_set_trainable(net, tl_param_find(net, "h.b"), 0));
    OK(tl_param_set_reg(net, ph, 0.5f, 0.5f, 0.0f));
    float *w = tl_net_arena(net, TL_ARENA_VALUE), *mask = tl_net_arena(net, TL_ARENA_MASK);
    int64_t A = tl_net_arena_size(net), oo = tl_param_offset(net, po);
    mask[oo + 1] = 0.0f;
    float *before = malloc(sizeof(float) * (size_t)A);
    memcpy(before, w, sizeof(float) * (size_t)A);
    double l0 = objective(net), l[2], reg;
    for (int s = 0; s < 50; s++) OK(tl_net_train_step(net, B, 0.05f, l, &reg));
    CHECK(tl_net_optim_steps(net) == 50, "steps %lld", (long long)tl_net_optim_steps(net));
    CHECK(!memcmp(w + tl_param_offset(net, ph), before + tl_param_offset(net, ph),
                  sizeof(float) * (size_t)tl_param_size(net, ph)), "frozen h.w moved");
    CHECK(w[oo + 1] == before[oo + 1], "masked element moved");
    CHECK(w[oo] != before[oo] && w[oo + 2] != before[oo + 2], "unmasked elements did not move");
    CHECK(tl_node_grad(net, m.h) == NULL && tl_node_grad(net, m.t) == NULL, "frozen prefix has gradient buffers");
    double l1 = objective(net);
    CHECK(l1 < l0, "training did not reduce the loss: %g -> %g", l0, l1);
    /* unlabelled batch: loss 0 and zero gradients (not NaN) */
    int32_t none[B] = {-1, -1, -1, -1, -1, -1};
    float nan_t[B * 3];
    for (int i = 0; i < B * 3; i++) nan_t[i] = NAN;
    tl_net_set_target(net, m.ce, none);
    tl_net_set_target(net, m.mse, nan_t);
    OK(tl_net_forward_backward(net, B, 0, l, &reg));
    CHECK(l[0] == 0.0 && l[1] == 0.0, "unlabelled losses %g %g", l[0], l[1]);
    const float *g = tl_net_arena(net, TL_ARENA_GRAD);
    int zero = 1;
    for (int64_t i = 0; i < A; i++) zero &= g[i] == 0.0f;
    CHECK(zero, "unlabelled batch gave nonzero gradients");
    /* labels out of range are refused before any computation */
    int32_t badl[B] = {0, 1, 3, 0, 0, 0};
    tl_net_set_target(net, m.ce, badl);
    tl_net_set_target(net, m.mse, T);
    CHECK(tl_net_train_step(net, B, 0.1f, l, &reg) == TL_ERR_VALUE, "label 3 of 3 classes");
    CHECK(strstr(tl_net_error(net), "label 3") != NULL, "%s", tl_net_error(net));
    free(before);
    tl_net_free(net);
}

static void test_replan_and_check_finite(void) {
    mlp m;
    CHECK(mlp_build(&m, 5) == TL_OK, "build");
    tl_net *net = m.net;
    enum { BIG = 40 };
    static float xb[BIG * 5];
    uint64_t s = 9;
    for (int i = 0; i < BIG * 5; i++) xb[i] = frand(&s);
    float small_out[2 * 3];
    tl_net_set_input(net, m.x, xb);
    OK(tl_net_forward(net, 2, 0, NULL));
    memcpy(small_out, tl_node_output(net, m.o), sizeof small_out);
    OK(tl_net_forward(net, BIG, 0, NULL));
    const float *o = tl_node_output(net, m.o);
    double d = 0;
    for (int i = 0; i < 6; i++) d = fmax(d, fabs(o[i] - small_out[i]));
    CHECK(d < 1e-6, "rows differ across batch sizes by %g", d);
    OK(tl_net_forward(net, 1, 0, NULL));
    CHECK(fabs(tl_node_output(net, m.o)[0] - small_out[0]) < 1e-6, "batch 1 after 40");
    /* a non-finite weight: check_finite names the node */
    float *w = tl_net_arena(net, TL_ARENA_VALUE);
    w[tl_param_offset(net, tl_param_find(net, "o.w"))] = INFINITY;
    tl_net_set_check_finite(net, 1);
    CHECK(tl_net_forward(net, 4, 0, NULL) == TL_ERR_NONFINITE, "no NONFINITE status");
    CHECK(strstr(tl_net_error(net), "'o'") != NULL, "message: %s", tl_net_error(net));
    tl_net_free(net);
}

static void test_conv_against_loops(void) {
    tl_net *net;
    CHECK(tl_net_create(&net, 7) == TL_OK, "create");
    int x, c, shape[3] = {2, 5, 4}, id;
    tl_attrs at = {7, {"filters", "kh", "kw", "sh", "sw", "ph", "pw"}, {3, 3, 2, 2, 1, 1, 0}};
    OK(tl_net_add(net, TL_OP_INPUT, NULL, 0, "x", NULL, shape, 3, &x));
    OK(tl_net_add(net, TL_OP_CONV2D, &x, 1, "c", &at, NULL, 0, &c));
    int os[TL_MAX_DIM];
    CHECK(tl_node_shape(net, c, os) == 3 && os[0] == 3 && os[1] == 3 && os[2] == 3, "conv shape %d %d %d", os[0],
          os[1], os[2]);
    OK(tl_net_finalize(net));
    enum { NB = 2, IN = 2 * 5 * 4 };
    float xin[NB * IN];
    uint64_t s = 1;
    for (int i = 0; i < NB * IN; i++) xin[i] = frand(&s);
    float *w = tl_net_arena(net, TL_ARENA_VALUE) + tl_param_offset(net, 0);
    float *b = tl_net_arena(net, TL_ARENA_VALUE) + tl_param_offset(net, 1);
    for (int o = 0; o < 3; o++) b[o] = 0.1f * (float)(o + 1);
    tl_net_set_input(net, x, xin);
    OK(tl_net_forward(net, NB, 0, NULL));
    const float *y = tl_node_output(net, c);
    double err = 0;
    for (int n = 0; n < NB; n++)
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    double acc = b[o];
                    for (int ch = 0; ch < 2; ch++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 2; kw++) {
                                int ih = i * 2 - 1 + kh, iw = j + kw; /* padding 1 x 0 */
                                if (ih < 0 || ih >= 5 || iw < 0 || iw >= 4) continue;
                                acc += (double)w[((o * 2 + ch) * 3 + kh) * 2 + kw] * xin[n * IN + (ch * 5 + ih) * 4 + iw];
                            }
                    err = fmax(err, fabs(acc - y[((n * 3 + o) * 3 + i) * 3 + j]));
                }
    CHECK(err < 1e-5, "conv differs from loops by %g", err);
    (void)id;
    tl_net_free(net);
}

/* tl_parallel_for visits every index of [0, n) exactly once, whatever the
 * number of threads, the grain and n; the pool runs nested inside nothing
 * and inline when its threads are 1. */
typedef struct {
    int *hits;
    int64_t n;
} hit_job;

static void hit_range(void *ctx, int64_t lo, int64_t hi) {
    hit_job *j = ctx;
    for (int64_t i = lo; i < hi; i++)
        if (i >= 0 && i < j->n) j->hits[i]++;
}

/* which threads ran the parts of a job */
#include <pthread.h>
typedef struct {
    pthread_t who[4096];
    int n;
    pthread_mutex_t mu;
} who_job;

static void who_range(void *ctx, int64_t lo, int64_t hi) {
    who_job *j = ctx;
    volatile double x = 0; /* a little work, so that every thread can take parts */
    for (int64_t i = lo; i < hi; i++)
        for (int r = 0; r < 2000; r++) x += (double)r;
    pthread_mutex_lock(&j->mu);
    if (j->n < 4096) j->who[j->n++] = pthread_self();
    pthread_mutex_unlock(&j->mu);
}

static int distinct_threads(int threads) {
    static who_job j;
    j.n = 0;
    pthread_mutex_init(&j.mu, NULL);
    tl_set_num_threads(threads);
    int most = 0;
    for (int rep = 0; rep < 20; rep++) {
        j.n = 0;
        tl_parallel_for(4096, 1, who_range, &j);
        int d = 0;
        for (int a = 0; a < j.n; a++) {
            int seen = 0;
            for (int b = 0; b < a; b++) seen |= pthread_equal(j.who[a], j.who[b]);
            d += !seen;
        }
        if (d > most) most = d;
    }
    pthread_mutex_destroy(&j.mu);
    return most;
}

static void test_pool(void) {
    static int hits[100000];
    const int64_t ns[] = {1, 2, 3, 7, 64, 1000, 99999};
    const int64_t grains[] = {1, 2, 5, 1000, 50000};
    const int threads[] = {1, 2, 3, 8, 2};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        CHECK(tl_set_num_threads(threads[t]) == threads[t], "threads %d", threads[t]);
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                for (int rep = 0; rep < 3; rep++) {
                    memset(hits, 0, sizeof(int) * (size_t)ns[a]);
                    hit_job j = {hits, ns[a]};
                    tl_parallel_for(ns[a], grains[g], hit_range, &j);
                    int bad = 0;
                    for (int64_t i = 0; i < ns[a]; i++) bad += hits[i] != 1;
                    CHECK(bad == 0, "threads %d n %lld grain %lld: %d indices not visited once", threads[t],
                          (long long)ns[a], (long long)grains[g], bad);
                }
    }
    tl_parallel_for(0, 1, hit_range, NULL); /* nothing to do: fn not called */
    /* 8 threads started, then 2 asked for: the other workers sit the jobs out */
    int d8 = distinct_threads(8), d2 = distinct_threads(2), d1 = distinct_threads(1);
    CHECK(d8 >= 1 && d8 <= 8 && d2 <= 2 && d1 == 1, "distinct threads: %d with 8, %d with 2, %d with 1", d8, d2, d1);
    CHECK(tl_set_num_threads(0) == 1 && tl_set_num_threads(99) == TL_POOL_MAX, "clamped");
    tl_set_num_threads(2);
}

/* Runs of steps (train.c): in order and through an index they equal single
 * steps on the same rows, result for result and weight for weight; bad data
 * in the rows of a run is refused before its first step, rows outside it are
 * not read. */
enum { NR = 14, BS = 4 };
static float XN[NR * 5], TN[NR * 3];
static int32_t YN[NR];

/* single steps of `m` on rows [s BS, (s+1) BS) of XN/YN/TN, or of index */
static void single_steps(mlp *m, const int64_t *index, const float *lrs, int steps, const tl_step_result *want) {
    tl_net *net = m->net;
    for (int s = 0; s < steps; s++) {
        int start = s * BS, nb = NR - start < BS ? NR - start : BS;
        float x[BS * 5], t[BS * 3];
        int32_t y[BS];
        for (int i = 0; i < nb; i++) {
            int64_t r = index ? index[start + i] : start + i;
            memcpy(x + i * 5, XN + r * 5, sizeof(float) * 5);
            memcpy(t + i * 3, TN + r * 3, sizeof(float) * 3);
            y[i] = YN[r];
        }
        tl_net_set_input(net, m->x, x);
        tl_net_set_target(net, m->ce, y);
        tl_net_set_target(net, m->mse, t);
        double l[2], reg;
        OK(tl_net_train_step(net, nb, lrs[s], l, &reg));
        CHECK(want[s].reg == reg, "step %d: reg %g, single step %g", s, want[s].reg, reg);
        for (int k = 0; k < 2; k++) {
            int64_t c, ok;
            tl_net_loss_stats(net, k, &c, &ok);
            CHECK(want[s].loss[k].loss == l[k] && want[s].loss[k].count == c && want[s].loss[k].correct == ok,
                  "step %d loss %d: (%g, %lld, %lld), single step (%g, %lld, %lld)", s, k, want[s].loss[k].loss,
                  (long long)want[s].loss[k].count, (long long)want[s].loss[k].correct, l[k], (long long)c,
                  (long long)ok);
        }
    }
}

static int same_weights(tl_net *a, tl_net *b) {
    return !memcmp(tl_net_arena(a, TL_ARENA_VALUE), tl_net_arena(b, TL_ARENA_VALUE),
                   sizeof(float) * (size_t)tl_net_arena_size(a));
}

static void test_train_batches(void) {
    uint64_t seed = 7;
    for (int i = 0; i < NR * 5; i++) XN[i] = frand(&seed);
    for (int i = 0; i < NR * 3; i++) TN[i] = frand(&seed);
    for (int i = 0; i < NR; i++) YN[i] = i % 4 - 1; /* -1 (no label), 0, 1, 2 */
    TN[7] = NAN;
    int64_t perm[NR];
    for (int i = 0; i < NR; i++) perm[i] = (i * 5) % NR; /* 5 is prime to 14: a permutation */
    const float *ins[1] = {XN};
    const void *tgts[2] = {YN, TN};
    tl_data d = {NR, ins, tgts};
    const float lrs[4] = {0.1f, 0.05f, 0.05f, 0.02f};
    tl_optim_cfg cfg = {TL_OPTIM_SGD, 0.9f, 0, 0.0f, 0, 0, 0};
    for (int shuffled = 0; shuffled < 2; shuffled++) {
        const int64_t *index = shuffled ? perm : NULL;
        mlp a, b;
        CHECK(mlp_build(&a, 3) == TL_OK && mlp_build(&b, 3) == TL_OK, "build");
        tl_net *net = a.net;
        OK(tl_net_set_optim(a.net, &cfg));
        OK(tl_net_set_optim(b.net, &cfg));
        CHECK(tl_net_n_inputs(net) == 1, "inputs %d", tl_net_n_inputs(net));
        tl_step_result res[4];
        int64_t done = -1;
        OK(tl_net_train_batches(net, &d, index, NR, BS, lrs, NULL, 0, 4, res, &done)); /* the last batch has 2 rows */
        CHECK(done == 4, "%lld steps ran", (long long)done);
        net = b.net;
        single_steps(&b, index, lrs, 4, res);
        CHECK(same_weights(a.net, b.net), "shuffled %d: weights differ from single steps", shuffled);
        CHECK(tl_net_optim_steps(a.net) == 4, "optimizer steps %lld", (long long)tl_net_optim_steps(a.net));
        /* rows the run does not read (beyond its n rows or index entries, or its steps) are not checked */
        net = a.net;
        int64_t last = shuffled ? perm[NR - 1] : NR - 1, first = shuffled ? perm[1] : 1;
        float keep = XN[last * 5];
        XN[last * 5] = NAN;
        OK(tl_net_train_batches(net, &d, index, NR - 2, BS, lrs, NULL, 0, 3, res, &done));
        OK(tl_net_train_batches(net, &d, index, NR, BS, lrs, NULL, 0, 3, res, &done));
        /* a non-finite input ends the run before the step of its batch; the steps before it stand */
        char want[96];
        CHECK(tl_net_train_batches(net, &d, index, NR, BS, lrs, NULL, 0, 4, res, &done) == TL_ERR_VALUE && done == 3,
              "NaN in the last batch: done %lld", (long long)done);
        snprintf(want, sizeof want, "input 'x': example %lld holds NaN or infinity; inputs must be finite (3 steps "
                 "ran before it)", (long long)last);
        CHECK(strstr(tl_net_error(net), want) != NULL, "%s", tl_net_error(net));
        XN[last * 5] = keep;
        /* bad rows of the first batch, bad labels and bad index rows change nothing */
        float *w = tl_net_arena(net, TL_ARENA_VALUE);
        int64_t A = tl_net_arena_size(net), t0 = tl_net_optim_steps(net);
        float *before = malloc(sizeof(float) * (size_t)A);
        memcpy(before, w, sizeof(float) * (size_t)A);
        keep = XN[first * 5 + 2];
        XN[first * 5 + 2] = INFINITY;
        CHECK(tl_net_train_batches(net, &d, index, NR, BS, lrs, NULL, 0, 4, res, &done) == TL_ERR_VALUE && done == 0,
              "inf in the first batch: done %lld", (long long)done);
        snprintf(want, sizeof want, "input 'x': example %lld holds NaN or infinity; inputs must be finite",
                 (long long)first);
        CHECK(strstr(tl_net_error(net), want) != NULL && !strstr(tl_net_error(net), "ran before"), "%s",
              tl_net_error(net));
        tl_data one = {NR, ins, tgts};
        CHECK(tl_net_check_data(net, &one, index, NR) == TL_ERR_VALUE && strstr(tl_net_error(net), want), "check %s",
              tl_net_error(net));
        XN[first * 5 + 2] = keep;
        OK(tl_net_check_data(net, &one, index, NR));
        YN[9] = 3;
        CHECK(tl_net_train_batches(net, &d, index, NR, BS, lrs, NULL, 0, 4, res, &done) == TL_ERR_VALUE && done == 0,
              "label 3: done %lld", (long long)done);
        CHECK(strstr(tl_net_error(net), "target of loss 'ce': label 3 at index 9 is out of range; expected -1 "
                                        "(no label) or 0..2") != NULL, "%s", tl_net_error(net));
        YN[9] = 9 % 4 - 1;
        int64_t bad[NR];
        memcpy(bad, perm, sizeof bad);
        bad[5] = NR;
        CHECK(tl_net_train_batches(net, &d, bad, NR, BS, lrs, NULL, 0, 4, res, &done) == TL_ERR_INDEX, "index %s",
              tl_net_error(net));
        CHECK(tl_net_train_batches(net, &d, index, NR, BS, lrs, NULL, 0, 5, res, &done) == TL_ERR_VALUE, "5 steps");
        CHECK(tl_net_train_batches(net, &d, index, NR, 0, lrs, NULL, 0, 1, res, &done) == TL_ERR_VALUE, "batch size 0");
        CHECK(!memcmp(w, before, sizeof(float) * (size_t)A) && tl_net_optim_steps(net) == t0,
              "a refused run changed the weights");
        CHECK(tl_node_output(net, a.x) == NULL, "the run left its rows bound");
        free(before);
        tl_net_free(a.net);
        tl_net_free(b.net);
    }
}

/* Schedules in a run (tl_schedule): a gradient reversal's lambda, a leaky
 * relu's slope and both loss weights set per step give the bits of single
 * steps after tl_node_set_attr and tl_net_set_loss_weight; the last step's
 * values stay; every bad entry is refused before the first step, naming it,
 * and changes nothing. */
static tl_status gnet_build(mlp *m, int *g, int *r) {
    memset(m, 0, sizeof *m);
    tl_status st = tl_net_create(&m->net, 5);
    if (st) return st;
    tl_net *net = m->net;
    int shape[1] = {5};
    tl_attrs dh = {1, {"units"}, {4}}, dout = {1, {"units"}, {3}};
    if ((st = tl_net_add(net, TL_OP_INPUT, NULL, 0, "x", NULL, shape, 1, &m->x))) return st;
    if ((st = tl_net_add(net, TL_OP_DENSE, &m->x, 1, "h", &dh, NULL, 0, &m->h))) return st;
    if ((st = tl_net_add(net, TL_OP_GRAD_REVERSE, &m->h, 1, "g", NULL, NULL, 0, g))) return st;
    if ((st = tl_net_add(net, TL_OP_LEAKY_RELU, g, 1, "r", NULL, NULL, 0, r))) return st;
    if ((st = tl_net_add(net, TL_OP_DENSE, r, 1, "o", &dout, NULL, 0, &m->o))) return st;
    if ((st = tl_net_finalize(net))) return st;
    if ((st = tl_net_add_loss(net, TL_OP_SOFTMAX_CE, m->o, "ce", 0.7f, NULL, &m->ce))) return st;
    return tl_net_add_loss(net, TL_OP_MSE, m->o, "mse", 1.3f, NULL, &m->mse);
}

static void test_schedules(void) {
    enum { S = 4 };
    const float *ins[1] = {XN};
    const void *tgts[2] = {YN, TN};
    tl_data d = {NR, ins, tgts};
    const float lrs[S] = {0.1f, 0.05f, 0.05f, 0.02f};
    const float lam[S] = {0.0f, 0.3f, -0.8f, 1.5f}, alpha[S] = {0.2f, 0.01f, 0.0f, 0.5f};
    const float wce[S] = {1.0f, 0.0f, 2.5f, 0.25f}, wmse[S] = {0.5f, 1.0f, 0.0f, 3.0f};
    mlp a, b;
    int g, r, g2, r2;
    CHECK(gnet_build(&a, &g, &r) == TL_OK && gnet_build(&b, &g2, &r2) == TL_OK, "build");
    tl_net *net = a.net;
    tl_optim_cfg cfg = tl_optim_defaults(TL_OPTIM_ADAM);
    OK(tl_net_set_optim(a.net, &cfg));
    OK(tl_net_set_optim(b.net, &cfg));
    int lam_k = tl_op_attr_find(TL_OP_GRAD_REVERSE, "lambda"), alpha_k = tl_op_attr_find(TL_OP_LEAKY_RELU, "alpha");
    tl_schedule sched[4] = {{g, lam_k, lam}, {r, alpha_k, alpha}, {a.ce, TL_ATTR_LOSS_WEIGHT, wce},
                            {a.mse, TL_ATTR_LOSS_WEIGHT, wmse}};
    tl_step_result res[S];
    int64_t done = -1;
    OK(tl_net_train_batches(net, &d, NULL, NR, BS, lrs, sched, 4, S, res, &done));
    CHECK(done == S, "%lld steps ran", (long long)done);
    double v;
    OK(tl_node_attr(net, g, "lambda", &v));
    CHECK(v == (double)lam[S - 1], "lambda after the run %g", v);
    OK(tl_node_attr(net, r, "alpha", &v));
    CHECK(v == (double)alpha[S - 1], "alpha after the run %g", v);
    CHECK(tl_net_loss_weight(net, a.ce) == wce[S - 1] && tl_net_loss_weight(net, a.mse) == wmse[S - 1],
          "weights after the run %g %g", (double)tl_net_loss_weight(net, a.ce), (double)tl_net_loss_weight(net, a.mse));
    /* the same steps one by one */
    net = b.net;
    for (int s = 0; s < S; s++) {
        OK(tl_node_set_attr(net, g2, "lambda", lam[s]));
        OK(tl_node_set_attr(net, r2, "alpha", alpha[s]));
        OK(tl_net_set_loss_weight(net, b.ce, wce[s]));
        OK(tl_net_set_loss_weight(net, b.mse, wmse[s]));
        tl_net_set_input(net, b.x, XN + s * BS * 5);
        tl_net_set_target(net, b.ce, YN + s * BS);
        tl_net_set_target(net, b.mse, TN + s * BS * 3);
        double l[2], reg;
        int nb = NR - s * BS < BS ? NR - s * BS : BS;
        OK(tl_net_train_step(net, nb, lrs[s], l, &reg));
        CHECK(l[0] == res[s].loss[0].loss && l[1] == res[s].loss[1].loss, "step %d: losses %g %g, run %g %g", s, l[0],
              l[1], res[s].loss[0].loss, res[s].loss[1].loss);
    }
    CHECK(same_weights(a.net, b.net), "a scheduled run's weights differ from single steps");
    /* bad entries: refused before the first step, naming the entry, nothing changed */
    net = a.net;
    float *w = tl_net_arena(net, TL_ARENA_VALUE);
    int64_t A = tl_net_arena_size(net);
    float *before = malloc(sizeof(float) * (size_t)A);
    memcpy(before, w, sizeof(float) * (size_t)A);
    const float nan_at_2[S] = {0.5f, 0.5f, NAN, 0.5f}, neg[S] = {1, 1, 1, -1}, big[S] = {0.1f, 0.2f, 1.0f, 0.3f};
    struct {
        tl_schedule e;
        const char *msg;
    } bad[] = {
        {{99, 0, lam}, "schedule entry 1: no node 99 (the network has 7)"},
        {{a.h, 0, lam}, "schedule entry 1: dense 'h': attribute 'units' is fixed when the node is built"},
        {{g, 5, lam}, "schedule entry 1: grad_reverse 'g' has no attribute 5 (it has 1)"},
        {{g, lam_k, NULL}, "schedule entry 1: no values for 4 steps"},
        {{g, lam_k, nan_at_2}, "schedule entry 1, step 2: grad_reverse 'g': lambda must be finite, got nan"},
        {{r, alpha_k, neg}, "schedule entry 1, step 3: leaky_relu 'r': alpha must be >= 0, got -1"},
        {{a.ce, TL_ATTR_LOSS_WEIGHT, neg}, "schedule entry 1, step 3: loss 'ce': weight must be finite and >= 0, got -1"},
        {{a.h, TL_ATTR_LOSS_WEIGHT, lam}, "schedule entry 1: dense 'h' (node 1) is not a loss: only a loss node has a weight"},
        {{a.mse, TL_ATTR_LOSS_WEIGHT, lam}, "schedule entries 0 and 1 both set the weight of mse 'mse'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tl_schedule two[2] = {{a.mse, TL_ATTR_LOSS_WEIGHT, big}, bad[i].e};
        done = -1;
        CHECK(tl_net_train_batches(net, &d, NULL, NR, BS, lrs, two, 2, S, res, &done) == TL_ERR_VALUE && done == 0,
              "bad entry %zu: done %lld", i, (long long)done);
        CHECK(strstr(tl_net_error(net), bad[i].msg) != NULL, "bad entry %zu: '%s', expected '%s'", i,
              tl_net_error(net), bad[i].msg);
    }
    OK(tl_node_attr(net, g, "lambda", &v));
    CHECK(v == (double)lam[S - 1] && !memcmp(w, before, sizeof(float) * (size_t)A), "a refused schedule changed the net");
    CHECK(tl_net_set_loss_weight(net, a.ce, NAN) == TL_ERR_VALUE && tl_net_set_loss_weight(net, a.x, 1) == TL_ERR_VALUE &&
              tl_net_set_loss_weight(net, 99, 1) == TL_ERR_VALUE && tl_net_loss_weight(net, a.ce) == wce[S - 1],
          "set_loss_weight accepted a bad call");
    free(before);
    tl_net_free(a.net);
    tl_net_free(b.net);
}

/* Gradient buffers written by one backward are overwritten by it, the others
 * zeroed and summed (plan.c): x(2,6,6) -> conv -> relu -> maxpool -> flatten f;
 * f -> dense d and f -> dense e sharing d's parameters (two writers of f's
 * gradient and of the shared ones); add(d, e) -> dense o -> softmax_ce with
 * unlabelled rows, and mse on d.  A network that ran a step on other data
 * first must give the bits of a fresh one (nothing stale survives, whatever
 * was overwritten or zeroed), also when no row is labelled; and the
 * gradients match central differences. */
enum { SB = 5, SX = 2 * 6 * 6 };
static float SXa[SB * SX], SXb[SB * SX], ST[SB * 4];
static int32_t SYa[SB] = {0, 1, 2, 1, 0}, SYb[SB] = {2, -1, 0, -1, 1}, SYn[SB] = {-1, -1, -1, -1, -1};
typedef struct {
    tl_net *net;
    int x, ce, mse;
} wnet;

static tl_status wnet_build(wnet *m) {
    tl_status st = tl_net_create(&m->net, 11);
    if (st) return st;
    tl_net *net = m->net;
    int shape[3] = {2, 6, 6}, flat[1] = {-1}, c, r, p, f, d, e, a[2], o;
    tl_attrs ca = {3, {"filters", "kh", "kw"}, {3, 3, 3}}, pa = {4, {"kh", "kw", "sh", "sw"}, {2, 2, 2, 2}};
    tl_attrs da = {1, {"units"}, {4}}, oa = {1, {"units"}, {3}};
    if ((st = tl_net_add(net, TL_OP_INPUT, NULL, 0, "x", NULL, shape, 3, &m->x))) return st;
    if ((st = tl_net_add(net, TL_OP_CONV2D, &m->x, 1, "c", &ca, NULL, 0, &c))) return st;
    if ((st = tl_net_add(net, TL_OP_RELU, &c, 1, "r", NULL, NULL, 0, &r))) return st;
    if ((st = tl_net_add(net, TL_OP_MAXPOOL2D, &r, 1, "p", &pa, NULL, 0, &p))) return st;
    if ((st = tl_net_add(net, TL_OP_RESHAPE, &p, 1, "f", NULL, flat, 1, &f))) return st;
    if ((st = tl_net_add(net, TL_OP_DENSE, &f, 1, "d", &da, NULL, 0, &d))) return st;
    if ((st = tl_net_add(net, TL_OP_DENSE, &f, 1, "e", &da, NULL, 0, &e))) return st;
    if ((st = tl_net_share(net, e, d))) return st;
    a[0] = d, a[1] = e;
    if ((st = tl_net_add(net, TL_OP_ADD, a, 2, "a", NULL, NULL, 0, &p))) return st;
    if ((st = tl_net_add(net, TL_OP_DENSE, &p, 1, "o", &oa, NULL, 0, &o))) return st;
    if ((st = tl_net_finalize(net))) return st;
    if ((st = tl_net_add_loss(net, TL_OP_SOFTMAX_CE, o, "ce", 1.0f, NULL, &m->ce))) return st;
    if ((st = tl_net_add_loss(net, TL_OP_MSE, d, "mse", 0.5f, NULL, &m->mse))) return st;
    tl_net_set_input_grad(net, m->x, 1);
    return TL_OK;
}

static tl_status wnet_run(wnet *m, const float *x, const int32_t *y, double *l) {
    tl_net_set_input(m->net, m->x, x);
    tl_net_set_target(m->net, m->ce, y);
    tl_net_set_target(m->net, m->mse, ST);
    return tl_net_forward_backward(m->net, SB, 0, l, NULL);
}

static double wnet_objective(wnet *m) {
    double l[2];
    if (tl_net_forward(m->net, SB, 1, l) != TL_OK) return NAN;
    return l[0] + 0.5 * l[1];
}

static void test_single_writers(void) {
    uint64_t s = 7;
    for (int i = 0; i < SB * SX; i++) SXa[i] = 50.0f * frand(&s), SXb[i] = frand(&s);
    for (int i = 0; i < SB * 4; i++) ST[i] = frand(&s);
    const int32_t *ys[2] = {SYb, SYn};
    for (int k = 0; k < 2; k++) {
        wnet used, fresh;
        tl_net *net = NULL;
        CHECK(wnet_build(&used) == TL_OK && wnet_build(&fresh) == TL_OK, "build");
        net = used.net;
        double l[2], lf[2];
        OK(wnet_run(&used, SXa, SYa, l));
        OK(wnet_run(&used, SXb, ys[k], l));
        net = fresh.net;
        OK(wnet_run(&fresh, SXb, ys[k], lf));
        int64_t A = tl_net_arena_size(net);
        CHECK(!memcmp(tl_net_arena(used.net, TL_ARENA_GRAD), tl_net_arena(fresh.net, TL_ARENA_GRAD), sizeof(float) * A),
              "parameter gradients after another step differ from a fresh network's (labels %d)", k);
        CHECK(!memcmp(tl_node_grad(used.net, used.x), tl_node_grad(fresh.net, fresh.x), sizeof(float) * SB * SX),
              "input gradients after another step differ from a fresh network's (labels %d)", k);
        /* central differences on the fresh network */
        float *g = malloc(sizeof(float) * (size_t)A), *w = tl_net_arena(net, TL_ARENA_VALUE);
        memcpy(g, tl_net_arena(net, TL_ARENA_GRAD), sizeof(float) * (size_t)A);
        const float eps = 1e-3f; /* float32 differences across the kinks of relu and max: 1.3% */
        double num2 = 0, diff2 = 0, ana2 = 0;
        for (int64_t i = 0; i < A; i++) {
            float old = w[i];
            w[i] = old + eps;
            double fp = wnet_objective(&fresh);
            w[i] = old - eps;
            double fm = wnet_objective(&fresh);
            w[i] = old;
            double num = (fp - fm) / (2.0 * eps), ana = g[i];
            num2 += num * num, ana2 += ana * ana, diff2 += (num - ana) * (num - ana);
        }
        CHECK(ana2 > 1e-6, "parameter gradient is trivially zero (labels %d)", k);
        CHECK(sqrt(diff2) < 5e-2 * sqrt(fmax(num2, ana2)), "parameter gradient rel err %g (labels %d)",
              sqrt(diff2 / num2), k);
        free(g);
        tl_net_free(used.net);
        tl_net_free(fresh.net);
    }
}

/* The stride-1 convolution (conv_direct.c where it applies, the lowering
 * elsewhere) on shapes that leave every tile of the kernels partial some way:
 * channels past a block of 4 or 16 (by 1, 2 and 3), columns past a run of 8,
 * 1 or 2 runs in a plane's last AVX2 tile, a lone last row of the AVX-512
 * tile's two, rows narrower than a tile (its second row's lanes then load
 * from before the first row's start), padding on one side only, one output
 * channel (the packed weights then need more scratch than the lowering):
 * equal to loops in double, and each example the same bits alone as in its
 * batch. */
static void test_conv_direct_shapes(void) {
    static const int shapes[][8] = {
        /* C, H, W, OC, KH, KW, PH, PW */
        {1, 28, 28, 32, 5, 5, 0, 0}, {32, 12, 12, 48, 5, 5, 0, 0}, {3, 7, 9, 20, 3, 3, 1, 1},
        {2, 5, 13, 17, 3, 2, 0, 1},  {1, 1, 1, 1, 1, 1, 0, 0},     {4, 6, 3, 10, 1, 1, 0, 0},
        {5, 4, 4, 33, 4, 4, 2, 1},   {2, 9, 17, 19, 2, 3, 0, 0},  {3, 6, 10, 1, 3, 3, 1, 1},
    };
    enum { NB = 3 };
    static float xin[NB * 32 * 28 * 28], w[48 * 32 * 25], b[48], y[NB * 48 * 28 * 28], y1[48 * 28 * 28];
    uint64_t digest = 1469598103934665603ull; /* FNV-1a of the direct outputs' bytes */
    int direct = 0;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const int *q = shapes[t];
        tl_conv_geom g = {q[0], q[1], q[2], q[3], q[1] + 2 * q[6] - q[4] + 1, q[2] + 2 * q[7] - q[5] + 1,
                          q[4], q[5], 1, 1, q[6], q[7]};
        const int IN = g.C * g.H * g.W, OUT = g.OC * g.OH * g.OW, K = g.C * g.KH * g.KW;
        /* exactly the scratch asked for, so that AddressSanitizer sees a write past it */
        float *scratch = malloc(sizeof(float) * (size_t)(NB * tl_conv2d_scratch(&g) + tl_conv2d_scratch_once(&g)));
        CHECK(scratch != NULL, "scratch of shape %zu", t);
        if (!scratch) return;
        uint64_t s = 7 + t;
        for (int i = 0; i < NB * IN; i++) xin[i] = frand(&s);
        for (int i = 0; i < g.OC * K; i++) w[i] = frand(&s);
        for (int o = 0; o < g.OC; o++) b[o] = 0.1f * (float)o;
        tl_conv2d_forward(y, NULL, scratch, xin, w, b, NB, &g);
        double err = 0;
        for (int n = 0; n < NB; n++)
            for (int o = 0; o < g.OC; o++)
                for (int i = 0; i < g.OH; i++)
                    for (int j = 0; j < g.OW; j++) {
                        double acc = b[o];
                        for (int c = 0; c < g.C; c++)
                            for (int kh = 0; kh < g.KH; kh++)
                                for (int kw = 0; kw < g.KW; kw++) {
                                    const int ih = i - g.PH + kh, iw = j - g.PW + kw;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    acc += (double)w[((o * g.C + c) * g.KH + kh) * g.KW + kw] *
                                           xin[n * IN + (c * g.H + ih) * g.W + iw];
                                }
                        err = fmax(err, fabs(acc - y[n * OUT + (o * g.OH + i) * g.OW + j]));
                    }
        CHECK(err < 1e-4, "conv of shape %zu (direct: %d) differs from loops by %g", t, tl_conv2d_direct_ok(&g), err);
        tl_conv2d_forward(y1, NULL, scratch, xin + 2 * IN, w, b, 1, &g);
        CHECK(!memcmp(y1, y + 2 * OUT, sizeof(float) * (size_t)OUT), "shape %zu: an example alone differs", t);
        free(scratch);
        if (!tl_conv2d_direct_ok(&g)) continue;
        direct = 1;
        const unsigned char *by = (const unsigned char *)y;
        for (size_t i = 0; i < sizeof(float) * (size_t)(NB * OUT); i++) digest = (digest ^ by[i]) * 1099511628211ull;
    }
    /* .ci/ctests compares this line between the builds: the AVX2 and the (emulated) AVX-512 kernels
     * sum each output in the same order with the same FMAs, so they give the same bits */
    if (direct) printf("direct convolution digest: %016llx\n", (unsigned long long)digest);
}

/* A relu or leaky_relu reading a conv2d is written by the conv's forward
 * (plan.c, conv.c, conv_direct.c): its output has the bits of the
 * activation's own pass over the conv's output (a second relu on the same
 * conv, not fused, and the formula of tl_leaky_relu_forward), NaN and
 * negative zeros included, on the direct path (stride 1) and the lowering
 * (stride 2); the conv's own output is unchanged, stored where asked for
 * (tl_net_keep_output) or read by another node, and the activation the same
 * with or without it. */
static void test_conv_fused_activation(void) {
    tl_net *net;
    CHECK(tl_net_create(&net, 11) == TL_OK, "create");
    int x, c1, r1, r2, c2, l2, c3, l3, c4, r4, shape[3] = {3, 9, 11};
    tl_attrs a1 = {5, {"filters", "kh", "kw", "ph", "pw"}, {8, 3, 3, 1, 1}};
    tl_attrs a2 = {5, {"filters", "kh", "kw", "sh", "sw"}, {5, 3, 3, 2, 2}};
    tl_attrs a3 = {3, {"filters", "kh", "kw"}, {17, 2, 4}};
    tl_attrs s2 = {1, {"alpha"}, {0.3}}, s3 = {1, {"alpha"}, {0.1}};
    OK(tl_net_add(net, TL_OP_INPUT, NULL, 0, "x", NULL, shape, 3, &x));
    OK(tl_net_add(net, TL_OP_CONV2D, &x, 1, "c1", &a1, NULL, 0, &c1));
    OK(tl_net_add(net, TL_OP_RELU, &c1, 1, "r1", NULL, NULL, 0, &r1));
    OK(tl_net_add(net, TL_OP_RELU, &c1, 1, "r2", NULL, NULL, 0, &r2));
    OK(tl_net_add(net, TL_OP_CONV2D, &x, 1, "c2", &a2, NULL, 0, &c2));
    OK(tl_net_add(net, TL_OP_LEAKY_RELU, &c2, 1, "l2", &s2, NULL, 0, &l2));
    OK(tl_net_add(net, TL_OP_CONV2D, &x, 1, "c3", &a3, NULL, 0, &c3));
    OK(tl_net_add(net, TL_OP_LEAKY_RELU, &c3, 1, "l3", &s3, NULL, 0, &l3));
    OK(tl_net_add(net, TL_OP_CONV2D, &x, 1, "c4", &a2, NULL, 0, &c4));
    OK(tl_net_add(net, TL_OP_RELU, &c4, 1, "r4", NULL, NULL, 0, &r4));
    OK(tl_net_finalize(net));
    enum { NB = 5, IN = 3 * 9 * 11 };
    static float xin[NB * IN];
    uint64_t s = 5;
    for (int i = 0; i < NB * IN; i++) xin[i] = frand(&s);
    xin[IN + 40] = NAN;
    tl_net_set_input(net, x, xin);
    /* first with no output asked for: c2, c3 and c4 (read by their fused activation alone) store
     * none, and the activations are kept for the comparison below */
    OK(tl_net_forward(net, NB, 0, NULL));
    static float alone[3][NB * 17 * 8 * 8]; /* the largest: c3, 17 x 8 x 8 */
    const int elided[3] = {l2, l3, r4};
    for (int k = 0; k < 3; k++) {
        CHECK(NB * tl_node_size(net, elided[k]) <= (int64_t)(sizeof alone[k] / sizeof(float)), "size %d", k);
        memcpy(alone[k], tl_node_output(net, elided[k]), sizeof(float) * (size_t)(NB * tl_node_size(net, elided[k])));
    }
    tl_net_keep_output(net, c2, 1), tl_net_keep_output(net, c3, 1), tl_net_keep_output(net, c4, 1);
    OK(tl_net_forward(net, NB, 0, NULL));
    for (int k = 0; k < 3; k++) {
        const size_t bytes = sizeof(float) * (size_t)(NB * tl_node_size(net, elided[k]));
        CHECK(!memcmp(alone[k], tl_node_output(net, elided[k]), bytes), "activation %d differs with its conv's output stored",
              k + 1);
    }
    const int conv[4] = {c1, c2, c3, c4}, act[4] = {r1, l2, l3, r4};
    const float alpha[4] = {0.0f, 0.3f, 0.1f, 0.0f};
    int nan = 0, negzero = 0;
    for (int k = 0; k < 4; k++) {
        int os[TL_MAX_DIM];
        const int nd = tl_node_shape(net, conv[k], os);
        int64_t n = NB;
        for (int d = 0; d < nd; d++) n *= os[d];
        const float *y = tl_node_output(net, conv[k]), *r = tl_node_output(net, act[k]);
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            const float want = y[i] > 0.0f ? y[i] : alpha[k] * y[i];
            bad += memcmp(&want, &r[i], sizeof want) != 0;
            nan += y[i] != y[i];
            negzero += want == 0.0f && signbit(want);
        }
        CHECK(bad == 0, "activation %d: %d of %lld values are not those of its own pass", k, bad, (long long)n);
    }
    CHECK(nan > 0 && negzero > 0, "no NaN (%d) or negative zero (%d) went through", nan, negzero);
    int os[TL_MAX_DIM];
    const int nd = tl_node_shape(net, c1, os);
    int64_t n = NB;
    for (int d = 0; d < nd; d++) n *= os[d];
    CHECK(!memcmp(tl_node_output(net, r1), tl_node_output(net, r2), sizeof(float) * (size_t)n),
          "the fused relu differs from a second one on the same conv");
    tl_net_free(net);
}

/* The backward of a relu or leaky_relu done by the max-pool after it
 * (plan.c, plan_pool_gates): on 2x2 windows (the vectorized path, with an
 * odd number of windows a row) and 3x3 windows of stride 3 (the generic
 * path, elements in no window), the conv's gradient has the bits of the
 * pool's backward followed by the activation's own, NaN and negative zeros
 * included; the activation has no gradient of its own.  Overlapping
 * windows (3x3, stride 2) keep the two passes. */
static void test_pool_gate(void) {
    tl_net *net;
    CHECK(tl_net_create(&net, 13) == TL_OK, "create");
    int x, c[3], a[3], p[3], l[3], shape[3] = {3, 8, 10};
    tl_attrs ca = {5, {"filters", "kh", "kw", "ph", "pw"}, {6, 3, 3, 1, 1}};
    tl_attrs la = {1, {"alpha"}, {0.2}};
    static const int win[3][2] = {{2, 2}, {3, 3}, {3, 2}}; /* window, stride */
    tl_attrs pa[3];
    for (int k = 0; k < 3; k++)
        pa[k] = (tl_attrs){4, {"kh", "kw", "sh", "sw"}, {win[k][0], win[k][0], win[k][1], win[k][1]}};
    const float alpha[3] = {0.0f, 0.2f, 0.0f};
    OK(tl_net_add(net, TL_OP_INPUT, NULL, 0, "x", NULL, shape, 3, &x));
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", k);
        OK(tl_net_add(net, TL_OP_CONV2D, &x, 1, name, &ca, NULL, 0, &c[k]));
        snprintf(name, sizeof name, "a%d", k);
        OK(tl_net_add(net, k == 1 ? TL_OP_LEAKY_RELU : TL_OP_RELU, &c[k], 1, name, k == 1 ? &la : NULL, NULL, 0,
                      &a[k]));
        snprintf(name, sizeof name, "p%d", k);
        OK(tl_net_add(net, TL_OP_MAXPOOL2D, &a[k], 1, name, &pa[k], NULL, 0, &p[k]));
    }
    OK(tl_net_finalize(net));
    enum { NB = 4, IN = 3 * 8 * 10, CONV = 6 * 8 * 10 };
    static float xin[NB * IN], tgt[3][NB * CONV], pooled[NB * CONV], dact[NB * CONV], want[NB * CONV];
    static int32_t am[NB * CONV];
    uint64_t s = 9;
    for (int i = 0; i < NB * IN; i++) xin[i] = frand(&s);
    xin[IN + 33] = NAN;
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", k);
        OK(tl_net_add_loss(net, TL_OP_MSE, p[k], name, 1.0f, NULL, &l[k]));
        for (int i = 0; i < NB * CONV; i++) tgt[k][i] = frand(&s);
        tl_net_set_target(net, l[k], tgt[k]);
    }
    tl_net_set_input(net, x, xin);
    double loss[3]; /* one a loss */
    OK(tl_net_forward_backward(net, NB, 0, loss, NULL));
    int nan = 0, negzero = 0;
    for (int k = 0; k < 3; k++) {
        const int K = win[k][0], S = win[k][1];
        const tl_conv_geom g = {6, 8, 10, 6, (8 - K) / S + 1, (10 - K) / S + 1, K, K, S, S, 0, 0};
        const int64_t n = (int64_t)NB * CONV;
        /* the two passes, from the pool's gradient and the activation's output */
        tl_maxpool2d_forward(pooled, am, tl_node_output(net, a[k]), NB, &g);
        tl_maxpool2d_backward(dact, tl_node_grad(net, p[k]), am, NULL, NB, &g, 1);
        tl_leaky_relu_backward(want, dact, tl_node_output(net, a[k]), alpha[k], n, 1);
        const float *got = tl_node_grad(net, c[k]);
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            bad += memcmp(&want[i], &got[i], sizeof want[i]) != 0;
            nan += want[i] != want[i];
            negzero += want[i] == 0.0f && signbit(want[i]);
        }
        CHECK(bad == 0, "pool %d: %d of %lld gradients differ from the two passes'", k, bad, (long long)n);
        CHECK((tl_node_grad(net, a[k]) == NULL) == (k < 2), "pool %d: activation gradient %s", k,
              k < 2 ? "kept though fused" : "missing");
    }
    CHECK(nan > 0 && negzero > 0, "no NaN (%d) or negative zero (%d) went through", nan, negzero);
    tl_net_free(net);
}

/* A batch of several conv chunks (conv.c: chunks side by side on the pool,
 * the weight gradient summed per group of chunks) at stride 1 (the direct
 * convolution of conv_direct.c where the CPU has AVX2): the output equals
 * loops in double, and one and two threads give the same bits for the
 * output, the weight gradient and the input gradient. */
enum { CB = 40, CC = 4, CH = 12, CO = 8, CK = 5 };
static float CXin[CB * CC * CH * CH], CT[CB * CO * CH * CH];

static void test_conv_chunks_and_threads(void) {
    uint64_t s = 3;
    for (int i = 0; i < CB * CC * CH * CH; i++) CXin[i] = frand(&s);
    for (int i = 0; i < CB * CO * CH * CH; i++) CT[i] = frand(&s);
    static float out[2][CB * CO * CH * CH], gw[2][CO * CC * CK * CK + CO], gx[2][CB * CC * CH * CH];
    for (int t = 0; t < 2; t++) {
        tl_set_num_threads(t + 1);
        tl_net *net;
        CHECK(tl_net_create(&net, 5) == TL_OK, "create");
        int x, c, l, shape[3] = {CC, CH, CH};
        tl_attrs at = {5, {"filters", "kh", "kw", "ph", "pw"}, {CO, CK, CK, 2, 2}};
        OK(tl_net_add(net, TL_OP_INPUT, NULL, 0, "x", NULL, shape, 3, &x));
        OK(tl_net_add(net, TL_OP_CONV2D, &x, 1, "c", &at, NULL, 0, &c));
        OK(tl_net_finalize(net));
        OK(tl_net_add_loss(net, TL_OP_MSE, c, "mse", 1.0f, NULL, &l));
        tl_net_set_input_grad(net, x, 1);
        float *b = tl_net_arena(net, TL_ARENA_VALUE) + tl_param_offset(net, 1);
        for (int o = 0; o < CO; o++) b[o] = 0.05f * (float)o;
        tl_net_set_input(net, x, CXin);
        tl_net_set_target(net, l, CT);
        OK(tl_net_forward(net, CB, 0, NULL)); /* evaluation */
        memcpy(out[t], tl_node_output(net, c), sizeof out[t]);
        double loss;
        OK(tl_net_forward_backward(net, CB, 0, &loss, NULL));
        CHECK(!memcmp(out[t], tl_node_output(net, c), sizeof out[t]), "training forward differs from evaluation");
        memcpy(gw[t], tl_net_arena(net, TL_ARENA_GRAD), sizeof gw[t]);
        memcpy(gx[t], tl_node_grad(net, x), sizeof gx[t]);
        if (t == 0) {
            const float *w = tl_net_arena(net, TL_ARENA_VALUE) + tl_param_offset(net, 0);
            double err = 0;
            for (int n = 0; n < CB; n += 13)
                for (int o = 0; o < CO; o++)
                    for (int i = 0; i < CH; i++)
                        for (int j = 0; j < CH; j++) {
                            double acc = b[o];
                            for (int ch = 0; ch < CC; ch++)
                                for (int kh = 0; kh < CK; kh++)
                                    for (int kw = 0; kw < CK; kw++) {
                                        int ih = i - 2 + kh, iw = j - 2 + kw;
                                        if (ih < 0 || ih >= CH || iw < 0 || iw >= CH) continue;
                                        acc += (double)w[((o * CC + ch) * CK + kh) * CK + kw] *
                                               CXin[((n * CC + ch) * CH + ih) * CH + iw];
                                    }
                            err = fmax(err, fabs(acc - out[t][((n * CO + o) * CH + i) * CH + j]));
                        }
            CHECK(err < 1e-4, "chunked conv differs from loops by %g", err);
            /* the weight gradient of the batch is the weighted sum of those of its quarters (the mean
             * squared error averages over the batch): every group of chunks is summed in */
            enum { Q = CB / 4, NW = CO * CC * CK * CK + CO };
            static double sum[NW];
            memset(sum, 0, sizeof sum);
            for (int q = 0; q < 4; q++) {
                tl_net_set_input(net, x, CXin + q * Q * CC * CH * CH);
                tl_net_set_target(net, l, CT + q * Q * CO * CH * CH);
                OK(tl_net_forward_backward(net, Q, 0, &loss, NULL));
                const float *g = tl_net_arena(net, TL_ARENA_GRAD);
                for (int i = 0; i < NW; i++) sum[i] += 0.25 * g[i];
            }
            double d2 = 0, n2 = 0;
            for (int i = 0; i < NW; i++) d2 += (sum[i] - gw[t][i]) * (sum[i] - gw[t][i]), n2 += sum[i] * sum[i];
            CHECK(n2 > 0 && sqrt(d2) < 1e-5 * sqrt(n2), "batch weight gradient differs from its quarters' by %g",
                  sqrt(d2 / n2));
        }
        tl_net_free(net);
    }
    CHECK(!memcmp(out[0], out[1], sizeof out[0]), "conv output differs between one and two threads");
    CHECK(!memcmp(gw[0], gw[1], sizeof gw[0]), "conv weight gradient differs between one and two threads");
    CHECK(!memcmp(gx[0], gx[1], sizeof gx[0]), "conv input gradient differs between one and two threads");
    tl_set_num_threads(2);
}

/* The three BatchNorm modes of the kernel: a frozen layer in a training step (TL_BN_FROZEN)
 * gives the evaluation output (TL_BN_RUNNING), keeps xhat for its backward, leaves the running
 * statistics alone, and back-propagates gamma invstd dy (the statistics are constants);
 * TL_BN_BATCH moves them. */
static void test_batchnorm_modes(void) {
    enum { NB = 3, NC = 2, NS = 4, N = NB * NC * NS };
    uint64_t s = 7;
    float x[N], dy[N], y_run[N], y_fro[N], xhat[N], dx[N], mean[NC], invstd[NC], dg[NC] = {0}, db[NC] = {0};
    float rm[NC] = {0.3f, -0.5f}, rv[NC] = {0.8f, 2.5f};
    const float g[NC] = {1.5f, -0.7f}, b[NC] = {0.1f, 0.2f}, eps = 1e-5f;
    for (int i = 0; i < N; i++) {
        x[i] = 2.0f * frand(&s);
        dy[i] = frand(&s);
        dx[i] = 0.0f;
    }
    tl_batchnorm_forward(y_run, NULL, NULL, NULL, rm, rv, x, g, b, NB, NC, NS, 0.1f, eps, TL_BN_RUNNING);
    tl_batchnorm_forward(y_fro, xhat, mean, invstd, rm, rv, x, g, b, NB, NC, NS, 0.1f, eps, TL_BN_FROZEN);
    CHECK(rm[0] == 0.3f && rm[1] == -0.5f && rv[0] == 0.8f && rv[1] == 2.5f, "a frozen forward moved the statistics");
    tl_batchnorm_backward(dx, dg, db, dy, xhat, invstd, g, NB, NC, NS, 0);
    for (int c = 0; c < NC; c++) {
        const float is = 1.0f / sqrtf(rv[c] + eps);
        CHECK(mean[c] == rm[c] && fabsf(invstd[c] - is) <= 1e-7f * is, "channel %d: kept statistics", c);
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < NB; i++)
            for (int j = 0; j < NS; j++) {
                const int k = (i * NC + c) * NS + j;
                const float want = g[c] * is * dy[k], xh = (x[k] - rm[c]) * is;
                CHECK(fabsf(y_fro[k] - y_run[k]) <= 1e-6f * (1.0f + fabsf(y_run[k])), "y[%d] %g, eval %g", k,
                      (double)y_fro[k], (double)y_run[k]);
                CHECK(fabsf(dx[k] - want) <= 1e-6f * (1.0f + fabsf(want)), "dx[%d] %g, want %g", k, (double)dx[k],
                      (double)want);
                sdy += dy[k];
                sdyx += (double)dy[k] * xh;
            }
        CHECK(fabs(db[c] - sdy) <= 1e-5 * (1.0 + fabs(sdy)) && fabs(dg[c] - sdyx) <= 1e-5 * (1.0 + fabs(sdyx)),
              "channel %d: dgamma %g (want %g), dbeta %g (want %g)", c, (double)dg[c], sdyx, (double)db[c], sdy);
    }
    tl_batchnorm_forward(y_fro, xhat, mean, invstd, rm, rv, x, g, b, NB, NC, NS, 0.1f, eps, TL_BN_BATCH);
    CHECK(rm[0] != 0.3f && rv[1] != 2.5f, "a training forward on the batch left the statistics");
}

/* k-means: well separated blobs found; the same bits on 1 and 2 threads; k > n and NaN refused */
static void test_kmeans(void) {
    enum { KN = 3000, KD = 7, KK = 4 };
    static float kx[KN * KD], c1[KK * KD], c2[KK * KD], dist[KN * KK];
    static int32_t l1[KN], l2[KN], nearest[KN];
    uint64_t s = 7;
    for (int i = 0; i < KN; i++)
        for (int j = 0; j < KD; j++) kx[i * KD + j] = 0.3f * frand(&s) + (float)(10 * ((i % KK) == j % KK));
    tl_kmeans_cfg cfg = {KK, 100, 1e-4, 3, 0, NULL};
    double in1 = 0, in2 = 0;
    int it1 = 0, it2 = 0;
    char err[256];
    int before = tl_num_threads();
    tl_set_num_threads(1);
    CHECK(tl_kmeans(kx, KN, KD, &cfg, c1, l1, &in1, &it1, err, sizeof err) == TL_OK, "%s", err);
    tl_set_num_threads(2);
    CHECK(tl_kmeans(kx, KN, KD, &cfg, c2, l2, &in2, &it2, err, sizeof err) == TL_OK, "%s", err);
    tl_set_num_threads(before);
    CHECK(!memcmp(c1, c2, sizeof c1) && !memcmp(l1, l2, sizeof l1) && in1 == in2 && it1 == it2,
          "k-means differs between 1 and 2 threads");
    int pure = 1;
    for (int i = 0; i < KN; i++) pure &= l1[i] == l1[i % KK];
    CHECK(pure, "k-means did not find the %d blobs", KK);
    CHECK(tl_sqdist(kx, KN, KD, c1, KK, dist, nearest, err, sizeof err) == TL_OK, "%s", err);
    CHECK(!memcmp(nearest, l1, sizeof l1), "the nearest centres are not the labels of the fit");
    cfg.k = KN + 1;
    CHECK(tl_kmeans(kx, KN, KD, &cfg, c1, l1, &in1, &it1, err, sizeof err) == TL_ERR_VALUE && strstr(err, "larger"),
          "k > n: %s", err);
    cfg.k = KK;
    kx[5 * KD + 2] = NAN;
    CHECK(tl_kmeans(kx, KN, KD, &cfg, c1, l1, &in1, &it1, err, sizeof err) == TL_ERR_NONFINITE &&
              strstr(err, "example 5"), "NaN: %s", err);
}

int main(void) {
    uint64_t s = 42;
    for (int i = 0; i < B * 5; i++) X[i] = frand(&s);
    for (int i = 0; i < B * 3; i++) T[i] = frand(&s);
    T[4] = NAN;
    test_op_table();
    test_build_errors();
    test_gradients();
    test_freeze_mask_and_steps();
    test_replan_and_check_finite();
    test_conv_against_loops();
    test_pool();
    test_train_batches();
    test_schedules();
    test_single_writers();
    test_conv_against_loops(); /* again, with the pool's threads running */
    test_conv_chunks_and_threads();
    test_conv_direct_shapes();
    test_pool_gate();
    test_conv_fused_activation();
    test_batchnorm_modes();
    test_kmeans();
    printf("test_core: %d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
