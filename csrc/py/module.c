/* module.c - tlearn._core: the CPython + NumPy binding of the C core.
 *
 * One heap type (Net) wrapping a tl_net, multi-phase init, module state
 * holding the type and the TlearnError exception.  Arguments are validated in
 * a fixed order (type, dtype, rank, shape, values) before any C computation;
 * the GIL is released around the math only.  Parameter arrays are NumPy views
 * on the C arenas that keep the Net alive. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../core/tl.h"

typedef struct {
    PyObject *NetType;
    PyObject *TlearnError;
} mod_state;

typedef struct {
    PyObject_HEAD
    tl_net *net;
    PyObject *error;  /* TlearnError, strong ref */
    int busy;         /* set while a call runs with the GIL released */
    int grad_B;       /* batch of the last backward pass (rows input_grad may read), 0 if none */
} NetObject;

#define MAX_OUTPUTS 256 /* nodes one forward call returns */

static const char *arena_names[TL_ARENA_COUNT] = {"value", "grad", "mask", "snapshot", "fisher", "m", "v"};

/* ---------- helpers ---------- */

static int op_from_name(const char *name) {
    int op = tl_op_find(name);
    if (op < 0) PyErr_Format(PyExc_ValueError, "unknown op '%s'", name);
    return op;
}

static PyObject *raise_status(NetObject *self, tl_status st) {
    const char *msg = tl_net_error(self->net);
    if (st == TL_ERR_NOMEM) return PyErr_NoMemory();
    if (st == TL_ERR_SHAPE || st == TL_ERR_VALUE)
        PyErr_SetString(PyExc_ValueError, msg);
    else if (st == TL_ERR_INDEX)
        PyErr_SetString(PyExc_IndexError, msg);
    else
        PyErr_SetString(self->error, msg);
    return NULL;
}

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

static void shape_str(char *buf, size_t n, const char *first, const int *shape, int ndim) {
    size_t o = (size_t)snprintf(buf, n, "(%s", first);
    for (int i = 0; i < ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, ", %d", shape[i]);
    if (o < n) snprintf(buf + o, n - o, ")");
}

static void array_shape_str(char *buf, size_t n, PyArrayObject *a) {
    size_t o = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < PyArray_NDIM(a) && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? ", %lld" : "%lld", (long long)PyArray_DIM(a, i));
    if (o < n) snprintf(buf + o, n - o, PyArray_NDIM(a) == 1 ? ",)" : ")");
}

/* Convert obj to an aligned C-contiguous array of `type` (no copy when it
 * already is one), refusing non-numeric dtypes with a TypeError. */
static PyArrayObject *as_array(PyObject *obj, int type, const char *what, const char *name, int integer_only) {
    if (!PyArray_Check(obj) && !PyList_Check(obj) && !PyTuple_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s '%s': expected a NumPy array, got %.80s", what, name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *tmp = (PyArrayObject *)PyArray_FROMANY(obj, NPY_NOTYPE, 0, 0, 0);
    if (!tmp) return NULL;
    int t = PyArray_TYPE(tmp);
    int ok = integer_only ? PyTypeNum_ISINTEGER(t) : (PyTypeNum_ISINTEGER(t) || PyTypeNum_ISFLOAT(t) || PyTypeNum_ISBOOL(t));
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s '%s': expected %s, got dtype %S", what, name,
                     !integer_only ? "a real numeric array (float32 preferred)"
                     : type == NPY_INT32 ? "integer class labels (-1 = no label)" : "an integer array",
                     (PyObject *)PyArray_DESCR(tmp));
        Py_DECREF(tmp);
        return NULL;
    }
    if (integer_only && !PyArray_CanCastSafely(t, type)) {
        /* a cast would wrap values that do not fit (label 2^32 + 1 would read as 1): refuse them */
        int uns = PyTypeNum_ISUNSIGNED(t);
        long long lo = type == NPY_INT32 ? INT32_MIN : INT64_MIN, hi = type == NPY_INT32 ? INT32_MAX : INT64_MAX;
        PyArrayObject *w = (PyArrayObject *)PyArray_FROMANY((PyObject *)tmp, uns ? NPY_UINT64 : NPY_INT64, 0, 0,
                                                            NPY_ARRAY_CARRAY_RO | NPY_ARRAY_FORCECAST);
        if (!w) {
            Py_DECREF(tmp);
            return NULL;
        }
        npy_intp n = PyArray_SIZE(w), bad = -1;
        for (npy_intp i = 0; i < n && bad < 0; i++)
            if (uns ? ((const uint64_t *)PyArray_DATA(w))[i] > (uint64_t)hi
                    : ((const int64_t *)PyArray_DATA(w))[i] < lo || ((const int64_t *)PyArray_DATA(w))[i] > hi)
                bad = i;
        if (bad >= 0) {
            PyObject *v = PyArray_GETITEM(w, (char *)PyArray_DATA(w) + bad * PyArray_ITEMSIZE(w));
            PyErr_Format(PyExc_ValueError, "%s '%s': value %S at index %zd is out of range (beyond %d-bit integers)",
                         what, name, v ? v : Py_None, (Py_ssize_t)bad, type == NPY_INT32 ? 32 : 64);
            Py_XDECREF(v);
        }
        Py_DECREF(w);
        if (bad >= 0) {
            Py_DECREF(tmp);
            return NULL;
        }
    }
    PyArrayObject *arr = (PyArrayObject *)PyArray_FROMANY((PyObject *)tmp, type, 0, 0,
                                                          NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    Py_DECREF(tmp);
    return arr;
}

