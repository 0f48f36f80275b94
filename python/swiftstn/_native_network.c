/*
 * swiftstn._native, part 2 — glue over the training engine's C ABI (networks and trainers).
 *
 * Handles are PyCapsules whose destructors free the Swift objects. Inputs are converted to
 * C-contiguous float32 (x) and int64 (labels) arrays, once; every shape and value check beyond
 * dtype and rank happens in Swift and comes back as a message. The GIL is released around every
 * call into the engine; the progress callback re-acquires it between batches.
 */
#include "_native_common.h"

#define NET_CAPSULE "swiftstn.Network"
#define TRAINER_CAPSULE "swiftstn.Trainer"

static void free_network(PyObject *cap) { stn_network_free(PyCapsule_GetPointer(cap, NET_CAPSULE)); }
static void free_trainer(PyObject *cap) { stn_trainer_free(PyCapsule_GetPointer(cap, TRAINER_CAPSULE)); }

static stn_network *get_net(PyObject *cap) { return PyCapsule_GetPointer(cap, NET_CAPSULE); }
static stn_trainer *get_trainer(PyObject *cap) { return PyCapsule_GetPointer(cap, TRAINER_CAPSULE); }

/* x as a float32 (n, ...) array, described in *t: float32/float64 accepted (float64 converted
 * once), others refused. */
static PyArrayObject *as_batch(PyObject *obj, const char *op, stn_tensor *t) {
    PyArrayObject *raw = (PyArrayObject *)PyArray_FROM_O(obj);
    if (raw == NULL) return NULL;
    int type = PyArray_TYPE(raw);
    if (type != NPY_FLOAT32 && type != NPY_FLOAT64) {
        PyErr_Format(PyExc_TypeError, "%s(): x must have dtype float32 or float64, got %s", op, dtype_name(raw));
        Py_DECREF(raw);
        return NULL;
    }
    if (PyArray_NDIM(raw) < 2 || PyArray_NDIM(raw) > STN_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "%s(): x must be a batch (N, ...) with 2 to %d dimensions, got %d", op,
                     STN_MAX_NDIM, PyArray_NDIM(raw));
        Py_DECREF(raw);
        return NULL;
    }
    PyArrayObject *x = (PyArrayObject *)PyArray_FromAny((PyObject *)raw, PyArray_DescrFromType(NPY_FLOAT32), 0, 0,
                                                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED |
                                                            NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(raw);
    if (x != NULL) describe_array(t, x);
    return x;
}

/* labels as int64 (n,) from any integer array. */
static PyArrayObject *as_labels(PyObject *obj, const char *op, int64_t n) {
    PyArrayObject *raw = (PyArrayObject *)PyArray_FROM_O(obj);
    if (raw == NULL) return NULL;
    if (!PyArray_ISINTEGER(raw)) {
        PyErr_Format(PyExc_TypeError, "%s(): y must be an integer array of class labels, got dtype %s", op, dtype_name(raw));
        Py_DECREF(raw);
        return NULL;
    }
    if (PyArray_NDIM(raw) != 1 || PyArray_DIM(raw, 0) != n) {
        PyErr_Format(PyExc_ValueError, "%s(): y must have shape (%lld,) to match x, got %d dimensions with %lld entries", op,
                     (long long)n, PyArray_NDIM(raw), (long long)PyArray_SIZE(raw));
        Py_DECREF(raw);
        return NULL;
    }
    PyArrayObject *y = (PyArrayObject *)PyArray_FromAny((PyObject *)raw, PyArray_DescrFromType(NPY_INT64), 1, 1,
                                                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED |
                                                            NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(raw);
    return y;
}

static void describe_labels(stn_tensor *t, PyArrayObject *y) {
    t->data = PyArray_DATA(y);
    t->dtype = STN_INT64;
    t->ndim = 1;
    t->shape[0] = (int64_t)PyArray_DIM(y, 0);
}

static PyObject *shape_tuple(const int64_t *shape, int32_t ndim) {
    PyObject *t = PyTuple_New(ndim);
    for (int i = 0; t && i < ndim; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(shape[i]));
    return t;
}

static PyObject *py_network_create(PyObject *self, PyObject *args) {
    const char *spec;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "sK:network_create", &spec, &seed)) return NULL;
    char err[ERR_LEN];
    stn_network *net = NULL;
    int32_t st = stn_network_new(spec, (uint64_t)seed, &net, err, ERR_LEN);
    if (st != STN_OK) return raise_status(st, err);
    return PyCapsule_New(net, NET_CAPSULE, free_network);
}

