/* netcalls.c - the Net methods that run the core on the caller's arrays:
 * train_step, train_batches (with their schedules), check_data, forward,
 * evaluate, forward_backward, input_grad, accumulate_fisher.  Every one goes
 * through call_net (one network, one call at a time; arrays converted and
 * bound; the GIL released around the math only).  The Net type and its
 * other methods are in nettype.c. */
#include "binding.h"

#include <stdio.h>
#include <string.h>

#define MAX_OUTPUTS 256 /* nodes one forward call returns */

/* One call of the core on bound arrays.  An entry point's own context starts
 * with a call_t; call_net fills n_loss and B, `prepare` (may be NULL) runs with
 * the GIL held after binding (checks, results to allocate), `run` (may be
 * NULL) with the GIL released.  A run that does a backward pass sets grad_B
 * (the rows input_grad may read afterwards, 0 when it failed). */
typedef struct call call_t;
struct call {
    int (*prepare)(NetObject *self, const bound_t *b, call_t *c);
    tl_status (*run)(tl_net *net, const bound_t *b, call_t *c);
    int n_loss;
    npy_intp B;
    int grad_B; /* -1: left as it is */
};

/* The sequence of every such call: refuse concurrent use, convert and bind the
 * arrays (targets NULL: inputs only; with check, the core checks their
 * values), prepare, run with the GIL released, unbind and free the
 * conversions, leave.  Returns 0, or -1 with an exception set (the core's
 * message when run fails). */
static int call_net(NetObject *self, PyObject *inputs, PyObject *targets, int check, call_t *c) {
    if (net_enter(self)) return -1;
    bound_t b;
    if (bind_arrays(self, inputs, targets, &b, check)) {
        net_leave(self);
        return -1;
    }
    c->n_loss = b.n_loss;
    c->B = b.B;
    c->grad_B = -1;
    int rc = c->prepare ? c->prepare(self, &b, c) : 0;
    tl_status st = TL_OK;
    if (!rc && c->run) {
        Py_BEGIN_ALLOW_THREADS
        st = c->run(self->net, &b, c);
        Py_END_ALLOW_THREADS
    }
    unbind(self->net, &b);
    bound_free(&b);
    if (c->grad_B >= 0) self->grad_B = c->grad_B;
    if (!rc && st) rc = (raise_status(self, st), -1);
    net_leave(self);
    return rc;
}

/* prepare of the calls that return one value per loss */
static int losses_fit(NetObject *self, const bound_t *b, call_t *c) {
    (void)self, (void)c;
    if (b->n_loss <= TL_MAX_LOSSES) return 0;
    PyErr_Format(PyExc_ValueError, "at most %d losses per network", TL_MAX_LOSSES);
    return -1;
}

/* A schedule of settable values: a list of (node, name, values) for
 * train_batches (values: one per step) or of (node, name, value) for
 * train_step.  name: an attribute of the node that may change between steps,
 * or "weight" for a loss node's weight.  The core checks the values
 * (tl_net_check_schedule) before the first step. */
typedef struct {
    int n;
    tl_schedule *e;
    PyArrayObject **arr; /* per step: the values arrays, held for the call */
    float *one;          /* one value each */
} sched_t;

static void sched_free(sched_t *s) {
    for (int i = 0; s->arr && i < s->n; i++) Py_XDECREF(s->arr[i]);
    PyMem_Free(s->e);
    PyMem_Free(s->arr);
    PyMem_Free(s->one);
    memset(s, 0, sizeof *s);
}

/* the names a schedule may give for node i: its settable attributes, and "weight" for a loss */
static void settable_names(NetObject *self, int i, char *buf, size_t n) {
    const tl_op_info *o = tl_op_get(tl_node_op(self->net, i));
    size_t k = 0;
    buf[0] = 0;
    for (int a = 0; a < o->n_attrs && k < n; a++)
        if (o->attrs[a].settable) k += (size_t)snprintf(buf + k, n - k, "%s'%s'", k ? ", " : "", o->attrs[a].name);
    if (o->is_loss && k < n) k += (size_t)snprintf(buf + k, n - k, "%s'weight'", k ? ", " : "");
    if (!k) snprintf(buf, n, "none");
}