typedef struct {
    int n_in, n_loss;
    int *in_nodes, *loss_nodes;
    PyArrayObject **in_arr, **tgt_arr;
    npy_intp B;
    tl_data data;     /* the arrays as the core reads them */
    const float **in_data;
    const void **tgt_data;
} bound_t;

static void bound_free(bound_t *b) {
    for (int i = 0; i < b->n_in; i++) Py_XDECREF(b->in_arr[i]);
    for (int i = 0; i < b->n_loss; i++) Py_XDECREF(b->tgt_arr[i]);
    PyMem_Free(b->in_nodes);
    PyMem_Free(b->in_arr);
    PyMem_Free(b->in_data);
    PyMem_Free(b->tgt_data);
    memset(b, 0, sizeof *b);
}

/* Convert the inputs (a sequence aligned with the input nodes) and, when
 * targets is not NULL, the targets (aligned with the loss nodes), checking
 * their dtypes and shapes; with check, the core checks their values
 * (tl_net_check_data: finite inputs, labels in range). */
static int bind_arrays(NetObject *self, PyObject *inputs, PyObject *targets, bound_t *b, int check) {
    tl_net *net = self->net;
    int nn = tl_net_n_nodes(net);
    memset(b, 0, sizeof *b);
    b->B = -1;
    int n_in = 0;
    for (int i = 0; i < nn; i++) n_in += tl_node_op(net, i) == TL_OP_INPUT;
    int n_loss = targets ? tl_net_n_losses(net) : 0;
    b->in_nodes = PyMem_Calloc((size_t)(n_in + n_loss) + 1, sizeof(int));
    b->in_arr = PyMem_Calloc((size_t)(n_in + n_loss) + 1, sizeof(PyArrayObject *));
    b->in_data = PyMem_Calloc((size_t)n_in + 1, sizeof(float *));
    b->tgt_data = PyMem_Calloc((size_t)n_loss + 1, sizeof(void *));
    if (!b->in_nodes || !b->in_arr || !b->in_data || !b->tgt_data) {
        bound_free(b);
        PyErr_NoMemory();
        return -1;
    }
    b->loss_nodes = b->in_nodes + n_in;
    b->tgt_arr = b->in_arr + n_in;
    b->n_in = n_in;
    b->n_loss = n_loss;
    for (int i = 0, k = 0; i < nn; i++)
        if (tl_node_op(net, i) == TL_OP_INPUT) b->in_nodes[k++] = i;
    for (int k = 0; k < n_loss; k++) b->loss_nodes[k] = tl_net_loss_node(net, k);

    if (!PyList_Check(inputs) && !PyTuple_Check(inputs)) {
        PyErr_Format(PyExc_TypeError, "inputs: expected a list of %d arrays, got %.80s", n_in, Py_TYPE(inputs)->tp_name);
        goto error;
    }
    if (PySequence_Size(inputs) != n_in) {
        PyErr_Format(PyExc_ValueError, "inputs: expected %d arrays (one per input node), got %zd", n_in,
                     PySequence_Size(inputs));
        goto error;
    }
    if (targets && !PyList_Check(targets) && !PyTuple_Check(targets)) {
        PyErr_Format(PyExc_TypeError, "targets: expected a list of %d arrays, got %.80s", n_loss, Py_TYPE(targets)->tp_name);
        goto error;
    }
    if (targets && PySequence_Size(targets) != n_loss) {
        PyErr_Format(PyExc_ValueError, "targets: expected %d arrays (one per loss), got %zd", n_loss, PySequence_Size(targets));
        goto error;
    }
    char got[160], want[160];
    for (int k = 0; k < n_in; k++) {
        int node = b->in_nodes[k], shape[TL_MAX_DIM];
        const char *name = tl_node_name(net, node);
        int nd = tl_node_shape(net, node, shape);
        PyArrayObject *a = as_array(PySequence_Fast_GET_ITEM(inputs, k), NPY_FLOAT32, "input", name, 0);
        if (!a) goto error;
        b->in_arr[k] = a;
        int ok = PyArray_NDIM(a) == nd + 1;
        for (int d = 0; ok && d < nd; d++) ok = PyArray_DIM(a, d + 1) == shape[d];
        if (!ok) {
            shape_str(want, sizeof want, "batch", shape, nd);
            array_shape_str(got, sizeof got, a);
            PyErr_Format(PyExc_ValueError, "input '%s': expected shape %s, got %s", name, want, got);
            goto error;
        }
        npy_intp B = PyArray_DIM(a, 0);
        if (b->B >= 0 && B != b->B) {
            PyErr_Format(PyExc_ValueError, "input '%s': batch of %zd examples, but the first input has %zd", name,
                         (Py_ssize_t)B, (Py_ssize_t)b->B);
            goto error;
        }
        b->B = B;
    }
    for (int k = 0; k < n_loss; k++) {
        int node = b->loss_nodes[k];
        const char *name = tl_node_name(net, node);
        int is_int = tl_op_get(tl_node_op(net, node))->target == TL_TARGET_INT;
        int64_t size = tl_node_size(net, tl_node_input(net, node, 0));
        PyObject *t = PySequence_Fast_GET_ITEM(targets, k);
        PyArrayObject *a = as_array(t, is_int ? NPY_INT32 : NPY_FLOAT32, "target of loss", name, is_int);
        if (!a) goto error;
        b->tgt_arr[k] = a;
        npy_intp B = PyArray_NDIM(a) ? PyArray_DIM(a, 0) : -1;
        npy_intp want_size = is_int ? B : B * (npy_intp)size;
        if (B < 0 || PyArray_SIZE(a) != want_size || (is_int && PyArray_NDIM(a) != 1)) {
            array_shape_str(got, sizeof got, a);
            if (is_int)
                PyErr_Format(PyExc_ValueError, "target of loss '%s': expected labels of shape (batch,), got %s", name, got);
            else
                PyErr_Format(PyExc_ValueError, "target of loss '%s': expected (batch, %lld) values, got shape %s", name,
                             (long long)size, got);
            goto error;
        }
        if (b->B >= 0 && B != b->B) {
            PyErr_Format(PyExc_ValueError, "target of loss '%s': %zd examples, but the inputs have %zd", name,
                         (Py_ssize_t)B, (Py_ssize_t)b->B);
            goto error;
        }
    }
    if (b->B == 0) {
        PyErr_SetString(PyExc_ValueError, "empty batch: expected at least one example, got 0");
        goto error;
    }
    if (b->B > TL_INT_MAX) {
        PyErr_Format(PyExc_ValueError, "batch of %zd examples exceeds 2^31-1", (Py_ssize_t)b->B);
        goto error;
    }
    for (int k = 0; k < n_in; k++) b->in_data[k] = PyArray_DATA(b->in_arr[k]);
    for (int k = 0; k < n_loss; k++) b->tgt_data[k] = PyArray_DATA(b->tgt_arr[k]);
    b->data = (tl_data){b->B, b->in_data, targets ? b->tgt_data : NULL};
    tl_status st;
    if (check && (st = tl_net_check_data(net, &b->data, NULL, b->B))) {
        raise_status(self, st);
        goto error;
    }
    return 0;
error:
    bound_free(b);
    return -1;
}

