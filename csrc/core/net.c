/* net.c - networks: building (nodes, losses, shared layers), parameter
 * arenas and their initialisation, attributes, introspection and the binding
 * of caller data.  Planning is in plan.c, running a planned network in
 * exec.c, the optimizers in optim.c.
 *
 * Every allocation happens in tl_net_add, tl_net_finalize or tl_net_plan (the
 * latter only when the batch grows or the set of frozen parameters/losses
 * changes).  Forward, backward and steps allocate nothing. */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tl_status tl_set_error(tl_net *net, tl_status st, const char *fmt, ...) {
    if (net) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(net->err, sizeof net->err, fmt, ap);
        va_end(ap);
    }
    return st;
}

const char *tl_net_error(const tl_net *net) { return net ? net->err : "no network"; }

const char *const tl_arena_names[TL_ARENA_COUNT + 1] = {"value", "grad", "mask", "snapshot", "fisher", "m", "v", NULL};

/* ---- RNG: splitmix64 ---- */

uint64_t tl_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
float tl_rng_uniform(uint64_t *s) { return (float)(tl_rng_next(s) >> 40) * (1.0f / 16777216.0f); }
float tl_rng_normal(uint64_t *s) {
    /* Box-Muller on (0,1] x [0,1) */
    double u1 = ((double)(tl_rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(tl_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---- life cycle ---- */

tl_status tl_net_create(tl_net **out, uint64_t seed) {
    tl_net *net = calloc(1, sizeof *net);
    *out = net;
    if (!net) return TL_ERR_NOMEM;
    net->rng = seed;
    net->drop_rng = seed ^ 0xD1B54A32D192ED03ull;
    net->optim.kind = TL_OPTIM_SGD;
    return TL_OK;
}

void tl_net_free(tl_net *net) {
    if (!net) return;
    for (int i = 0; i < net->n_nodes; i++) free(net->nodes[i].in);
    free(net->nodes);
    free(net->params);
    for (int a = 0; a < TL_ARENA_COUNT; a++) free(net->arena[a]);
    tl_plan_free(net);
    free(net);
}

static void invalidate_plan(tl_net *net) { net->planned_B = 0; }

static int grow(void **ptr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*ptr, (size_t)nc * elem);
    if (!p) return 0;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *ptr = p;
    *cap = nc;
    return 1;
}

tl_status tl_declare_param(tl_net *net, tl_node *node, const char *suffix, const int *shape, int ndim, int fan_in,
                           int fan_out, int init) {
    if (node->n_param >= TL_MAX_PARAMS)
        return tl_set_error(net, TL_ERR_STATE, "node '%s': more than %d parameters", node->name, TL_MAX_PARAMS);
    /* the row lists every parameter its op declares, and whether it is a buffer */
    const tl_op_info *o = &tl_ops[node->op].info;
    const tl_param_def *pd = NULL;
    for (int k = 0; k < o->n_params && !pd; k++)
        if (!strcmp(o->params[k].name, suffix)) pd = &o->params[k];
    if (!pd)
        return tl_set_error(net, TL_ERR_STATE, "%s '%s': parameter '%s' is not in the op's row", o->name, node->name,
                            suffix);
    if (!grow((void **)&net->params, &net->cap_params, net->n_params + 1, sizeof(tl_param)))
        return tl_set_error(net, TL_ERR_NOMEM, "node '%s': out of memory for parameters", node->name);
    tl_param *p = &net->params[net->n_params];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s.%s", node->name, suffix);
    p->node = (int)(node - net->nodes);
    p->ndim = ndim;
    p->size = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->size *= shape[i];
    }
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    p->init = init;
    p->fill = 1.0f;
    p->trainable = 1;
    p->buffer = pd->buffer;
    node->param[node->n_param++] = net->n_params++;
    return TL_OK;
}

/* Is v a value attribute d may take?  Otherwise the error names op, node, attribute and value. */
static tl_status check_attr(tl_net *net, const char *op, const char *nm, const tl_attr_def *d, double v) {
    if (d->kind != TL_ATTR_FLOAT && !(v == floor(v)))
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': %s must be an integer, got %g", op, nm, d->name, v);
    if (d->kind != TL_ATTR_FLOAT && !(fabs(v) <= TL_INT_MAX))
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': %s must be an integer within +-(2^31-1), got %.0f", op, nm,
                            d->name, v);
    if (d->kind == TL_ATTR_FLOAT && !isfinite((float)v))
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': %s must be %s, got %g", op, nm, d->name,
                            d->must ? d->must : "finite", v);
    if (d->must && !((d->lo_open ? v > d->lo : v >= d->lo) && (d->hi_open ? v < d->hi : v <= d->hi)))
        return tl_set_error(net, TL_ERR_VALUE, d->kind == TL_ATTR_FLOAT ? "%s '%s': %s must be %s, got %g"
                                                                          : "%s '%s': %s must be %s, got %.0f",
                            op, nm, d->name, d->must, v);
    return TL_OK;
}