static int parse_schedule(NetObject *self, PyObject *obj, npy_intp steps, int per_step, sched_t *s) {
    memset(s, 0, sizeof *s);
    if (!obj || obj == Py_None) return 0;
    const char *form = per_step ? "(node, name, values)" : "(node, name, value)";
    if (!PyList_Check(obj) && !PyTuple_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "schedule: expected a list of %s, got %.80s", form, Py_TYPE(obj)->tp_name);
        return -1;
    }
    /* tuples of the caller's entries: a values array's conversion cannot change what is read */
    PyObject *seq = PySequence_Tuple(obj), *item = NULL;
    if (!seq) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    if (n > 1024) {
        PyErr_Format(PyExc_ValueError, "schedule: at most 1024 entries, got %zd", n);
        Py_DECREF(seq);
        return -1;
    }
    s->e = PyMem_Calloc((size_t)n + 1, sizeof *s->e);
    s->arr = PyMem_Calloc((size_t)n + 1, sizeof *s->arr);
    s->one = PyMem_Calloc((size_t)n + 1, sizeof *s->one);
    if (!s->e || !s->arr || !s->one) {
        PyErr_NoMemory();
        goto error;
    }
    s->n = (int)n;
    int nodes = tl_net_n_nodes(self->net);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *given = PyTuple_GET_ITEM(seq, i);
        if (!(PyTuple_Check(given) || PyList_Check(given)) || PySequence_Fast_GET_SIZE(given) != 3) {
            PyErr_Format(PyExc_TypeError, "schedule[%zd]: expected a tuple %s, got %.80s%s", i, form,
                         Py_TYPE(given)->tp_name,
                         PyTuple_Check(given) || PyList_Check(given) ? " of another length" : "");
            goto error;
        }
        Py_XSETREF(item, PySequence_Tuple(given));
        if (!item) goto error;
        PyObject **f = &PyTuple_GET_ITEM(item, 0);
        if (!PyLong_Check(f[0]) || PyBool_Check(f[0])) {
            PyErr_Format(PyExc_TypeError, "schedule[%zd]: node must be an int (a node index), got %.80s", i,
                         Py_TYPE(f[0])->tp_name);
            goto error;
        }
        long node = PyLong_AsLong(f[0]);
        if (node == -1 && PyErr_Occurred()) goto error;
        if (node < 0 || node >= nodes) {
            PyErr_Format(PyExc_ValueError, "schedule[%zd]: node %ld is out of range 0..%d", i, node, nodes - 1);
            goto error;
        }
        if (!PyUnicode_Check(f[1])) {
            PyErr_Format(PyExc_TypeError, "schedule[%zd]: name must be a str (an attribute name or 'weight'), got %.80s",
                         i, Py_TYPE(f[1])->tp_name);
            goto error;
        }
        const char *name = PyUnicode_AsUTF8(f[1]);
        if (!name) goto error;
        int op = tl_node_op(self->net, (int)node);
        const tl_op_info *o = tl_op_get(op);
        const char *nn = tl_node_name(self->net, (int)node);
        int weight = o->is_loss && !strcmp(name, "weight");
        int attr = weight ? TL_ATTR_LOSS_WEIGHT : tl_op_attr_find(op, name);
        if (!weight && (attr < 0 || !o->attrs[attr].settable)) {
            char names[TL_MAX_ATTRS * (TL_NAME_LEN + 4) + 16];
            settable_names(self, (int)node, names, sizeof names);
            PyErr_Format(PyExc_ValueError, "schedule[%zd]: %s '%s' (node %ld) %s '%s'; expected one of its settable "
                         "values: %s", i, o->name, nn, node, attr < 0 ? "has no attribute" : "fixes when built its",
                         name, names);
            goto error;
        }
        s->e[i] = (tl_schedule){(int)node, attr, NULL};
        if (per_step) {
            PyArrayObject *a = as_array(f[2], NPY_FLOAT32, "schedule values of", name, 0);
            if (!a) goto error;
            PyArrayObject *c = (PyArrayObject *)PyArray_FROMANY((PyObject *)a, NPY_FLOAT32, 0, 0,
                                                                 NPY_ARRAY_CARRAY_RO | NPY_ARRAY_FORCECAST);
            Py_DECREF(a);
            if (!c) goto error;
            s->arr[i] = c;
            if (PyArray_NDIM(c) != 1 || PyArray_DIM(c, 0) != steps) {
                PyErr_Format(PyExc_ValueError, "schedule[%zd] ('%s' of %s '%s'): expected %zd values, one per "
                             "learning rate, got %zd value%s of %d dimension%s", i, name, o->name, nn, (Py_ssize_t)steps,
                             (Py_ssize_t)PyArray_SIZE(c), PyArray_SIZE(c) == 1 ? "" : "s", PyArray_NDIM(c),
                             PyArray_NDIM(c) == 1 ? "" : "s");
                goto error;
            }
            s->e[i].values = PyArray_DATA(c);
        } else {
            if (!PyFloat_Check(f[2]) && !(PyLong_Check(f[2]) && !PyBool_Check(f[2])) &&
                !PyArray_IsScalar(f[2], Floating) && !PyArray_IsScalar(f[2], Integer)) {
                PyErr_Format(PyExc_TypeError, "schedule[%zd] ('%s' of %s '%s'): expected a real number, got %.80s", i,
                             name, o->name, nn, Py_TYPE(f[2])->tp_name);
                goto error;
            }
            double v = PyFloat_AsDouble(f[2]);
            if (v == -1.0 && PyErr_Occurred()) goto error;
            s->one[i] = (float)v;
            s->e[i].values = &s->one[i];
        }
    }
    Py_XDECREF(item);
    Py_DECREF(seq);
    return 0;