/* Point the C network at rows [start, start + B) of the bound arrays. */
static void bind_rows(tl_net *net, const bound_t *b, npy_intp start) {
    for (int k = 0; k < b->n_in; k++) {
        PyArrayObject *a = b->in_arr[k];
        npy_intp row = PyArray_SIZE(a) / PyArray_DIM(a, 0);
        tl_net_set_input(net, b->in_nodes[k], (const float *)PyArray_DATA(a) + start * row);
    }
    for (int k = 0; k < b->n_loss; k++) {
        PyArrayObject *a = b->tgt_arr[k];
        npy_intp row = PyArray_SIZE(a) / PyArray_DIM(a, 0);
        tl_net_set_target(net, b->loss_nodes[k], (const char *)PyArray_DATA(a) + start * row * PyArray_ITEMSIZE(a));
    }
}

static void unbind(tl_net *net, const bound_t *b) {
    for (int k = 0; k < b->n_in; k++) tl_net_set_input(net, b->in_nodes[k], NULL);
    for (int k = 0; k < b->n_loss; k++) tl_net_set_target(net, b->loss_nodes[k], NULL);
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

static int parse_ints(PyObject *seq, int *out, int cap, const char *what) {
    if (!seq || seq == Py_None) return 0;
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of integers");
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > cap) {
        PyErr_Format(PyExc_ValueError, "%s: at most %d values, got %zd", what, cap, n);
        Py_DECREF(fast);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        if (v < INT32_MIN || v > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "%s: value %ld out of the 32-bit range", what, v);
            Py_DECREF(fast);
            return -1;
        }
        out[i] = (int)v;
    }
    Py_DECREF(fast);
    return (int)n;
}

/* A dict name -> value as the core's tl_attrs (names point into the dict's
 * keys, alive for the call).  CHOICE attributes also take their value's name. */