static PyObject *py_network_set_max_parameters(PyObject *self, PyObject *arg) {
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    char err[ERR_LEN];
    int32_t st = stn_network_set_max_parameters((int64_t)n, err, ERR_LEN);
    if (st != STN_OK) return raise_status(st, err);
    Py_RETURN_NONE;
}

static PyObject *py_network_get_max_parameters(PyObject *self, PyObject *unused) {
    return PyLong_FromLongLong(stn_network_get_max_parameters());
}

static PyObject *py_network_parameter_shapes(PyObject *self, PyObject *cap) {
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    int32_t count = stn_network_parameter_tensors(net);
    PyObject *list = PyList_New(count);
    char err[ERR_LEN];
    for (int32_t i = 0; list && i < count; i++) {
        int64_t shape[MAX_DIMS];
        int32_t ndim;
        int32_t st = stn_network_parameter_shape(net, i, shape, &ndim, err, ERR_LEN);
        if (st != STN_OK) { Py_DECREF(list); return raise_status(st, err); }
        PyList_SET_ITEM(list, i, shape_tuple(shape, ndim));
    }
    return list;
}

static PyObject *py_network_get_parameters(PyObject *self, PyObject *cap) {
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    npy_intp count = (npy_intp)stn_network_parameter_count(net);
    PyArrayObject *out = (PyArrayObject *)PyArray_EMPTY(1, &count, NPY_FLOAT32, 0);
    if (out == NULL) return NULL;
    char err[ERR_LEN];
    int32_t st = stn_network_get_parameters(net, PyArray_DATA(out), err, ERR_LEN);
    if (st != STN_OK) { Py_DECREF(out); return raise_status(st, err); }
    return (PyObject *)out;
}