/* attribute d of node's row, at its index in the row */
static void store_attr(tl_node *node, const tl_attr_def *d, double v) {
    int k = (int)(d - tl_ops[node->op].info.attrs);
    if (d->kind == TL_ATTR_FLOAT) node->fattr[k] = (float)v;
    else node->iattr[k] = (int)v;
}

static tl_status unknown_attr(tl_net *net, const tl_op_info *o, const char *nm, const char *attr) {
    char list[TL_MAX_ATTRS * (TL_NAME_LEN + 2)] = "";
    size_t k = 0;
    for (int i = 0; i < o->n_attrs && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", o->attrs[i].name);
    return tl_set_error(net, TL_ERR_VALUE, "%s '%s': no attribute '%s' (attributes: %s)", o->name, nm, attr,
                        o->n_attrs ? list : "none");
}

/* Defaults, then the attributes named in a; each checked against its row. */
static tl_status set_attrs(tl_net *net, tl_node *node, int op, const char *nm, const tl_attrs *a) {
    const tl_op_info *o = &tl_ops[op].info;
    double v[TL_MAX_ATTRS];
    int given[TL_MAX_ATTRS] = {0};
    int n = a ? a->n : 0;
    if (n < 0 || n > TL_MAX_ATTRS)
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': %d attributes given, at most %d", o->name, nm, n, TL_MAX_ATTRS);
    for (int k = 0; k < o->n_attrs; k++) v[k] = o->attrs[k].def;
    for (int i = 0; i < n; i++) {
        int k = a->names[i] ? tl_op_attr_find(op, a->names[i]) : -1;
        if (k < 0) return unknown_attr(net, o, nm, a->names[i] ? a->names[i] : "(null)");
        if (given[k]) return tl_set_error(net, TL_ERR_VALUE, "%s '%s': attribute '%s' given twice", o->name, nm, a->names[i]);
        given[k] = 1;
        v[k] = a->values[i];
    }
    for (int k = 0; k < o->n_attrs; k++) {
        const tl_attr_def *d = &o->attrs[k];
        if (isnan(d->def) && !given[k])
            return tl_set_error(net, TL_ERR_VALUE, "%s '%s': attribute '%s' (%s) is required", o->name, nm, d->name,
                                d->doc);
        tl_status st = check_attr(net, o->name, nm, d, v[k]);
        if (st) return st;
        store_attr(node, d, v[k]);
    }
    return TL_OK;
}

static tl_status add_node(tl_net *net, int op, const int *inputs, int n_inputs, const char *name,
                          const tl_attrs *attrs, const int *shape, int ndim, int *id) {
    if (op < 0 || op >= TL_OP_COUNT) return tl_set_error(net, TL_ERR_VALUE, "unknown op %d (valid: 0..%d)", op, TL_OP_COUNT - 1);
    const tl_op_def *def = &tl_ops[op];
    const char *nm = name && *name ? name : def->info.name;
    if (strlen(nm) >= TL_NAME_LEN - 8)
        return tl_set_error(net, TL_ERR_VALUE, "%s: name '%.40s...' is longer than %d characters", def->info.name, nm,
                            TL_NAME_LEN - 9);
    /* names are unique among layers and among losses (a loss may carry its output's name) */
    for (int i = 0; i < net->n_nodes; i++)
        if (tl_ops[net->nodes[i].op].info.is_loss == def->info.is_loss && !strcmp(net->nodes[i].name, nm))
            return tl_set_error(net, TL_ERR_VALUE, "%s: name '%s' is already used by node %d", def->info.name, nm, i);
    if (n_inputs < def->info.min_inputs || (def->info.max_inputs >= 0 && n_inputs > def->info.max_inputs))
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': expected %d%s inputs, got %d", def->info.name, nm,
                            def->info.min_inputs, def->info.max_inputs < 0 ? " or more" : "", n_inputs);
    for (int k = 0; k < n_inputs; k++) {
        if (inputs[k] < 0 || inputs[k] >= net->n_regular)
            return tl_set_error(net, TL_ERR_VALUE, "%s '%s': input %d is node %d, expected 0..%d (nodes exist before use)",
                                def->info.name, nm, k, inputs[k], net->n_regular - 1);
    }
    if (!grow((void **)&net->nodes, &net->cap_nodes, net->n_nodes + 1, sizeof(tl_node)))
        return tl_set_error(net, TL_ERR_NOMEM, "%s '%s': out of memory", def->info.name, nm);
    tl_node *node = &net->nodes[net->n_nodes];
    memset(node, 0, sizeof *node);
    node->op = op;
    snprintf(node->name, sizeof node->name, "%s", nm);
    if (n_inputs) {
        node->in = malloc(sizeof(int) * (size_t)n_inputs);
        if (!node->in) return tl_set_error(net, TL_ERR_NOMEM, "%s '%s': out of memory", def->info.name, nm);
        memcpy(node->in, inputs, sizeof(int) * (size_t)n_inputs);
    }
    node->n_in = n_inputs;
    node->loss_weight = 1.0f;
    node->act_into = -1;
    int n_params_before = net->n_params;
    tl_status st = set_attrs(net, node, op, nm, attrs);
    if (st == TL_OK) st = def->infer(net, node, shape, ndim);
    if (st != TL_OK) {
        free(node->in);
        node->in = NULL;
        net->n_params = n_params_before;
        return st;
    }
    if (op != TL_OP_INPUT && !def->info.is_loss && node->size > TL_INT_MAX) {
        free(node->in);
        node->in = NULL;
        net->n_params = n_params_before;
        return tl_set_error(net, TL_ERR_SHAPE, "%s '%s': %lld features per example exceed 2^31-1", def->info.name, nm,
                            (long long)node->size);
    }
    *id = net->n_nodes++;
    invalidate_plan(net);
    return TL_OK;
}

