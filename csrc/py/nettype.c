/* nettype.c - the Net type: a heap type wrapping a tl_net.  Every call that
 * runs the core on caller arrays goes through call_net (one network, one call
 * at a time; arrays converted and bound; the GIL released around the math
 * only).  Parameter arrays are NumPy views on the C arenas that keep the Net
 * alive. */
#include "binding.h"

#include <stdio.h>
#include <string.h>

#define MAX_OUTPUTS 256 /* nodes one forward call returns */


/* Refuse concurrent use of one network; the GIL makes the check-and-set atomic. */
static int enter(NetObject *self) {
    if (self->busy) {
        PyErr_SetString(self->error, "this network is in use by another thread; a network runs one call at a time "
                                     "(use model.clone() for a second thread)");
        return -1;
    }
    self->busy = 1;
    return 0;
}
static void leave(NetObject *self) { self->busy = 0; }

static int require_finalized(NetObject *self) {
    if (tl_net_finalized(self->net)) return 0;
    PyErr_SetString(self->error, "the network is not finalized (call finalize() after adding its nodes)");
    return -1;
}

/* ---------- Net type ---------- */

static PyObject *Net_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"seed", NULL};
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|K:Net", kwlist, &seed)) return NULL;
    PyObject *mod = PyType_GetModule(type);
    if (!mod) return NULL;
    mod_state *st = PyModule_GetState(mod);
    NetObject *self = (NetObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    if (tl_net_create(&self->net, seed) != TL_OK) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->error = Py_NewRef(st->TlearnError);
    return (PyObject *)self;
}

static int Net_traverse(NetObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->error);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void Net_dealloc(NetObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    tl_net_free(self->net);
    Py_CLEAR(self->error);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *Net_add(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"op", "inputs", "name", "attrs", "shape", NULL};
    const char *opname, *name = "";
    PyObject *inputs = NULL, *attrs = NULL, *shape = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|OsOO:add", kwlist, &opname, &inputs, &name, &attrs, &shape))
        return NULL;
    int op = op_from_name(opname);
    if (op < 0) return NULL;
    int ins[TL_MAX_INPUTS], sh[TL_MAX_DIM];
    tl_attrs at;
    int nin = parse_ints(inputs, ins, TL_MAX_INPUTS, "inputs");
    int nsh = nin < 0 ? -1 : parse_ints(shape, sh, TL_MAX_DIM, "shape");
    if (nsh < 0 || parse_attrs(attrs, op, *name ? name : opname, &at)) return NULL;
    if (enter(self)) return NULL;
    int id = -1;
    tl_status st = tl_net_add(self->net, op, ins, nin, name, &at, sh, nsh, &id);
    leave(self);
    if (st) return raise_status(self, st);
    return PyLong_FromLong(id);
}

static PyObject *Net_share(NetObject *self, PyObject *args) {
    int node, source;
    if (!PyArg_ParseTuple(args, "ii:share", &node, &source)) return NULL;
    if (enter(self)) return NULL;
    tl_status st = tl_net_share(self->net, node, source);
    leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_finalize(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (enter(self)) return NULL;
    tl_status st = tl_net_finalize(self->net);
    leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_add_loss(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"op", "input", "name", "weight", "attrs", NULL};
    const char *opname, *name = "";
    int input;
    float weight = 1.0f;
    PyObject *attrs = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "si|sfO:add_loss", kwlist, &opname, &input, &name, &weight, &attrs))
        return NULL;
    int op = op_from_name(opname);
    if (op < 0) return NULL;
    tl_attrs at;
    if (parse_attrs(attrs, op, *name ? name : opname, &at)) return NULL;
    if (enter(self)) return NULL;
    int id = -1;
    tl_status st = tl_net_add_loss(self->net, op, input, name, weight, &at, &id);
    leave(self);
    if (st) return raise_status(self, st);
    return PyLong_FromLong(id);
}

static PyObject *Net_clear_losses(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (enter(self)) return NULL;
    tl_net_clear_losses(self->net);
    leave(self);
    Py_RETURN_NONE;
}

