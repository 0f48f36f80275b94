/*
 * swiftstn._native — thin CPython glue over libswiftstn's C ABI (include/swiftstn.h).
 *
 * This file only converts: Python objects to C-contiguous float32/float64 NumPy arrays (no copy
 * when they already are; otherwise one conversion), arrays to `stn_tensor` descriptors, status
 * codes to exceptions. Shape validation and every message about shapes come from the Swift layer,
 * through the ABI's shape query (op_call in _native_common.h), before any output is allocated or
 * any input copied. The GIL is released around every call that does numeric work. The tps
 * generators and the network engine are in _native_generators.c and _native_network.c.
 */
#define SWIFTSTN_IMPORT_ARRAY
#include "_native_common.h"

/* ---- affine_grid ---- */

static int32_t invoke_affine_grid(op_call *c, char *err, size_t n) {
    return stn_affine_grid(&c->in[0], c->size, c->size_len, c->sampling.align_corners, &c->out[0], err, n);
}

static int32_t invoke_affine_grid_backward(op_call *c, char *err, size_t n) {
    return stn_affine_grid_backward(&c->in[0], c->size, c->size_len, c->sampling.align_corners, &c->out[0], err, n);
}

/* The generators' common shape: one or two float inputs, a size, align_corners, out=. */
static PyObject *generator_call(PyObject *args, const char *op, const char *fmt, const char *name0,
                                const char *name1, const char *out_name, op_invoke invoke) {
    PyObject *obj0, *obj1 = NULL, *size_obj, *out_obj = Py_None;
    int align = 0;
    int ok = name1 ? PyArg_ParseTuple(args, fmt, &obj0, &obj1, &size_obj, &align, &out_obj)
                   : PyArg_ParseTuple(args, fmt, &obj0, &size_obj, &align, &out_obj);
    if (!ok) return NULL;
    op_call c = {.op = op, .typenum = -1};
    c.sampling.align_corners = align;
    if (read_size(size_obj, c.size, &c.size_len, op) < 0) return NULL;
    if (call_arg(&c, obj0, name0) < 0 || (name1 && call_arg(&c, obj1, name1) < 0)) {
        call_release(&c);
        return NULL;
    }
    call_output(&c, out_name, 1, out_obj);
    return call_run(&c, invoke);
}

static PyObject *py_affine_grid(PyObject *self, PyObject *args) {
    return generator_call(args, "affine_grid", "OOp|O:affine_grid", "theta", NULL, "grid", invoke_affine_grid);
}

static PyObject *py_affine_grid_backward(PyObject *self, PyObject *args) {
    return generator_call(args, "affine_grid_backward", "OOp|O:affine_grid_backward", "grad_grid", NULL,
                          "grad_theta", invoke_affine_grid_backward);
}

static int32_t invoke_perspective_grid(op_call *c, char *err, size_t n) {
    return stn_perspective_grid(&c->in[0], c->size, c->size_len, c->sampling.align_corners, &c->out[0], err, n);
}

static int32_t invoke_perspective_grid_backward(op_call *c, char *err, size_t n) {
    return stn_perspective_grid_backward(&c->in[0], &c->in[1], c->size, c->size_len, c->sampling.align_corners,
                                         &c->out[0], err, n);
}

static PyObject *py_perspective_grid(PyObject *self, PyObject *args) {
    return generator_call(args, "perspective_grid", "OOp|O:perspective_grid", "H", NULL, "grid",
                          invoke_perspective_grid);
}

static PyObject *py_perspective_grid_backward(PyObject *self, PyObject *args) {
    return generator_call(args, "perspective_grid_backward", "OOOp|O:perspective_grid_backward", "grad_grid", "H",
                          "grad_H", invoke_perspective_grid_backward);
}

/* ---- grid_sample ---- */

static int32_t invoke_grid_sample(op_call *c, char *err, size_t n) {
    return stn_grid_sample(&c->in[0], &c->in[1], &c->sampling, &c->out[0], err, n);
}

static int32_t invoke_grid_sample_backward(op_call *c, char *err, size_t n) {
    return stn_grid_sample_backward(&c->in[0], &c->in[1], &c->in[2], &c->sampling, call_out(c, 0), &c->out[1], err,
                                    n);
}

