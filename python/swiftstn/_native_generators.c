/*
 * swiftstn._native, part 3 — glue over the thin-plate-spline grid generator (include/swiftstn.h,
 * "tps_grid"): its control points are the one argument the common op_call does not describe.
 * Conversions only, as in _native.c; the GIL is released around the computing call (including
 * the thin-plate solve on a cache miss).
 */
#include "_native_common.h"

/* ---- tps_grid ---- */

/*
 * The control points of a tps call, into c->points_tensor (returned, or NULL). `obj` None with
 * `count` < 0: the default points, K from displacements (NULL). None with `count` >= 0: the
 * default grid of `count` points (a descriptor of shape (count, 2) without data). Otherwise an
 * integer or floating array, converted once to C-contiguous float64. Returns -1 with an exception
 * set on error.
 */
static int control_points(op_call *c, PyObject *obj, long long count, const stn_tensor **out) {
    stn_tensor *t = &c->points_tensor;
    memset(t, 0, sizeof *t);
    *out = NULL;
    if (obj == Py_None) {
        if (count < 0) return 0;
        t->dtype = STN_FLOAT64;
        t->ndim = 2;
        t->shape[0] = (int64_t)count;
        t->shape[1] = 2;
        *out = t;
        return 0;
    }
    PyArrayObject *raw = (PyArrayObject *)PyArray_FROM_O(obj);
    if (raw == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s(): control_points must be a (K, 2) array of numbers, got %.100s", c->op,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (!PyArray_ISINTEGER(raw) && !PyArray_ISFLOAT(raw)) {
        PyErr_Format(PyExc_TypeError, "%s(): control_points must have an integer or floating dtype, got %s", c->op,
                     dtype_name(raw));
        Py_DECREF(raw);
        return -1;
    }
    if (PyArray_NDIM(raw) > STN_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "%s(): control_points has %d dimensions, at most %d are supported", c->op,
                     PyArray_NDIM(raw), STN_MAX_NDIM);
        Py_DECREF(raw);
        return -1;
    }
    c->points = (PyArrayObject *)PyArray_FromAny((PyObject *)raw, PyArray_DescrFromType(NPY_FLOAT64), 0, 0,
                                                 NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED |
                                                     NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(raw);
    if (c->points == NULL) return -1;
    describe_array(t, c->points);
    *out = t;
    return 0;
}

typedef struct {
    op_call call;
    const stn_tensor *points;
} tps_call;

static int32_t invoke_tps_grid(op_call *c, char *err, size_t n) {
    const stn_tensor *points = ((tps_call *)c)->points;
    return stn_tps_grid(&c->in[0], points, c->size, c->size_len, c->sampling.align_corners, &c->out[0], err, n);
}

static int32_t invoke_tps_grid_backward(op_call *c, char *err, size_t n) {
    const stn_tensor *points = ((tps_call *)c)->points;
    return stn_tps_grid_backward(&c->in[0], points, c->size, c->size_len, c->sampling.align_corners, &c->out[0],
                                 err, n);
}

static PyObject *tps_call_run(PyObject *args, const char *op, const char *fmt, const char *name, const char *out_name,
                              op_invoke invoke) {
    PyObject *obj, *size_obj, *cp_obj, *out_obj = Py_None;
    long long count;
    int align = 0;
    if (!PyArg_ParseTuple(args, fmt, &obj, &size_obj, &cp_obj, &count, &align, &out_obj)) return NULL;
    tps_call t = {.call = {.op = op, .typenum = -1}};
    op_call *c = &t.call;
    c->sampling.align_corners = align;
    if (read_size(size_obj, c->size, &c->size_len, op) < 0) return NULL;
    if (call_arg(c, obj, name) < 0 || control_points(c, cp_obj, count, &t.points) < 0) {
        call_release(c);
        return NULL;
    }
    if (invoke == invoke_tps_grid_backward && t.points == NULL) {
        PyErr_Format(PyExc_ValueError, "%s(): control_points must be given: the (K, 2) control points, or the "
                     "number K of default control points", op);
        call_release(c);
        return NULL;
    }
    call_output(c, out_name, 1, out_obj);
    return call_run(c, invoke);
}

static PyObject *py_tps_grid(PyObject *self, PyObject *args) {
    return tps_call_run(args, "tps_grid", "OOOLp|O:tps_grid", "displacements", "grid", invoke_tps_grid);
}

static PyObject *py_tps_grid_backward(PyObject *self, PyObject *args) {
    return tps_call_run(args, "tps_grid_backward", "OOOLp|O:tps_grid_backward", "grad_grid", "grad_displacements",
                        invoke_tps_grid_backward);
}

PyMethodDef swiftstn_generator_methods[] = {
    {"tps_grid", py_tps_grid, METH_VARARGS,
     "tps_grid(displacements, size, control_points or None, default_count or -1, align_corners[, out]) -> grid "
     "(out if given)"},
    {"tps_grid_backward", py_tps_grid_backward, METH_VARARGS,
     "tps_grid_backward(grad_grid, size, control_points or None, default_count or -1, align_corners[, out]) "
     "-> grad_displacements (out if given)"},
    {NULL, NULL, 0, NULL},
};

