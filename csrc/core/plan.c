/* plan.c - planning of a finalized network for a batch size: which nodes
 * get a gradient, and one slab laid out as [gradients | outputs | scratch].
 * tl_net_plan allocates only when the batch grows or the set of frozen
 * parameters/losses changes (net.c then resets planned_B). */
#include "internal.h"

#include <stdlib.h>

void tl_plan_free(tl_net *net) {
    free(net->act);
    net->act = NULL;
    net->act_floats = 0;
    net->planned_B = 0;
}

static int node_trains(const tl_net *net, const tl_node *n) {
    for (int k = 0; k < n->n_param; k++) {
        const tl_param *p = &net->params[n->param[k]];
        if (p->trainable && !p->buffer) return 1;
    }
    return 0;
}

/* Which nodes get a gradient: those downstream of a trainable parameter or a
 * wanted input gradient (forward pass over the DAG), and upstream of a loss
 * (backward pass).  A frozen prefix therefore costs no backward work. */
static tl_status plan_grads(tl_net *net) {
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *n = &net->nodes[i];
        int g = n->op == TL_OP_INPUT ? n->input_grad : node_trains(net, n);
        for (int k = 0; !g && k < n->n_in; k++) g = net->nodes[n->in[k]].needs_grad;
        n->needs_grad = g;
    }
    char *live = calloc((size_t)net->n_nodes + 1, 1);
    if (!live) return tl_set_error(net, TL_ERR_NOMEM, "out of memory planning %d nodes", net->n_nodes);
    for (int i = net->n_nodes - 1; i >= 0; i--) {
        tl_node *n = &net->nodes[i];
        if (tl_ops[n->op].info.is_loss) live[i] = 1;
        if (live[i])
            for (int k = 0; k < n->n_in; k++) live[n->in[k]] = 1;
        n->needs_grad = n->needs_grad && live[i];
    }
    free(live);
    return TL_OK;
}

/* Lay out one slab as [gradients | outputs | scratch] for batch B (pass 0
 * measures, pass 1 assigns); gradients come first so one memset clears them. */
static size_t plan_layout(tl_net *net, int B, int assign, size_t *ndout) {
    size_t off = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *n = &net->nodes[i];
        const tl_op_def *d = &tl_ops[n->op];
        float *dout = NULL;
        if (d->info.is_loss) {
            dout = NULL;
        } else if (d->view == TL_VIEW_ALL) {
            dout = net->nodes[n->in[0]].dout;
        } else if (n->needs_grad) {
            dout = net->act + off;
            off += (size_t)B * (size_t)n->size;
        }
        if (assign) n->dout = dout;
    }
    *ndout = off;
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *n = &net->nodes[i];
        const tl_op_def *d = &tl_ops[n->op];
        int owns = n->op != TL_OP_INPUT && !d->info.is_loss && d->view == TL_VIEW_NONE;
        int64_t aux = d->aux_size ? d->aux_size(net, n) : 0;
        int64_t once = d->aux_once ? d->aux_once(net, n) : 0;
        if (assign) {
            n->owned_out = owns ? net->act + off : NULL;
            if (owns) n->out = n->owned_out;
            n->aux = aux || once ? net->act + off + (owns ? (size_t)B * (size_t)n->size : 0) : NULL;
            n->aux_size = aux;
        }
        if (owns) off += (size_t)B * (size_t)n->size;
        off += (size_t)B * (size_t)aux + (size_t)once;
    }
    return off;
}

/* Whether node n's backward runs (the executor's rule). */
static int runs_backward(const tl_net *net, const tl_node *n) {
    if (tl_ops[n->op].info.is_loss) return n->n_in && net->nodes[n->in[0]].needs_grad;
    return n->needs_grad && n->op != TL_OP_INPUT;
}

/* The node owning the gradient buffer that node i's dout points into. */
static int dout_owner(const tl_net *net, int i) {
    while (tl_ops[net->nodes[i].op].view == TL_VIEW_ALL) i = net->nodes[i].in[0];
    return i;
}

