/* net.c - networks: building, parameter arenas, planning of activation
 * buffers, forward, backward, regularizers and optimizer steps.
 *
 * Every allocation happens in tl_net_add, tl_net_finalize or tl_net_plan (the
 * latter only when the batch grows or the set of frozen parameters/losses
 * changes).  Forward, backward and steps allocate nothing. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "internal.h"
#include "blas.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

const char *const tl_optim_names[TL_OPTIM_COUNT + 1] = {"sgd", "adam", "adamw", NULL};

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

static void free_plan(tl_net *net) {
    free(net->act);
    net->act = NULL;
    net->act_floats = 0;
    net->planned_B = 0;
}

void tl_net_free(tl_net *net) {
    if (!net) return;
    for (int i = 0; i < net->n_nodes; i++) free(net->nodes[i].in);
    free(net->nodes);
    free(net->params);
    for (int a = 0; a < TL_ARENA_COUNT; a++) free(net->arena[a]);
    free_plan(net);
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
    p->trainable = 1;
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

static void store_attr(tl_node *node, const tl_attr_def *d, double v) {
    if (d->kind == TL_ATTR_FLOAT) node->fattr[d->slot] = (float)v;
    else node->iattr[d->slot] = (int)v;
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
        for (int64_t i = 0; i < pr->size; i++) w[i] = 1.0f;
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
    *value = d->kind == TL_ATTR_FLOAT ? (double)net->nodes[i].fattr[d->slot] : (double)net->nodes[i].iattr[d->slot];
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
const float *tl_node_grad(const tl_net *net, int node) { return net->nodes[node].dout; }

/* ---- planning ---- */

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

/* ---- computation ---- */

static int all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static tl_status check_bound(tl_net *net, int B, int need_targets) {
    for (int i = 0; i < net->n_nodes; i++) {
        tl_node *n = &net->nodes[i];
        if (n->op == TL_OP_INPUT && !n->out)
            return tl_set_error(net, TL_ERR_STATE, "input '%s' has no data bound", n->name);
        if (tl_ops[n->op].info.is_loss && need_targets) {
            if (!n->target) return tl_set_error(net, TL_ERR_STATE, "loss '%s' has no target bound", n->name);
            tl_status st;
            /* labels index the probabilities: the core checks them on every step (train.c words the message) */
            if (tl_ops[n->op].info.target == TL_TARGET_INT &&
                (st = tl_check_labels(net, i - net->n_regular, n->target, B, NULL)))
                return st;
        }
    }
    return TL_OK;
}

static tl_status run_forward(tl_net *net, int B, int train, int with_losses, double *losses) {
    int k = 0;
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
        } else if (net->check_finite && !all_finite(n->out, (int64_t)B * n->size)) {
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
    if ((st = check_bound(net, B, with_losses))) return st;
    return run_forward(net, B, train, with_losses, losses);
}

