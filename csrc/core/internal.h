/* internal.h - structures shared by the core's translation units.
 * Not part of the public API (tl.h is). */
#ifndef TL_INTERNAL_H
#define TL_INTERNAL_H

#include "tl.h"
#include "conv.h"

typedef struct tl_node {
    int op;
    int n_in;
    int *in;                      /* (n_in) input node indices */
    char name[TL_NAME_LEN];
    int ndim;
    int shape[TL_MAX_DIM];        /* per-example output shape */
    int64_t size;                 /* per-example output elements */
    int iattr[TL_MAX_ATTRS];      /* attribute k of the row (int, bool, choice) at k */
    float fattr[TL_MAX_ATTRS];    /* attribute k of the row (float) at k */
    int n_param;
    int param[TL_MAX_PARAMS];     /* indices into net->params */
    float loss_weight;            /* loss nodes */
    /* planned per compile/plan */
    int needs_grad;               /* some trainable parameter or wanted input lies upstream */
    int input_grad;               /* input node whose gradient the caller wants */
    unsigned assign_in;           /* bit k: this node's backward is the only writer of input k's gradient and
                                     overwrites it (the executor does not zero it) */
    int assign_grads;             /* this node's backward is the only writer of its trainable parameters'
                                     gradients and overwrites them */
    int zero_dout;                /* the executor zeroes dout before the backward (several or no writers) */
    const float *out;             /* (B, size); inputs point at caller data */
    float *dout;                  /* (B, size) or NULL when no gradient flows here */
    float *aux;                   /* op scratch (B, aux_size): softmax probs, dropout mask */
    int64_t aux_size;             /* per-example scratch elements */
    const void *target;           /* loss nodes: (B, ...) labels or targets */
    double loss;                  /* last loss value (unweighted) */
    int64_t loss_count;           /* labelled entries in the last forward */
    int64_t loss_correct;         /* of which predicted right (classification losses) */
    float *owned_out;             /* buffer owned by the net (NULL for inputs/reshape views) */
    /* planned: a conv2d's forward also writes the output of the relu / leaky_relu node act_into
     * (-1: none), whose own forward then does nothing (act_done); out_elided: and none of its own,
     * nothing else reading it (plan.c) */
    int act_into;
    int act_done;
    int out_elided;
    int keep_out;                 /* the caller reads this output (tl_net_keep_output): never elided */
    /* planned: a maxpool2d's backward also does the backward of the relu / leaky_relu node pool_gate
     * (-1: none) it reads, which then has no backward (bwd_fused) nor gradient of its own (plan.c) */
    int pool_gate;
    int bwd_fused;
    /* batchnorm: the last forward normalised with the running statistics (a frozen layer in a
     * training step, ops.c); its backward treats them as constants */
    int bn_frozen;
} tl_node;

typedef struct tl_param {
    char name[TL_NAME_LEN + 16];  /* "<node>.<suffix>" */
    int node;
    int ndim;
    int shape[TL_MAX_DIM];
    int64_t offset, size;
    int fan_in, fan_out;
    int init;                     /* tl_init */
    float fill;                   /* TL_INIT_ONE's value: 1, or the op's own (scale's "init") */
    int trainable;
    int buffer;                   /* running statistics, never touched by the optimizer */
    float l2, l2sp, ewc;
    int zero_grad;                /* planned: the executor zeroes the gradient before the backward */
} tl_param;

struct tl_net {
    tl_node *nodes;
    int n_nodes, cap_nodes;
    int n_regular;                /* nodes before the first loss node */
    tl_param *params;
    int n_params, cap_params;
    int finalized;
    int64_t arena_size;
    float *arena[TL_ARENA_COUNT];
    /* planning */
    int planned_B;
    float *act;                   /* one slab for outputs, grads and scratch */
    size_t act_floats;
    size_t n_dout_floats;         /* the gradient part at the start of act */
    /* optimizer */
    tl_optim_cfg optim;
    int optim_set;
    int64_t t;
    int check_finite;
    uint64_t rng;                 /* parameter initialisation */
    uint64_t drop_rng;            /* dropout masks */
    char err[TL_ERR_LEN];
};