static int parse_attrs(PyObject *dict, int op, const char *node, tl_attrs *out) {
    out->n = 0;
    if (!dict || dict == Py_None) return 0;
    const tl_op_info *o = tl_op_get(op);
    if (!PyDict_Check(dict)) {
        PyErr_Format(PyExc_TypeError, "%s '%s': attributes must be a dict name -> value, got %s", o->name, node,
                     Py_TYPE(dict)->tp_name);
        return -1;
    }
    if (PyDict_GET_SIZE(dict) > TL_MAX_ATTRS) {
        PyErr_Format(PyExc_ValueError, "%s '%s': %zd attributes given, at most %d", o->name, node,
                     PyDict_GET_SIZE(dict), TL_MAX_ATTRS);
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *val;
    while (PyDict_Next(dict, &pos, &key, &val)) {
        const char *nm = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (!nm) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "%s '%s': attribute names are strings, got %s", o->name, node,
                             Py_TYPE(key)->tp_name);
            return -1;
        }
        int k = tl_op_attr_find(op, nm);
        double v;
        if (k >= 0 && o->attrs[k].kind == TL_ATTR_CHOICE && PyUnicode_Check(val)) {
            const char *cv = PyUnicode_AsUTF8(val);
            if (!cv) return -1;
            int j = 0;
            while (o->attrs[k].choices[j] && strcmp(o->attrs[k].choices[j], cv)) j++;
            if (!o->attrs[k].choices[j]) {
                PyErr_Format(PyExc_ValueError, "%s '%s': %s must be %s, got '%s'", o->name, node, nm, o->attrs[k].must,
                             cv);
                return -1;
            }
            v = j;
        } else if (PyLong_Check(val) || PyFloat_Check(val)) { /* bool is an int */
            v = PyFloat_AsDouble(val);
            if (v == -1.0 && PyErr_Occurred()) {
                PyErr_Clear();
                v = HUGE_VAL; /* an int too large for a double: out of every limit */
            }
        } else {
            PyErr_Format(PyExc_TypeError, "%s '%s': attribute '%s' must be a number, got %s", o->name, node, nm,
                         Py_TYPE(val)->tp_name);
            return -1;
        }
        out->names[out->n] = nm;
        out->values[out->n++] = v;
    }
    return 0;
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

