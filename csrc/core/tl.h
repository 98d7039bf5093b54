/* tl.h - the tlearn C core: networks as DAGs of nodes, flat parameter
 * arenas, freezing masks, regularizers, losses and optimizers.
 *
 * Pure C11 + CBLAS; never includes Python.h.  Every fallible function returns
 * a tl_status and writes a message naming the node and the numbers into the
 * network's error buffer (tl_net_error).  Nothing here prints, exits or
 * aborts.
 *
 * Life of a network:
 *   tl_net_create -> tl_net_add (nodes, in topological order) ->
 *   tl_net_finalize (parameter arenas laid out and initialised) ->
 *   tl_net_add_loss (any time after finalize; tl_net_clear_losses removes them) ->
 *   tl_net_set_input / tl_net_set_target -> tl_net_train_step / tl_net_forward.
 * The batch size may change from call to call: activation buffers are
 * re-planned when a larger batch arrives, parameter arenas never move.
 */
#ifndef TL_H
#define TL_H

#include <stddef.h>
#include <stdint.h>

#define TL_MAX_DIM 4      /* per-example shape rank (C, H, W) fits */
#define TL_MAX_PARAMS 4   /* parameters per node */
#define TL_NAME_LEN 64
#define TL_ERR_LEN 512
#define TL_MAX_ATTRS 8    /* named attributes per op */
#define TL_MAX_INPUTS 256 /* inputs of one node */
#define TL_MAX_LOSSES 64  /* loss nodes of one network */
#define TL_MAX_THREADS 8  /* threads of the core's pool */
#define TL_INT_MAX 2147483647 /* sizes the core counts in C ints: 2^31 - 1 */

typedef enum tl_status {
    TL_OK = 0,
    TL_ERR_SHAPE,     /* shapes do not agree */
    TL_ERR_VALUE,     /* bad argument value */
    TL_ERR_NOMEM,     /* allocation failed */
    TL_ERR_STATE,     /* call in the wrong order */
    TL_ERR_NONFINITE, /* NaN or infinity met with check_finite on */
    TL_ERR_INDEX,     /* a row number outside the data */
    TL_ERR_COUNT
} tl_status;

/* The ops, one id per row of the op table (ops.def), in its order: TL_OP_INPUT, TL_OP_DENSE, ...,
 * the losses after the other ops.  The binding names ops by name (tl_op_find) and a saved model its
 * layers by class: no id is saved, so a row added anywhere renumbers nothing a file holds. */
typedef enum tl_op {
#define TL_OP(ID, ...) TL_OP_##ID,
#define TL_OP_MAP(ID, ...) TL_OP_##ID,
#include "ops.def"
    TL_OP_COUNT
} tl_op;

typedef enum tl_target_kind { TL_TARGET_NONE = 0, TL_TARGET_INT, TL_TARGET_FLOAT } tl_target_kind;

typedef enum tl_init { TL_INIT_HE = 0, TL_INIT_GLOROT, TL_INIT_ZERO, TL_INIT_ONE, TL_INIT_COUNT } tl_init;
extern const char *const tl_init_names[TL_INIT_COUNT + 1]; /* "he", "glorot", "zeros", "ones", NULL */

typedef enum tl_optim { TL_OPTIM_SGD = 0, TL_OPTIM_ADAM, TL_OPTIM_ADAMW, TL_OPTIM_COUNT } tl_optim;

/* A named attribute of an op.  INT, BOOL and CHOICE values are stored as
 * the node's integer attributes, FLOAT values as its float attributes, each
 * at the attribute's index in its row; the glue reads them there by the
 * slot names the row gives them (<OP>_<ATTR>, internal.h). */
typedef enum tl_attr_kind { TL_ATTR_INT = 0, TL_ATTR_BOOL, TL_ATTR_CHOICE, TL_ATTR_FLOAT } tl_attr_kind;

typedef struct tl_attr_def {
    const char *name;
    tl_attr_kind kind;
    double def;                  /* default */
    double lo, hi;               /* limits checked by tl_net_add (FLOAT: also finite) */
    int lo_open, hi_open;        /* lo < v (not <=), v < hi (not <=) */
    const char *must;            /* the limits in words ("positive", "in [0, 1)"); NULL: the op's
                                  * shape inference checks this attribute with others */
    int settable;                /* may change between steps (tl_node_set_attr, schedules) */
    const char *const *choices;  /* CHOICE: names of the values 0, 1, ... (NULL-terminated) */
    const char *doc;
    const char *pair;            /* half of an (H, W) pair a layer takes as one argument of this name
                                  * ("kernel_size" for kh and kw); NULL: an argument of its own */
} tl_attr_def;

