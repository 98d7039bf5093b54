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
    net->n_dout_floats = ndout;
    net->planned_B = B;
    return TL_OK;
}