tl_status tl_net_add(tl_net *net, int op, const int *inputs, int n_inputs, const char *name, const tl_attrs *attrs,
                     const int *shape, int ndim, int *id) {
    if (net->finalized)
        return tl_set_error(net, TL_ERR_STATE, "cannot add node '%s': the network is finalized (only losses may be added)",
                            name ? name : "");
    if (op >= 0 && op < TL_OP_COUNT && tl_ops[op].info.is_loss)
        return tl_set_error(net, TL_ERR_STATE, "node '%s': losses are added with tl_net_add_loss after finalize",
                            name ? name : "");
    tl_status st = add_node(net, op, inputs, n_inputs, name, attrs, shape, ndim, id);
    if (st == TL_OK) net->n_regular = net->n_nodes;
    return st;
}

/* A shared layer: `node`, just added, uses the parameters of `source`
 * instead of its own.  Its own, the last ones declared, are dropped; the
 * backward kernels accumulate into the parameter gradients, so the gradient
 * of a shared parameter is the sum over the nodes that use it. */
tl_status tl_net_share(tl_net *net, int node, int source) {
    if (net->finalized)
        return tl_set_error(net, TL_ERR_STATE, "cannot share parameters: the network is finalized");
    if (node != net->n_nodes - 1 || node != net->n_regular - 1)
        return tl_set_error(net, TL_ERR_STATE, "share: node %d is not the last node added (%d)", node,
                            net->n_nodes - 1);
    if (source < 0 || source >= node)
        return tl_set_error(net, TL_ERR_VALUE, "share: source node %d is not an earlier node (0..%d)", source,
                            node - 1);
    tl_node *n = &net->nodes[node], *src = &net->nodes[source];
    if (n->op != src->op || n->n_param != src->n_param)
        return tl_set_error(net, TL_ERR_VALUE, "share: node '%s' (%s, %d parameters) cannot use the parameters of "
                            "'%s' (%s, %d parameters)", n->name, tl_ops[n->op].info.name, n->n_param, src->name,
                            tl_ops[src->op].info.name, src->n_param);
    for (int k = 0; k < n->n_param; k++) {
        const tl_param *a = &net->params[n->param[k]], *b = &net->params[src->param[k]];
        int same = a->ndim == b->ndim;
        for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
        if (!same) {
            char sa[64] = "", sb[64] = "";
            for (int d = 0; d < a->ndim; d++)
                snprintf(sa + strlen(sa), sizeof sa - strlen(sa), d ? ", %d" : "%d", a->shape[d]);
            for (int d = 0; d < b->ndim; d++)
                snprintf(sb + strlen(sb), sizeof sb - strlen(sb), d ? ", %d" : "%d", b->shape[d]);
            return tl_set_error(net, TL_ERR_SHAPE, "share: node '%s' would need parameter '%s' of shape (%s), but "
                                "the shared parameter '%s' has shape (%s): a shared layer must see inputs of the same "
                                "size", n->name, a->name, sa, b->name, sb);
        }
        if (n->param[k] != net->n_params - n->n_param + k)
            return tl_set_error(net, TL_ERR_STATE, "share: the parameters of node '%s' are not the last declared",
                                n->name);
    }
    net->n_params -= n->n_param;
    for (int k = 0; k < n->n_param; k++) n->param[k] = src->param[k];
    invalidate_plan(net);
    return TL_OK;
}