error:
    Py_XDECREF(item);
    Py_DECREF(seq);
    sched_free(s);
    return -1;
}

/* One forward and backward pass (forward_backward), followed by the
 * optimizer's update when `update` is set (train_step). */
typedef struct {
    call_t c;
    int update;
    float lr;
    int with_reg;
    double losses[TL_MAX_LOSSES], reg;
    const sched_t *sched; /* train_step: values set before the step (NULL: none) */
} step_call;

static tl_status run_step(tl_net *net, const bound_t *b, call_t *c) {
    step_call *s = (step_call *)c;
    tl_status st = TL_OK;
    if (s->sched && s->sched->n) {
        if ((st = tl_net_check_schedule(net, s->sched->e, s->sched->n, 1))) {
            c->grad_B = 0;
            return st;
        }
        tl_net_apply_schedule(net, s->sched->e, s->sched->n, 0);
    }
    bind_rows(net, b, 0);
    st = s->update ? tl_net_train_step(net, (int)b->B, s->lr, s->losses, &s->reg)
                   : tl_net_forward_backward(net, (int)b->B, s->with_reg, s->losses, &s->reg);
    c->grad_B = st ? 0 : (int)b->B;
    return st;
}

/* The results of one step or forward-backward pass, as one step of
 * train_batches names them: "loss", "count", "correct" (n_losses,) and "reg"
 * (a float). */
static PyObject *step_dict(NetObject *self, const step_call *s) {
    int n = s->c.n_loss;
    int64_t cnt[TL_MAX_LOSSES], ok[TL_MAX_LOSSES];
    for (int k = 0; k < n; k++) tl_net_loss_stats(self->net, k, &cnt[k], &ok[k]);
    PyObject *out = loss_results("loss", s->losses, cnt, ok, n), *reg = PyFloat_FromDouble(s->reg);
    if (!out || !reg || PyDict_SetItemString(out, "reg", reg)) Py_CLEAR(out);
    Py_XDECREF(reg);
    return out;
}

/* train_step(inputs, targets, lr, schedule=None) -> dict: loss, count, correct (n_losses,), reg
 * schedule: (node, name, value) entries set before the step. */
PyObject *Net_train_step(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"inputs", "targets", "lr", "schedule", NULL};
    PyObject *inputs, *targets, *sched_obj = Py_None;
    step_call s = {{losses_fit, run_step, 0, 0, -1}, 1, 0.0f, 1, {0}, 0.0, NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOf|O:train_step", kwlist, &inputs, &targets, &s.lr, &sched_obj) ||
        require_finalized(self))
        return NULL;
    sched_t sched;
    if (parse_schedule(self, sched_obj, 1, 0, &sched)) return NULL;
    s.sched = &sched;
    int rc = call_net(self, inputs, targets, 1, &s.c);
    sched_free(&sched);
    return rc ? NULL : step_dict(self, &s);
}