static PyObject *int_tuple(const int *v, int n) {
    PyObject *t = PyTuple_New(n);
    if (!t) return NULL;
    for (int i = 0; i < n; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLong(v[i]));
    return t;
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
        if (!strcmp(arena_names[k], which)) a = k;
    if (a < 0) {
        PyErr_Format(PyExc_ValueError, "unknown arena '%s' (expected value, grad, mask, snapshot, fisher, m or v)", which);
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

static PyObject *Net_set_optim(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"kind", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps", NULL};
    const char *kind;
    tl_optim_cfg cfg = {0};
    cfg.beta1 = 0.9f;
    cfg.beta2 = 0.999f;
    cfg.eps = 1e-8f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|fpffff:set_optim", kwlist, &kind, &cfg.momentum, &cfg.nesterov,
                                     &cfg.weight_decay, &cfg.beta1, &cfg.beta2, &cfg.eps))
        return NULL;
    int k = 0;
    while (tl_optim_names[k] && strcmp(tl_optim_names[k], kind)) k++;
    if (!tl_optim_names[k]) {
        PyErr_Format(PyExc_ValueError, "unknown optimizer '%s' (expected 'sgd', 'adam' or 'adamw')", kind);
        return NULL;
    }
    cfg.kind = (tl_optim)k;
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

static PyObject *losses_tuple(const double *losses, int n) {
    PyObject *t = PyTuple_New(n);
    if (!t) return NULL;
    for (int i = 0; i < n; i++) PyTuple_SET_ITEM(t, i, PyFloat_FromDouble(losses[i]));
    return t;
}

/* train_step(inputs, targets, lr) -> (losses tuple, reg) */
static PyObject *Net_train_step(NetObject *self, PyObject *args) {
    PyObject *inputs, *targets;
    float lr;
    if (!PyArg_ParseTuple(args, "OOf:train_step", &inputs, &targets, &lr) || require_finalized(self)) return NULL;
    if (enter(self)) return NULL;
    bound_t b;
    if (bind_arrays(self, inputs, targets, &b, 1)) {
        leave(self);
        return NULL;
    }
    double losses[TL_MAX_LOSSES] = {0}, reg = 0.0;
    if (b.n_loss > TL_MAX_LOSSES) {
        bound_free(&b);
        leave(self);
        PyErr_Format(PyExc_ValueError, "at most %d losses per network", TL_MAX_LOSSES);
        return NULL;
    }
    tl_status st;
    bind_rows(self->net, &b, 0);
    Py_BEGIN_ALLOW_THREADS
    st = tl_net_train_step(self->net, (int)b.B, lr, losses, &reg);
    Py_END_ALLOW_THREADS
    unbind(self->net, &b);
    self->grad_B = st ? 0 : (int)b.B;
    int n = b.n_loss;
    bound_free(&b);
    leave(self);
    if (st) return raise_status(self, st);
    double cnt[TL_MAX_LOSSES], ok[TL_MAX_LOSSES];
    for (int k = 0; k < n; k++) {
        int64_t c, o;
        tl_net_loss_stats(self->net, k, &c, &o);
        cnt[k] = (double)c;
        ok[k] = (double)o;
    }
    return Py_BuildValue("NdNN", losses_tuple(losses, n), reg, losses_tuple(cnt, n), losses_tuple(ok, n));
}

/* The results of a run as named arrays: "loss", "count", "correct" (steps,
 * n_losses) and "reg" (steps,). */
static PyObject *step_results(const tl_step_result *res, npy_intp steps, int nl) {
    npy_intp d2[2] = {steps, nl}, d1[1] = {steps};
    PyObject *loss = PyArray_ZEROS(2, d2, NPY_FLOAT64, 0), *count = PyArray_ZEROS(2, d2, NPY_INT64, 0);
    PyObject *correct = PyArray_ZEROS(2, d2, NPY_INT64, 0), *reg = PyArray_ZEROS(1, d1, NPY_FLOAT64, 0), *out = NULL;
    if (loss && count && correct && reg) {
        double *l = PyArray_DATA((PyArrayObject *)loss), *r = PyArray_DATA((PyArrayObject *)reg);
        int64_t *c = PyArray_DATA((PyArrayObject *)count), *o = PyArray_DATA((PyArrayObject *)correct);
        for (npy_intp s = 0; s < steps; s++) {
            r[s] = res[s].reg;
            for (int k = 0; k < nl; k++) {
                l[s * nl + k] = res[s].loss[k].loss;
                c[s * nl + k] = res[s].loss[k].count;
                o[s * nl + k] = res[s].loss[k].correct;
            }
        }
        out = Py_BuildValue("{sOsOsOsO}", "loss", loss, "count", count, "correct", correct, "reg", reg);
    }
    Py_XDECREF(loss);
    Py_XDECREF(count);
    Py_XDECREF(correct);
    Py_XDECREF(reg);
    return out;
}

/* train_batches(inputs, targets, batch_size, lrs, index=None) -> dict of arrays
 * Runs len(lrs) steps in one C call (tl_net_train_batches) with the GIL
 * released.  Without index, step s takes rows [s bs, (s+1) bs) of the arrays;
 * with index (a permutation or any row list), rows index[s bs : (s+1) bs],
 * gathered by the core batch by batch.  The result names its columns:
 * "loss", "count", "correct" (steps, n_losses) and "reg" (steps,). */
static PyObject *Net_train_batches(NetObject *self, PyObject *args) {
    PyObject *inputs, *targets, *lrs_obj, *index_obj = Py_None;
    int bs;
    if (!PyArg_ParseTuple(args, "OOiO|O:train_batches", &inputs, &targets, &bs, &lrs_obj, &index_obj) ||
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
    }
    if (enter(self)) {
        Py_DECREF(lrs);
        Py_XDECREF(index);
        return NULL;
    }
    PyObject *out = NULL;
    tl_step_result *res = NULL;
    bound_t b;
    if (bind_arrays(self, inputs, targets, &b, 0)) goto done; /* the core checks the rows it will read */
    npy_intp steps = PyArray_DIM(lrs, 0), N = index ? PyArray_DIM(index, 0) : b.B;
    res = PyMem_Calloc((size_t)steps + 1, sizeof *res);
    if (!res) {
        PyErr_NoMemory();
        goto done;
    }
    const int64_t *idx = index ? PyArray_DATA(index) : NULL;
    const float *lr = PyArray_DATA(lrs);
    int64_t ran = 0;
    tl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tl_net_train_batches(self->net, &b.data, idx, N, bs, lr, steps, res, &ran);
    Py_END_ALLOW_THREADS
    self->grad_B = ran ? (int)(N - (ran - 1) * bs < bs ? N - (ran - 1) * bs : bs) : 0;
    if (st) {
        raise_status(self, st);
        goto done;
    }
    out = step_results(res, steps, b.n_loss);
done:
    PyMem_Free(res);
    bound_free(&b);
    Py_DECREF(lrs);
    Py_XDECREF(index);
    leave(self);
    return out;
}

/* check_data(inputs, targets=None): the core's check of the values (finite
 * inputs, labels in range) without running anything, e.g. before an epoch loop */
static PyObject *Net_check_data(NetObject *self, PyObject *args) {
    PyObject *inputs, *targets = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:check_data", &inputs, &targets) || require_finalized(self)) return NULL;
    if (enter(self)) return NULL;
    bound_t b;
    int bad = bind_arrays(self, inputs, targets == Py_None ? NULL : targets, &b, 1);
    if (!bad) bound_free(&b);
    leave(self);
    if (bad) return NULL;
    Py_RETURN_NONE;
}

/* forward(inputs, outputs, train=False, batch_size=0) -> list of arrays (copies) */
static PyObject *Net_forward(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"inputs", "outputs", "train", "batch_size", NULL};
    PyObject *inputs, *outputs;
    int train = 0, bs = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|pi:forward", kwlist, &inputs, &outputs, &train, &bs) ||
        require_finalized(self))
        return NULL;
    int outs[MAX_OUTPUTS];
    int nout = parse_ints(outputs, outs, MAX_OUTPUTS, "outputs");
    if (nout < 0) return NULL;
    for (int k = 0; k < nout; k++) {
        if (check_node(self, outs[k])) return NULL;
        if (tl_op_get(tl_node_op(self->net, outs[k]))->is_loss) {
            PyErr_Format(PyExc_ValueError, "node %d is a loss; request the node it is computed on", outs[k]);
            return NULL;
        }
    }
    if (enter(self)) return NULL;
    bound_t b;
    if (bind_arrays(self, inputs, NULL, &b, 1)) {
        leave(self);
        return NULL;
    }
    PyObject *res = PyList_New(nout);
    PyArrayObject *arrs[MAX_OUTPUTS] = {0};
    if (!res) goto error;
    for (int k = 0; k < nout; k++) {
        int shape[TL_MAX_DIM];
        npy_intp dims[TL_MAX_DIM + 1];
        int nd = tl_node_shape(self->net, outs[k], shape);
        dims[0] = b.B;
        for (int d = 0; d < nd; d++) dims[d + 1] = shape[d];
        arrs[k] = (PyArrayObject *)PyArray_EMPTY(nd + 1, dims, NPY_FLOAT32, 0);
        if (!arrs[k]) goto error;
        PyList_SET_ITEM(res, k, (PyObject *)arrs[k]);
    }
    npy_intp N = b.B, chunk = bs > 0 ? bs : N;
    tl_status st = TL_OK;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp start = 0; start < N && !st; start += chunk) {
        int B = (int)(N - start < chunk ? N - start : chunk);
        bind_rows(self->net, &b, start);
        st = tl_net_forward(self->net, B, train, NULL);
        if (!st)
            for (int k = 0; k < nout; k++) {
                int64_t sz = tl_node_size(self->net, outs[k]);
                memcpy((float *)PyArray_DATA(arrs[k]) + start * sz, tl_node_output(self->net, outs[k]),
                       sizeof(float) * (size_t)(B * sz));
            }
    }
    Py_END_ALLOW_THREADS
    unbind(self->net, &b);
    if (st) {
        raise_status(self, st);
        goto error;
    }
    bound_free(&b);
    leave(self);
    return res;