static void init_param(tl_net *net, int p) {
    tl_param *pr = &net->params[p];
    float *w = net->arena[TL_ARENA_VALUE] + pr->offset;
    switch (pr->init) {
    case TL_INIT_HE: {
        float s = sqrtf(2.0f / (float)pr->fan_in);
        for (int64_t i = 0; i < pr->size; i++) w[i] = s * tl_rng_normal(&net->rng);
        break;
    }
    case TL_INIT_GLOROT: {
        float a = sqrtf(6.0f / (float)(pr->fan_in + pr->fan_out));
        for (int64_t i = 0; i < pr->size; i++) w[i] = a * (2.0f * tl_rng_uniform(&net->rng) - 1.0f);
        break;
    }
    case TL_INIT_ONE:
        for (int64_t i = 0; i < pr->size; i++) w[i] = pr->fill;
        break;
    default:
        memset(w, 0, sizeof(float) * (size_t)pr->size);
    }
}

tl_status tl_net_finalize(tl_net *net) {
    if (net->finalized) return tl_set_error(net, TL_ERR_STATE, "the network is already finalized");
    if (net->n_nodes == 0) return tl_set_error(net, TL_ERR_STATE, "the network has no nodes");
    int64_t off = 0;
    for (int p = 0; p < net->n_params; p++) {
        net->params[p].offset = off;
        off += (net->params[p].size + 15) & ~(int64_t)15; /* 64-byte aligned starts */
    }
    net->arena_size = off;
    size_t n = (size_t)(off ? off : 1);
    for (int a = 0; a < TL_ARENA_COUNT; a++) {
        net->arena[a] = calloc(n, sizeof(float));
        if (!net->arena[a]) {
            for (int b = 0; b < a; b++) {
                free(net->arena[b]);
                net->arena[b] = NULL;
            }
            return tl_set_error(net, TL_ERR_NOMEM, "out of memory for %lld parameters", (long long)off);
        }
    }
    for (int64_t i = 0; i < off; i++) net->arena[TL_ARENA_MASK][i] = 1.0f;
    for (int p = 0; p < net->n_params; p++) init_param(net, p);
    memcpy(net->arena[TL_ARENA_SNAPSHOT], net->arena[TL_ARENA_VALUE], sizeof(float) * n);
    net->finalized = 1;
    return TL_OK;
}