static int check_node(NetObject *self, int i) {
    if (i < 0 || i >= tl_net_n_nodes(self->net)) {
        PyErr_Format(PyExc_IndexError, "node index %d out of range 0..%d", i, tl_net_n_nodes(self->net) - 1);
        return -1;
    }
    return 0;
}

static int check_param_index(NetObject *self, int p) {
    if (require_finalized(self)) return -1;
    if (p < 0 || p >= tl_net_n_params(self->net)) {
        PyErr_Format(PyExc_IndexError, "parameter index %d out of range 0..%d", p, tl_net_n_params(self->net) - 1);
        return -1;
    }
    return 0;
}

static PyObject *Net_node(NetObject *self, PyObject *args) {
    int i;
    if (!PyArg_ParseTuple(args, "i:node", &i) || check_node(self, i)) return NULL;
    int shape[TL_MAX_DIM], ins[TL_MAX_INPUTS];
    int nd = tl_node_shape(self->net, i, shape);
    int nin = tl_node_n_inputs(self->net, i);
    for (int k = 0; k < nin && k < TL_MAX_INPUTS; k++) ins[k] = tl_node_input(self->net, i, k);
    PyObject *sh = int_tuple(shape, nd), *in = int_tuple(ins, nin < TL_MAX_INPUTS ? nin : TL_MAX_INPUTS);
    if (!sh || !in) {
        Py_XDECREF(sh);
        Py_XDECREF(in);
        return NULL;
    }
    return Py_BuildValue("{s:s,s:s,s:N,s:N}", "name", tl_node_name(self->net, i), "op",
                         tl_op_get(tl_node_op(self->net, i))->name, "shape", sh, "inputs", in);
}

static PyObject *Net_param_info(NetObject *self, PyObject *args) {
    int p;
    if (!PyArg_ParseTuple(args, "i:param_info", &p)) return NULL;
    if (p < 0 || p >= tl_net_n_params(self->net)) {
        PyErr_Format(PyExc_IndexError, "parameter index %d out of range 0..%d", p, tl_net_n_params(self->net) - 1);
        return NULL;
    }
    int shape[TL_MAX_DIM];
    int nd = tl_param_shape(self->net, p, shape);
    float l2, l2sp, ewc;
    tl_param_get_reg(self->net, p, &l2, &l2sp, &ewc);
    PyObject *sh = int_tuple(shape, nd);
    if (!sh) return NULL;
    return Py_BuildValue("{s:s,s:i,s:N,s:O,s:O,s:f,s:f,s:f}", "name", tl_param_name(self->net, p), "node",
                         tl_param_node(self->net, p), "shape", sh, "trainable",
                         tl_param_trainable(self->net, p) ? Py_True : Py_False, "buffer",
                         tl_param_is_buffer(self->net, p) ? Py_True : Py_False, "l2", (double)l2, "l2sp", (double)l2sp,
                         "ewc", (double)ewc);
}