typedef struct {
    call_t c;
    int bs;
    npy_intp steps, N;
    const float *lr;
    const int64_t *idx;
    tl_step_result *res;
    const sched_t *sched;
} batches_call;

static int alloc_results(NetObject *self, const bound_t *b, call_t *c) {
    (void)self;
    batches_call *r = (batches_call *)c;
    if (r->N < 0) r->N = b->B; /* no index: the rows in order */
    r->res = PyMem_Calloc((size_t)r->steps + 1, sizeof *r->res);
    if (!r->res) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static tl_status run_train_batches(tl_net *net, const bound_t *b, call_t *c) {
    batches_call *r = (batches_call *)c;
    int64_t ran = 0;
    npy_intp N = r->N, bs = r->bs;
    tl_status st = tl_net_train_batches(net, &b->data, r->idx, N, r->bs, r->lr, r->sched->e, r->sched->n, r->steps,
                                        r->res, &ran);
    c->grad_B = ran ? (int)(N - (ran - 1) * bs < bs ? N - (ran - 1) * bs : bs) : 0;
    return st;
}

/* train_batches(inputs, targets, batch_size, lrs, index=None, schedule=None) -> dict of arrays
 * Runs len(lrs) steps in one C call (tl_net_train_batches) with the GIL
 * released.  Without index, step s takes rows [s bs, (s+1) bs) of the arrays;
 * with index (a permutation or any row list), rows index[s bs : (s+1) bs],
 * gathered by the core batch by batch.  schedule: (node, name, values)
 * entries, values[s] set before step s.  The result names its columns:
 * "loss", "count", "correct" (steps, n_losses) and "reg" (steps,). */
PyObject *Net_train_batches(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"inputs", "targets", "batch_size", "lrs", "index", "schedule", NULL};
    PyObject *inputs, *targets, *lrs_obj, *index_obj = Py_None, *sched_obj = Py_None;
    batches_call r = {{alloc_results, run_train_batches, 0, 0, -1}, 0, 0, -1, NULL, NULL, NULL, NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOiO|OO:train_batches", kwlist, &inputs, &targets, &r.bs, &lrs_obj,
                                     &index_obj, &sched_obj) ||
        require_finalized(self))
        return NULL;
    PyArrayObject *lrs = (PyArrayObject *)PyArray_FROMANY(lrs_obj, NPY_FLOAT32, 1, 1, NPY_ARRAY_CARRAY_RO | NPY_ARRAY_FORCECAST);
    if (!lrs) return NULL;
    PyArrayObject *index = NULL;
    if (index_obj != Py_None) {
        index = as_array(index_obj, NPY_INT64, "argument", "index", 1);
        if (!index) {
            Py_DECREF(lrs);
            return NULL;
        }
        if (PyArray_NDIM(index) != 1) {
            PyErr_Format(PyExc_ValueError, "index: expected a 1-d array of row numbers, got %d dimensions",
                         PyArray_NDIM(index));
            Py_DECREF(lrs);
            Py_DECREF(index);
            return NULL;
        }
        r.idx = PyArray_DATA(index);
        r.N = PyArray_DIM(index, 0);
    }
    r.steps = PyArray_DIM(lrs, 0);
    r.lr = PyArray_DATA(lrs);
    PyObject *out = NULL;
    sched_t sched;
    r.sched = &sched;
    /* unchecked: the core checks the rows it will read, and the schedule's values */
    if (!parse_schedule(self, sched_obj, r.steps, 1, &sched)) {
        if (!call_net(self, inputs, targets, 0, &r.c)) out = step_results(r.res, r.steps, r.c.n_loss);
        sched_free(&sched);
    }
    PyMem_Free(r.res);
    Py_DECREF(lrs);
    Py_XDECREF(index);
    return out;
}

/* check_data(inputs, targets=None): the core's check of the values (finite
 * inputs, labels in range) without running anything, e.g. before an epoch loop */