tl_status tl_net_add_loss(tl_net *net, int op, int input, const char *name, float weight, const tl_attrs *attrs,
                          int *id) {
    if (!net->finalized) return tl_set_error(net, TL_ERR_STATE, "loss '%s': finalize the network first", name ? name : "");
    if (op < 0 || op >= TL_OP_COUNT || !tl_ops[op].info.is_loss)
        return tl_set_error(net, TL_ERR_VALUE, "loss '%s': op %d is not a loss", name ? name : "", op);
    if (!isfinite(weight) || weight < 0.0f)
        return tl_set_error(net, TL_ERR_VALUE, "loss '%s': weight must be finite and >= 0, got %g", name ? name : "",
                            (double)weight);
    tl_status st = add_node(net, op, &input, 1, name, attrs, NULL, 0, id);
    if (st == TL_OK) net->nodes[*id].loss_weight = weight;
    return st;
}

void tl_net_clear_losses(tl_net *net) {
    for (int i = net->n_regular; i < net->n_nodes; i++) free(net->nodes[i].in);
    net->n_nodes = net->n_regular;
    invalidate_plan(net);
}

/* ---- introspection ---- */

int tl_net_n_nodes(const tl_net *net) { return net->n_nodes; }
int tl_node_op(const tl_net *net, int i) { return net->nodes[i].op; }
const char *tl_node_name(const tl_net *net, int i) { return net->nodes[i].name; }
int tl_node_shape(const tl_net *net, int i, int *shape) {
    memcpy(shape, net->nodes[i].shape, sizeof(int) * TL_MAX_DIM);
    return net->nodes[i].ndim;
}
int64_t tl_node_size(const tl_net *net, int i) { return net->nodes[i].size; }
int tl_node_n_inputs(const tl_net *net, int i) { return net->nodes[i].n_in; }
int tl_node_input(const tl_net *net, int i, int k) { return net->nodes[i].in[k]; }
static const tl_attr_def *node_attr(tl_net *net, int i, const char *name) {
    if (i < 0 || i >= net->n_nodes) {
        tl_set_error(net, TL_ERR_VALUE, "no node %d (the network has %d)", i, net->n_nodes);
        return NULL;
    }
    const tl_node *node = &net->nodes[i];
    int k = name ? tl_op_attr_find(node->op, name) : -1;
    if (k < 0) {
        unknown_attr(net, &tl_ops[node->op].info, node->name, name ? name : "(null)");
        return NULL;
    }
    return &tl_ops[node->op].info.attrs[k];
}
tl_status tl_node_attr(tl_net *net, int i, const char *name, double *value) {
    const tl_attr_def *d = node_attr(net, i, name);
    if (!d) return TL_ERR_VALUE;
    int k = (int)(d - tl_ops[net->nodes[i].op].info.attrs);
    *value = d->kind == TL_ATTR_FLOAT ? (double)net->nodes[i].fattr[k] : (double)net->nodes[i].iattr[k];
    return TL_OK;
}
tl_status tl_node_set_attr(tl_net *net, int i, const char *name, double v) {
    const tl_attr_def *d = node_attr(net, i, name);
    if (!d) return TL_ERR_VALUE;
    tl_node *node = &net->nodes[i];
    const char *op = tl_ops[node->op].info.name;
    if (!d->settable)
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s': attribute '%s' is fixed when the node is built", op,
                            node->name, d->name);
    tl_status st = check_attr(net, op, node->name, d, v);
    if (st) return st;
    store_attr(node, d, v);
    return TL_OK;
}