error:
    Py_XDECREF(res);
    bound_free(&b);
    leave(self);
    return NULL;
}

/* evaluate(inputs, targets, batch_size=0) -> (sums, counts, corrects): per loss, the
 * loss summed over labelled entries, their number and the number predicted
 * right, in evaluation mode (no dropout, no gradients). */
static PyObject *Net_evaluate(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"inputs", "targets", "batch_size", NULL};
    PyObject *inputs, *targets;
    int bs = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|i:evaluate", kwlist, &inputs, &targets, &bs) || require_finalized(self))
        return NULL;
    if (enter(self)) return NULL;
    bound_t b;
    if (bind_arrays(self, inputs, targets, &b, 1)) {
        leave(self);
        return NULL;
    }
    int nl = b.n_loss;
    double losses[TL_MAX_LOSSES], sums[TL_MAX_LOSSES] = {0}, cnts[TL_MAX_LOSSES] = {0}, oks[TL_MAX_LOSSES] = {0};
    tl_status st = nl > TL_MAX_LOSSES ? TL_ERR_VALUE : TL_OK;
    npy_intp N = b.B, chunk = bs > 0 ? bs : N;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp start = 0; start < N && !st; start += chunk) {
        int B = (int)(N - start < chunk ? N - start : chunk);
        bind_rows(self->net, &b, start);
        st = tl_net_forward(self->net, B, 0, losses);
        for (int k = 0; !st && k < nl; k++) {
            int64_t cnt, ok;
            tl_net_loss_stats(self->net, k, &cnt, &ok);
            sums[k] += losses[k] * (double)cnt;
            cnts[k] += (double)cnt;
            oks[k] += (double)ok;
        }
    }
    Py_END_ALLOW_THREADS
    unbind(self->net, &b);
    bound_free(&b);
    leave(self);
    if (st) return raise_status(self, st);
    PyObject *a = PyTuple_New(nl), *c = PyTuple_New(nl), *o = PyTuple_New(nl);
    if (!a || !c || !o) {
        Py_XDECREF(a); Py_XDECREF(c); Py_XDECREF(o);
        return NULL;
    }
    for (int k = 0; k < nl; k++) {
        PyTuple_SET_ITEM(a, k, PyFloat_FromDouble(sums[k]));
        PyTuple_SET_ITEM(c, k, PyFloat_FromDouble(cnts[k]));
        PyTuple_SET_ITEM(o, k, PyFloat_FromDouble(oks[k]));
    }
    return Py_BuildValue("NNN", a, c, o);
}

/* forward_backward(inputs, targets, with_reg=True) -> (losses, reg); gradients left in the grad arena */
static PyObject *Net_forward_backward(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"inputs", "targets", "with_reg", NULL};
    PyObject *inputs, *targets;
    int with_reg = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|p:forward_backward", kwlist, &inputs, &targets, &with_reg) ||
        require_finalized(self))
        return NULL;
    if (enter(self)) return NULL;
    bound_t b;
    if (bind_arrays(self, inputs, targets, &b, 1)) {
        leave(self);
        return NULL;
    }
    double losses[TL_MAX_LOSSES] = {0}, reg = 0.0;
    tl_status st = b.n_loss > TL_MAX_LOSSES ? TL_ERR_VALUE : TL_OK;
    if (!st) {
        bind_rows(self->net, &b, 0);
        Py_BEGIN_ALLOW_THREADS
        st = tl_net_forward_backward(self->net, (int)b.B, with_reg, losses, &reg);
        Py_END_ALLOW_THREADS
        unbind(self->net, &b);
        self->grad_B = st ? 0 : (int)b.B;
    }
    int n = b.n_loss;
    bound_free(&b);
    leave(self);
    if (st) return raise_status(self, st);
    return Py_BuildValue("Nd", losses_tuple(losses, n), reg);
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