PyObject *Net_check_data(NetObject *self, PyObject *args) {
    PyObject *inputs, *targets = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:check_data", &inputs, &targets) || require_finalized(self)) return NULL;
    call_t c = {NULL, NULL, 0, 0, -1};
    if (call_net(self, inputs, targets == Py_None ? NULL : targets, 1, &c)) return NULL;
    Py_RETURN_NONE;
}

typedef struct {
    call_t c;
    int train, bs, nout;
    int outs[MAX_OUTPUTS];
    PyObject *res;
    PyArrayObject *arrs[MAX_OUTPUTS];
} forward_call;

static int alloc_outputs(NetObject *self, const bound_t *b, call_t *c) {
    forward_call *f = (forward_call *)c;
    f->res = PyList_New(f->nout);
    if (!f->res) return -1;
    for (int k = 0; k < f->nout; k++) {
        int shape[TL_MAX_DIM];
        npy_intp dims[TL_MAX_DIM + 1];
        int nd = tl_node_shape(self->net, f->outs[k], shape);
        dims[0] = b->B;
        for (int d = 0; d < nd; d++) dims[d + 1] = shape[d];
        f->arrs[k] = (PyArrayObject *)PyArray_EMPTY(nd + 1, dims, NPY_FLOAT32, 0);
        if (!f->arrs[k]) return -1;
        PyList_SET_ITEM(f->res, k, (PyObject *)f->arrs[k]);
    }
    return 0;
}

static tl_status run_forward(tl_net *net, const bound_t *b, call_t *c) {
    forward_call *f = (forward_call *)c;
    npy_intp N = b->B, chunk = f->bs > 0 ? f->bs : N;
    tl_status st = TL_OK;
    /* the outputs read here are stored even where the core would leave them out (a conv read only by
     * the activation fused into it) */
    for (int k = 0; k < f->nout; k++) tl_net_keep_output(net, f->outs[k], 1);
    for (npy_intp start = 0; start < N && !st; start += chunk) {
        int B = (int)(N - start < chunk ? N - start : chunk);
        bind_rows(net, b, start);
        st = tl_net_forward(net, B, f->train, NULL);
        if (!st)
            for (int k = 0; k < f->nout; k++) {
                int64_t sz = tl_node_size(net, f->outs[k]);
                memcpy((float *)PyArray_DATA(f->arrs[k]) + start * sz, tl_node_output(net, f->outs[k]),
                       sizeof(float) * (size_t)(B * sz));
            }
    }
    for (int k = 0; k < f->nout; k++) tl_net_keep_output(net, f->outs[k], 0);
    return st;
}

/* forward(inputs, outputs, train=False, batch_size=0) -> list of arrays (copies) */
PyObject *Net_forward(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"inputs", "outputs", "train", "batch_size", NULL};
    PyObject *inputs, *outputs;
    forward_call f = {{alloc_outputs, run_forward, 0, 0, -1}, 0, 0, 0, {0}, NULL, {0}};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|pi:forward", kwlist, &inputs, &outputs, &f.train, &f.bs) ||
        require_finalized(self))
        return NULL;
    f.nout = parse_ints(outputs, f.outs, MAX_OUTPUTS, "outputs");
    if (f.nout < 0) return NULL;
    for (int k = 0; k < f.nout; k++) {
        if (check_node(self, f.outs[k])) return NULL;
        if (tl_op_get(tl_node_op(self->net, f.outs[k]))->is_loss) {
            PyErr_Format(PyExc_ValueError, "node %d is a loss; request the node it is computed on", f.outs[k]);
            return NULL;
        }
    }
    if (call_net(self, inputs, NULL, 1, &f.c)) {
        Py_XDECREF(f.res);
        return NULL;
    }
    return f.res;
}

typedef struct {
    call_t c;
    int bs;
    double sums[TL_MAX_LOSSES];
    int64_t cnts[TL_MAX_LOSSES], oks[TL_MAX_LOSSES];
} eval_call;