static PyObject *py_network_set_parameters(PyObject *self, PyObject *args) {
    PyObject *cap, *obj;
    if (!PyArg_ParseTuple(args, "OO:network_set_parameters", &cap, &obj)) return NULL;
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    PyArrayObject *p = (PyArrayObject *)PyArray_FROM_OTF(obj, NPY_FLOAT32, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    if (p == NULL) return NULL;
    if (PyArray_SIZE(p) != stn_network_parameter_count(net)) {
        PyErr_Format(PyExc_ValueError, "expected %lld parameters, got %lld", (long long)stn_network_parameter_count(net),
                     (long long)PyArray_SIZE(p));
        Py_DECREF(p);
        return NULL;
    }
    char err[ERR_LEN];
    int32_t st = stn_network_set_parameters(net, PyArray_DATA(p), err, ERR_LEN);
    Py_DECREF(p);
    if (st != STN_OK) return raise_status(st, err);
    Py_RETURN_NONE;
}

static PyObject *py_network_output_shape(PyObject *self, PyObject *args) {
    PyObject *cap, *shape_obj;
    if (!PyArg_ParseTuple(args, "OO:network_output_shape", &cap, &shape_obj)) return NULL;
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    int64_t shape[MAX_DIMS], out[MAX_DIMS];
    int32_t ndim, ondim;
    if (read_size(shape_obj, shape, &ndim, "output_shape") < 0) return NULL;
    char err[ERR_LEN];
    int32_t st = stn_network_output_shape(net, shape, ndim, out, &ondim, err, ERR_LEN);
    if (st != STN_OK) return raise_status(st, err);
    return shape_tuple(out, ondim);
}

/* out (and theta) of a network call, allocated as the library's shape query describes them. */
static int allocate_outputs(stn_tensor *outs, PyArrayObject **arrays, int n) {
    for (int i = 0; i < n; i++) {
        arrays[i] = new_array(outs[i].shape, outs[i].ndim, NPY_FLOAT32, 0);
        if (arrays[i] == NULL) return -1;
        outs[i].data = PyArray_DATA(arrays[i]);
    }
    return 0;
}

static PyObject *py_network_forward(PyObject *self, PyObject *args) {
    PyObject *cap, *x_obj;
    int training;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OOpK:network_forward", &cap, &x_obj, &training, &seed)) return NULL;
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    stn_tensor xt, out = {0};
    PyArrayObject *x = as_batch(x_obj, "predict", &xt), *o = NULL;
    if (x == NULL) return NULL;
    char err[ERR_LEN];
    int32_t st = stn_network_forward(net, &xt, training, (uint64_t)seed, &out, err, ERR_LEN); /* shape query */
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    if (allocate_outputs(&out, &o, 1) < 0) goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = stn_network_forward(net, &xt, training, (uint64_t)seed, &out, err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(x);
    return (PyObject *)o;
fail:
    Py_DECREF(x);
    Py_XDECREF(o);
    return NULL;
}

static PyObject *py_network_transform(PyObject *self, PyObject *args) {
    PyObject *cap, *x_obj;
    if (!PyArg_ParseTuple(args, "OO:network_transform", &cap, &x_obj)) return NULL;
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    stn_tensor xt, outs[2] = {{0}, {0}};
    PyArrayObject *x = as_batch(x_obj, "stn", &xt), *arrays[2] = {NULL, NULL};
    if (x == NULL) return NULL;
    PyObject *r = NULL;
    char err[ERR_LEN];
    int32_t st = stn_network_transform(net, &xt, &outs[0], &outs[1], err, ERR_LEN); /* shape query */
    if (st != STN_OK) { raise_status(st, err); goto done; }
    if (allocate_outputs(outs, arrays, 2) < 0) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = stn_network_transform(net, &xt, &outs[0], &outs[1], err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto done; }
    r = PyTuple_Pack(2, arrays[0], arrays[1]);
done:
    Py_DECREF(x);
    Py_XDECREF(arrays[0]);
    Py_XDECREF(arrays[1]);
    return r;
}

static PyObject *py_network_loss_and_grad(PyObject *self, PyObject *args) {
    PyObject *cap, *x_obj, *y_obj;
    int training, want_grad;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OOOpKp:network_loss_and_grad", &cap, &x_obj, &y_obj, &training, &seed, &want_grad))
        return NULL;
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    stn_tensor xt, yt;
    PyArrayObject *x = as_batch(x_obj, "loss_and_grad", &xt);
    if (x == NULL) return NULL;
    PyArrayObject *y = as_labels(y_obj, "loss_and_grad", xt.shape[0]);
    if (y == NULL) { Py_DECREF(x); return NULL; }
    describe_labels(&yt, y);
    PyArrayObject *grads = NULL;
    if (want_grad) {
        npy_intp count = (npy_intp)stn_network_parameter_count(net);
        grads = (PyArrayObject *)PyArray_EMPTY(1, &count, NPY_FLOAT32, 0);
        if (grads == NULL) { Py_DECREF(x); Py_DECREF(y); return NULL; }
    }
    double loss = 0;
    int64_t correct = 0;
    char err[ERR_LEN];
    int32_t st;
    Py_BEGIN_ALLOW_THREADS
    st = stn_network_loss_and_grad(net, &xt, &yt, training, (uint64_t)seed, &loss, &correct,
                                   grads ? PyArray_DATA(grads) : NULL, err, ERR_LEN);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    Py_DECREF(y);
    if (st != STN_OK) { Py_XDECREF(grads); return raise_status(st, err); }
    PyObject *r = Py_BuildValue("(dLO)", loss, (long long)correct, grads ? (PyObject *)grads : Py_None);
    Py_XDECREF(grads);
    return r;
}

static PyObject *py_network_evaluate(PyObject *self, PyObject *args) {
    PyObject *cap, *x_obj, *y_obj;
    long long batch;
    if (!PyArg_ParseTuple(args, "OOOL:network_evaluate", &cap, &x_obj, &y_obj, &batch)) return NULL;
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    stn_tensor xt, yt;
    PyArrayObject *x = as_batch(x_obj, "evaluate", &xt);
    if (x == NULL) return NULL;
    PyArrayObject *y = as_labels(y_obj, "evaluate", xt.shape[0]);
    if (y == NULL) { Py_DECREF(x); return NULL; }
    describe_labels(&yt, y);
    double loss = 0, acc = 0;
    char err[ERR_LEN];
    int32_t st;
    Py_BEGIN_ALLOW_THREADS
    st = stn_network_evaluate(net, &xt, &yt, batch, &loss, &acc, err, ERR_LEN);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    Py_DECREF(y);
    if (st != STN_OK) return raise_status(st, err);
    return Py_BuildValue("(dd)", loss, acc);
}

static PyObject *py_trainer_create(PyObject *self, PyObject *args) {
    PyObject *cap;
    int kind, nesterov;
    double lr, momentum, dampening, wd, b1, b2, eps;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OiddddidddK:trainer_create", &cap, &kind, &lr, &momentum, &dampening, &wd, &nesterov,
                          &b1, &b2, &eps, &seed))
        return NULL;
    stn_network *net = get_net(cap);
    if (net == NULL) return NULL;
    char err[ERR_LEN];
    stn_trainer *t = stn_trainer_create(net, kind, lr, momentum, dampening, nesterov, wd, b1, b2, eps, (uint64_t)seed,
                                        err, ERR_LEN);
    if (t == NULL) return raise_status(STN_INVALID_ARGUMENT, err);
    return PyCapsule_New(t, TRAINER_CAPSULE, free_trainer);
}

