/* exec.c - running a planned network: forward, backward, the regularizers
 * (L2, L2-SP, EWC), one training step and the accumulation of the Fisher
 * information.  Nothing here allocates. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Whether x[0..n) holds no NaN nor infinity: a float is non-finite when its
 * exponent bits are all ones.  The bits of a block are ORed after masking
 * (a loop without an early exit, which the compiler vectorises), and the
 * blocks checked one by one; a scalar isfinite loop was about 4% of a DANN
 * step that checks every node's output (bench/README.md, "Finiteness check"). */
#define FINITE_BLOCK 1024
static int all_finite(const float *x, int64_t n) {
    const uint32_t expo = 0x7f800000u;
    for (int64_t i0 = 0; i0 < n; i0 += FINITE_BLOCK) {
        const int64_t i1 = i0 + FINITE_BLOCK < n ? i0 + FINITE_BLOCK : n;
        uint32_t bad = 0;
        for (int64_t i = i0; i < i1; i++) {
            uint32_t u;
            memcpy(&u, x + i, sizeof u);
            bad |= (uint32_t)((u & expo) == expo);
        }
        if (bad) return 0;
    }
    return 1;
}

/* Data bound to every input and, with need_targets, a target to every loss;
 * with check_labels, the class labels in range (they index the
 * probabilities), unless the caller checked them (a run, train.c). */
static tl_status check_bound(tl_net *net, int B, int need_targets, int check_labels) {
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *n = &net->nodes[i];
        if (n->op == TL_OP_INPUT && !n->out)
            return tl_set_error(net, TL_ERR_STATE, "input '%s' has no data bound", n->name);
        if (tl_ops[n->op].info.is_loss && need_targets) {
            if (!n->target) return tl_set_error(net, TL_ERR_STATE, "loss '%s' has no target bound", n->name);
            tl_status st;
            if (check_labels && tl_ops[n->op].info.target == TL_TARGET_INT &&
                (st = tl_check_labels(net, i - net->n_regular, n->target, B, NULL)))
                return st;
        }
    }
    return TL_OK;
}

static tl_status run_forward(tl_net *net, int B, int train, int with_losses, double *losses) {
    int k = 0;
    tl_plan_fusion(net);
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *n = &net->nodes[i];
        int is_loss = tl_ops[n->op].info.is_loss;
        if (is_loss && !with_losses) continue;
        tl_ops[n->op].forward(net, n, B, train);
        if (is_loss) {
            if (losses) losses[k] = n->loss;
            k++;
            if (net->check_finite && !isfinite(n->loss))
                return tl_set_error(net, TL_ERR_NONFINITE, "loss '%s' is %g", n->name, n->loss);
        } else if (net->check_finite && !n->out_elided && !all_finite(n->out, (int64_t)B * n->size)) {
            /* an elided conv output: its fused activation is checked instead (non-finite where it is) */
            return tl_set_error(net, TL_ERR_NONFINITE, "node '%s' (%s) produced NaN or infinity%s", n->name,
                                tl_ops[n->op].info.name, n->op == TL_OP_INPUT ? " (in the input data)" : "");
        }
    }
    return TL_OK;
}

tl_status tl_net_forward(tl_net *net, int B, int train, double *losses) {
    tl_status st = tl_net_plan(net, B);
    if (st) return st;
    int with_losses = losses != NULL;
    if ((st = check_bound(net, B, with_losses, 1))) return st;
    return run_forward(net, B, train, with_losses, losses);
}

/* Zeroes the gradient buffers the planner did not leave to a single
 * overwriting backward (plan.c, plan_assign), then runs the backward. */
static void run_backward(tl_net *net, int B) {
    for (int i = 0; i < net->n_nodes; i++) {
        const tl_node *n = &net->nodes[i];
        if (n->zero_dout) memset(n->dout, 0, sizeof(float) * (size_t)B * (size_t)n->size);
    }
    for (int p = 0; p < net->n_params; p++) {
        const tl_param *pr = &net->params[p];
        if (pr->zero_grad) memset(net->arena[TL_ARENA_GRAD] + pr->offset, 0, sizeof(float) * (size_t)pr->size);
    }
    for (int i = net->n_nodes - 1; i >= 0; i--) {
        tl_node *n = &net->nodes[i];
        if (tl_ops[n->op].info.is_loss) {
            if (n->n_in && net->nodes[n->in[0]].needs_grad) tl_ops[n->op].backward(net, n, B);
        } else if (n->needs_grad && n->op != TL_OP_INPUT && !n->bwd_fused) {
            tl_ops[n->op].backward(net, n, B);
        }
    }
}