/* The image output of a sampler: the image's dtype, or float32 when asked for. */
static void image_output(op_call *c, int image_typenum, int float32_output, PyObject *out_obj) {
    call_output(c, "output", 1, out_obj);
    c->out_typenum[0] = float32_output ? NPY_FLOAT32 : image_typenum;
}

static PyObject *py_grid_sample(PyObject *self, PyObject *args) {
    PyObject *in_obj, *grid_obj, *fill_obj = Py_None, *out_obj = Py_None;
    int mode, padding, align, layout = STN_LAYOUT_NCHW, float32_output = 0;
    if (!PyArg_ParseTuple(args, "OOiip|OOip:grid_sample", &in_obj, &grid_obj, &mode, &padding, &align, &fill_obj,
                          &out_obj, &layout, &float32_output))
        return NULL;
    op_call c = {.op = "grid_sample", .typenum = -1};
    int image = call_image(&c, in_obj, "input");
    if (image < 0 || call_arg(&c, grid_obj, "grid") < 0 ||
        call_sampling(&c, mode, padding, align, fill_obj, layout, float32_output) < 0) {
        call_release(&c);
        return NULL;
    }
    image_output(&c, image, float32_output, out_obj);
    return call_run(&c, invoke_grid_sample);
}

static PyObject *py_grid_sample_backward(PyObject *self, PyObject *args) {
    PyObject *go_obj, *in_obj, *grid_obj, *fill_obj = Py_None;
    int mode, padding, align, input_requires_grad;
    if (!PyArg_ParseTuple(args, "OOOiipp|O:grid_sample_backward", &go_obj, &in_obj, &grid_obj, &mode,
                          &padding, &align, &input_requires_grad, &fill_obj))
        return NULL;
    op_call c = {.op = "grid_sample_backward", .typenum = -1};
    if (call_arg(&c, go_obj, "grad_output") < 0 || call_arg(&c, in_obj, "input") < 0 ||
        call_arg(&c, grid_obj, "grid") < 0 || call_sampling(&c, mode, padding, align, fill_obj, 0, 0) < 0) {
        call_release(&c);
        return NULL;
    }
    call_output(&c, "grad_input", input_requires_grad, NULL);
    call_output(&c, "grad_grid", 1, NULL);
    return call_run(&c, invoke_grid_sample_backward);
}

/* ---- fused warps ---- */

static int32_t invoke_warp_affine(op_call *c, char *err, size_t n) {
    return stn_warp_affine(&c->in[0], &c->in[1], c->size, c->size_len, &c->sampling, &c->out[0], err, n);
}

static int32_t invoke_warp_perspective(op_call *c, char *err, size_t n) {
    return stn_warp_perspective(&c->in[0], &c->in[1], c->size, c->size_len, &c->sampling, &c->out[0], err, n);
}

static int32_t invoke_warp_affine_backward(op_call *c, char *err, size_t n) {
    return stn_warp_affine_backward(&c->in[0], &c->in[1], &c->in[2], c->size, c->size_len, &c->sampling,
                                    call_out(c, 0), &c->out[1], err, n);
}

static int32_t invoke_warp_perspective_backward(op_call *c, char *err, size_t n) {
    return stn_warp_perspective_backward(&c->in[0], &c->in[1], &c->in[2], c->size, c->size_len, &c->sampling,
                                         call_out(c, 0), &c->out[1], err, n);
}

static int read_out_size(PyObject *obj, op_call *c) {
    return read_ints(obj, c->size, &c->size_len, c->op, "out_size", "two ints (Ho, Wo)", "2 (Ho, Wo)");
}