/* A parameter an op declares: "<node>.<name>". */
typedef struct tl_param_def {
    const char *name;
    int buffer;                  /* running statistics, saved but never trained */
    const char *when;            /* the BOOL attribute that must be 1 for it to exist; NULL: always */
} tl_param_def;

/* One row of the op table, for introspection by the binding and the tests. */
typedef struct tl_op_info {
    const char *name;
    int min_inputs, max_inputs; /* max_inputs < 0: any number */
    int is_loss;
    tl_target_kind target;      /* for losses */
    int classification;         /* losses that count correct predictions (tl_net_loss_stats) */
    int n_attrs;                /* counted by the row (ops.def) */
    tl_attr_def attrs[TL_MAX_ATTRS];
    int n_params;               /* counted from params by the row */
    tl_param_def params[TL_MAX_PARAMS];
    const char *doc;
    int n_labels;               /* TL_TARGET_INT: labels 0..n_labels-1 (0: one per feature of the input) */
} tl_op_info;

typedef struct tl_net tl_net;

const tl_op_info *tl_op_get(int op);
int tl_op_find(const char *name);                          /* op index, or -1 */
int tl_op_attr_find(int op, const char *name);             /* attribute index in the row, or -1 */

/* --- building --- */
tl_status tl_net_create(tl_net **out, uint64_t seed);
void tl_net_free(tl_net *net);
const char *tl_net_error(const tl_net *net);

/* Attributes by name: n values; an attribute not named takes its default.
 * An unknown name, a repeated one or a value outside the row's limits is an error. */
typedef struct tl_attrs {
    int n;
    const char *names[TL_MAX_ATTRS];
    double values[TL_MAX_ATTRS];
} tl_attrs;

/* Append a node.  attrs may be NULL (all defaults).  shape/ndim only for
 * TL_OP_INPUT (per-example shape) and TL_OP_RESHAPE (target shape, one entry
 * may be -1).  Returns its index in *id. */
tl_status tl_net_add(tl_net *net, int op, const int *inputs, int n_inputs, const char *name,
                     const tl_attrs *attrs, const int *shape, int ndim, int *id);
/* Make `node`, the node just added, use the parameters of the earlier node
 * `source` (same op, same parameter shapes): a shared layer.  Gradients of a
 * shared parameter sum over its nodes; freezing, masks and regularizers are
 * the parameter's, so they apply to every use. */
tl_status tl_net_share(tl_net *net, int node, int source);
/* Lay out and initialise the parameter arenas.  No more non-loss nodes after this. */
tl_status tl_net_finalize(tl_net *net);
/* Append a loss node on `input` with weight `weight`. */
tl_status tl_net_add_loss(tl_net *net, int op, int input, const char *name, float weight,
                          const tl_attrs *attrs, int *id);
void tl_net_clear_losses(tl_net *net);

/* --- introspection --- */
int tl_net_finalized(const tl_net *net);
int tl_net_n_nodes(const tl_net *net);
int tl_node_op(const tl_net *net, int node);
const char *tl_node_name(const tl_net *net, int node);
int tl_node_shape(const tl_net *net, int node, int *shape); /* returns ndim */
int64_t tl_node_size(const tl_net *net, int node);         /* per-example elements */
int tl_node_n_inputs(const tl_net *net, int node);
int tl_node_input(const tl_net *net, int node, int k);
/* attribute `name` of a node (its value as a double); set only settable ones */
tl_status tl_node_attr(tl_net *net, int node, const char *name, double *value);
tl_status tl_node_set_attr(tl_net *net, int node, const char *name, double value);
/* the weight of a loss node (finite, >= 0) in the sum the backward differentiates */
tl_status tl_net_set_loss_weight(tl_net *net, int loss_node, float weight);
float tl_net_loss_weight(const tl_net *net, int loss_node);

/* A per-step schedule of one settable value: before step s of a run the core
 * sets attribute `attr` of `node` (its index in the op row, tl_op_attr_find;
 * the attribute must be settable) or, with attr = TL_ATTR_LOSS_WEIGHT, the
 * weight of the loss node `node`, to values[s].  values: one per step. */
