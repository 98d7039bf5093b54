/* module.c - tlearn._core: the CPython + NumPy binding of the C core.
 *
 * Multi-phase init, module state holding the Net type (nettype.c) and the
 * TlearnError exception, and the module's functions (the op table, threads,
 * labels, the sgemm probe).  Conversions are in convert.c. */
#define TLPY_IMPORT_ARRAY
#include "binding.h"

#include <math.h>

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
        PyObject *e = choices && def ? Py_BuildValue("{s:s,s:s,s:O,s:N,s:N,s:O,s:O,s:z,s:O,s:O,s:s,s:z}", "name", d->name,
                                                     "kind", kinds[d->kind], "default", def, "min", attr_number(d, d->lo),
                                                     "max", attr_number(d, d->hi), "min_open",
                                                     d->lo_open ? Py_True : Py_False, "max_open",
                                                     d->hi_open ? Py_True : Py_False, "must", d->must, "settable",
                                                     d->settable ? Py_True : Py_False, "choices", choices, "doc", d->doc,
                                                     "pair", d->pair)
                                     : NULL;
        Py_XDECREF(choices);
        Py_XDECREF(def);
        if (!e) Py_CLEAR(list);
        else PyList_SET_ITEM(list, k, e);
    }
    return list;
}

/* the row's parameters as a list of dicts (name, buffer, when: the bool attribute it needs or None) */
static PyObject *op_params(const tl_op_info *o) {
    PyObject *list = PyList_New(o->n_params);
    for (int k = 0; list && k < o->n_params; k++) {
        const tl_param_def *d = &o->params[k];
        PyObject *e = Py_BuildValue("{s:s,s:O,s:z}", "name", d->name, "buffer", d->buffer ? Py_True : Py_False,
                                    "when", d->when);
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
        PyObject *attrs = op_attrs(o), *params = attrs ? op_params(o) : NULL;
        if (!params) Py_CLEAR(attrs);
        PyObject *d = attrs ? Py_BuildValue("{s:s,s:i,s:i,s:O,s:s,s:O,s:N,s:N,s:z}", "name", o->name, "min_inputs",
                                            o->min_inputs, "max_inputs", o->max_inputs, "is_loss",
                                            o->is_loss ? Py_True : Py_False, "target",
                                            o->target == TL_TARGET_INT     ? "int"
                                            : o->target == TL_TARGET_FLOAT ? "float"
                                                                           : "none",
                                            "classification", o->classification ? Py_True : Py_False, "attrs", attrs,
                                            "params", params, "doc", o->doc)
                            : NULL;
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

/* optimizers() -> {name: {hyper-parameter: default}} from the core's table; each kind lists the ones it uses */
static PyObject *mod_optimizers(PyObject *m, PyObject *Py_UNUSED(a)) {
    (void)m;
    PyObject *out = PyDict_New();
    for (int k = 0; out && k < TL_OPTIM_COUNT; k++) {
        const tl_optim_def *d = &tl_optims[k];
        PyObject *e = k == TL_OPTIM_SGD
                          ? Py_BuildValue("{s:d,s:O,s:d}", "momentum", d->momentum, "nesterov",
                                          d->nesterov ? Py_True : Py_False, "weight_decay", d->weight_decay)
                          : Py_BuildValue("{s:d,s:d,s:d,s:d}", "beta1", d->beta1, "beta2", d->beta2, "eps", d->eps,
                                          "weight_decay", d->weight_decay);
        if (!e || PyDict_SetItemString(out, d->name, e)) Py_CLEAR(out);
        Py_XDECREF(e);
    }
    return out;
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
    {"optimizers", mod_optimizers, METH_NOARGS, "optimizers() -> {kind: {hyper-parameter: default}} (the core's table)"},
    {"sgemm_probe", mod_sgemm_probe, METH_VARARGS, "sgemm_probe(M, N, K, reps) -> seconds for reps sgemm calls"},
    {"kmeans", tlpy_kmeans, METH_VARARGS,
     "kmeans(X, k, max_iter, tol, seed, n_local_trials, init) -> (centers, labels, inertia, n_iter)"},
    {"kmeans_plusplus", tlpy_kmeans_plusplus, METH_VARARGS,
     "kmeans_plusplus(X, k, seed, n_local_trials) -> (centers, row indices): greedy k-means++ seeding"},
    {"sqdist", tlpy_sqdist, METH_VARARGS, "sqdist(X, C) -> (squared distances (n, k), nearest centre (n,))"},
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
