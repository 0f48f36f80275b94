/*
 * swiftstn._native, part 3 — glue over the projective and thin-plate-spline grid generators
 * and the fused warps (include/swiftstn.h, "perspective_grid", "tps_grid", "fused warps").
 *
 * Conversions only, as in _native.c: arrays to C-contiguous float32/float64 (control points to
 * float64), shapes to int64, status codes to exceptions. Shapes are validated by the Swift
 * `*_shape` functions before any output is allocated; the GIL is released around every call
 * that does numeric work (including the thin-plate solve on a cache miss).
 */
#include "_native_common.h"

/* ---- perspective_grid ---- */

static PyObject *py_perspective_grid(PyObject *self, PyObject *args) {
    PyObject *h_obj, *size_obj, *out_obj = Py_None;
    int align = 0;
    const char *op = "perspective_grid";
    if (!PyArg_ParseTuple(args, "OOp|O:perspective_grid", &h_obj, &size_obj, &align, &out_obj)) return NULL;
    int typenum = -1;
    int64_t size[MAX_DIMS], hshape[MAX_DIMS], oshape[MAX_DIMS];
    int32_t size_len, hndim, ondim;
    char err[ERR_LEN];
    if (read_size(size_obj, size, &size_len, op) < 0) return NULL;
    PyArrayObject *h = as_float_array(h_obj, op, "H", &typenum, NULL);
    if (h == NULL) return NULL;
    PyArrayObject *grid = NULL;
    if (array_shape(h, hshape, &hndim, op, "H") < 0) goto fail;
    int32_t st = stn_perspective_grid_shape(hshape, hndim, size, size_len, oshape, &ondim, err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    call_input inputs[] = {{"H", h_obj, h}};
    grid = output_array(out_obj, op, oshape, ondim, typenum, inputs, 1);
    if (grid == NULL) goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = stn_perspective_grid(dtype_code(typenum), PyArray_DATA(h), hshape, hndim, size, size_len, align,
                              PyArray_DATA(grid), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(h);
    return (PyObject *)grid;
fail:
    Py_DECREF(h);
    Py_XDECREF(grid);
    return NULL;
}

static PyObject *py_perspective_grid_backward(PyObject *self, PyObject *args) {
    PyObject *gg_obj, *h_obj, *size_obj, *out_obj = Py_None;
    int align = 0;
    const char *op = "perspective_grid_backward";
    if (!PyArg_ParseTuple(args, "OOOp|O:perspective_grid_backward", &gg_obj, &h_obj, &size_obj, &align, &out_obj))
        return NULL;
    int typenum = -1;
    int64_t size[MAX_DIMS], gshape[MAX_DIMS], hshape[MAX_DIMS], oshape[MAX_DIMS];
    int32_t size_len, gndim, hndim, ondim;
    char err[ERR_LEN];
    PyArrayObject *gg = NULL, *h = NULL, *gh = NULL;
    if (read_size(size_obj, size, &size_len, op) < 0) return NULL;
    gg = as_float_array(gg_obj, op, "grad_grid", &typenum, NULL);
    if (gg == NULL) return NULL;
    h = as_float_array(h_obj, op, "H", &typenum, "grad_grid");
    if (h == NULL) goto fail;
    if (array_shape(gg, gshape, &gndim, op, "grad_grid") < 0) goto fail;
    if (array_shape(h, hshape, &hndim, op, "H") < 0) goto fail;
    int32_t st = stn_perspective_grid_backward_shape(gshape, gndim, hshape, hndim, size, size_len, oshape, &ondim,
                                                     err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    call_input inputs[] = {{"grad_grid", gg_obj, gg}, {"H", h_obj, h}};
    gh = output_array(out_obj, op, oshape, ondim, typenum, inputs, 2);
    if (gh == NULL) goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = stn_perspective_grid_backward(dtype_code(typenum), PyArray_DATA(gg), gshape, gndim, PyArray_DATA(h), hshape,
                                       hndim, size, size_len, align, PyArray_DATA(gh), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(gg);
    Py_DECREF(h);
    return (PyObject *)gh;
fail:
    Py_XDECREF(gg);
    Py_XDECREF(h);
    Py_XDECREF(gh);
    return NULL;
}

/* ---- tps_grid ---- */

/*
 * The control points of a tps call. `obj` None with `count` < 0: the default points, K from
 * displacements (*shape_out = NULL). None with `count` >= 0: the default grid of `count` points
 * (shape (count, 2), *points = NULL). Otherwise an integer or floating array, converted once to
 * C-contiguous float64 (a new reference in *points). Returns -1 with an exception set on error.
 */
static int control_points(PyObject *obj, long long count, const char *op, PyArrayObject **points,
                          int64_t *shape, int32_t *ndim, const int64_t **shape_out, int32_t *regular) {
    *points = NULL;
    *regular = obj == Py_None;
    if (obj == Py_None) {
        if (count < 0) { *shape_out = NULL; *ndim = 0; return 0; }
        shape[0] = (int64_t)count; shape[1] = 2; *ndim = 2; *shape_out = shape;
        return 0;
    }
    PyArrayObject *raw = (PyArrayObject *)PyArray_FROM_O(obj);
    if (raw == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s(): control_points must be a (K, 2) array of numbers, got %.100s", op,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (!PyArray_ISINTEGER(raw) && !PyArray_ISFLOAT(raw)) {
        PyErr_Format(PyExc_TypeError, "%s(): control_points must have an integer or floating dtype, got %s", op,
                     dtype_name(raw));
        Py_DECREF(raw);
        return -1;
    }
    *points = (PyArrayObject *)PyArray_FromAny((PyObject *)raw, PyArray_DescrFromType(NPY_FLOAT64), 0, 0,
                                               NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED |
                                                   NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(raw);
    if (*points == NULL) return -1;
    if (array_shape(*points, shape, ndim, op, "control_points") < 0) { Py_CLEAR(*points); return -1; }
    *shape_out = shape;
    return 0;
}

static PyObject *py_tps_grid(PyObject *self, PyObject *args) {
    PyObject *d_obj, *size_obj, *cp_obj, *out_obj = Py_None;
    long long count;
    int align = 0;
    const char *op = "tps_grid";
    if (!PyArg_ParseTuple(args, "OOOLp|O:tps_grid", &d_obj, &size_obj, &cp_obj, &count, &align, &out_obj))
        return NULL;
    int typenum = -1;
    int64_t size[MAX_DIMS], dshape[MAX_DIMS], cshape[MAX_DIMS], oshape[MAX_DIMS];
    int32_t size_len, dndim, cndim, ondim, regular;
    const int64_t *cshape_arg;
    char err[ERR_LEN];
    PyArrayObject *d = NULL, *cp = NULL, *grid = NULL;
    if (read_size(size_obj, size, &size_len, op) < 0) return NULL;
    d = as_float_array(d_obj, op, "displacements", &typenum, NULL);
    if (d == NULL) return NULL;
    if (control_points(cp_obj, count, op, &cp, cshape, &cndim, &cshape_arg, &regular) < 0) goto fail;
    if (array_shape(d, dshape, &dndim, op, "displacements") < 0) goto fail;
    int32_t st = stn_tps_grid_shape(dshape, dndim, cshape_arg, cndim, regular, size, size_len, oshape, &ondim,
                                    err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    call_input inputs[] = {{"displacements", d_obj, d}, {"control_points", cp_obj, cp}};
    grid = output_array(out_obj, op, oshape, ondim, typenum, inputs, 2);
    if (grid == NULL) goto fail;
    const double *cpdata = cp ? (const double *)PyArray_DATA(cp) : NULL;
    Py_BEGIN_ALLOW_THREADS
    st = stn_tps_grid(dtype_code(typenum), PyArray_DATA(d), dshape, dndim, cpdata, cshape_arg, cndim, size, size_len,
                      align, PyArray_DATA(grid), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(d);
    Py_XDECREF(cp);
    return (PyObject *)grid;
fail:
    Py_XDECREF(d);
    Py_XDECREF(cp);
    Py_XDECREF(grid);
    return NULL;
}

static PyObject *py_tps_grid_backward(PyObject *self, PyObject *args) {
    PyObject *gg_obj, *size_obj, *cp_obj, *out_obj = Py_None;
    long long count;
    int align = 0;
    const char *op = "tps_grid_backward";
    if (!PyArg_ParseTuple(args, "OOOLp|O:tps_grid_backward", &gg_obj, &size_obj, &cp_obj, &count, &align, &out_obj))
        return NULL;
    int typenum = -1;
    int64_t size[MAX_DIMS], gshape[MAX_DIMS], cshape[MAX_DIMS], oshape[MAX_DIMS];
    int32_t size_len, gndim, cndim, ondim, regular;
    const int64_t *cshape_arg;
    char err[ERR_LEN];
    PyArrayObject *gg = NULL, *cp = NULL, *gd = NULL;
    if (read_size(size_obj, size, &size_len, op) < 0) return NULL;
    gg = as_float_array(gg_obj, op, "grad_grid", &typenum, NULL);
    if (gg == NULL) return NULL;
    if (control_points(cp_obj, count, op, &cp, cshape, &cndim, &cshape_arg, &regular) < 0) goto fail;
    if (cshape_arg == NULL) {
        PyErr_Format(PyExc_ValueError, "%s(): control_points must be given: the (K, 2) control points, or the "
                     "number K of default control points", op);
        goto fail;
    }
    if (array_shape(gg, gshape, &gndim, op, "grad_grid") < 0) goto fail;
    int32_t st = stn_tps_grid_backward_shape(gshape, gndim, cshape_arg, cndim, regular, size, size_len, oshape, &ondim,
                                             err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    call_input inputs[] = {{"grad_grid", gg_obj, gg}, {"control_points", cp_obj, cp}};
    gd = output_array(out_obj, op, oshape, ondim, typenum, inputs, 2);
    if (gd == NULL) goto fail;
    const double *cpdata = cp ? (const double *)PyArray_DATA(cp) : NULL;
    Py_BEGIN_ALLOW_THREADS
    st = stn_tps_grid_backward(dtype_code(typenum), PyArray_DATA(gg), gshape, gndim, cpdata, cshape_arg, cndim, size,
                               size_len, align, PyArray_DATA(gd), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(gg);
    Py_XDECREF(cp);
    return (PyObject *)gd;
fail:
    Py_XDECREF(gg);
    Py_XDECREF(cp);
    Py_XDECREF(gd);
    return NULL;
}

PyMethodDef swiftstn_generator_methods[] = {
    {"perspective_grid", py_perspective_grid, METH_VARARGS, "perspective_grid(H, size, align_corners[, out]) -> grid (out if given)"},
    {"perspective_grid_backward", py_perspective_grid_backward, METH_VARARGS,
     "perspective_grid_backward(grad_grid, H, size, align_corners[, out]) -> grad_H (out if given)"},
    {"tps_grid", py_tps_grid, METH_VARARGS,
     "tps_grid(displacements, size, control_points or None, default_count or -1, align_corners[, out]) -> grid "
     "(out if given)"},
    {"tps_grid_backward", py_tps_grid_backward, METH_VARARGS,
     "tps_grid_backward(grad_grid, size, control_points or None, default_count or -1, align_corners[, out]) "
     "-> grad_displacements (out if given)"},
    {NULL, NULL, 0, NULL},
};

/* ---- fused warps (warp_affine, warp_perspective) ---- */

typedef int32_t (*warp_shape_fn)(const int64_t *, int32_t, const int64_t *, int32_t, const int64_t *, int32_t,
                                 int64_t *, int32_t *, char *, size_t);
typedef int32_t (*warp_fn)(int32_t, const void *, const int64_t *, int32_t, const void *, const int64_t *, int32_t,
                           const int64_t *, int32_t, int32_t, int32_t, int32_t, const void *, int64_t, void *, char *,
                           size_t);
typedef int32_t (*warp_backward_fn)(int32_t, const void *, const int64_t *, int32_t, const void *, const int64_t *,
                                    int32_t, const void *, const int64_t *, int32_t, const int64_t *, int32_t, int32_t,
                                    int32_t, int32_t, const void *, int64_t, void *, void *, char *, size_t);

/* Reads out_size: a sequence of ints (Ho, Wo) (its length and values are checked by Swift). */
static int read_out_size(PyObject *obj, int64_t *size, int32_t *len, const char *op) {
    return read_ints(obj, size, len, op, "out_size", "two ints (Ho, Wo)", "2 (Ho, Wo)");
}

static PyObject *warp_forward(PyObject *args, const char *op, const char *mname, warp_shape_fn shape_fn, warp_fn fn) {
    PyObject *in_obj, *m_obj, *size_obj, *fill_obj = Py_None, *out_obj = Py_None;
    int mode, padding, align;
    if (!PyArg_ParseTuple(args, "OOOiip|OO", &in_obj, &m_obj, &size_obj, &mode, &padding, &align, &fill_obj, &out_obj))
        return NULL;
    int typenum = -1;
    int64_t ishape[MAX_DIMS], mshape[MAX_DIMS], size[MAX_DIMS], oshape[MAX_DIMS], fill_len = 0;
    int32_t indim, mndim, size_len, ondim;
    char err[ERR_LEN];
    PyArrayObject *input = NULL, *m = NULL, *fill = NULL, *out = NULL;
    if (read_out_size(size_obj, size, &size_len, op) < 0) return NULL;
    input = as_float_array(in_obj, op, "input", &typenum, NULL);
    if (input == NULL) return NULL;
    m = as_float_array(m_obj, op, mname, &typenum, "input");
    if (m == NULL) goto fail;
    if (as_fill_array(fill_obj, op, typenum, &fill, &fill_len) < 0) goto fail;
    if (array_shape(input, ishape, &indim, op, "input") < 0) goto fail;
    if (array_shape(m, mshape, &mndim, op, mname) < 0) goto fail;
    int32_t st = shape_fn(ishape, indim, mshape, mndim, size, size_len, oshape, &ondim, err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    call_input inputs[] = {{"input", in_obj, input}, {mname, m_obj, m}, {"fill", fill_obj, fill}};
    out = output_array(out_obj, op, oshape, ondim, typenum, inputs, 3);
    if (out == NULL) goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = fn(dtype_code(typenum), PyArray_DATA(input), ishape, indim, PyArray_DATA(m), mshape, mndim, size, size_len,
            mode, padding, align, fill ? PyArray_DATA(fill) : NULL, fill_len, PyArray_DATA(out), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(input);
    Py_DECREF(m);
    Py_XDECREF(fill);
    return (PyObject *)out;
fail:
    Py_XDECREF(input);
    Py_XDECREF(m);
    Py_XDECREF(fill);
    Py_XDECREF(out);
    return NULL;
}

static PyObject *warp_backward(PyObject *args, const char *op, const char *mname, warp_shape_fn shape_fn,
                               warp_backward_fn fn) {
    PyObject *go_obj, *in_obj, *m_obj, *size_obj, *fill_obj = Py_None;
    int mode, padding, align, input_requires_grad;
    if (!PyArg_ParseTuple(args, "OOOOiipp|O", &go_obj, &in_obj, &m_obj, &size_obj, &mode, &padding, &align,
                          &input_requires_grad, &fill_obj))
        return NULL;
    int typenum = -1;
    int64_t oshape[MAX_DIMS], ishape[MAX_DIMS], mshape[MAX_DIMS], size[MAX_DIMS], expected[MAX_DIMS], fill_len = 0;
    int32_t ondim, indim, mndim, size_len, endim;
    char err[ERR_LEN];
    PyArrayObject *go = NULL, *input = NULL, *m = NULL, *fill = NULL, *gin = NULL, *gm = NULL;
    if (read_out_size(size_obj, size, &size_len, op) < 0) return NULL;
    go = as_float_array(go_obj, op, "grad_output", &typenum, NULL);
    if (go == NULL) return NULL;
    input = as_float_array(in_obj, op, "input", &typenum, "grad_output");
    if (input == NULL) goto fail;
    m = as_float_array(m_obj, op, mname, &typenum, "grad_output");
    if (m == NULL) goto fail;
    if (as_fill_array(fill_obj, op, typenum, &fill, &fill_len) < 0) goto fail;
    if (array_shape(go, oshape, &ondim, op, "grad_output") < 0) goto fail;
    if (array_shape(input, ishape, &indim, op, "input") < 0) goto fail;
    if (array_shape(m, mshape, &mndim, op, mname) < 0) goto fail;
    /* Validates input, matrices and out_size; grad_output's shape is checked by the backward
     * call itself, before it writes anything. */
    int32_t st = shape_fn(ishape, indim, mshape, mndim, size, size_len, expected, &endim, err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    if (input_requires_grad) {
        gin = new_array(ishape, indim, typenum, 0);
        if (gin == NULL) goto fail;
    }
    gm = new_array(mshape, mndim, typenum, 0);
    if (gm == NULL) goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = fn(dtype_code(typenum), PyArray_DATA(go), oshape, ondim, PyArray_DATA(input), ishape, indim, PyArray_DATA(m),
            mshape, mndim, size, size_len, mode, padding, align, fill ? PyArray_DATA(fill) : NULL, fill_len,
            gin ? PyArray_DATA(gin) : NULL, PyArray_DATA(gm), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(go);
    Py_DECREF(input);
    Py_DECREF(m);
    Py_XDECREF(fill);
    PyObject *result = PyTuple_Pack(2, gin ? (PyObject *)gin : Py_None, (PyObject *)gm);
    Py_XDECREF(gin);
    Py_DECREF(gm);
    return result;
fail:
    Py_XDECREF(go);
    Py_XDECREF(input);
    Py_XDECREF(m);
    Py_XDECREF(fill);
    Py_XDECREF(gin);
    Py_XDECREF(gm);
    return NULL;
}

static PyObject *py_warp_affine(PyObject *self, PyObject *args) {
    return warp_forward(args, "warp_affine", "theta", stn_warp_affine_shape, stn_warp_affine);
}

static PyObject *py_warp_affine_backward(PyObject *self, PyObject *args) {
    return warp_backward(args, "warp_affine_backward", "theta", stn_warp_affine_shape, stn_warp_affine_backward);
}

static PyObject *py_warp_perspective(PyObject *self, PyObject *args) {
    return warp_forward(args, "warp_perspective", "H", stn_warp_perspective_shape, stn_warp_perspective);
}

static PyObject *py_warp_perspective_backward(PyObject *self, PyObject *args) {
    return warp_backward(args, "warp_perspective_backward", "H", stn_warp_perspective_shape,
                         stn_warp_perspective_backward);
}

PyMethodDef swiftstn_warp_methods[] = {
    {"warp_affine", py_warp_affine, METH_VARARGS,
     "warp_affine(input, theta, out_size, mode, padding, align_corners[, fill[, out]]) -> output (out if given)"},
    {"warp_affine_backward", py_warp_affine_backward, METH_VARARGS,
     "warp_affine_backward(grad_output, input, theta, out_size, mode, padding, align_corners, "
     "input_requires_grad[, fill]) -> (grad_input or None, grad_theta)"},
    {"warp_perspective", py_warp_perspective, METH_VARARGS,
     "warp_perspective(input, H, out_size, mode, padding, align_corners[, fill[, out]]) -> output (out if given)"},
    {"warp_perspective_backward", py_warp_perspective_backward, METH_VARARGS,
     "warp_perspective_backward(grad_output, input, H, out_size, mode, padding, align_corners, "
     "input_requires_grad[, fill]) -> (grad_input or None, grad_H)"},
    {NULL, NULL, 0, NULL},
};