#define TL_ATTR_LOSS_WEIGHT (-2) /* not -1, tl_op_attr_find's answer to an unknown name */
typedef struct tl_schedule {
    int node;
    int attr;
    const float *values;
} tl_schedule;
/* Every entry of n against a run of `steps` steps: the node, the attribute
 * settable, every value within its limits (as tl_node_set_attr checks). */
tl_status tl_net_check_schedule(tl_net *net, const tl_schedule *sched, int n, int64_t steps);
/* Set the values of step s (entries checked by tl_net_check_schedule). */
void tl_net_apply_schedule(tl_net *net, const tl_schedule *sched, int n, int64_t s);

int tl_net_n_params(const tl_net *net);
int64_t tl_net_arena_size(const tl_net *net);
const char *tl_param_name(const tl_net *net, int p);
int tl_param_node(const tl_net *net, int p);
int tl_param_shape(const tl_net *net, int p, int *shape); /* returns ndim */
int64_t tl_param_offset(const tl_net *net, int p);
int64_t tl_param_size(const tl_net *net, int p);
int tl_param_find(const tl_net *net, const char *name);
int tl_param_is_buffer(const tl_net *net, int p); /* running statistics: not trained */

/* The arenas (same layout, tl_net_arena_size floats each). */
enum tl_arena { TL_ARENA_VALUE = 0, TL_ARENA_GRAD, TL_ARENA_MASK, TL_ARENA_SNAPSHOT,
                TL_ARENA_FISHER, TL_ARENA_M, TL_ARENA_V, TL_ARENA_COUNT };
/* the arenas' names, by which the binding and tlearn address them */
extern const char *const tl_arena_names[TL_ARENA_COUNT + 1]; /* "value", "grad", ..., NULL */
float *tl_net_arena(tl_net *net, int which);

/* --- parameters: freezing, regularizers, initialisation --- */
tl_status tl_param_set_trainable(tl_net *net, int p, int trainable);
int tl_param_trainable(const tl_net *net, int p);
/* Regularizer strengths on parameter p: l2 (weight decay in the loss),
 * l2sp (alpha/2 |w - w0|^2), ewc (lambda/2 sum F (w - w0)^2). */
tl_status tl_param_set_reg(tl_net *net, int p, float l2, float l2sp, float ewc);
void tl_param_get_reg(const tl_net *net, int p, float *l2, float *l2sp, float *ewc);
tl_status tl_param_reset(tl_net *net, int p); /* re-initialise with the net's RNG */
void tl_net_snapshot(tl_net *net);           /* snapshot := values */

/* --- data binding (pointers must stay valid for the next call) --- */
tl_status tl_net_set_input(tl_net *net, int node, const float *data);
tl_status tl_net_set_target(tl_net *net, int loss_node, const void *data);
void tl_net_set_input_grad(tl_net *net, int node, int wanted); /* gradient w.r.t. an input */
/* (B, size) after forward.  A conv2d read by nothing but the relu / leaky_relu
 * fused into it (plan.c) stores no output of its own unless the caller asked
 * for it with tl_net_keep_output before the forward. */
const float *tl_node_output(const tl_net *net, int node);
void tl_net_keep_output(tl_net *net, int node, int keep);
const float *tl_node_grad(const tl_net *net, int node);       /* (B, size) after backward or NULL */

/* --- computation --- */
typedef struct tl_optim_cfg {
    tl_optim kind;
    float momentum;      /* SGD */
    int nesterov;        /* SGD */
    float weight_decay;  /* SGD: added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps; /* Adam */
} tl_optim_cfg;

/* One row per optimizer kind: its name and its default hyper-parameters, the
 * one place they are given (the binding and tlearn.optim read them here).
 * SGD uses momentum, nesterov and weight_decay; Adam and AdamW beta1, beta2,
 * eps and weight_decay. */
typedef struct tl_optim_def {
    const char *name;
    double momentum;
    int nesterov;
    double weight_decay, beta1, beta2, eps;
} tl_optim_def;
extern const tl_optim_def tl_optims[TL_OPTIM_COUNT];
tl_optim_cfg tl_optim_defaults(tl_optim kind); /* kind with the defaults of its row */
tl_status tl_net_set_optim(tl_net *net, const tl_optim_cfg *cfg);
void tl_net_reset_optim(tl_net *net); /* zero moments and step count */
int64_t tl_net_optim_steps(const tl_net *net);
void tl_net_set_optim_steps(tl_net *net, int64_t t);
void tl_net_set_check_finite(tl_net *net, int on);
uint64_t tl_net_rng_state(const tl_net *net);
void tl_net_set_rng_state(tl_net *net, uint64_t s);