typedef struct {
    PyObject *callable; /* may be NULL: then only signals are checked */
    int failed;         /* a Python exception is pending */
} progress_context;

/* Runs on the training thread between batches: takes the GIL, calls the Python callback, and
 * lets Ctrl-C (or an exception in the callback) stop training after the current batch. */
static int32_t progress_trampoline(void *c, int32_t epoch, int64_t batch, int64_t batches, int64_t samples,
                                   double loss, int64_t correct) {
    progress_context *ctx = c;
    PyGILState_STATE g = PyGILState_Ensure();
    int32_t stop = 0;
    if (ctx->callable != NULL) {
        PyObject *r = PyObject_CallFunction(ctx->callable, "iLLLdL", epoch, (long long)batch, (long long)batches,
                                            (long long)samples, loss, (long long)correct);
        if (r == NULL) {
            ctx->failed = 1;
            stop = 1;
        } else {
            if (r == Py_False) stop = 1;
            Py_DECREF(r);
        }
    }
    if (!stop && PyErr_CheckSignals() < 0) {
        ctx->failed = 1;
        stop = 1;
    }
    PyGILState_Release(g);
    return stop;
}

static PyObject *py_trainer_epoch(PyObject *self, PyObject *args) {
    PyObject *cap, *x_obj, *y_obj, *callback;
    long long batch;
    int shuffle, training, epoch, report_every;
    if (!PyArg_ParseTuple(args, "OOOLppiiO:trainer_epoch", &cap, &x_obj, &y_obj, &batch, &shuffle, &training, &epoch,
                          &report_every, &callback))
        return NULL;
    stn_trainer *t = get_trainer(cap);
    if (t == NULL) return NULL;
    stn_tensor xt, yt;
    PyArrayObject *x = as_batch(x_obj, "fit", &xt);
    if (x == NULL) return NULL;
    PyArrayObject *y = as_labels(y_obj, "fit", xt.shape[0]);
    if (y == NULL) { Py_DECREF(x); return NULL; }
    describe_labels(&yt, y);
    progress_context ctx = {callback == Py_None ? NULL : callback, 0};
    double loss = 0, acc = 0;
    int32_t completed = 0;
    char err[ERR_LEN];
    int32_t st;
    Py_BEGIN_ALLOW_THREADS
    st = stn_trainer_epoch(t, &xt, &yt, batch, shuffle, training, epoch, report_every, progress_trampoline, &ctx, &loss,
                           &acc, &completed, err, ERR_LEN);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    Py_DECREF(y);
    if (ctx.failed) return NULL; /* the callback's exception (or KeyboardInterrupt) */
    if (st != STN_OK) return raise_status(st, err);
    return Py_BuildValue("(ddO)", loss, acc, completed ? Py_True : Py_False);
}

static PyObject *py_trainer_step(PyObject *self, PyObject *args) {
    PyObject *cap, *value = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:trainer_step", &cap, &value)) return NULL;
    stn_trainer *t = get_trainer(cap);
    if (t == NULL) return NULL;
    if (value != Py_None) {
        unsigned long long v = PyLong_AsUnsignedLongLong(value);
        if (PyErr_Occurred()) return NULL;
        stn_trainer_set_step(t, (uint64_t)v);
    }
    return PyLong_FromUnsignedLongLong(stn_trainer_get_step(t));
}