/* Adds the regularizers' gradients to GRAD and returns their value. */
static double apply_reg(tl_net *net, int add_grad) {
    double total = 0.0;
    const float *w0 = net->arena[TL_ARENA_SNAPSHOT], *F = net->arena[TL_ARENA_FISHER];
    for (int p = 0; p < net->n_params; p++) {
        const tl_param *pr = &net->params[p];
        if (pr->buffer || !(pr->l2 > 0.0f || pr->l2sp > 0.0f || pr->ewc > 0.0f)) continue;
        const float *w = net->arena[TL_ARENA_VALUE] + pr->offset;
        float *g = add_grad && pr->trainable ? net->arena[TL_ARENA_GRAD] + pr->offset : NULL;
        const float *s = w0 + pr->offset, *f = F + pr->offset;
        double acc = 0.0;
        for (int64_t i = 0; i < pr->size; i++) {
            float d = w[i] - s[i];
            float c = pr->l2sp + pr->ewc * f[i];
            acc += (double)pr->l2 * w[i] * w[i] + (double)c * d * d;
            if (g) g[i] += pr->l2 * w[i] + c * d;
        }
        total += 0.5 * acc;
    }
    return total;
}

double tl_net_reg_value(const tl_net *net) { return apply_reg((tl_net *)net, 0); }

static tl_status forward_backward(tl_net *net, int B, int with_reg, double *losses, double *reg, int check_labels) {
    tl_status st = tl_net_plan(net, B);
    if (st) return st;
    if (net->n_nodes == net->n_regular) return tl_set_error(net, TL_ERR_STATE, "the network has no loss; compile it first");
    if ((st = check_bound(net, B, 1, check_labels))) return st;
    if ((st = run_forward(net, B, TL_TRAIN_STEP, 1, losses))) return st;
    run_backward(net, B);
    double r = with_reg ? apply_reg(net, 1) : 0.0;
    if (reg) *reg = r;
    return TL_OK;
}

tl_status tl_net_forward_backward(tl_net *net, int B, int with_reg, double *losses, double *reg) {
    return forward_backward(net, B, with_reg, losses, reg, 1);
}

tl_status tl_net_step(tl_net *net, int B, float lr, double *losses, double *reg, int check_labels) {
    if (!net->optim_set) return tl_set_error(net, TL_ERR_STATE, "no optimizer set; compile the network first");
    if (!isfinite(lr) || lr < 0.0f) return tl_set_error(net, TL_ERR_VALUE, "learning rate must be finite and >= 0, got %g", (double)lr);
    tl_status st = forward_backward(net, B, 1, losses, reg, check_labels);
    if (st) return st;
    if (net->check_finite) {
        for (int p = 0; p < net->n_params; p++) {
            const tl_param *pr = &net->params[p];
            if (pr->trainable && !pr->buffer && !all_finite(net->arena[TL_ARENA_GRAD] + pr->offset, pr->size))
                return tl_set_error(net, TL_ERR_NONFINITE, "gradient of '%s' holds NaN or infinity; weights left unchanged",
                                    pr->name);
        }
    }
    tl_optim_update(net, lr);
    return TL_OK;
}

tl_status tl_net_train_step(tl_net *net, int B, float lr, double *losses, double *reg) {
    return tl_net_step(net, B, lr, losses, reg, 1);
}

tl_status tl_net_accumulate_fisher(tl_net *net, int B, float scale) {
    tl_status st = tl_net_forward_backward(net, B, 0, NULL, NULL);
    if (st) return st;
    float *F = net->arena[TL_ARENA_FISHER];
    const float *g = net->arena[TL_ARENA_GRAD];
    for (int p = 0; p < net->n_params; p++) {
        const tl_param *pr = &net->params[p];
        if (!pr->trainable || pr->buffer) continue;
        for (int64_t i = pr->offset; i < pr->offset + pr->size; i++) F[i] += scale * g[i] * g[i];
    }
    return TL_OK;
}