tl_status tl_set_error(tl_net *net, tl_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* run_forward's train flag in a training step (forward_backward, train_step, Fisher): training
 * as 1, and a BatchNorm whose gamma and beta are both frozen runs in inference mode (ops.c).
 * tl_net_forward's caller passes 0 (evaluation) or 1 (training: every BatchNorm on the batch,
 * as AdaBN's re-estimation needs). */
#define TL_TRAIN_STEP 2

/* op table rows */
typedef enum tl_view {
    TL_VIEW_NONE = 0, /* owns its output and gradient buffers */
    TL_VIEW_OUT,      /* output is input 0's output; owns its gradient */
    TL_VIEW_ALL       /* output and gradient are input 0's (reshape) */
} tl_view;

/* The kernel pair of an elementwise op (TL_OP_MAP in ops.def): y = f(x) over N elements, and
 * dx += dy f'(x) given x and y. */
typedef struct tl_map_kernels {
    void (*forward)(float *out, const float *inp, int64_t N);
    void (*backward)(float *dinp, const float *dout, const float *inp, const float *out, int64_t N);
} tl_map_kernels;

typedef struct tl_op_def {
    tl_op_info info;
    tl_view view;
    /* shape inference and parameter declaration; called by tl_net_add */
    tl_status (*infer)(tl_net *net, tl_node *node, const int *shape, int ndim);
    /* scratch per example (0 if none) */
    int64_t (*aux_size)(const tl_net *net, const tl_node *node);
    void (*forward)(tl_net *net, tl_node *node, int B, int train);
    /* accumulate into inputs' dout (where non-NULL) and parameter grads (where trainable) */
    void (*backward)(tl_net *net, tl_node *node, int B);
    /* scratch per node, independent of the batch, after the B rows of aux (0 if none) */
    int64_t (*aux_once)(const tl_net *net, const tl_node *node);
    /* the backward honours node->assign_in and node->assign_grads: where the
     * planner says it is the only writer it overwrites instead of adding, so
     * that the executor need not zero the buffer first */
    int assigns;
    /* an elementwise op's kernels, called by its forward and backward (fwd_map, bwd_map in ops.c) */
    tl_map_kernels map;
} tl_op_def;

extern const tl_op_def tl_ops[]; /* TL_OP_COUNT rows, checked in ops.c */

/* Each op's attribute slots from its row (ops.def): enum { DENSE_UNITS, DENSE_INIT, DENSE_USE_BIAS,
 * DENSE_N_ATTRS }, the index of each attribute in the row, where tl_net_add stores its value
 * (node->iattr for int, bool and choice, node->fattr for float). */
#define TL_OP(ID, nm, attrs, ...) enum { attrs ID##_N_ATTRS };
#define TL_OP_MAP(ID, ...)
#define TL_ATTRS(...) __VA_ARGS__,
#define TL_NO_ATTRS
#define TL_ATTR(slot, ...) slot
#include "ops.def"

/* class labels of the k-th loss: -1 or 0..tl_loss_n_labels-1 (net.c); the error names the loss and the row */
int tl_loss_n_labels(const tl_net *net, int k);
tl_status tl_check_labels(tl_net *net, int k, const int32_t *y, int64_t n, const int64_t *index);
/* tl_net_train_step, with check_labels 0 when the caller has checked the bound labels (a run of
 * train.c checks all its rows before its first step) (exec.c) */
tl_status tl_net_step(tl_net *net, int B, float lr, double *losses, double *reg, int check_labels);

/* helpers for op rows */
tl_status tl_declare_param(tl_net *net, tl_node *node, const char *suffix, const int *shape, int ndim,
                           int fan_in, int fan_out, int init);
static inline tl_node *tl_in(tl_net *net, const tl_node *node, int k) { return &net->nodes[node->in[k]]; }
/* the geometry of a conv2d or pooling node (ops.c) */
void tl_node_geom(tl_net *net, const tl_node *node, tl_conv_geom *g);
static inline float *tl_pval(tl_net *net, const tl_node *node, int k) {
    return net->arena[TL_ARENA_VALUE] + net->params[node->param[k]].offset;
}
/* gradient of parameter k of node, or NULL when it is frozen (no work wanted) */
static inline float *tl_pgrad(tl_net *net, const tl_node *node, int k) {
    const tl_param *p = &net->params[node->param[k]];
    return p->trainable && !p->buffer ? net->arena[TL_ARENA_GRAD] + p->offset : NULL;
}

/* planning (plan.c): frees the slab; net.c calls it when the network goes */
void tl_plan_free(tl_net *net);
/* the activations fused into convolutions and the outputs elided (plan.c); exec.c before each forward */
void tl_plan_fusion(tl_net *net);
/* one update of the configured optimizer with learning rate lr (optim.c) */
void tl_optim_update(tl_net *net, float lr);

/* RNG: splitmix64 state, uniform [0,1) float and standard normal */
uint64_t tl_rng_next(uint64_t *s);
float tl_rng_uniform(uint64_t *s);
float tl_rng_normal(uint64_t *s);

#endif