/* Who writes each gradient buffer: a buffer (a node's dout, a parameter's
 * gradient) written by exactly one backward whose op can overwrite is left
 * to that backward (assign_in, assign_grads); every other one is zeroed by
 * the executor before the backward, and its writers add.  Saves a memset and
 * a read of most buffers of a chain (MNIST-M network: about 10 MB a step). */
static tl_status plan_assign(tl_net *net) {
    const int N = net->n_nodes, P = net->n_params;
    int *wn = calloc((size_t)(3 * N + 2 * P) + 1, sizeof(int));
    if (!wn) return tl_set_error(net, TL_ERR_NOMEM, "out of memory planning %d nodes", N);
    /* per buffer: writers, the last writer and its input slot; per parameter: writers, the last writer */
    int *writer = wn + N, *slot = wn + 2 * N, *pn = wn + 3 * N, *pwriter = pn + P;
    for (int j = 0; j < N; j++) {
        tl_node *n = &net->nodes[j];
        n->assign_in = 0;
        n->assign_grads = 0;
        if (!runs_backward(net, n) || tl_ops[n->op].view == TL_VIEW_ALL) continue;
        for (int k = 0; k < n->n_in; k++) {
            if (!net->nodes[n->in[k]].dout) continue;
            int o = dout_owner(net, n->in[k]);
            wn[o]++;
            writer[o] = j;
            slot[o] = k;
        }
        for (int k = 0; k < n->n_param; k++) {
            const tl_param *p = &net->params[n->param[k]];
            if (!p->trainable || p->buffer) continue;
            pn[n->param[k]]++;
            pwriter[n->param[k]] = j;
        }
    }
    for (int j = 0; j < N; j++) { /* a node overwrites its parameters' gradients if it alone writes each */
        tl_node *n = &net->nodes[j];
        if (!tl_ops[n->op].assigns || !runs_backward(net, n)) continue;
        int alone = 1;
        for (int k = 0; k < n->n_param; k++) {
            const tl_param *p = &net->params[n->param[k]];
            if (p->trainable && !p->buffer && pn[n->param[k]] != 1) alone = 0;
        }
        n->assign_grads = alone;
    }
    for (int p = 0; p < P; p++) {
        tl_param *pr = &net->params[p];
        pr->zero_grad = pr->trainable && !pr->buffer && !(pn[p] == 1 && net->nodes[pwriter[p]].assign_grads);
    }
    for (int i = 0; i < N; i++) {
        tl_node *n = &net->nodes[i];
        n->zero_dout = n->dout && tl_ops[n->op].view != TL_VIEW_ALL;
        if (!n->zero_dout || wn[i] != 1) continue;
        tl_node *w = &net->nodes[writer[i]];
        if (!tl_ops[w->op].assigns || slot[i] >= 32) continue;
        w->assign_in |= 1u << slot[i];
        n->zero_dout = 0;
    }
    free(wn);
    return TL_OK;
}

/* Activations whose backward the max-pool after them does: a relu or
 * leaky_relu whose gradient only a maxpool2d writes (it overwrites it:
 * plan_assign) and which alone overwrites its input's gradient, the pool's
 * windows not overlapping.  The pool's backward then passes each pooled
 * gradient through the activation (y > 0 ? dy : alpha dy, y the pooled
 * output, which is the activation's output at the winner) straight into the
 * activation's input gradient: the bits of the two passes (every other
 * element +0 either way, alpha >= 0), one pass over the conv-sized gradient
 * instead of three.  Planned with the convolutions' activations, before
 * every forward; the activation's gradient is then not computed
 * (tl_node_grad gives NULL for it). */
