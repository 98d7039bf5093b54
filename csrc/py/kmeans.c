/* kmeans.c - the binding of the core's k-means (csrc/core/kmeans.h):
 * kmeans, kmeans_plusplus and sqdist on float32 matrices, the GIL released
 * while the core runs. */
#include "binding.h"

#include "../core/kmeans.h"

/* obj as a C-contiguous float32 (rows, cols) matrix (a copy only when it is not one) */
static PyArrayObject *as_matrix(PyObject *obj, const char *what) {
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(obj, NPY_FLOAT32, 2, 2, NPY_ARRAY_CARRAY_RO | NPY_ARRAY_FORCECAST);
    if (!a) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s: expected a 2-D array of real numbers (n_examples, n_features)", what);
        return NULL;
    }
    if (PyArray_DIM(a, 1) > TL_INT_MAX || PyArray_DIM(a, 0) > TL_INT_MAX || PyArray_SIZE(a) == 0) {
        PyErr_Format(PyExc_ValueError, "%s: expected a non-empty matrix of at most 2^31-1 rows and columns, got %zd x %zd",
                     what, (Py_ssize_t)PyArray_DIM(a, 0), (Py_ssize_t)PyArray_DIM(a, 1));
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

static PyObject *raise_km(tl_status st, const char *err) {
    PyErr_SetString(st == TL_ERR_NOMEM ? PyExc_MemoryError : PyExc_ValueError, err);
    return NULL;
}

/* kmeans(X, k, max_iter, tol, seed, n_local_trials, init or None) -> (centers, labels, inertia, n_iter) */
PyObject *tlpy_kmeans(PyObject *m, PyObject *args) {
    (void)m;
    PyObject *xo, *init_o;
    int k, max_iter, trials;
    double tol;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OiidKiO:kmeans", &xo, &k, &max_iter, &tol, &seed, &trials, &init_o)) return NULL;
    PyArrayObject *x = as_matrix(xo, "k-means data"), *init = NULL;
    if (!x) return NULL;
    const npy_intp n = PyArray_DIM(x, 0), d = PyArray_DIM(x, 1);
    if (init_o != Py_None) {
        if (!(init = as_matrix(init_o, "k-means init"))) goto fail;
        if (PyArray_DIM(init, 0) != k || PyArray_DIM(init, 1) != d) {
            PyErr_Format(PyExc_ValueError, "k-means init: expected (%d, %zd) centres, got (%zd, %zd)", k, (Py_ssize_t)d,
                         (Py_ssize_t)PyArray_DIM(init, 0), (Py_ssize_t)PyArray_DIM(init, 1));
            goto fail;
        }
    }
    if (k < 1 || k > n) {
        PyErr_Format(PyExc_ValueError, "k-means: n_clusters must be in 1..%zd (the number of examples), got %d",
                     (Py_ssize_t)n, k);
        goto fail;
    }
    npy_intp cdims[2] = {k, d}, ldims[1] = {n};
    PyArrayObject *centers = (PyArrayObject *)PyArray_SimpleNew(2, cdims, NPY_FLOAT32);
    PyArrayObject *labels = (PyArrayObject *)PyArray_SimpleNew(1, ldims, NPY_INT32);
    if (!centers || !labels) {
        Py_XDECREF(centers);
        Py_XDECREF(labels);
        goto fail;
    }
    tl_kmeans_cfg cfg = {k, max_iter, tol, (uint64_t)seed, trials, init ? PyArray_DATA(init) : NULL};
    double inertia = 0.0;
    int n_iter = 0;
    char err[TL_ERR_LEN] = "";
    tl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tl_kmeans(PyArray_DATA(x), n, (int)d, &cfg, PyArray_DATA(centers), PyArray_DATA(labels), &inertia, &n_iter,
                   err, sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    Py_XDECREF(init);
    if (st) {
        Py_DECREF(centers);
        Py_DECREF(labels);
        return raise_km(st, err);
    }
    return Py_BuildValue("NNdi", centers, labels, inertia, n_iter);
fail:
    Py_DECREF(x);
    Py_XDECREF(init);
    return NULL;
}

/* kmeans_plusplus(X, k, seed, n_local_trials) -> (centers, indices) */
PyObject *tlpy_kmeans_plusplus(PyObject *m, PyObject *args) {
    (void)m;
    PyObject *xo;
    int k, trials;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OiKi:kmeans_plusplus", &xo, &k, &seed, &trials)) return NULL;
    PyArrayObject *x = as_matrix(xo, "k-means++ data");
    if (!x) return NULL;
    const npy_intp n = PyArray_DIM(x, 0), d = PyArray_DIM(x, 1);
    if (k < 1 || k > n) {
        PyErr_Format(PyExc_ValueError, "k-means++: n_clusters must be in 1..%zd (the number of examples), got %d",
                     (Py_ssize_t)n, k);
        Py_DECREF(x);
        return NULL;
    }
    npy_intp cdims[2] = {k, d}, idims[1] = {k};
    PyArrayObject *centers = (PyArrayObject *)PyArray_SimpleNew(2, cdims, NPY_FLOAT32);
    PyArrayObject *idx = (PyArrayObject *)PyArray_SimpleNew(1, idims, NPY_INT64);
    if (!centers || !idx) {
        Py_XDECREF(centers);
        Py_XDECREF(idx);
        Py_DECREF(x);
        return NULL;
    }
    char err[TL_ERR_LEN] = "";
    tl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tl_kmeans_plusplus(PyArray_DATA(x), n, (int)d, k, (uint64_t)seed, trials, PyArray_DATA(centers),
                            PyArray_DATA(idx), err, sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    if (st) {
        Py_DECREF(centers);
        Py_DECREF(idx);
        return raise_km(st, err);
    }
    return Py_BuildValue("NN", centers, idx);
}

/* sqdist(X, C) -> (squared distances (n, k), nearest centre (n,)) */
PyObject *tlpy_sqdist(PyObject *m, PyObject *args) {
    (void)m;
    PyObject *xo, *co;
    if (!PyArg_ParseTuple(args, "OO:sqdist", &xo, &co)) return NULL;
    PyArrayObject *x = as_matrix(xo, "distances: data"), *c = x ? as_matrix(co, "distances: centres") : NULL;
    if (!c) {
        Py_XDECREF(x);
        return NULL;
    }
    const npy_intp n = PyArray_DIM(x, 0), d = PyArray_DIM(x, 1), k = PyArray_DIM(c, 0);
    if (PyArray_DIM(c, 1) != d) {
        PyErr_Format(PyExc_ValueError, "distances: the data have %zd features, the centres %zd", (Py_ssize_t)d,
                     (Py_ssize_t)PyArray_DIM(c, 1));
        Py_DECREF(x);
        Py_DECREF(c);
        return NULL;
    }
    npy_intp odims[2] = {n, k};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, odims, NPY_FLOAT32);
    PyArrayObject *lab = (PyArrayObject *)PyArray_SimpleNew(1, odims, NPY_INT32);
    if (!out || !lab) {
        Py_XDECREF(out);
        Py_XDECREF(lab);
        Py_DECREF(x);
        Py_DECREF(c);
        return NULL;
    }
    char err[TL_ERR_LEN] = "";
    tl_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tl_sqdist(PyArray_DATA(x), n, (int)d, PyArray_DATA(c), (int)k, PyArray_DATA(out), PyArray_DATA(lab), err,
                   sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    Py_DECREF(c);
    if (st) {
        Py_DECREF(out);
        Py_DECREF(lab);
        return raise_km(st, err);
    }
    return Py_BuildValue("NN", out, lab);
}
