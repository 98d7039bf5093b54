/* train.c - data checks and runs of training steps over arrays the caller
 * holds: the batches of a run, rows gathered through an index (a shuffled
 * epoch without a copy of the data set), and the per-step results of each
 * loss (value, labelled entries, correct predictions).
 *
 * tl_net_check_data is the one check of a caller's data: every input finite,
 * every class label in range, every index a row.  tl_net_train_batches checks
 * the index and the labels of all its rows once, before the first step, and the
 * inputs of each batch as it gathers them (while they are in cache), before
 * the batch's step; its steps do not check the labels again.  Both passes
 * over rows run in parts on the core's pool (rows_on_pool), which shortens a
 * step a little (bench/README.md, "Rows gathered on the pool"). */
#include "internal.h"
#include "threadpool.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The k-th input node (in node order), or -1. */
static int input_node(const tl_net *net, int k) {
    for (int i = 0; i < net->n_regular; i++)
        if (net->nodes[i].op == TL_OP_INPUT && k-- == 0) return i;
    return -1;
}

int tl_net_n_inputs(const tl_net *net) {
    int n = 0;
    for (int i = 0; i < net->n_regular; i++) n += net->nodes[i].op == TL_OP_INPUT;
    return n;
}

/* Whether all n floats are finite: the exponent bits of NaN and infinity are
 * all ones; an OR over the rows vectorizes where isfinite would branch. */