static tl_status check_loss_node(tl_net *net, int i) {
    if (i < 0 || i >= net->n_nodes)
        return tl_set_error(net, TL_ERR_VALUE, "no node %d (the network has %d)", i, net->n_nodes);
    if (!tl_ops[net->nodes[i].op].info.is_loss)
        return tl_set_error(net, TL_ERR_VALUE, "%s '%s' (node %d) is not a loss: only a loss node has a weight",
                            tl_ops[net->nodes[i].op].info.name, net->nodes[i].name, i);
    return TL_OK;
}

static tl_status check_loss_weight(tl_net *net, int i, double w) {
    if (!(isfinite((float)w) && w >= 0.0))
        return tl_set_error(net, TL_ERR_VALUE, "loss '%s': weight must be finite and >= 0, got %g",
                            net->nodes[i].name, w);
    return TL_OK;
}

/* ---- labels of a loss ---- */

int tl_loss_n_labels(const tl_net *net, int k) {
    const tl_node *n = &net->nodes[net->n_regular + k];
    const tl_op_info *o = &tl_ops[n->op].info;
    if (o->target != TL_TARGET_INT) return 0;
    return o->n_labels ? o->n_labels : (int)net->nodes[n->in[0]].size;
}

tl_status tl_check_labels(tl_net *net, int k, const int32_t *y, int64_t n, const int64_t *index) {
    int C = tl_loss_n_labels(net, k);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = index ? index[i] : i;
        if (y[r] < -1 || y[r] >= C)
            return tl_set_error(net, TL_ERR_VALUE, "target of loss '%s': label %d at index %lld is out of range; "
                                "expected -1 (no label) or 0..%d", net->nodes[net->n_regular + k].name, (int)y[r],
                                (long long)r, C - 1);
    }
    return TL_OK;
}

tl_status tl_net_set_loss_weight(tl_net *net, int i, float w) {
    tl_status st = check_loss_node(net, i);
    if (st || (st = check_loss_weight(net, i, w))) return st;
    net->nodes[i].loss_weight = w;
    return TL_OK;
}

float tl_net_loss_weight(const tl_net *net, int i) { return net->nodes[i].loss_weight; }

/* the message of a bad value, prefixed with its place in the schedule */
static tl_status step_error(tl_net *net, tl_status st, int e, int64_t s) {
    char msg[TL_ERR_LEN], step[32] = "";
    memcpy(msg, net->err, sizeof msg);
    if (s >= 0) snprintf(step, sizeof step, ", step %lld", (long long)s);
    return tl_set_error(net, st, "schedule entry %d%s: %s", e, step, msg);
}