static PyObject *Net_accumulate_fisher(NetObject *self, PyObject *args) {
    PyObject *inputs, *targets;
    float scale;
    if (!PyArg_ParseTuple(args, "OOf:accumulate_fisher", &inputs, &targets, &scale) || require_finalized(self)) return NULL;
    if (enter(self)) return NULL;
    bound_t b;
    if (bind_arrays(self, inputs, targets, &b, 1)) {
        leave(self);
        return NULL;
    }
    tl_status st;
    bind_rows(self->net, &b, 0);
    Py_BEGIN_ALLOW_THREADS
    st = tl_net_accumulate_fisher(self->net, (int)b.B, scale);
    Py_END_ALLOW_THREADS
    unbind(self->net, &b);
    self->grad_B = st ? 0 : (int)b.B;
    bound_free(&b);
    leave(self);
    if (st) return raise_status(self, st);
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
    {"attr", (PyCFunction)Net_attr, METH_VARARGS, "attr(node, name) -> its value"},
    {"set_optim", (PyCFunction)(void (*)(void))Net_set_optim, METH_VARARGS | METH_KEYWORDS,
     "set_optim(kind, momentum=0, nesterov=False, weight_decay=0, beta1=0.9, beta2=0.999, eps=1e-8)"},
    {"reset_optim", (PyCFunction)Net_reset_optim, METH_NOARGS, "zero the optimizer state"},
    {"set_input_grad", (PyCFunction)Net_set_input_grad, METH_VARARGS, "set_input_grad(node, on)"},
    {"set_check_finite", (PyCFunction)Net_set_check_finite, METH_VARARGS, "set_check_finite(on)"},
    {"train_step", (PyCFunction)Net_train_step, METH_VARARGS, "train_step(inputs, targets, lr) -> (losses, reg, counts, corrects)"},
    {"train_batches", (PyCFunction)Net_train_batches, METH_VARARGS,
     "train_batches(inputs, targets, batch_size, lrs, index=None) -> dict: loss, count, correct (steps, n_losses), "
     "reg (steps,)"},
    {"forward", (PyCFunction)(void (*)(void))Net_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(inputs, outputs, train=False, batch_size=0) -> list of arrays"},
    {"evaluate", (PyCFunction)(void (*)(void))Net_evaluate, METH_VARARGS | METH_KEYWORDS,
     "evaluate(inputs, targets, batch_size=0) -> (loss sums, counts, corrects) per loss"},
    {"forward_backward", (PyCFunction)(void (*)(void))Net_forward_backward, METH_VARARGS | METH_KEYWORDS,
     "forward_backward(inputs, targets, with_reg=True) -> (losses, reg)"},
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

static PyType_Spec Net_spec = {"tlearn._core.Net", sizeof(NetObject), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, Net_slots};

/* ---------- module ---------- */

static PyObject *attr_number(const tl_attr_def *d, double v) {
    if (isnan(v) || isinf(v) || d->kind == TL_ATTR_FLOAT) return PyFloat_FromDouble(v);
    return PyLong_FromDouble(v);
}

/* the row's attributes as a list of dicts (name, kind, default (None: required), limits, ...) */
static PyObject *op_attrs(const tl_op_info *o) {
    static const char *kinds[] = {"int", "bool", "choice", "float"};
    PyObject *list = PyList_New(o->n_attrs);
    for (int k = 0; list && k < o->n_attrs; k++) {
        const tl_attr_def *d = &o->attrs[k];
        PyObject *choices = PyTuple_New(0);
        for (int j = 0; choices && d->choices && d->choices[j]; j++) {
            PyObject *c = PyUnicode_FromString(d->choices[j]);
            if (!c || _PyTuple_Resize(&choices, j + 1)) {
                Py_XDECREF(c);
                Py_CLEAR(choices);
                break;
            }
            PyTuple_SET_ITEM(choices, j, c);
        }
        PyObject *def = isnan(d->def) ? Py_NewRef(Py_None) : attr_number(d, d->def);
        PyObject *e = choices && def ? Py_BuildValue("{s:s,s:s,s:O,s:N,s:N,s:O,s:O,s:z,s:O,s:O,s:s}", "name", d->name,
                                                     "kind", kinds[d->kind], "default", def, "min", attr_number(d, d->lo),
                                                     "max", attr_number(d, d->hi), "min_open",
                                                     d->lo_open ? Py_True : Py_False, "max_open",
                                                     d->hi_open ? Py_True : Py_False, "must", d->must, "settable",
                                                     d->settable ? Py_True : Py_False, "choices", choices, "doc", d->doc)
                                     : NULL;
        Py_XDECREF(choices);
        Py_XDECREF(def);
        if (!e) Py_CLEAR(list);
        else PyList_SET_ITEM(list, k, e);
    }
    return list;
}

static PyObject *mod_ops(PyObject *m, PyObject *Py_UNUSED(a)) {
    (void)m;
    PyObject *list = PyList_New(TL_OP_COUNT);
    if (!list) return NULL;
    for (int i = 0; i < TL_OP_COUNT; i++) {
        const tl_op_info *o = tl_op_get(i);
        PyObject *attrs = op_attrs(o);
        PyObject *d = attrs ? Py_BuildValue("{s:s,s:i,s:i,s:O,s:s,s:O,s:N,s:s}", "name", o->name, "min_inputs",
                                            o->min_inputs, "max_inputs", o->max_inputs, "is_loss",
                                            o->is_loss ? Py_True : Py_False, "target",
                                            o->target == TL_TARGET_INT     ? "int"
                                            : o->target == TL_TARGET_FLOAT ? "float"
                                                                           : "none",
                                            "classification", o->classification ? Py_True : Py_False, "attrs", attrs,
                                            "doc", o->doc)
                            : NULL;
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyObject *mod_sgemm_probe(PyObject *m, PyObject *args) {
    (void)m;
    int M, N, K, reps;
    if (!PyArg_ParseTuple(args, "iiii:sgemm_probe", &M, &N, &K, &reps)) return NULL;
    if (M <= 0 || N <= 0 || K <= 0 || reps <= 0) {
        PyErr_SetString(PyExc_ValueError, "sgemm_probe: sizes and reps must be positive");
        return NULL;
    }
    double secs = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = tl_sgemm_probe(M, N, K, reps, &secs);
    Py_END_ALLOW_THREADS
    if (rc) return PyErr_NoMemory();
    return PyFloat_FromDouble(secs);
}

static PyObject *mod_set_num_threads(PyObject *m, PyObject *arg) {
    (void)m;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 1) {
        PyErr_Format(PyExc_ValueError, "set_num_threads: expected a positive number of threads, got %ld", n);
        return NULL;
    }
    return PyLong_FromLong(tl_set_num_threads(n > 1 << 20 ? 1 << 20 : (int)n));
}

static PyObject *mod_num_threads(PyObject *m, PyObject *unused) {
    (void)m, (void)unused;
    return PyLong_FromLong(tl_num_threads());
}

/* labels(array, loss) -> the array as C-contiguous int32 class labels, refusing
 * other dtypes and values beyond int32 (the conversion of every target of an
 * integer loss, done once by the caller instead of at each call) */
static PyObject *mod_labels(PyObject *m, PyObject *args) {
    (void)m;
    PyObject *obj;
    const char *loss;
    if (!PyArg_ParseTuple(args, "Os:labels", &obj, &loss)) return NULL;
    return (PyObject *)as_array(obj, NPY_INT32, "target of loss", loss, 1);
}

static PyMethodDef mod_methods[] = {
    {"labels", mod_labels, METH_VARARGS, "labels(array, loss) -> int32 class labels (no value wrapped)"},
    {"set_num_threads", mod_set_num_threads, METH_O,
     "set_num_threads(n) -> threads in effect (at most MAX_THREADS) for the core's own loops (not OpenBLAS's)"},
    {"num_threads", mod_num_threads, METH_NOARGS, "num_threads() -> threads of the core's own loops"},
    {"ops", mod_ops, METH_NOARGS, "ops() -> list of op descriptions (the core's op table)"},
    {"sgemm_probe", mod_sgemm_probe, METH_VARARGS, "sgemm_probe(M, N, K, reps) -> seconds for reps sgemm calls"},
    {NULL, NULL, 0, NULL}};

static int mod_exec(PyObject *m) {
    if (PyArray_ImportNumPyAPI() < 0) return -1;
    mod_state *st = PyModule_GetState(m);
    st->TlearnError = PyErr_NewExceptionWithDoc("tlearn._core.TlearnError",
                                                 "An error reported by the tlearn C core (wrong state, non-finite values, "
                                                 "concurrent use).", PyExc_RuntimeError, NULL);
    if (!st->TlearnError || PyModule_AddObjectRef(m, "TlearnError", st->TlearnError) < 0) return -1;
    st->NetType = PyType_FromModuleAndSpec(m, &Net_spec, NULL);
    if (!st->NetType || PyModule_AddObjectRef(m, "Net", st->NetType) < 0) return -1;
    if (PyModule_AddIntConstant(m, "MAX_DIM", TL_MAX_DIM) < 0) return -1;
    if (PyModule_AddIntConstant(m, "INT_MAX", TL_INT_MAX) < 0) return -1; /* sizes the core counts in C ints */
    if (PyModule_AddIntConstant(m, "MAX_THREADS", TL_MAX_THREADS) < 0) return -1;
    return 0;
}

static int mod_traverse(PyObject *m, visitproc visit, void *arg) {
    mod_state *st = PyModule_GetState(m);
    Py_VISIT(st->NetType);
    Py_VISIT(st->TlearnError);
    return 0;
}

static int mod_clear(PyObject *m) {
    mod_state *st = PyModule_GetState(m);
    Py_CLEAR(st->NetType);
    Py_CLEAR(st->TlearnError);
    return 0;
}

static void mod_free(void *m) { mod_clear((PyObject *)m); }

static PyModuleDef_Slot mod_slots[] = {{Py_mod_exec, mod_exec}, {0, NULL}};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "tlearn._core", "The tlearn C core: networks, losses, regularizers and optimizers.",
    sizeof(mod_state),     mod_methods,    mod_slots,
    mod_traverse,          mod_clear,      mod_free};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&moduledef); }