static PyObject *py_trainer_get_state(PyObject *self, PyObject *cap) {
    stn_trainer *t = get_trainer(cap);
    if (t == NULL) return NULL;
    int64_t len1 = 0, len2 = 0, steps = 0;
    stn_trainer_state_size(t, &len1, &len2);
    npy_intp d1 = (npy_intp)len1, d2 = (npy_intp)len2;
    PyArrayObject *s1 = (PyArrayObject *)PyArray_EMPTY(1, &d1, NPY_FLOAT32, 0);
    PyArrayObject *s2 = (PyArrayObject *)PyArray_EMPTY(1, &d2, NPY_FLOAT32, 0);
    if (s1 == NULL || s2 == NULL) { Py_XDECREF(s1); Py_XDECREF(s2); return NULL; }
    char err[ERR_LEN];
    int32_t st = stn_trainer_get_state(t, PyArray_DATA(s1), PyArray_DATA(s2), &steps, err, ERR_LEN);
    if (st != STN_OK) { Py_DECREF(s1); Py_DECREF(s2); return raise_status(st, err); }
    PyObject *r = Py_BuildValue("(OOL)", s1, s2, (long long)steps);
    Py_DECREF(s1);
    Py_DECREF(s2);
    return r;
}

static PyObject *py_trainer_set_state(PyObject *self, PyObject *args) {
    PyObject *cap, *o1, *o2;
    long long steps;
    if (!PyArg_ParseTuple(args, "OOOL:trainer_set_state", &cap, &o1, &o2, &steps)) return NULL;
    stn_trainer *t = get_trainer(cap);
    if (t == NULL) return NULL;
    PyArrayObject *s1 = (PyArrayObject *)PyArray_FROM_OTF(o1, NPY_FLOAT32, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    PyArrayObject *s2 = s1 ? (PyArrayObject *)PyArray_FROM_OTF(o2, NPY_FLOAT32, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST) : NULL;
    if (s1 == NULL || s2 == NULL) { Py_XDECREF(s1); return NULL; }
    char err[ERR_LEN];
    int32_t st = stn_trainer_set_state(t, PyArray_DATA(s1), PyArray_SIZE(s1), PyArray_DATA(s2), PyArray_SIZE(s2),
                                       steps, err, ERR_LEN);
    Py_DECREF(s1);
    Py_DECREF(s2);
    if (st != STN_OK) return raise_status(st, err);
    Py_RETURN_NONE;
}

PyMethodDef swiftstn_network_methods[] = {
    {"network_create", py_network_create, METH_VARARGS, "network_create(spec, seed) -> network"},
    {"network_set_max_parameters", py_network_set_max_parameters, METH_O, "network_set_max_parameters(n)"},
    {"network_get_max_parameters", py_network_get_max_parameters, METH_NOARGS, "network_get_max_parameters() -> int"},
    {"network_parameter_shapes", py_network_parameter_shapes, METH_O, "network_parameter_shapes(net) -> [shape]"},
    {"network_get_parameters", py_network_get_parameters, METH_O, "network_get_parameters(net) -> float32 array"},
    {"network_set_parameters", py_network_set_parameters, METH_VARARGS, "network_set_parameters(net, flat)"},
    {"network_output_shape", py_network_output_shape, METH_VARARGS, "network_output_shape(net, sample_shape)"},
    {"network_forward", py_network_forward, METH_VARARGS, "network_forward(net, x, training, seed) -> out"},
    {"network_transform", py_network_transform, METH_VARARGS, "network_transform(net, x) -> (out, theta)"},
    {"network_loss_and_grad", py_network_loss_and_grad, METH_VARARGS,
     "network_loss_and_grad(net, x, y, training, seed, want_grad) -> (loss, correct, grads)"},
    {"network_evaluate", py_network_evaluate, METH_VARARGS, "network_evaluate(net, x, y, batch) -> (loss, accuracy)"},
    {"trainer_create", py_trainer_create, METH_VARARGS,
     "trainer_create(net, kind, lr, momentum, dampening, weight_decay, nesterov, beta1, beta2, eps, seed)"},
    {"trainer_epoch", py_trainer_epoch, METH_VARARGS,
     "trainer_epoch(trainer, x, y, batch_size, shuffle, training, epoch, report_every, callback) -> (loss, acc, completed)"},
    {"trainer_step", py_trainer_step, METH_VARARGS, "trainer_step(trainer[, value]) -> steps taken"},
    {"trainer_get_state", py_trainer_get_state, METH_O, "trainer_get_state(trainer) -> (state1, state2, optimizer_steps)"},
    {"trainer_set_state", py_trainer_set_state, METH_VARARGS, "trainer_set_state(trainer, state1, state2, optimizer_steps)"},
    {NULL, NULL, 0, NULL},
};