tl_status tl_net_check_schedule(tl_net *net, const tl_schedule *sched, int n, int64_t steps) {
    if (n < 0) return tl_set_error(net, TL_ERR_VALUE, "a schedule of %d entries", n);
    if (n && !sched) return tl_set_error(net, TL_ERR_VALUE, "%d schedule entries given as NULL", n);
    for (int e = 0; e < n; e++) {
        const tl_schedule *c = &sched[e];
        int i = c->node;
        if (i < 0 || i >= net->n_nodes)
            return tl_set_error(net, TL_ERR_VALUE, "schedule entry %d: no node %d (the network has %d)", e, i,
                                net->n_nodes);
        const tl_node *node = &net->nodes[i];
        const tl_op_info *o = &tl_ops[node->op].info;
        for (int f = 0; f < e; f++)
            if (sched[f].node == i && sched[f].attr == c->attr)
                return tl_set_error(net, TL_ERR_VALUE, "schedule entries %d and %d both set the %s of %s '%s'", f, e,
                                    c->attr == TL_ATTR_LOSS_WEIGHT ? "weight"
                                    : c->attr >= 0 && c->attr < o->n_attrs ? o->attrs[c->attr].name : "attribute",
                                    o->name, node->name);
        if (steps && !c->values)
            return tl_set_error(net, TL_ERR_VALUE, "schedule entry %d: no values for %lld steps", e, (long long)steps);
        tl_status st;
        if (c->attr == TL_ATTR_LOSS_WEIGHT) {
            if ((st = check_loss_node(net, i))) return step_error(net, st, e, -1);
            for (int64_t s = 0; s < steps; s++)
                if ((st = check_loss_weight(net, i, c->values[s])))
                    return step_error(net, st, e, s);
            continue;
        }
        if (c->attr < 0 || c->attr >= o->n_attrs)
            return tl_set_error(net, TL_ERR_VALUE, "schedule entry %d: %s '%s' has no attribute %d (it has %d)", e,
                                o->name, node->name, c->attr, o->n_attrs);
        const tl_attr_def *d = &o->attrs[c->attr];
        if (!d->settable)
            return tl_set_error(net, TL_ERR_VALUE, "schedule entry %d: %s '%s': attribute '%s' is fixed when the node "
                                "is built", e, o->name, node->name, d->name);
        for (int64_t s = 0; s < steps; s++)
            if ((st = check_attr(net, o->name, node->name, d, c->values[s])))
                return step_error(net, st, e, s);
    }
    return TL_OK;
}

void tl_net_apply_schedule(tl_net *net, const tl_schedule *sched, int n, int64_t s) {
    for (int e = 0; e < n; e++) {
        tl_node *node = &net->nodes[sched[e].node];
        if (sched[e].attr == TL_ATTR_LOSS_WEIGHT) node->loss_weight = sched[e].values[s];
        else store_attr(node, &tl_ops[node->op].info.attrs[sched[e].attr], sched[e].values[s]);
    }
}

int tl_net_n_params(const tl_net *net) { return net->n_params; }
int64_t tl_net_arena_size(const tl_net *net) { return net->arena_size; }
const char *tl_param_name(const tl_net *net, int p) { return net->params[p].name; }
int tl_param_node(const tl_net *net, int p) { return net->params[p].node; }
int tl_param_shape(const tl_net *net, int p, int *shape) {
    memcpy(shape, net->params[p].shape, sizeof(int) * TL_MAX_DIM);
    return net->params[p].ndim;
}
int64_t tl_param_offset(const tl_net *net, int p) { return net->params[p].offset; }
int64_t tl_param_size(const tl_net *net, int p) { return net->params[p].size; }
int tl_param_is_buffer(const tl_net *net, int p) { return net->params[p].buffer; }
int tl_param_find(const tl_net *net, const char *name) {
    for (int p = 0; p < net->n_params; p++)
        if (!strcmp(net->params[p].name, name)) return p;
    return -1;
}
float *tl_net_arena(tl_net *net, int which) {
    return which >= 0 && which < TL_ARENA_COUNT ? net->arena[which] : NULL;
}

/* ---- parameters ---- */

static tl_status check_param(tl_net *net, int p) {
    if (!net->finalized) return tl_set_error(net, TL_ERR_STATE, "the network is not finalized");
    if (p < 0 || p >= net->n_params)
        return tl_set_error(net, TL_ERR_VALUE, "parameter index %d out of range 0..%d", p, net->n_params - 1);
    return TL_OK;
}

tl_status tl_param_set_trainable(tl_net *net, int p, int trainable) {
    tl_status st = check_param(net, p);
    if (st) return st;
    if (net->params[p].trainable != !!trainable) {
        net->params[p].trainable = !!trainable;
        /* a frozen parameter reads a zero gradient, not the last one it had */
        if (!trainable)
            memset(net->arena[TL_ARENA_GRAD] + net->params[p].offset, 0, sizeof(float) * (size_t)net->params[p].size);
        invalidate_plan(net); /* which nodes need gradients changed */
    }
    return TL_OK;
}
int tl_param_trainable(const tl_net *net, int p) { return net->params[p].trainable; }

