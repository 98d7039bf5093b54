/* convert.c - conversions between Python/NumPy values and the core's: the
 * core's statuses as exceptions, caller arrays as aligned C-contiguous arrays
 * of the dtype the core reads (checked in a fixed order: type, dtype, rank,
 * shape; the core checks the values), node lists, attribute dicts, results. */
#include "binding.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

int op_from_name(const char *name) {
    int op = tl_op_find(name);
    if (op < 0) PyErr_Format(PyExc_ValueError, "unknown op '%s'", name);
    return op;
}

void names_list(char *buf, size_t n, const char *const *names, int count, const char *quote) {
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < count && o < n; k++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s%s%s", !k ? "" : k == count - 1 ? " or " : ", ", quote, names[k], quote);
}

PyObject *raise_status(NetObject *self, tl_status st) {
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
PyArrayObject *as_array(PyObject *obj, int type, const char *what, const char *name, int integer_only) {
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


void bound_free(bound_t *b) {
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
int bind_arrays(NetObject *self, PyObject *inputs, PyObject *targets, bound_t *b, int check) {
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
void bind_rows(tl_net *net, const bound_t *b, npy_intp start) {
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

void unbind(tl_net *net, const bound_t *b) {
    for (int k = 0; k < b->n_in; k++) tl_net_set_input(net, b->in_nodes[k], NULL);
    for (int k = 0; k < b->n_loss; k++) tl_net_set_target(net, b->loss_nodes[k], NULL);
}

int parse_ints(PyObject *seq, int *out, int cap, const char *what) {
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
int parse_attrs(PyObject *dict, int op, const char *node, tl_attrs *out) {
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

PyObject *int_tuple(const int *v, int n) {
    PyObject *t = PyTuple_New(n);
    if (!t) return NULL;
    for (int i = 0; i < n; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLong(v[i]));
    return t;
}

/* The results of a run as named arrays: "loss", "count", "correct" (steps,
 * n_losses) and "reg" (steps,). */
PyObject *step_results(const tl_step_result *res, npy_intp steps, int nl) {
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

/* Per-loss results of one call as a dict of named arrays of shape (n_losses,):
 * `loss_key` (float64), "count" and "correct" (int64). */
PyObject *loss_results(const char *loss_key, const double *loss, const int64_t *count, const int64_t *correct,
                       int nl) {
    npy_intp d[1] = {nl};
    PyObject *l = PyArray_ZEROS(1, d, NPY_FLOAT64, 0), *c = PyArray_ZEROS(1, d, NPY_INT64, 0);
    PyObject *o = PyArray_ZEROS(1, d, NPY_INT64, 0), *out = NULL;
    if (l && c && o) {
        if (nl) {
            memcpy(PyArray_DATA((PyArrayObject *)l), loss, sizeof(double) * (size_t)nl);
            memcpy(PyArray_DATA((PyArrayObject *)c), count, sizeof(int64_t) * (size_t)nl);
            memcpy(PyArray_DATA((PyArrayObject *)o), correct, sizeof(int64_t) * (size_t)nl);
        }
        out = Py_BuildValue("{sOsOsO}", loss_key, l, "count", c, "correct", o);
    }
    Py_XDECREF(l);
    Py_XDECREF(c);
    Py_XDECREF(o);
    return out;
}