static int row_finite(const float *x, int64_t n) {
    uint32_t bad = 0;
    for (int64_t j = 0; j < n; j++) {
        uint32_t u;
        memcpy(&u, x + j, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

/* Rows start .. start + n - 1 of an array (through index when given: rows
 * index[start + i]) of rb bytes each, copied to dst (when not NULL) and, when
 * `check` is set, checked finite (the copy, while it is in cache), in parts on
 * the core's pool: a batch's gather is a pass over scattered rows that one
 * thread would otherwise make while the other waits for the step's first
 * GEMM.  Returns the lowest i whose row is not finite, or n; the parts
 * above a bad row may stop early, since the caller then runs no step. */
typedef struct {
    char *dst;
    const char *src;
    const int64_t *index;
    int64_t start;
    size_t rb;
    int check;
    _Atomic int64_t first_bad;
} rows_job;

static void rows_range(void *ctx, int64_t lo, int64_t hi) {
    rows_job *j = ctx;
    for (int64_t i = lo; i < hi; i++) {
        int64_t r = j->index ? j->index[j->start + i] : j->start + i;
        const char *row = j->src + (size_t)r * j->rb;
        if (j->dst) {
            memcpy(j->dst + (size_t)i * j->rb, row, j->rb);
            row = j->dst + (size_t)i * j->rb;
        }
        if (j->check && !row_finite((const float *)row, (int64_t)(j->rb / sizeof(float)))) {
            int64_t cur = atomic_load_explicit(&j->first_bad, memory_order_relaxed);
            while (i < cur && !atomic_compare_exchange_weak_explicit(&j->first_bad, &cur, i, memory_order_relaxed,
                                                                     memory_order_relaxed)) {
            }
            return;
        }
    }
}

static int64_t rows_on_pool(char *dst, const char *src, const int64_t *index, int64_t start, int64_t n, size_t rb,
                            int check) {
    rows_job j = {dst, src, index, start, rb, check, n};
    tl_parallel_for(n, tl_grain_of((int64_t)(rb / sizeof(float))), rows_range, &j);
    return atomic_load_explicit(&j.first_bad, memory_order_relaxed);
}

static tl_status check_rows(tl_net *net, const tl_data *d, const int64_t *index, int64_t n) {
    if (n < 0 || d->rows < 0) return tl_set_error(net, TL_ERR_VALUE, "negative row count");
    if (index)
        for (int64_t i = 0; i < n; i++)
            if (index[i] < 0 || index[i] >= d->rows)
                return tl_set_error(net, TL_ERR_INDEX, "index[%lld] = %lld is out of range for %lld examples",
                                    (long long)i, (long long)index[i], (long long)d->rows);
    if (!index && n > d->rows)
        return tl_set_error(net, TL_ERR_VALUE, "%lld rows asked of arrays of %lld", (long long)n, (long long)d->rows);
    return TL_OK;
}

/* The one message of a non-finite input: its node, its row in the caller's
 * data and, within a run, the steps that ran before it. */
static tl_status nonfinite(tl_net *net, const tl_node *x, int64_t row, int64_t ran) {
    char after[48] = "";
    if (ran) snprintf(after, sizeof after, " (%lld steps ran before it)", (long long)ran);
    return tl_set_error(net, TL_ERR_VALUE, "input '%s': example %lld holds NaN or infinity; inputs must be finite%s",
                        x->name, (long long)row, after);
}

static tl_status check_labels_of(tl_net *net, const tl_data *d, const int64_t *index, int64_t n) {
    tl_status st;
    for (int k = 0; d->targets && k < tl_net_n_losses(net); k++)
        if (tl_ops[net->nodes[net->n_regular + k].op].info.target == TL_TARGET_INT &&
            (st = tl_check_labels(net, k, d->targets[k], n, index)))
            return st;
    return TL_OK;
}

tl_status tl_net_check_data(tl_net *net, const tl_data *d, const int64_t *index, int64_t n) {
    tl_status st = check_rows(net, d, index, n);
    if (st) return st;
    int n_in = tl_net_n_inputs(net);
    if (n_in && !d->inputs) return tl_set_error(net, TL_ERR_VALUE, "no input arrays for the %d inputs", n_in);
    for (int k = 0; k < n_in; k++) {
        const tl_node *x = &net->nodes[input_node(net, k)];
        int64_t bad = rows_on_pool(NULL, (const char *)d->inputs[k], index, 0, n, sizeof(float) * (size_t)x->size, 1);
        if (bad < n) return nonfinite(net, x, index ? index[bad] : bad, 0);
    }
    return check_labels_of(net, d, index, n);
}

/* Bytes of one row of the k-th array (inputs first, then targets). */
static size_t row_bytes(const tl_net *net, int k, int n_in) {
    if (k < n_in) return sizeof(float) * (size_t)net->nodes[input_node(net, k)].size;
    const tl_node *l = &net->nodes[net->n_regular + k - n_in];
    if (tl_ops[l->op].info.target == TL_TARGET_INT) return sizeof(int32_t);
    return sizeof(float) * (size_t)net->nodes[l->in[0]].size;
}

tl_status tl_net_train_batches(tl_net *net, const tl_data *d, const int64_t *index, int64_t n, int batch_size,
                               const float *lrs, const tl_schedule *sched, int n_sched, int64_t steps,
                               tl_step_result *res, int64_t *done) {
    *done = 0;
    if (!net->finalized) return tl_set_error(net, TL_ERR_STATE, "the network is not finalized");
    if (batch_size <= 0) return tl_set_error(net, TL_ERR_VALUE, "batch_size must be positive, got %d", batch_size);
    int64_t max_steps = (n + batch_size - 1) / batch_size;
    if (steps < 0 || steps > max_steps)
        return tl_set_error(net, TL_ERR_VALUE, "%lld learning rates for %lld examples in batches of %d (at most %lld "
                            "steps)", (long long)steps, (long long)n, batch_size, (long long)max_steps);
    int nl = tl_net_n_losses(net), n_in = tl_net_n_inputs(net), nb = n_in + nl;
    if (nl > TL_MAX_LOSSES)
        return tl_set_error(net, TL_ERR_VALUE, "at most %d losses per network, got %d", TL_MAX_LOSSES, nl);
    if (n_in > TL_MAX_INPUTS)
        return tl_set_error(net, TL_ERR_VALUE, "at most %d inputs per network, got %d", TL_MAX_INPUTS, n_in);
    if ((n_in && !d->inputs) || (nl && !d->targets))
        return tl_set_error(net, TL_ERR_VALUE, "a run needs an array for each of the %d inputs and %d losses", n_in, nl);
    /* the index and the labels of every row given, before the first step (the inputs: batch by batch) */
    tl_status st = tl_net_check_schedule(net, sched, n_sched, steps);
    if (st || (st = check_rows(net, d, index, n)) || (st = check_labels_of(net, d, index, n))) return st;
    int in_node[TL_MAX_INPUTS];
    for (int k = 0; k < n_in; k++) in_node[k] = input_node(net, k);
    size_t rbytes[TL_MAX_INPUTS + TL_MAX_LOSSES];
    for (int k = 0; k < nb; k++) rbytes[k] = row_bytes(net, k, n_in);
    /* staging buffers for gathered rows: one per array, a batch each (never more rows than given) */
    char *stage[TL_MAX_INPUTS + TL_MAX_LOSSES] = {0};
    int64_t cap = batch_size < n ? batch_size : n;
    for (int k = 0; index && k < nb; k++)
        if (!(stage[k] = malloc(rbytes[k] * (size_t)cap + 1))) {
            st = tl_set_error(net, TL_ERR_NOMEM, "no memory for the staging buffers of a batch");
            goto out;
        }
    for (int64_t s = 0; s < steps; s++) {
        int64_t start = s * batch_size, B = n - start < batch_size ? n - start : batch_size;
        for (int k = 0; k < nb; k++) {
            size_t rb = rbytes[k];
            const char *src = k < n_in ? (const char *)d->inputs[k] : (const char *)d->targets[k - n_in];
            const char *rows = index ? stage[k] : src + (size_t)start * rb;
            const tl_node *x = k < n_in ? &net->nodes[in_node[k]] : NULL;
            int64_t bad = B;
            if (index || x) bad = rows_on_pool(index ? stage[k] : NULL, src, index, start, B, rb, x != NULL);
            if (x) {
                if (bad < B) {
                    st = nonfinite(net, x, index ? index[start + bad] : start + bad, s);
                    goto out;
                }
                tl_net_set_input(net, in_node[k], (const float *)rows);
            } else {
                tl_net_set_target(net, net->n_regular + k - n_in, rows);
            }
        }
        tl_net_apply_schedule(net, sched, n_sched, s);
        double losses[TL_MAX_LOSSES];
        tl_step_result *r = &res[s];
        /* the labels of every row of the run were checked above: the step does not check them again */
        if ((st = tl_net_step(net, (int)B, lrs[s], losses, &r->reg, 0))) {
            if (st == TL_ERR_NONFINITE) { /* a diverging run: say which of its steps (the earlier ones were applied) */
                size_t len = strlen(net->err);
                snprintf(net->err + len, sizeof net->err - len, " at step %lld of this run of %lld (%lld steps of it "
                         "ran before it; this step wrote no weight)", (long long)s + 1, (long long)steps, (long long)s);
            }
            break;
        }
        for (int k = 0; k < nl; k++) {
            const tl_node *l = &net->nodes[net->n_regular + k];
            r->loss[k] = (tl_loss_result){losses[k], l->loss_count, l->loss_correct};
        }
        *done = s + 1;
    }
out:
    for (int k = 0; k < n_in; k++) tl_net_set_input(net, in_node[k], NULL);
    for (int k = 0; k < nl; k++) tl_net_set_target(net, net->n_regular + k, NULL);
    for (int k = 0; k < nb; k++) free(stage[k]);
    return st;
}
