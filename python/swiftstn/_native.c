/*
 * swiftstn._native — thin CPython glue over libswiftstn's C ABI (include/swiftstn.h).
 *
 * This file only converts: Python objects to C-contiguous float32/float64 NumPy arrays (no copy
 * when they already are; otherwise one conversion), shapes to int64 arrays, status codes to
 * exceptions. Shape validation and every message about shapes come from the Swift layer, through
 * the `*_shape` functions, before any output is allocated. The GIL is released around every call
 * that does numeric work.
 */
#define SWIFTSTN_IMPORT_ARRAY
#include "_native_common.h"

/* ---- affine_grid ---- */

static PyObject *py_affine_grid(PyObject *self, PyObject *args) {
    PyObject *theta_obj, *size_obj, *out_obj = Py_None;
    int align = 0;
    if (!PyArg_ParseTuple(args, "OOp|O:affine_grid", &theta_obj, &size_obj, &align, &out_obj)) return NULL;
    int typenum = -1;
    int64_t size[MAX_DIMS], tshape[MAX_DIMS], oshape[MAX_DIMS];
    int32_t size_len, tndim, ondim;
    char err[ERR_LEN];
    if (read_size(size_obj, size, &size_len, "affine_grid") < 0) return NULL;
    PyArrayObject *theta = as_float_array(theta_obj, "affine_grid", "theta", &typenum, NULL);
    if (theta == NULL) return NULL;
    PyArrayObject *grid = NULL;
    if (array_shape(theta, tshape, &tndim, "affine_grid", "theta") < 0) goto fail;
    int32_t st = stn_affine_grid_shape(tshape, tndim, size, size_len, oshape, &ondim, err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    call_input inputs[] = {{"theta", theta_obj, theta}};
    grid = output_array(out_obj, "affine_grid", oshape, ondim, typenum, inputs, 1);
    if (grid == NULL) goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = stn_affine_grid(dtype_code(typenum), PyArray_DATA(theta), tshape, tndim, size, size_len,
                         align, PyArray_DATA(grid), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(theta);
    return (PyObject *)grid;
fail:
    Py_DECREF(theta);
    Py_XDECREF(grid);
    return NULL;
}

static PyObject *py_affine_grid_backward(PyObject *self, PyObject *args) {
    PyObject *gg_obj, *size_obj, *out_obj = Py_None;
    int align = 0;
    if (!PyArg_ParseTuple(args, "OOp|O:affine_grid_backward", &gg_obj, &size_obj, &align, &out_obj)) return NULL;
    int typenum = -1;
    int64_t size[MAX_DIMS], gshape[MAX_DIMS], oshape[MAX_DIMS];
    int32_t size_len, gndim, ondim;
    char err[ERR_LEN];
    if (read_size(size_obj, size, &size_len, "affine_grid_backward") < 0) return NULL;
    PyArrayObject *gg = as_float_array(gg_obj, "affine_grid_backward", "grad_grid", &typenum, NULL);
    if (gg == NULL) return NULL;
    PyArrayObject *gt = NULL;
    if (array_shape(gg, gshape, &gndim, "affine_grid_backward", "grad_grid") < 0) goto fail;
    int32_t st = stn_affine_grid_backward_shape(gshape, gndim, size, size_len, oshape, &ondim, err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    call_input inputs[] = {{"grad_grid", gg_obj, gg}};
    gt = output_array(out_obj, "affine_grid_backward", oshape, ondim, typenum, inputs, 1);
    if (gt == NULL) goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = stn_affine_grid_backward(dtype_code(typenum), PyArray_DATA(gg), gshape, gndim, size, size_len,
                                  align, PyArray_DATA(gt), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(gg);
    return (PyObject *)gt;
fail:
    Py_DECREF(gg);
    Py_XDECREF(gt);
    return NULL;
}

/* ---- grid_sample ---- */

static PyObject *py_grid_sample(PyObject *self, PyObject *args) {
    PyObject *in_obj, *grid_obj, *fill_obj = Py_None, *out_obj = Py_None;
    int mode, padding, align;
    if (!PyArg_ParseTuple(args, "OOiip|OO:grid_sample", &in_obj, &grid_obj, &mode, &padding, &align, &fill_obj,
                          &out_obj))
        return NULL;
    int typenum = -1;
    int64_t ishape[MAX_DIMS], gshape[MAX_DIMS], oshape[MAX_DIMS], fill_len = 0;
    int32_t indim, gndim, ondim;
    char err[ERR_LEN];
    PyArrayObject *input = NULL, *grid = NULL, *out = NULL, *fill = NULL;
    input = float_view(in_obj, "grid_sample", "input", &typenum, NULL);
    if (input == NULL) return NULL;
    grid = float_view(grid_obj, "grid_sample", "grid", &typenum, "input");
    if (grid == NULL) goto fail;
    if (as_fill_array(fill_obj, "grid_sample", typenum, &fill, &fill_len) < 0) goto fail;
    if (array_shape(input, ishape, &indim, "grid_sample", "input") < 0) goto fail;
    if (array_shape(grid, gshape, &gndim, "grid_sample", "grid") < 0) goto fail;
    int32_t st = stn_grid_sample_shape(ishape, indim, gshape, gndim, mode, oshape, &ondim, err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    /* Shapes are valid: check `out` against the views (a copy made next cannot overlap it), then
     * (and only then) copy strided inputs into contiguous arrays. */
    call_input inputs[] = {{"input", in_obj, input}, {"grid", grid_obj, grid}, {"fill", fill_obj, fill}};
    out = output_array(out_obj, "grid_sample", oshape, ondim, typenum, inputs, 3);
    if (out == NULL) goto fail;
    if (make_contiguous(&input) < 0 || make_contiguous(&grid) < 0) goto fail;
    Py_BEGIN_ALLOW_THREADS
    if (fill != NULL || padding == STN_PADDING_FILL)
        st = stn_grid_sample_fill(dtype_code(typenum), PyArray_DATA(input), ishape, indim, PyArray_DATA(grid),
                                  gshape, gndim, mode, padding, align, fill ? PyArray_DATA(fill) : NULL, fill_len,
                                  PyArray_DATA(out), err, ERR_LEN);
    else
        st = stn_grid_sample(dtype_code(typenum), PyArray_DATA(input), ishape, indim, PyArray_DATA(grid),
                             gshape, gndim, mode, padding, align, PyArray_DATA(out), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(input);
    Py_DECREF(grid);
    Py_XDECREF(fill);
    return (PyObject *)out;
fail:
    Py_XDECREF(input);
    Py_XDECREF(grid);
    Py_XDECREF(fill);
    Py_XDECREF(out);
    return NULL;
}

static PyObject *py_grid_sample_backward(PyObject *self, PyObject *args) {
    PyObject *go_obj, *in_obj, *grid_obj, *fill_obj = Py_None;
    int mode, padding, align, input_requires_grad;
    if (!PyArg_ParseTuple(args, "OOOiipp|O:grid_sample_backward", &go_obj, &in_obj, &grid_obj, &mode,
                          &padding, &align, &input_requires_grad, &fill_obj))
        return NULL;
    int typenum = -1;
    int64_t oshape[MAX_DIMS], ishape[MAX_DIMS], gshape[MAX_DIMS], expected[MAX_DIMS], fill_len = 0;
    int32_t ondim, indim, gndim, endim;
    char err[ERR_LEN];
    PyArrayObject *go = NULL, *input = NULL, *grid = NULL, *gin = NULL, *ggrid = NULL, *fill = NULL;
    const char *op = "grid_sample_backward";
    go = float_view(go_obj, op, "grad_output", &typenum, NULL);
    if (go == NULL) return NULL;
    input = float_view(in_obj, op, "input", &typenum, "grad_output");
    if (input == NULL) goto fail;
    grid = float_view(grid_obj, op, "grid", &typenum, "grad_output");
    if (grid == NULL) goto fail;
    if (as_fill_array(fill_obj, op, typenum, &fill, &fill_len) < 0) goto fail;
    if (array_shape(go, oshape, &ondim, op, "grad_output") < 0) goto fail;
    if (array_shape(input, ishape, &indim, op, "input") < 0) goto fail;
    if (array_shape(grid, gshape, &gndim, op, "grid") < 0) goto fail;
    /* Validates input/grid; grad_output's shape is checked by the backward call itself,
     * before it writes anything. */
    int32_t st = stn_grid_sample_shape(ishape, indim, gshape, gndim, mode, expected, &endim, err, ERR_LEN);
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    /* Copy strided inputs only once every shape is known to be right; a grad_output of the wrong
     * shape is left as it is (the backward call refuses it before reading any data). */
    int go_ok = ondim == endim;
    for (int i = 0; go_ok && i < ondim; i++) go_ok = oshape[i] == expected[i];
    if ((go_ok && make_contiguous(&go) < 0) || make_contiguous(&input) < 0 || make_contiguous(&grid) < 0)
        goto fail;
    if (input_requires_grad) {
        gin = new_array(ishape, indim, typenum, 0);
        if (gin == NULL) goto fail;
    }
    ggrid = new_array(gshape, gndim, typenum, 0);
    if (ggrid == NULL) goto fail;
    Py_BEGIN_ALLOW_THREADS
    if (fill != NULL || padding == STN_PADDING_FILL)
        st = stn_grid_sample_backward_fill(dtype_code(typenum), PyArray_DATA(go), oshape, ondim,
                                           PyArray_DATA(input), ishape, indim, PyArray_DATA(grid), gshape, gndim,
                                           mode, padding, align, fill ? PyArray_DATA(fill) : NULL, fill_len,
                                           gin ? PyArray_DATA(gin) : NULL, PyArray_DATA(ggrid), err, ERR_LEN);
    else
        st = stn_grid_sample_backward(dtype_code(typenum), PyArray_DATA(go), oshape, ondim,
                                      PyArray_DATA(input), ishape, indim, PyArray_DATA(grid), gshape, gndim,
                                      mode, padding, align, gin ? PyArray_DATA(gin) : NULL,
                                      PyArray_DATA(ggrid), err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto fail; }
    Py_DECREF(go);
    Py_DECREF(input);
    Py_DECREF(grid);
    Py_XDECREF(fill);
    PyObject *result = PyTuple_Pack(2, gin ? (PyObject *)gin : Py_None, (PyObject *)ggrid);
    Py_XDECREF(gin);
    Py_DECREF(ggrid);
    return result;
fail:
    Py_XDECREF(go);
    Py_XDECREF(input);
    Py_XDECREF(grid);
    Py_XDECREF(fill);
    Py_XDECREF(gin);
    Py_XDECREF(ggrid);
    return NULL;
}

/* ---- threads, version ---- */

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    char err[ERR_LEN];
    if (n < 1 || n > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "set_num_threads(): n must be a positive int, got %ld", n);
        return NULL;
    }
    int32_t st = stn_set_num_threads((int32_t)n, err, ERR_LEN);
    if (st != STN_OK) return raise_status(st, err);
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(stn_get_num_threads());
}

static PyObject *py_version(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(stn_version());
}

static PyMethodDef methods[] = {
    {"affine_grid", py_affine_grid, METH_VARARGS, "affine_grid(theta, size, align_corners[, out]) -> grid (out if given)"},
    {"affine_grid_backward", py_affine_grid_backward, METH_VARARGS,
     "affine_grid_backward(grad_grid, size, align_corners[, out]) -> grad_theta (out if given)"},
    {"grid_sample", py_grid_sample, METH_VARARGS,
     "grid_sample(input, grid, mode, padding, align_corners[, fill[, out]]) -> output (out if given; integer mode "
     "codes)"},
    {"grid_sample_backward", py_grid_sample_backward, METH_VARARGS,
     "grid_sample_backward(grad_output, input, grid, mode, padding, align_corners, "
     "input_requires_grad[, fill]) -> (grad_input or None, grad_grid)"},
    {"set_num_threads", py_set_num_threads, METH_O, "set_num_threads(n)"},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "get_num_threads() -> int"},
    {"version", py_version, METH_NOARGS, "version() -> str (the Swift library's version)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "swiftstn._native",
    "CPython binding of libswiftstn (see include/swiftstn.h).", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    import_array();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddFunctions(m, swiftstn_network_methods) < 0) { Py_DECREF(m); return NULL; }
    if (PyModule_AddFunctions(m, swiftstn_generator_methods) < 0) { Py_DECREF(m); return NULL; }
    if (PyModule_AddFunctions(m, swiftstn_warp_methods) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