/* Plan buffers for batch size B (allocates only when B grows). */
tl_status tl_net_plan(tl_net *net, int B);
/* Forward pass over B examples; train=1 enables dropout/batch statistics.
 * Computes the loss nodes whose targets are set; losses[i] receives the value
 * of the i-th loss node (unweighted), if losses is not NULL. */
tl_status tl_net_forward(tl_net *net, int B, int train, double *losses);
/* Forward + backward, gradients left in the GRAD arena (no optimizer step).
 * Regularizer gradients are included when with_reg. */
tl_status tl_net_forward_backward(tl_net *net, int B, int with_reg, double *losses, double *reg);
/* One training step: forward, losses, backward, regularizers, masks, update. */
tl_status tl_net_train_step(tl_net *net, int B, float lr, double *losses, double *reg);
/* Fisher diagonal: FISHER += grad^2 * scale after a forward/backward on the bound batch. */
tl_status tl_net_accumulate_fisher(tl_net *net, int B, float scale);
int tl_net_n_losses(const tl_net *net);
int tl_net_loss_node(const tl_net *net, int k);
/* Labelled entries of the k-th loss in the last forward, and how many of them
 * the prediction got right (argmax for softmax_ce, sign for sigmoid_bce; 0 otherwise). */
void tl_net_loss_stats(const tl_net *net, int k, int64_t *count, int64_t *correct);
double tl_net_reg_value(const tl_net *net); /* current value of the regularizers */

/* --- runs of steps over the caller's arrays (train.c) --- */
/* A data set: `rows` rows in each array.  inputs: one per input node, in node
 * order, rows x the node's size floats; targets: one per loss, in loss order,
 * int32 labels (rows) or float32 values (rows x the loss input's size); NULL
 * when no loss is computed. */
typedef struct tl_data {
    int64_t rows;
    const float *const *inputs;
    const void *const *targets;
} tl_data;

/* One loss in one step: its value (mean over labelled entries), the labelled
 * entries and, for classification losses, how many were predicted right. */
typedef struct tl_loss_result {
    double loss;
    int64_t count, correct;
} tl_loss_result;

typedef struct tl_step_result {
    double reg;                           /* the regularizers' value */
    tl_loss_result loss[TL_MAX_LOSSES];   /* the first tl_net_n_losses entries */
} tl_step_result;

int tl_net_n_inputs(const tl_net *net);
/* The one check of a caller's data, on rows index[0..n) (index NULL: rows
 * 0..n-1): every input finite, every class label -1 or in range, every index
 * a row.  The error names the input or loss and the row. */
tl_status tl_net_check_data(tl_net *net, const tl_data *data, const int64_t *index, int64_t n);
/* `steps` training steps, step s on rows [s bs, (s+1) bs) of the n rows
 * (through index when not NULL: a shuffled epoch needs no copy of the data),
 * at learning rate lrs[s], after the n_sched schedules set their values of
 * step s (checked before the first step; after the run the scheduled values
 * are those of the last step begun); res[s] receives its results.  The index and the
 * labels of the n rows are checked before the first step; the inputs of a
 * batch before its step (a non-finite one ends the run there: the steps
 * before it stand; check all with tl_net_check_data first to change nothing).
 * *done: the steps that ran.  Nothing stays bound. */
tl_status tl_net_train_batches(tl_net *net, const tl_data *data, const int64_t *index, int64_t n, int batch_size,
                               const float *lrs, const tl_schedule *sched, int n_sched, int64_t steps,
                               tl_step_result *res, int64_t *done);

/* sgemm peak probe for benchmarks: returns 0 on success, seconds in *secs. */
int tl_sgemm_probe(int M, int N, int K, int reps, double *secs);

/* Threads of the core's own pool, which runs everything: conv chunks, GEMM
 * blocks (OpenBLAS itself on one thread, blas.h), the loops around them.  Process-wide.
 * Default: the CPUs this process may run on (at most TL_MAX_THREADS); 1 = serial.
 * Returns the value in effect. */
int tl_set_num_threads(int n);
int tl_num_threads(void);

#endif