static void run_backward(tl_net *net, int B) {
    memset(net->act, 0, sizeof(float) * net->n_dout_floats);
    for (int p = 0; p < net->n_params; p++) {
        const tl_param *pr = &net->params[p];
        if (pr->trainable && !pr->buffer)
            memset(net->arena[TL_ARENA_GRAD] + pr->offset, 0, sizeof(float) * (size_t)pr->size);
    }
    for (int i = net->n_nodes - 1; i >= 0; i--) {
        tl_node *n = &net->nodes[i];
        if (tl_ops[n->op].info.is_loss) {
            if (n->n_in && net->nodes[n->in[0]].needs_grad) tl_ops[n->op].backward(net, n, B);
        } else if (n->needs_grad && n->op != TL_OP_INPUT) {
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

tl_status tl_net_forward_backward(tl_net *net, int B, int with_reg, double *losses, double *reg) {
    tl_status st = tl_net_plan(net, B);
    if (st) return st;
    if (net->n_nodes == net->n_regular) return tl_set_error(net, TL_ERR_STATE, "the network has no loss; compile it first");
    if ((st = check_bound(net, B, 1))) return st;
    if ((st = run_forward(net, B, 1, 1, losses))) return st;
    run_backward(net, B);
    double r = with_reg ? apply_reg(net, 1) : 0.0;
    if (reg) *reg = r;
    return TL_OK;
}

static void optim_update(tl_net *net, float lr) {
    const tl_optim_cfg *o = &net->optim;
    net->t++;
    float bc1 = 1.0f, bc2 = 1.0f;
    if (o->kind != TL_OPTIM_SGD) {
        bc1 = 1.0f - powf(o->beta1, (float)net->t);
        bc2 = 1.0f - powf(o->beta2, (float)net->t);
    }
    for (int p = 0; p < net->n_params; p++) {
        const tl_param *pr = &net->params[p];
        if (!pr->trainable || pr->buffer) continue;
        float *restrict w = net->arena[TL_ARENA_VALUE] + pr->offset;
        const float *restrict g = net->arena[TL_ARENA_GRAD] + pr->offset;
        float *restrict m = net->arena[TL_ARENA_M] + pr->offset, *restrict v = net->arena[TL_ARENA_V] + pr->offset;
        const float *restrict mask = net->arena[TL_ARENA_MASK] + pr->offset;
        int64_t N = pr->size;
        switch (o->kind) {
        case TL_OPTIM_SGD: {
            /* Every element is computed and the mask selects between the new
             * and the old value, so the loops have no branch and vectorize; a
             * frozen element (mask 0) keeps its weight and momentum bit for
             * bit whatever its gradient holds. */
            const float mu = o->momentum, wd = o->weight_decay;
            if (mu == 0.0f) {
                for (int64_t i = 0; i < N; i++) {
                    float wi = w[i], nw = wi - lr * (g[i] + wd * wi);
                    float ow = mask[i] != 0.0f ? nw : wi;
                    w[i] = ow;
                }
            } else if (!o->nesterov) {
                for (int64_t i = 0; i < N; i++) {
                    float wi = w[i], mi = m[i], nm = mu * mi + (g[i] + wd * wi);
                    float nw = wi - lr * nm;
                    int on = mask[i] != 0.0f;
                    float om = on ? nm : mi, ow = on ? nw : wi; /* selected, then stored: vectorizes */
                    m[i] = om;
                    w[i] = ow;
                }
            } else {
                for (int64_t i = 0; i < N; i++) {
                    float wi = w[i], mi = m[i], gi = g[i] + wd * wi, nm = mu * mi + gi;
                    float nw = wi - lr * (gi + mu * nm);
                    int on = mask[i] != 0.0f;
                    float om = on ? nm : mi, ow = on ? nw : wi;
                    m[i] = om;
                    w[i] = ow;
                }
            }
            break;
        }
        case TL_OPTIM_COUNT: /* refused by tl_net_set_optim */
            break;
        case TL_OPTIM_ADAM:
        case TL_OPTIM_ADAMW: {
            const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
            const float wd = o->weight_decay, step = lr / bc1, isq = 1.0f / sqrtf(bc2);
            const float cwd = o->kind == TL_OPTIM_ADAMW ? 0.0f : wd;      /* coupled: into the gradient */
            const float dwd = o->kind == TL_OPTIM_ADAMW ? lr * wd : 0.0f; /* decoupled: on the weight */
            for (int64_t i = 0; i < N; i++) {
                float wi = w[i], mi = m[i], vi = v[i];
                float gi = g[i] + cwd * wi;
                float nw = wi - dwd * wi;
                float nm = b1 * mi + (1.0f - b1) * gi;
                float nv = b2 * vi + (1.0f - b2) * gi * gi;
                nw -= step * nm / (sqrtf(nv) * isq + eps);
                int on = mask[i] != 0.0f;
                float om = on ? nm : mi, ov = on ? nv : vi, ow = on ? nw : wi;
                m[i] = om;
                v[i] = ov;
                w[i] = ow;
            }
            break;
        }
        }
    }
}

tl_status tl_net_train_step(tl_net *net, int B, float lr, double *losses, double *reg) {
    if (!net->optim_set) return tl_set_error(net, TL_ERR_STATE, "no optimizer set; compile the network first");
    if (!isfinite(lr) || lr < 0.0f) return tl_set_error(net, TL_ERR_VALUE, "learning rate must be finite and >= 0, got %g", (double)lr);
    tl_status st = tl_net_forward_backward(net, B, 1, losses, reg);
    if (st) return st;
    if (net->check_finite) {
        for (int p = 0; p < net->n_params; p++) {
            const tl_param *pr = &net->params[p];
            if (pr->trainable && !pr->buffer && !all_finite(net->arena[TL_ARENA_GRAD] + pr->offset, pr->size))
                return tl_set_error(net, TL_ERR_NONFINITE, "gradient of '%s' holds NaN or infinity; weights left unchanged",
                                    pr->name);
        }
    }
    optim_update(net, lr);
    return TL_OK;
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

int tl_net_n_losses(const tl_net *net) { return net->n_nodes - net->n_regular; }
int tl_net_finalized(const tl_net *net) { return net->finalized; }
int tl_net_loss_node(const tl_net *net, int k) { return net->n_regular + k; }
void tl_net_loss_stats(const tl_net *net, int k, int64_t *count, int64_t *correct) {
    const tl_node *n = &net->nodes[net->n_regular + k];
    *count = n->loss_count;
    *correct = n->loss_correct;
}

tl_status tl_net_set_optim(tl_net *net, const tl_optim_cfg *cfg) {
    if (cfg->kind < TL_OPTIM_SGD || cfg->kind >= TL_OPTIM_COUNT)
        return tl_set_error(net, TL_ERR_VALUE, "unknown optimizer %d", (int)cfg->kind);
    if (!(cfg->momentum >= 0.0f && cfg->momentum < 1.0f))
        return tl_set_error(net, TL_ERR_VALUE, "momentum must be in [0, 1), got %g", (double)cfg->momentum);
    if (cfg->nesterov && cfg->momentum == 0.0f)
        return tl_set_error(net, TL_ERR_VALUE, "Nesterov momentum needs momentum > 0");
    if (!(cfg->weight_decay >= 0.0f) || !isfinite(cfg->weight_decay))
        return tl_set_error(net, TL_ERR_VALUE, "weight decay must be finite and >= 0, got %g", (double)cfg->weight_decay);
    if (cfg->kind != TL_OPTIM_SGD &&
        !(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f && cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f && cfg->eps > 0.0f))
        return tl_set_error(net, TL_ERR_VALUE, "Adam needs 0 <= beta1, beta2 < 1 and eps > 0, got %g, %g, %g",
                            (double)cfg->beta1, (double)cfg->beta2, (double)cfg->eps);
    net->optim = *cfg;
    net->optim_set = 1;
    return TL_OK;
}

void tl_net_reset_optim(tl_net *net) {
    if (!net->finalized) return;
    memset(net->arena[TL_ARENA_M], 0, sizeof(float) * (size_t)net->arena_size);
    memset(net->arena[TL_ARENA_V], 0, sizeof(float) * (size_t)net->arena_size);
    net->t = 0;
}
int64_t tl_net_optim_steps(const tl_net *net) { return net->t; }
void tl_net_set_optim_steps(tl_net *net, int64_t t) { net->t = t; }
void tl_net_set_check_finite(tl_net *net, int on) { net->check_finite = !!on; }
void tl_net_seed_dropout(tl_net *net, uint64_t seed) { net->drop_rng = seed; }
uint64_t tl_net_rng_state(const tl_net *net) { return net->drop_rng; }
void tl_net_set_rng_state(tl_net *net, uint64_t s) { net->drop_rng = s; }

int tl_sgemm_probe(int M, int N, int K, int reps, double *secs) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N),
          *c = malloc(sizeof(float) * (size_t)M * N);
    if (!a || !b || !c) {
        free(a); free(b); free(c);
        return 1;
    }
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    tl_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N); /* warm up */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < reps; r++)
        tl_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    free(a); free(b); free(c);
    return 0;
}