static void plan_pool_gates(tl_net *net) {
    for (int i = 0; i < net->n_nodes; i++) net->nodes[i].pool_gate = -1, net->nodes[i].bwd_fused = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *p = &net->nodes[i];
        if (p->op != TL_OP_MAXPOOL2D || p->n_in != 1 || !p->needs_grad || !(p->assign_in & 1)) continue;
        tl_node *a = &net->nodes[p->in[0]];
        if ((a->op != TL_OP_RELU && a->op != TL_OP_LEAKY_RELU) || a->n_in != 1 || !(a->assign_in & 1)) continue;
        tl_conv_geom g;
        tl_node_geom(net, p, &g);
        if (g.SH < g.KH || g.SW < g.KW) continue; /* overlapping windows: a sum per element, in another order */
        p->pool_gate = p->in[0];
        a->bwd_fused = 1;
    }
}

/* Activations fused into the convolution before them: the first relu or
 * leaky_relu reading a conv2d has its output written by the conv's forward,
 * from the registers (or the copy to NCHW) that hold the conv's output,
 * instead of by a pass of its own over it, with the bits of that pass.  The
 * conv stores its own output only if something else reads it: another node,
 * a loss, or the caller (tl_net_keep_output); the activations' backward
 * reads their own output (y > 0 exactly where x > 0, alpha >= 0), the conv's
 * backward its input.  MNIST-M network, frozen convs, batch 64: about 8% of a
 * step with the conv's output stored, 6% more without.  Run before every
 * forward (the caller's outputs may change between them). */
void tl_plan_fusion(tl_net *net) {
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *n = &net->nodes[i];
        n->act_into = -1, n->act_done = 0, n->out_elided = 0;
    }
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *n = &net->nodes[i];
        if ((n->op != TL_OP_RELU && n->op != TL_OP_LEAKY_RELU) || n->n_in != 1) continue;
        tl_node *c = &net->nodes[n->in[0]];
        if (c->op != TL_OP_CONV2D || c->act_into >= 0) continue;
        c->act_into = i;
        n->act_done = 1;
        c->out_elided = !c->keep_out;
    }
    for (int i = 0; i < net->n_nodes; i++) { /* any reader but the fused activation keeps the output */
        const tl_node *n = &net->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            tl_node *c = &net->nodes[n->in[k]];
            if (c->out_elided && c->act_into != i) c->out_elided = 0;
        }
    }
    plan_pool_gates(net);
}

tl_status tl_net_plan(tl_net *net, int B) {
    if (!net->finalized) return tl_set_error(net, TL_ERR_STATE, "the network is not finalized");
    if (B <= 0) return tl_set_error(net, TL_ERR_VALUE, "batch size must be positive, got %d", B);
    if (net->planned_B >= B && net->act) return TL_OK;
    for (int i = 0; i < net->n_nodes; i++) {
        const tl_node *n = &net->nodes[i];
        int64_t aux = tl_ops[n->op].aux_size ? tl_ops[n->op].aux_size(net, n) : 0;
        if ((int64_t)B * (n->size > aux ? n->size : aux) > TL_INT_MAX)
            return tl_set_error(net, TL_ERR_SHAPE, "node '%s': batch %d x %lld features exceeds 2^31-1 elements",
                                n->name, B, (long long)n->size);
    }
    tl_status st = plan_grads(net);
    if (st) return st;
    size_t ndout = 0, total = plan_layout(net, B, 0, &ndout);
    if (total > net->act_floats || !net->act) {
        free(net->act);
        net->act = malloc(sizeof(float) * (total ? total : 1));
        if (!net->act) {
            net->act_floats = 0;
            net->planned_B = 0;
            return tl_set_error(net, TL_ERR_NOMEM, "out of memory planning batch %d (%zu floats)", B, total);
        }
        net->act_floats = total;
    }
    plan_layout(net, B, 1, &ndout);
    if ((st = plan_assign(net))) {
        net->planned_B = 0;
        return st;
    }
    net->n_dout_floats = ndout;
    net->planned_B = B;
    return TL_OK;
}