tl_status tl_param_set_reg(tl_net *net, int p, float l2, float l2sp, float ewc) {
    tl_status st = check_param(net, p);
    if (st) return st;
    if (!(l2 >= 0.0f && l2sp >= 0.0f && ewc >= 0.0f && isfinite(l2) && isfinite(l2sp) && isfinite(ewc)))
        return tl_set_error(net, TL_ERR_VALUE, "parameter '%s': regularizer strengths must be finite and >= 0, got "
                            "l2=%g l2sp=%g ewc=%g", net->params[p].name, (double)l2, (double)l2sp, (double)ewc);
    net->params[p].l2 = l2;
    net->params[p].l2sp = l2sp;
    net->params[p].ewc = ewc;
    return TL_OK;
}
void tl_param_get_reg(const tl_net *net, int p, float *l2, float *l2sp, float *ewc) {
    *l2 = net->params[p].l2;
    *l2sp = net->params[p].l2sp;
    *ewc = net->params[p].ewc;
}

tl_status tl_param_reset(tl_net *net, int p) {
    tl_status st = check_param(net, p);
    if (st) return st;
    init_param(net, p);
    const tl_param *pr = &net->params[p];
    memset(net->arena[TL_ARENA_M] + pr->offset, 0, sizeof(float) * (size_t)pr->size);
    memset(net->arena[TL_ARENA_V] + pr->offset, 0, sizeof(float) * (size_t)pr->size);
    return TL_OK;
}

void tl_net_snapshot(tl_net *net) {
    if (net->finalized)
        memcpy(net->arena[TL_ARENA_SNAPSHOT], net->arena[TL_ARENA_VALUE], sizeof(float) * (size_t)net->arena_size);
}

/* ---- binding data ---- */

tl_status tl_net_set_input(tl_net *net, int node, const float *data) {
    if (node < 0 || node >= net->n_nodes || net->nodes[node].op != TL_OP_INPUT)
        return tl_set_error(net, TL_ERR_VALUE, "node %d is not an input", node);
    net->nodes[node].out = data;
    return TL_OK;
}

tl_status tl_net_set_target(tl_net *net, int node, const void *data) {
    if (node < 0 || node >= net->n_nodes || !tl_ops[net->nodes[node].op].info.is_loss)
        return tl_set_error(net, TL_ERR_VALUE, "node %d is not a loss", node);
    net->nodes[node].target = data;
    return TL_OK;
}

void tl_net_set_input_grad(tl_net *net, int node, int wanted) {
    if (node >= 0 && node < net->n_nodes && net->nodes[node].op == TL_OP_INPUT && net->nodes[node].input_grad != !!wanted) {
        net->nodes[node].input_grad = !!wanted;
        invalidate_plan(net);
    }
}

const float *tl_node_output(const tl_net *net, int node) { return net->nodes[node].out; }
void tl_net_keep_output(tl_net *net, int node, int keep) { net->nodes[node].keep_out = keep != 0; }
const float *tl_node_grad(const tl_net *net, int node) {
    return net->nodes[node].bwd_fused ? NULL : net->nodes[node].dout;
}

int tl_net_n_losses(const tl_net *net) { return net->n_nodes - net->n_regular; }
int tl_net_finalized(const tl_net *net) { return net->finalized; }
int tl_net_loss_node(const tl_net *net, int k) { return net->n_regular + k; }
void tl_net_loss_stats(const tl_net *net, int k, int64_t *count, int64_t *correct) {
    const tl_node *n = &net->nodes[net->n_regular + k];
    *count = n->loss_count;
    *correct = n->loss_correct;
}

void tl_net_set_check_finite(tl_net *net, int on) { net->check_finite = !!on; }
uint64_t tl_net_rng_state(const tl_net *net) { return net->drop_rng; }
void tl_net_set_rng_state(tl_net *net, uint64_t s) { net->drop_rng = s; }
