/* nettype.c - the Net type: a heap type wrapping a tl_net, its building,
 * introspection, parameters, attributes, optimizer and the method table.
 * The calls that run the core on caller arrays are in netcalls.c.
 * Parameter arrays are NumPy views on the C arenas that keep the Net alive. */
#include "binding.h"

#include <stdio.h>
#include <string.h>


/* Refuse concurrent use of one network; the GIL makes the check-and-set atomic. */
int net_enter(NetObject *self) {
    if (self->busy) {
        PyErr_SetString(self->error, "this network is in use by another thread; a network runs one call at a time "
                                     "(use model.clone() for a second thread)");
        return -1;
    }
    self->busy = 1;
    return 0;
}
void net_leave(NetObject *self) { self->busy = 0; }

int require_finalized(NetObject *self) {
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
    if (net_enter(self)) return NULL;
    int id = -1;
    tl_status st = tl_net_add(self->net, op, ins, nin, name, &at, sh, nsh, &id);
    net_leave(self);
    if (st) return raise_status(self, st);
    return PyLong_FromLong(id);
}

static PyObject *Net_share(NetObject *self, PyObject *args) {
    int node, source;
    if (!PyArg_ParseTuple(args, "ii:share", &node, &source)) return NULL;
    if (net_enter(self)) return NULL;
    tl_status st = tl_net_share(self->net, node, source);
    net_leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_finalize(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (net_enter(self)) return NULL;
    tl_status st = tl_net_finalize(self->net);
    net_leave(self);
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
    if (net_enter(self)) return NULL;
    int id = -1;
    tl_status st = tl_net_add_loss(self->net, op, input, name, weight, &at, &id);
    net_leave(self);
    if (st) return raise_status(self, st);
    return PyLong_FromLong(id);
}

static PyObject *Net_clear_losses(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (net_enter(self)) return NULL;
    tl_net_clear_losses(self->net);
    net_leave(self);
    Py_RETURN_NONE;
}

int check_node(NetObject *self, int i) {
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
    if (!PyArg_ParseTuple(args, "ip:set_trainable", &p, &on) || check_param_index(self, p) || net_enter(self)) return NULL;
    tl_status st = tl_param_set_trainable(self->net, p, on);
    net_leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_set_reg(NetObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"p", "l2", "l2sp", "ewc", NULL};
    int p;
    float l2 = 0, l2sp = 0, ewc = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|fff:set_reg", kwlist, &p, &l2, &l2sp, &ewc) ||
        check_param_index(self, p) || net_enter(self))
        return NULL;
    tl_status st = tl_param_set_reg(self->net, p, l2, l2sp, ewc);
    net_leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_reset_param(NetObject *self, PyObject *args) {
    int p;
    if (!PyArg_ParseTuple(args, "i:reset_param", &p) || check_param_index(self, p) || net_enter(self)) return NULL;
    tl_status st = tl_param_reset(self->net, p);
    net_leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_snapshot(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (require_finalized(self) || net_enter(self)) return NULL;
    tl_net_snapshot(self->net);
    net_leave(self);
    Py_RETURN_NONE;
}

static PyObject *Net_set_attr(NetObject *self, PyObject *args) {
    int node;
    const char *name;
    double v;
    if (!PyArg_ParseTuple(args, "isd:set_attr", &node, &name, &v) || check_node(self, node) || net_enter(self)) return NULL;
    tl_status st = tl_node_set_attr(self->net, node, name, v);
    net_leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_set_loss_weight(NetObject *self, PyObject *args) {
    int node;
    double w;
    if (!PyArg_ParseTuple(args, "id:set_loss_weight", &node, &w) || check_node(self, node) || net_enter(self)) return NULL;
    tl_status st = tl_net_set_loss_weight(self->net, node, (float)w);
    net_leave(self);
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
    if (net_enter(self)) return NULL;
    tl_status st = tl_net_set_optim(self->net, &cfg);
    net_leave(self);
    if (st) return raise_status(self, st);
    Py_RETURN_NONE;
}

static PyObject *Net_reset_optim(NetObject *self, PyObject *Py_UNUSED(a)) {
    if (net_enter(self)) return NULL;
    tl_net_reset_optim(self->net);
    net_leave(self);
    Py_RETURN_NONE;
}

static PyObject *Net_set_input_grad(NetObject *self, PyObject *args) {
    int node, on;
    if (!PyArg_ParseTuple(args, "ip:set_input_grad", &node, &on) || check_node(self, node)) return NULL;
    if (tl_node_op(self->net, node) != TL_OP_INPUT) {
        PyErr_Format(PyExc_ValueError, "node %d ('%s') is not an input", node, tl_node_name(self->net, node));
        return NULL;
    }
    if (net_enter(self)) return NULL;
    tl_net_set_input_grad(self->net, node, on);
    net_leave(self);
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
    if (net_enter(self)) return -1;
    tl_net_set_optim_steps(self->net, t);
    net_leave(self);
    return 0;
}
static PyObject *Net_get_rng(NetObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(tl_net_rng_state(self->net)); }
static int Net_set_rng(NetObject *self, PyObject *v, void *c) {
    (void)c;
    if (!v) { PyErr_SetString(PyExc_AttributeError, "cannot delete rng_state"); return -1; }
    unsigned long long s = PyLong_AsUnsignedLongLong(v);
    if (s == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    if (net_enter(self)) return -1;
    tl_net_set_rng_state(self->net, s);
    net_leave(self);
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
    if (!PyArg_ParseTuple(args, "p:set_check_finite", &on) || net_enter(self)) return NULL;
    tl_net_set_check_finite(self->net, on);
    net_leave(self);
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