static PyObject *warp_forward(PyObject *args, const char *op, const char *mname, op_invoke invoke) {
    PyObject *in_obj, *m_obj, *size_obj, *fill_obj = Py_None, *out_obj = Py_None;
    int mode, padding, align, layout = STN_LAYOUT_NCHW, float32_output = 0;
    if (!PyArg_ParseTuple(args, "OOOiip|OOip", &in_obj, &m_obj, &size_obj, &mode, &padding, &align, &fill_obj,
                          &out_obj, &layout, &float32_output))
        return NULL;
    op_call c = {.op = op, .typenum = -1};
    if (read_out_size(size_obj, &c) < 0) return NULL;
    int image = call_image(&c, in_obj, "input");
    if (image < 0 || call_arg(&c, m_obj, mname) < 0 ||
        call_sampling(&c, mode, padding, align, fill_obj, layout, float32_output) < 0) {
        call_release(&c);
        return NULL;
    }
    image_output(&c, image, float32_output, out_obj);
    return call_run(&c, invoke);
}

static PyObject *warp_backward(PyObject *args, const char *op, const char *mname, op_invoke invoke) {
    PyObject *go_obj, *in_obj, *m_obj, *size_obj, *fill_obj = Py_None;
    int mode, padding, align, input_requires_grad;
    if (!PyArg_ParseTuple(args, "OOOOiipp|O", &go_obj, &in_obj, &m_obj, &size_obj, &mode, &padding, &align,
                          &input_requires_grad, &fill_obj))
        return NULL;
    op_call c = {.op = op, .typenum = -1};
    if (read_out_size(size_obj, &c) < 0) return NULL;
    if (call_arg(&c, go_obj, "grad_output") < 0 || call_arg(&c, in_obj, "input") < 0 ||
        call_arg(&c, m_obj, mname) < 0 || call_sampling(&c, mode, padding, align, fill_obj, 0, 0) < 0) {
        call_release(&c);
        return NULL;
    }
    call_output(&c, "grad_input", input_requires_grad, NULL);
    call_output(&c, mname, 1, NULL);
    return call_run(&c, invoke);
}

static PyObject *py_warp_affine(PyObject *self, PyObject *args) {
    return warp_forward(args, "warp_affine", "theta", invoke_warp_affine);
}

static PyObject *py_warp_affine_backward(PyObject *self, PyObject *args) {
    return warp_backward(args, "warp_affine_backward", "theta", invoke_warp_affine_backward);
}

static PyObject *py_warp_perspective(PyObject *self, PyObject *args) {
    return warp_forward(args, "warp_perspective", "H", invoke_warp_perspective);
}

static PyObject *py_warp_perspective_backward(PyObject *self, PyObject *args) {
    return warp_backward(args, "warp_perspective_backward", "H", invoke_warp_perspective_backward);
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
     "grid_sample(input, grid, mode, padding, align_corners[, fill[, out[, layout[, float32_output]]]]) -> output "
     "(out if given; integer mode, padding and layout codes)"},
    {"grid_sample_backward", py_grid_sample_backward, METH_VARARGS,
     "grid_sample_backward(grad_output, input, grid, mode, padding, align_corners, "
     "input_requires_grad[, fill]) -> (grad_input or None, grad_grid)"},
    {"perspective_grid", py_perspective_grid, METH_VARARGS,
     "perspective_grid(H, size, align_corners[, out]) -> grid (out if given)"},
    {"perspective_grid_backward", py_perspective_grid_backward, METH_VARARGS,
     "perspective_grid_backward(grad_grid, H, size, align_corners[, out]) -> grad_H (out if given)"},
    {"warp_affine", py_warp_affine, METH_VARARGS,
     "warp_affine(input, theta, out_size, mode, padding, align_corners[, fill[, out[, layout[, float32_output]]]]) "
     "-> output (out if given)"},
    {"warp_affine_backward", py_warp_affine_backward, METH_VARARGS,
     "warp_affine_backward(grad_output, input, theta, out_size, mode, padding, align_corners, "
     "input_requires_grad[, fill]) -> (grad_input or None, grad_theta)"},
    {"warp_perspective", py_warp_perspective, METH_VARARGS,
     "warp_perspective(input, H, out_size, mode, padding, align_corners[, fill[, out[, layout[, float32_output]]]]) "
     "-> output (out if given)"},
    {"warp_perspective_backward", py_warp_perspective_backward, METH_VARARGS,
     "warp_perspective_backward(grad_output, input, H, out_size, mode, padding, align_corners, "
     "input_requires_grad[, fill]) -> (grad_input or None, grad_H)"},
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
    return m;
}
