/* binding.h - what the binding's files share: the Net object, the module
 * state, and the conversions between Python/NumPy values and the core's
 * (convert.c).  The Net type is in nettype.c, its calls on caller arrays in
 * netcalls.c, the module in module.c. */
#ifndef TLPY_BINDING_H
#define TLPY_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL tlearn_core_ARRAY_API
#ifndef TLPY_IMPORT_ARRAY
#define NO_IMPORT_ARRAY /* module.c imports the NumPy C API, the other files use its table */
/* kmeans.c: the core's k-means */
PyObject *tlpy_kmeans(PyObject *m, PyObject *args);
PyObject *tlpy_kmeans_plusplus(PyObject *m, PyObject *args);
PyObject *tlpy_sqdist(PyObject *m, PyObject *args);

#endif
#include <numpy/arrayobject.h>

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

extern PyType_Spec Net_spec; /* nettype.c */

/* nettype.c: one call at a time on a network (net_enter/net_leave, with the GIL held), and the checks
 * shared by the methods */
int net_enter(NetObject *self);
void net_leave(NetObject *self);
int require_finalized(NetObject *self);
int check_node(NetObject *self, int i);

/* netcalls.c: the methods that run the core on caller arrays */
PyObject *Net_train_step(NetObject *self, PyObject *args, PyObject *kw);
PyObject *Net_train_batches(NetObject *self, PyObject *args, PyObject *kw);
PyObject *Net_check_data(NetObject *self, PyObject *args);
PyObject *Net_forward(NetObject *self, PyObject *args, PyObject *kw);
PyObject *Net_evaluate(NetObject *self, PyObject *args, PyObject *kw);
PyObject *Net_forward_backward(NetObject *self, PyObject *args, PyObject *kw);
PyObject *Net_input_grad(NetObject *self, PyObject *args);
PyObject *Net_accumulate_fisher(NetObject *self, PyObject *args);

typedef struct {
    int n_in, n_loss;
    int *in_nodes, *loss_nodes;
    PyArrayObject **in_arr, **tgt_arr;
    npy_intp B;
    tl_data data;     /* the arrays as the core reads them */
    const float **in_data;
    const void **tgt_data;
} bound_t;

/* convert.c */
int op_from_name(const char *name);
/* "a, b or c" (each name between quote and quote) into buf */
void names_list(char *buf, size_t n, const char *const *names, int count, const char *quote);
PyObject *raise_status(NetObject *self, tl_status st);
PyArrayObject *as_array(PyObject *obj, int type, const char *what, const char *name, int integer_only);
void bound_free(bound_t *b);
int bind_arrays(NetObject *self, PyObject *inputs, PyObject *targets, bound_t *b, int check);
void bind_rows(tl_net *net, const bound_t *b, npy_intp start);
void unbind(tl_net *net, const bound_t *b);
int parse_ints(PyObject *seq, int *out, int cap, const char *what);
int parse_attrs(PyObject *dict, int op, const char *node, tl_attrs *out);
PyObject *int_tuple(const int *v, int n);
PyObject *step_results(const tl_step_result *res, npy_intp steps, int nl);
PyObject *loss_results(const char *loss_key, const double *loss, const int64_t *count, const int64_t *correct,
                       int nl);

/* kmeans.c: the core's k-means */
PyObject *tlpy_kmeans(PyObject *m, PyObject *args);
PyObject *tlpy_kmeans_plusplus(PyObject *m, PyObject *args);
PyObject *tlpy_sqdist(PyObject *m, PyObject *args);

#endif