static tl_status run_evaluate(tl_net *net, const bound_t *b, call_t *c) {
    eval_call *e = (eval_call *)c;
    double losses[TL_MAX_LOSSES];
    npy_intp N = b->B, chunk = e->bs > 0 ? e->bs : N;
    tl_status st = TL_OK;
    for (npy_intp start = 0; start < N && !st; start += chunk) {
        int B = (int)(N - start < chunk ? N - start : chunk);
        bind_rows(net, b, start);
        st = tl_net_forward(net, B, 0, losses);
        for (int k = 0; !st && k < c->n_loss; k++) {
            int64_t cnt, ok;
            tl_net_loss_stats(net, k, &cnt, &ok);
            e->sums[k] += losses[k] * (double)cnt;
            e->cnts[k] += cnt;
            e->oks[k] += ok;
        }
    }
    return st;
}

/* evaluate(inputs, targets, batch_size=0) -> dict of arrays (n_losses,): per loss,
 * "loss_sum" the loss summed over labelled entries, "count" their number and
 * "correct" the number predicted right, in evaluation mode (no dropout, no
 * gradients). */
PyObject *Net_evaluate(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"inputs", "targets", "batch_size", NULL};
    PyObject *inputs, *targets;
    eval_call e = {{losses_fit, run_evaluate, 0, 0, -1}, 0, {0}, {0}, {0}};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|i:evaluate", kwlist, &inputs, &targets, &e.bs) ||
        require_finalized(self))
        return NULL;
    if (call_net(self, inputs, targets, 1, &e.c)) return NULL;
    return loss_results("loss_sum", e.sums, e.cnts, e.oks, e.c.n_loss);
}

/* forward_backward(inputs, targets, with_reg=True) -> dict: loss, count, correct (n_losses,), reg;
 * gradients left in the grad arena */
PyObject *Net_forward_backward(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"inputs", "targets", "with_reg", NULL};
    PyObject *inputs, *targets;
    step_call s = {{losses_fit, run_step, 0, 0, -1}, 0, 0.0f, 1, {0}, 0.0, NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|p:forward_backward", kwlist, &inputs, &targets, &s.with_reg) ||
        require_finalized(self))
        return NULL;
    if (call_net(self, inputs, targets, 1, &s.c)) return NULL;
    return step_dict(self, &s);
}

/* input_grad(node) -> copy of the gradient w.r.t. an input after forward_backward */
PyObject *Net_input_grad(NetObject *self, PyObject *args) {
    int node;
    int B;
    if (!PyArg_ParseTuple(args, "ii:input_grad", &node, &B) || check_node(self, node)) return NULL;
    const float *g = tl_node_grad(self->net, node);
    if (!g || self->grad_B <= 0) {
        PyErr_Format(self->error, "no gradient for node %d: call set_input_grad(node, True) before forward_backward", node);
        return NULL;
    }
    if (B <= 0 || B > self->grad_B) {
        PyErr_Format(PyExc_ValueError, "input_grad: batch %d, but the last backward pass had %d examples", B, self->grad_B);
        return NULL;
    }
    int shape[TL_MAX_DIM];
    npy_intp dims[TL_MAX_DIM + 1];
    int nd = tl_node_shape(self->net, node, shape);
    dims[0] = B;
    for (int d = 0; d < nd; d++) dims[d + 1] = shape[d];
    PyObject *arr = PyArray_EMPTY(nd + 1, dims, NPY_FLOAT32, 0);
    if (!arr) return NULL;
    memcpy(PyArray_DATA((PyArrayObject *)arr), g, sizeof(float) * (size_t)PyArray_SIZE((PyArrayObject *)arr));
    return arr;
}

typedef struct {
    call_t c;
    float scale;
} fisher_call;

static tl_status run_fisher(tl_net *net, const bound_t *b, call_t *c) {
    bind_rows(net, b, 0);
    tl_status st = tl_net_accumulate_fisher(net, (int)b->B, ((fisher_call *)c)->scale);
    c->grad_B = st ? 0 : (int)b->B;
    return st;
}

PyObject *Net_accumulate_fisher(NetObject *self, PyObject *args) {
    PyObject *inputs, *targets;
    fisher_call f = {{NULL, run_fisher, 0, 0, -1}, 0.0f};
    if (!PyArg_ParseTuple(args, "OOf:accumulate_fisher", &inputs, &targets, &f.scale) || require_finalized(self))
        return NULL;
    if (call_net(self, inputs, targets, 1, &f.c)) return NULL;
    Py_RETURN_NONE;
}