/* A NumPy view of one parameter in one arena; keeps the Net alive. */
static PyObject *Net_view(NetObject *self, PyObject *args) {
    const char *which;
    int p;
    if (!PyArg_ParseTuple(args, "si:view", &which, &p) || check_param_index(self, p)) return NULL;
    int a = -1;
    for (int k = 0; k < TL_ARENA_COUNT; k++)
        if (!strcmp(tl_arena_names[k], which)) a = k;
    if (a < 0) {
        char names[128];
        names_list(names, sizeof names, tl_arena_names, TL_ARENA_COUNT, "");
        PyErr_Format(PyExc_ValueError, "unknown arena '%s' (expected %s)", which, names);
        return NULL;
    }
    int shape[TL_MAX_DIM];
    npy_intp dims[TL_MAX_DIM];
    int nd = tl_param_shape(self->net, p, shape);
    for (int i = 0; i < nd; i++) dims[i] = shape[i];
    float *data = tl_net_arena(self->net, a) + tl_param_offset(self->net, p);
    PyObject *arr = PyArray_SimpleNewFromData(nd, dims, NPY_FLOAT32, data);
    if (!arr) return NULL;
    if (PyArray_SetBaseObject((PyArrayObject *)arr, Py_NewRef((PyObject *)self)) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyObject *Net_set_trainable(NetObject *self, PyObject *args) {
    int p, on;
    if (!PyArg_ParseTuple(args, "ip:set_trainable", &p, &on) || check_param_index(self, p) || enter(self)) return NULL;
    tl_status st = tl_param_set_trainable(self->net, p, on);
    leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_set_reg(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"p", "l2", "l2sp", "ewc", NULL};
    int p;
    float l2 = 0, l2sp = 0, ewc = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|fff:set_reg", kwlist, &p, &l2, &l2sp, &ewc) ||
        check_param_index(self, p) || enter(self))
        return NULL;
    tl_status st = tl_param_set_reg(self->net, p, l2, l2sp, ewc);
    leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_reset_param(NetObject *self, PyObject *args) {
    int p;
    if (!PyArg_ParseTuple(args, "i:reset_param", &p) || check_param_index(self, p) || enter(self)) return NULL;
    tl_status st = tl_param_reset(self->net, p);
    leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_snapshot(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (require_finalized(self) || enter(self)) return NULL;
    tl_net_snapshot(self->net);
    leave(self);
    Py_RETURN_NONE;
}

static PyObject *Net_set_attr(NetObject *self, PyObject *args) {
    int node;
    const char *name;
    double v;
    if (!PyArg_ParseTuple(args, "isd:set_attr", &node, &name, &v) || check_node(self, node) || enter(self)) return NULL;
    tl_status st = tl_node_set_attr(self->net, node, name, v);
    leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_set_loss_weight(NetObject *self, PyObject *args) {
    int node;
    double w;
    if (!PyArg_ParseTuple(args, "id:set_loss_weight", &node, &w) || check_node(self, node) || enter(self)) return NULL;
    tl_status st = tl_net_set_loss_weight(self->net, node, (float)w);
    leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_loss_weight(NetObject *self, PyObject *args) {
    int node;
    if (!PyArg_ParseTuple(args, "i:loss_weight", &node) || check_node(self, node)) return NULL;
    if (!tl_op_get(tl_node_op(self->net, node))->is_loss) {
        PyErr_Format(PyExc_ValueError, "node %d ('%s') is not a loss: only a loss node has a weight", node,
                     tl_node_name(self->net, node));
        return NULL;
    }
    return PyFloat_FromDouble((double)tl_net_loss_weight(self->net, node));
}

static PyObject *Net_attr(NetObject *self, PyObject *args) {
    int node;
    const char *name;
    if (!PyArg_ParseTuple(args, "is:attr", &node, &name) || check_node(self, node)) return NULL;
    double v;
    if (tl_node_attr(self->net, node, name, &v)) {
        PyErr_SetString(PyExc_KeyError, tl_net_error(self->net));
        return NULL;
    }
    int k = tl_op_attr_find(tl_node_op(self->net, node), name);
    if (tl_op_get(tl_node_op(self->net, node))->attrs[k].kind == TL_ATTR_FLOAT) return PyFloat_FromDouble(v);
    return PyLong_FromDouble(v);
}

/* A float hyper-parameter given as obj (NULL: keep the default *v); as "f" converts. */
static int optim_float(PyObject *obj, float *v) {
    if (!obj) return 0;
    double d = PyFloat_AsDouble(obj);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    *v = (float)d;
    return 0;
}

/* set_optim(kind, **hyper-parameters); what is not given takes the default of
 * the core's row of kind (tl_optims) */
static PyObject *Net_set_optim(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"kind", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps", NULL};
    const char *kind;
    PyObject *mom = NULL, *nest = NULL, *wd = NULL, *b1 = NULL, *b2 = NULL, *eps = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|OOOOOO:set_optim", kwlist, &kind, &mom, &nest, &wd, &b1, &b2, &eps))
        return NULL;
    int k = 0;
    while (k < TL_OPTIM_COUNT && strcmp(tl_optims[k].name, kind)) k++;
    if (k == TL_OPTIM_COUNT) {
        const char *kinds[TL_OPTIM_COUNT];
        for (int j = 0; j < TL_OPTIM_COUNT; j++) kinds[j] = tl_optims[j].name;
        char names[128];
        names_list(names, sizeof names, kinds, TL_OPTIM_COUNT, "'");
        PyErr_Format(PyExc_ValueError, "unknown optimizer '%s' (expected %s)", kind, names);
        return NULL;
    }
    tl_optim_cfg cfg = tl_optim_defaults((tl_optim)k);
    if (optim_float(mom, &cfg.momentum)) return NULL;
    if (nest && (cfg.nesterov = PyObject_IsTrue(nest)) < 0) return NULL;
    if (optim_float(wd, &cfg.weight_decay) || optim_float(b1, &cfg.beta1) || optim_float(b2, &cfg.beta2) ||
        optim_float(eps, &cfg.eps))
        return NULL;
    if (enter(self)) return NULL;
    tl_status st = tl_net_set_optim(self->net, &cfg);
    leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_reset_optim(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (enter(self)) return NULL;
    tl_net_reset_optim(self->net);
    leave(self);
    Py_RETURN_NONE;
}

static PyObject *Net_set_input_grad(NetObject *self, PyObject *args) {
    int node, on;
    if (!PyArg_ParseTuple(args, "ip:set_input_grad", &node, &on) || check_node(self, node)) return NULL;
    if (tl_node_op(self->net, node) != TL_OP_INPUT) {
        PyErr_Format(PyExc_ValueError, "node %d ('%s') is not an input", node, tl_node_name(self->net, node));
        return NULL;
    }
    if (enter(self)) return NULL;
    tl_net_set_input_grad(self->net, node, on);
    leave(self);
    Py_RETURN_NONE;
}

/* ---------- calls that run the core on caller arrays ---------- */

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
    if (enter(self)) return -1;
    bound_t b;
    if (bind_arrays(self, inputs, targets, &b, check)) {
        leave(self);
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
    leave(self);
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
static PyObject *Net_train_step(NetObject *self, PyObject *args, PyObject *kw) {
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
static PyObject *Net_train_batches(NetObject *self, PyObject *args, PyObject *kw) {
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
static PyObject *Net_check_data(NetObject *self, PyObject *args) {
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
static PyObject *Net_forward(NetObject *self, PyObject *args, PyObject *kw) {
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
static PyObject *Net_evaluate(NetObject *self, PyObject *args, PyObject *kw) {
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
static PyObject *Net_forward_backward(NetObject *self, PyObject *args, PyObject *kw) {
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
static PyObject *Net_input_grad(NetObject *self, PyObject *args) {
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

static PyObject *Net_accumulate_fisher(NetObject *self, PyObject *args) {
    PyObject *inputs, *targets;
    fisher_call f = {{NULL, run_fisher, 0, 0, -1}, 0.0f};
    if (!PyArg_ParseTuple(args, "OOf:accumulate_fisher", &inputs, &targets, &f.scale) || require_finalized(self))
        return NULL;
    if (call_net(self, inputs, targets, 1, &f.c)) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Net_reg_value(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (require_finalized(self)) return NULL;
    return PyFloat_FromDouble(tl_net_reg_value(self->net));
}

static PyObject *Net_get_n_nodes(NetObject *self, void *c) { (void)c; return PyLong_FromLong(tl_net_n_nodes(self->net)); }
static PyObject *Net_get_n_params(NetObject *self, void *c) { (void)c; return PyLong_FromLong(tl_net_n_params(self->net)); }
static PyObject *Net_get_n_losses(NetObject *self, void *c) { (void)c; return PyLong_FromLong(tl_net_n_losses(self->net)); }
static PyObject *Net_get_finalized(NetObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(tl_net_finalized(self->net));
}
static PyObject *Net_get_steps(NetObject *self, void *c) { (void)c; return PyLong_FromLongLong(tl_net_optim_steps(self->net)); }
static int Net_set_steps(NetObject *self, PyObject *v, void *c) {
    (void)c;
    if (!v) { PyErr_SetString(PyExc_AttributeError, "cannot delete optim_steps"); return -1; }
    long long t = PyLong_AsLongLong(v);
    if (t == -1 && PyErr_Occurred()) return -1;
    if (t < 0) { PyErr_Format(PyExc_ValueError, "optim_steps must be >= 0, got %lld", t); return -1; }
    if (enter(self)) return -1;
    tl_net_set_optim_steps(self->net, t);
    leave(self);
    return 0;
}
static PyObject *Net_get_rng(NetObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(tl_net_rng_state(self->net)); }
static int Net_set_rng(NetObject *self, PyObject *v, void *c) {
    (void)c;
    if (!v) { PyErr_SetString(PyExc_AttributeError, "cannot delete rng_state"); return -1; }
    unsigned long long s = PyLong_AsUnsignedLongLong(v);
    if (s == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    if (enter(self)) return -1;
    tl_net_set_rng_state(self->net, s);
    leave(self);
    return 0;
}
static PyGetSetDef Net_getset[] = {
    {"n_nodes", (getter)Net_get_n_nodes, NULL, "number of nodes (losses included)", NULL},
    {"n_params", (getter)Net_get_n_params, NULL, "number of parameter tensors", NULL},
    {"n_losses", (getter)Net_get_n_losses, NULL, "number of loss nodes", NULL},
    {"finalized", (getter)Net_get_finalized, NULL, "whether the parameter arenas exist", NULL},
    {"optim_steps", (getter)Net_get_steps, (setter)Net_set_steps, "optimizer step count (Adam bias correction)", NULL},
    {"rng_state", (getter)Net_get_rng, (setter)Net_set_rng, "state of the dropout RNG", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyObject *Net_set_check_finite(NetObject *self, PyObject *args) {
    int on;
    if (!PyArg_ParseTuple(args, "p:set_check_finite", &on) || enter(self)) return NULL;
    tl_net_set_check_finite(self->net, on);
    leave(self);
    Py_RETURN_NONE;
}

static PyObject *Net_param_index(NetObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s:param_index", &name)) return NULL;
    return PyLong_FromLong(tl_param_find(self->net, name));
}

static PyMethodDef Net_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Net_add, METH_VARARGS | METH_KEYWORDS,
     "add(op, inputs=(), name='', attrs=None, shape=()) -> node index; attrs: dict name -> value (see ops())"},
    {"share", (PyCFunction)Net_share, METH_VARARGS, "share(node, source): node uses source's parameters"},
    {"finalize", (PyCFunction)Net_finalize, METH_NOARGS, "lay out and initialise the parameters"},
    {"check_data", (PyCFunction)Net_check_data, METH_VARARGS,
     "check_data(inputs, targets=None): refuse non-finite inputs and labels out of range, naming the row"},
    {"add_loss", (PyCFunction)(void (*)(void))Net_add_loss, METH_VARARGS | METH_KEYWORDS,
     "add_loss(op, input, name='', weight=1.0, attrs=None) -> node index"},
    {"clear_losses", (PyCFunction)Net_clear_losses, METH_NOARGS, "remove every loss node"},
    {"node", (PyCFunction)Net_node, METH_VARARGS, "node(i) -> dict(name, op, shape, inputs)"},
    {"param_info", (PyCFunction)Net_param_info, METH_VARARGS, "param_info(p) -> dict"},
    {"param_index", (PyCFunction)Net_param_index, METH_VARARGS, "param_index(name) -> index or -1"},
    {"view", (PyCFunction)Net_view, METH_VARARGS, "view(arena, p) -> writable float32 view"},
    {"set_trainable", (PyCFunction)Net_set_trainable, METH_VARARGS, "set_trainable(p, on)"},
    {"set_reg", (PyCFunction)(void (*)(void))Net_set_reg, METH_VARARGS | METH_KEYWORDS, "set_reg(p, l2=0, l2sp=0, ewc=0)"},
    {"reset_param", (PyCFunction)Net_reset_param, METH_VARARGS, "reset_param(p): re-initialise"},
    {"snapshot", (PyCFunction)Net_snapshot, METH_NOARGS, "snapshot := current values"},
    {"set_attr", (PyCFunction)Net_set_attr, METH_VARARGS, "set_attr(node, name, value): a settable attribute"},
    {"set_loss_weight", (PyCFunction)Net_set_loss_weight, METH_VARARGS,
     "set_loss_weight(loss_node, w): the weight (finite, >= 0) of a loss node"},
    {"loss_weight", (PyCFunction)Net_loss_weight, METH_VARARGS, "loss_weight(loss_node) -> float"},
    {"attr", (PyCFunction)Net_attr, METH_VARARGS, "attr(node, name) -> its value"},
    {"set_optim", (PyCFunction)(void (*)(void))Net_set_optim, METH_VARARGS | METH_KEYWORDS,
     "set_optim(kind, momentum=, nesterov=, weight_decay=, beta1=, beta2=, eps=): defaults from optimizers()"},
    {"reset_optim", (PyCFunction)Net_reset_optim, METH_NOARGS, "zero the optimizer state"},
    {"set_input_grad", (PyCFunction)Net_set_input_grad, METH_VARARGS, "set_input_grad(node, on)"},
    {"set_check_finite", (PyCFunction)Net_set_check_finite, METH_VARARGS, "set_check_finite(on)"},
    {"train_step", (PyCFunction)(void (*)(void))Net_train_step, METH_VARARGS | METH_KEYWORDS,
     "train_step(inputs, targets, lr, schedule=None) -> dict: loss, count, correct (n_losses,), reg; schedule: "
     "(node, name, value) entries set before the step (name: a settable attribute, or 'weight' of a loss)"},
    {"train_batches", (PyCFunction)(void (*)(void))Net_train_batches, METH_VARARGS | METH_KEYWORDS,
     "train_batches(inputs, targets, batch_size, lrs, index=None, schedule=None) -> dict: loss, count, correct "
     "(steps, n_losses), "
     "reg (steps,)"},
    {"forward", (PyCFunction)(void (*)(void))Net_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(inputs, outputs, train=False, batch_size=0) -> list of arrays"},
    {"evaluate", (PyCFunction)(void (*)(void))Net_evaluate, METH_VARARGS | METH_KEYWORDS,
     "evaluate(inputs, targets, batch_size=0) -> dict: loss_sum, count, correct (n_losses,)"},
    {"forward_backward", (PyCFunction)(void (*)(void))Net_forward_backward, METH_VARARGS | METH_KEYWORDS,
     "forward_backward(inputs, targets, with_reg=True) -> dict: loss, count, correct (n_losses,), reg"},
    {"input_grad", (PyCFunction)Net_input_grad, METH_VARARGS, "input_grad(node, batch) -> array"},
    {"accumulate_fisher", (PyCFunction)Net_accumulate_fisher, METH_VARARGS, "accumulate_fisher(inputs, targets, scale)"},
    {"reg_value", (PyCFunction)Net_reg_value, METH_NOARGS, "current value of the regularizers"},
    {NULL, NULL, 0, NULL}};

static PyType_Slot Net_slots[] = {
    {Py_tp_doc, "A network of the tlearn C core (build with add/finalize, train with train_step)."},
    {Py_tp_new, Net_new},
    {Py_tp_dealloc, Net_dealloc},
    {Py_tp_traverse, Net_traverse},
    {Py_tp_methods, Net_methods},
    {Py_tp_getset, Net_getset},
    {0, NULL}};

PyType_Spec Net_spec = {"tlearn._core.Net", sizeof(NetObject), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, Net_slots};
