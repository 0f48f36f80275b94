/* Helpers shared by the glue files of swiftstn._native (conversions and error mapping). */
#ifndef SWIFTSTN_NATIVE_COMMON_H
#define SWIFTSTN_NATIVE_COMMON_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#ifndef SWIFTSTN_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#define PY_ARRAY_UNIQUE_SYMBOL swiftstn_ARRAY_API
#include <numpy/arrayobject.h>

#include "swiftstn.h"

#define ERR_LEN 1024
#define MAX_DIMS 32

static inline PyObject *raise_status(int32_t status, const char *message) {
    PyObject *type;
    switch (status) {
        case STN_INVALID_TYPE: type = PyExc_TypeError; break;
        case STN_OUT_OF_MEMORY: type = PyExc_MemoryError; break;
        case STN_INTERNAL: type = PyExc_RuntimeError; break;
        default: type = PyExc_ValueError; break; /* invalid argument, size overflow */
    }
    PyErr_SetString(type, message);
    return NULL;
}

static inline const char *dtype_name(PyArrayObject *a) {
    static char buf[64];
    PyObject *s = PyObject_Str((PyObject *)PyArray_DESCR(a));
    if (s == NULL) { PyErr_Clear(); return "?"; }
    const char *u = PyUnicode_AsUTF8(s);
    snprintf(buf, sizeof buf, "%s", u ? u : "?");
    Py_DECREF(s);
    return buf;
}

/*
 * Returns a new reference to the float32 or float64 array behind `obj`, without copying a NumPy
 * array (it may be strided or byte-swapped). `*typenum` is -1 for the first array of a call (its
 * dtype decides) and the decided type afterwards (later arrays must match it). Callers validate
 * shapes on the view and only then call make_contiguous, so an input that will be refused is
 * never copied (a huge broadcast view, say).
 */
static inline PyArrayObject *float_view(PyObject *obj, const char *op, const char *name,
                                        int *typenum, const char *first_name) {
    PyArrayObject *raw = (PyArrayObject *)PyArray_FROM_O(obj);
    if (raw == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s(): %s must be a float32 or float64 array, got %.100s",
                     op, name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    int t = PyArray_TYPE(raw);
    if (t != NPY_FLOAT32 && t != NPY_FLOAT64) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must have dtype float32 or float64, got %s",
                     op, name, dtype_name(raw));
        Py_DECREF(raw);
        return NULL;
    }
    if (*typenum >= 0 && t != *typenum) {
        PyErr_Format(PyExc_TypeError,
                     "%s(): expected %s and %s to have the same dtype, got %s and %s", op,
                     first_name, name, *typenum == NPY_FLOAT32 ? "float32" : "float64",
                     t == NPY_FLOAT32 ? "float32" : "float64");
        Py_DECREF(raw);
        return NULL;
    }
    *typenum = t;
    return raw;
}

/* Replaces *a by a C-contiguous, aligned, native-order copy when it is not one already (no copy
 * otherwise). Returns -1 with an exception set (and *a released) on failure. */
static inline int make_contiguous(PyArrayObject **a) {
    PyArrayObject *arr = (PyArrayObject *)PyArray_FromAny(
        (PyObject *)*a, PyArray_DescrFromType(PyArray_TYPE(*a)), 0, 0,
        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED, NULL);
    Py_DECREF(*a);
    *a = arr;
    return arr == NULL ? -1 : 0;
}

/* float_view + make_contiguous: for small arguments whose shapes the Swift side checks later. */
static inline PyArrayObject *as_float_array(PyObject *obj, const char *op, const char *name,
                                     int *typenum, const char *first_name) {
    PyArrayObject *arr = float_view(obj, op, name, typenum, first_name);
    if (arr == NULL || make_contiguous(&arr) < 0) return NULL;
    return arr;
}

static inline int32_t dtype_code(int typenum) { return typenum == NPY_FLOAT32 ? STN_FLOAT32 : STN_FLOAT64; }

static inline int array_shape(PyArrayObject *a, int64_t *shape, int32_t *ndim, const char *op, const char *name) {
    int n = PyArray_NDIM(a);
    if (n > MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "%s(): %s has %d dimensions, at most %d are supported", op, name, n, MAX_DIMS);
        return -1;
    }
    for (int i = 0; i < n; i++) shape[i] = (int64_t)PyArray_DIM(a, i);
    *ndim = (int32_t)n;
    return 0;
}

/* Reads a sequence of ints (Python ints, NumPy integers, anything with __index__) named `name`
 * into `values`; `example` completes "must be a sequence of …" and `expected` "expected …" in
 * the error messages. */
static inline int read_ints(PyObject *obj, int64_t *values, int32_t *len, const char *op, const char *name,
                            const char *example, const char *expected) {
    PyObject *seq = PySequence_Fast(obj, "");
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s(): %s must be a sequence of %s, got %.100s", op, name, example,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_DIMS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "%s(): %s has %zd entries; expected %s", op, name, n, expected);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *index = PyNumber_Index(item);
        if (index == NULL) {
            Py_DECREF(seq);
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s(): %s must contain ints, got %.100s at position %zd",
                         op, name, Py_TYPE(item)->tp_name, i);
            return -1;
        }
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(index, &overflow);
        Py_DECREF(index);
        if (overflow) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "%s(): %s[%zd] does not fit in 64 bits", op, name, i);
            return -1;
        }
        values[i] = (int64_t)v;
    }
    *len = (int32_t)n;
    Py_DECREF(seq);
    return 0;
}

/* A tensor size such as (N, C, H, W). */
static inline int read_size(PyObject *obj, int64_t *size, int32_t *len, const char *op) {
    return read_ints(obj, size, len, op, "size", "ints such as (N, C, H, W)",
                     "4 (N, C, H, W) or 5 (N, C, D, H, W)");
}

static inline PyArrayObject *new_array(const int64_t *shape, int32_t ndim, int typenum, int zero) {
    npy_intp dims[MAX_DIMS];
    for (int i = 0; i < ndim; i++) dims[i] = (npy_intp)shape[i];
    return (PyArrayObject *)(zero ? PyArray_ZEROS(ndim, dims, typenum, 0)
                                  : PyArray_EMPTY(ndim, dims, typenum, 0));
}

/* Writes a shape as "(2, 3, 4)" into buf. */
static inline void format_shape(char *buf, size_t n, const int64_t *shape, int32_t ndim) {
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int32_t i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < n) used += (size_t)snprintf(buf + used, n - used, ndim == 1 ? ",)" : ")");
}

/* The byte range [*lo, *hi) an array's elements can occupy (the extent numpy.may_share_memory
 * compares). Returns 0 for an array without elements (it occupies nothing). */
static inline int memory_bounds(PyArrayObject *a, intptr_t *lo, intptr_t *hi) {
    if (PyArray_SIZE(a) == 0) return 0;
    intptr_t low = 0, high = (intptr_t)PyArray_ITEMSIZE(a);
    for (int i = 0; i < PyArray_NDIM(a); i++) {
        intptr_t extent = (intptr_t)(PyArray_DIM(a, i) - 1) * (intptr_t)PyArray_STRIDE(a, i);
        if (extent < 0) low += extent; else high += extent;
    }
    *lo = (intptr_t)PyArray_DATA(a) + low;
    *hi = (intptr_t)PyArray_DATA(a) + high;
    return 1;
}

static inline int arrays_overlap(PyArrayObject *a, PyArrayObject *b) {
    intptr_t alo, ahi, blo, bhi;
    if (!memory_bounds(a, &alo, &ahi) || !memory_bounds(b, &blo, &bhi)) return 0;
    return alo < bhi && blo < ahi;
}

/* An argument of a call, for output_array's overlap check: the object passed (checked when it is
 * an ndarray) and the array the kernel reads (NULL when there is none); both may share memory
 * with the caller's data. */
typedef struct {
    const char *name;
    PyObject *given;
    PyArrayObject *used;
} call_input;

/*
 * The result array of a call whose output has shape `shape` and dtype `typenum`, a new
 * reference: a new uninitialised array when `out_obj` is NULL or None, otherwise `out_obj` itself
 * after checking that it can take the result as it is: an ndarray (a subclass such as np.memmap
 * too) of exactly that shape and dtype, in native byte order, C-contiguous, aligned and
 * writeable, whose memory does not overlap any of `inputs` (the kernels read their inputs while
 * writing the output; the test is numpy.may_share_memory's, on the byte extents). Call it after
 * the shapes are validated and before any computation: on error (an exception naming `out` and
 * stating expected vs got) nothing has been written.
 */
static inline PyArrayObject *output_array(PyObject *out_obj, const char *op, const int64_t *shape, int32_t ndim,
                                          int typenum, const call_input *inputs, int ninputs) {
    if (out_obj == NULL || out_obj == Py_None) return new_array(shape, ndim, typenum, 0);
    if (!PyArray_Check(out_obj)) {
        PyErr_Format(PyExc_TypeError, "%s(): out must be a numpy.ndarray (np.memmap too) or None, got %.100s", op,
                     Py_TYPE(out_obj)->tp_name);
        return NULL;
    }
    PyArrayObject *out = (PyArrayObject *)out_obj;
    int same_shape = PyArray_NDIM(out) == ndim;
    for (int32_t i = 0; same_shape && i < ndim; i++) same_shape = (int64_t)PyArray_DIM(out, i) == shape[i];
    if (!same_shape) {
        char want[512], got[512];
        int64_t got_shape[NPY_MAXDIMS];
        int got_ndim = PyArray_NDIM(out) < NPY_MAXDIMS ? PyArray_NDIM(out) : NPY_MAXDIMS;
        for (int i = 0; i < got_ndim; i++) got_shape[i] = (int64_t)PyArray_DIM(out, i);
        format_shape(want, sizeof want, shape, ndim);
        format_shape(got, sizeof got, got_shape, got_ndim);
        PyErr_Format(PyExc_ValueError, "%s(): out must have the result's shape %s, got shape %s", op, want, got);
        return NULL;
    }
    if (PyArray_TYPE(out) != typenum || !PyArray_ISNOTSWAPPED(out)) {
        PyArray_Descr *want = PyArray_DescrFromType(typenum);
        PyObject *wname = want ? PyObject_Str((PyObject *)want) : NULL;
        PyErr_Format(PyExc_TypeError, "%s(): out must have the result's dtype %s (native byte order), got %s", op,
                     wname ? PyUnicode_AsUTF8(wname) : "?", dtype_name(out));
        Py_XDECREF(wname);
        Py_XDECREF(want);
        return NULL;
    }
    int contiguous = PyArray_IS_C_CONTIGUOUS(out), aligned = PyArray_ISALIGNED(out),
        writeable = PyArray_ISWRITEABLE(out);
    if (!contiguous || !aligned || !writeable) {
        char flags[96] = "";
        if (!contiguous) strcat(flags, ", not C-contiguous");
        if (!aligned) strcat(flags, ", not aligned");
        if (!writeable) strcat(flags, ", read-only");
        PyErr_Format(PyExc_ValueError, "%s(): out must be C-contiguous, aligned and writeable, got an array that is %s",
                     op, flags + 2);
        return NULL;
    }
    for (int i = 0; i < ninputs; i++) {
        int overlap = inputs[i].used != NULL && arrays_overlap(out, inputs[i].used);
        if (!overlap && inputs[i].given != NULL && PyArray_Check(inputs[i].given))
            overlap = arrays_overlap(out, (PyArrayObject *)inputs[i].given);
        if (overlap) {
            PyErr_Format(PyExc_ValueError, "%s(): out overlaps %s (out must not share memory with the arguments)", op,
                         inputs[i].name);
            return NULL;
        }
    }
    Py_INCREF(out);
    return out;
}

/*
 * Fill values of a call (`obj` None: no fill, *fill = NULL, *len = 0). Otherwise a number or a
 * 1-D sequence/array of numbers, converted once to a C-contiguous array of the call's dtype
 * `typenum` (a new reference in *fill). Returns -1 with an exception set on error.
 */
static inline int as_fill_array(PyObject *obj, const char *op, int typenum, PyArrayObject **fill, int64_t *len) {
    *fill = NULL;
    *len = 0;
    if (obj == Py_None) return 0;
    PyArrayObject *raw = (PyArrayObject *)PyArray_FROM_O(obj);
    if (raw == NULL || !(PyArray_ISINTEGER(raw) || PyArray_ISFLOAT(raw) || PyArray_ISBOOL(raw))) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s(): fill must be a number or a 1-D array of numbers (one per channel), got %.100s",
                     op, Py_TYPE(obj)->tp_name);
        Py_XDECREF(raw);
        return -1;
    }
    if (PyArray_NDIM(raw) > 1) {
        PyErr_Format(PyExc_ValueError, "%s(): fill must be a number or a 1-D array of C values, got an array with %d dimensions",
                     op, PyArray_NDIM(raw));
        Py_DECREF(raw);
        return -1;
    }
    *fill = (PyArrayObject *)PyArray_FromAny((PyObject *)raw, PyArray_DescrFromType(typenum), 0, 1,
                                             NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED |
                                                 NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(raw);
    if (*fill == NULL) return -1;
    *len = (int64_t)PyArray_SIZE(*fill);
    return 0;
}

/*
 * One operator call through the C ABI's two-call idiom (include/swiftstn.h): describe the
 * inputs (views, nothing copied), ask the library for the outputs' shapes (it validates the
 * whole call), allocate the outputs (or check `out=`), make the inputs contiguous, and call
 * again with the GIL released. An op fills `in`/`out` with call_input/call_output and passes an
 * `invoke` that calls its ABI function with `c->in`, `c->out` and its own settings.
 */
#define CALL_MAX 4

typedef struct op_call op_call;
typedef int32_t (*op_invoke)(op_call *c, char *err, size_t err_len);

struct op_call {
    const char *op;
    int typenum;                       /* the call's dtype: the first float input's */
    int image_typenum;                 /* a sampler's uint8/float16 image, else 0 */
    int n_in, n_out;
    const char *in_name[CALL_MAX];
    PyObject *in_obj[CALL_MAX];
    PyArrayObject *in_arr[CALL_MAX];   /* a view until the shapes are valid, then contiguous */
    stn_tensor in[CALL_MAX];
    const char *out_name[CALL_MAX];
    int out_wanted[CALL_MAX];          /* 0: the ABI gets NULL (not computed), Python gets None */
    int out_typenum[CALL_MAX];         /* the output's NumPy type (the call's dtype unless set) */
    PyObject *out_given[CALL_MAX];     /* the caller's `out=` array, or NULL */
    PyArrayObject *out_arr[CALL_MAX];
    stn_tensor out[CALL_MAX];
    PyArrayObject *fill;               /* fill padding's values, in the call's dtype */
    stn_tensor fill_tensor;
    stn_sampling sampling;
    PyArrayObject *points;             /* tps control points (float64) */
    stn_tensor points_tensor;
    int64_t size[MAX_DIMS];            /* size / out_size */
    int32_t size_len;
};

static inline int32_t stn_dtype(int typenum) {
    switch (typenum) {
        case NPY_FLOAT32: return STN_FLOAT32;
        case NPY_UINT8: return STN_UINT8;
        case NPY_FLOAT16: return STN_FLOAT16;
        default: return STN_FLOAT64;
    }
}

static inline void describe_array(stn_tensor *t, PyArrayObject *a) {
    t->data = PyArray_DATA(a);
    t->dtype = stn_dtype(PyArray_TYPE(a));
    t->ndim = PyArray_NDIM(a);
    for (int i = 0; i < PyArray_NDIM(a); i++) t->shape[i] = (int64_t)PyArray_DIM(a, i);
}

/* A float input of the call (the first one decides the dtype). Returns -1 with an exception. */
static inline int call_arg(op_call *c, PyObject *obj, const char *name) {
    int i = c->n_in;
    if (c->image_typenum) { /* grids and matrices of a uint8/float16 image are float32 */
        PyArrayObject *raw = (PyArrayObject *)PyArray_FROM_O(obj);
        int t = raw ? PyArray_TYPE(raw) : -1;
        if (raw != NULL && t != NPY_FLOAT32) {
            PyErr_Format(PyExc_TypeError, "%s(): %s must be float32 for %s input (computed in float32), got %s",
                         c->op, name, c->image_typenum == NPY_UINT8 ? "uint8" : "float16", dtype_name(raw));
            Py_DECREF(raw);
            return -1;
        }
        Py_XDECREF(raw);
    }
    PyArrayObject *a = float_view(obj, c->op, name, &c->typenum, i ? c->in_name[0] : NULL);
    if (a == NULL) return -1;
    c->in_name[i] = name;
    c->in_obj[i] = obj;
    c->in_arr[i] = a;
    c->n_in++;
    if (PyArray_NDIM(a) > STN_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "%s(): %s has %d dimensions, at most %d are supported", c->op, name,
                     PyArray_NDIM(a), STN_MAX_NDIM);
        return -1;
    }
    describe_array(&c->in[i], a);
    return 0;
}

/*
 * The image of a sampler call: a uint8, float16, float32 or float64 array (a view, as call_arg
 * takes it). It computes in float64 if it is float64, else in float32: the call's dtype, which
 * the grid or matrices must have. Returns the image's NumPy type, or -1 with an exception.
 */
static inline int call_image(op_call *c, PyObject *obj, const char *name) {
    PyArrayObject *raw = (PyArrayObject *)PyArray_FROM_O(obj);
    if (raw == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s(): %s must be a uint8, float16, float32 or float64 array, got %.100s",
                     c->op, name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int t = PyArray_TYPE(raw);
    if (t != NPY_UINT8 && t != NPY_FLOAT16 && t != NPY_FLOAT32 && t != NPY_FLOAT64) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must have dtype uint8, float16, float32 or float64, got %s", c->op,
                     name, dtype_name(raw));
        Py_DECREF(raw);
        return -1;
    }
    Py_DECREF(raw);
    if (t != NPY_UINT8 && t != NPY_FLOAT16) return call_arg(c, obj, name) < 0 ? -1 : t;
    c->typenum = NPY_FLOAT32;
    c->image_typenum = t;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(obj);
    if (a == NULL) return -1;
    int i = c->n_in++;
    c->in_name[i] = name;
    c->in_obj[i] = obj;
    c->in_arr[i] = a;
    describe_array(&c->in[i], a);
    return t;
}

/* An output of the call: `wanted` 0 skips it; `given` is the caller's out= array or NULL/None. */
static inline void call_output(op_call *c, const char *name, int wanted, PyObject *given) {
    int i = c->n_out++;
    c->out_name[i] = name;
    c->out_wanted[i] = wanted;
    c->out_typenum[i] = -1;
    c->out_given[i] = given == Py_None ? NULL : given;
    memset(&c->out[i], 0, sizeof c->out[i]);
}

/* The ABI's descriptor of output i: NULL when it is not wanted. */
static inline stn_tensor *call_out(op_call *c, int i) { return c->out_wanted[i] ? &c->out[i] : NULL; }

/* Fill padding's values (`obj` None: none) in the call's dtype, and `sampling` pointing at them. */
static inline int call_sampling(op_call *c, int mode, int padding, int align, PyObject *fill_obj, int layout,
                                int float32_output) {
    c->sampling.layout = layout;
    c->sampling.float32_output = float32_output;
    int64_t len;
    if (as_fill_array(fill_obj, c->op, c->typenum, &c->fill, &len) < 0) return -1;
    c->sampling.mode = mode;
    c->sampling.padding = padding;
    c->sampling.align_corners = align;
    c->sampling.fill = NULL;
    if (c->fill != NULL) {
        describe_array(&c->fill_tensor, c->fill);
        c->fill_tensor.ndim = 1; /* a number is one value for every channel */
        c->fill_tensor.shape[0] = len;
        c->sampling.fill = &c->fill_tensor;
    }
    return 0;
}

static inline void call_release(op_call *c) {
    for (int i = 0; i < c->n_in; i++) Py_CLEAR(c->in_arr[i]);
    for (int i = 0; i < c->n_out; i++) Py_CLEAR(c->out_arr[i]);
    Py_CLEAR(c->fill);
    Py_CLEAR(c->points);
}

/* Runs the call; returns its one output, or a tuple of them (None for those not wanted). */
static inline PyObject *call_run(op_call *c, op_invoke invoke) {
    char err[ERR_LEN];
    PyObject *result = NULL;
    int32_t st = invoke(c, err, ERR_LEN); /* outputs have no data yet: a shape query */
    if (st != STN_OK) { raise_status(st, err); goto done; }
    call_input inputs[CALL_MAX + 2];
    int n = 0;
    for (int i = 0; i < c->n_in; i++) inputs[n++] = (call_input){c->in_name[i], c->in_obj[i], c->in_arr[i]};
    if (c->fill) inputs[n++] = (call_input){"fill", NULL, c->fill};
    if (c->points) inputs[n++] = (call_input){"control_points", NULL, c->points};
    for (int i = 0; i < c->n_out; i++) {
        if (!c->out_wanted[i]) continue;
        int typenum = c->out_typenum[i] >= 0 ? c->out_typenum[i] : c->typenum;
        c->out_arr[i] = output_array(c->out_given[i], c->op, c->out[i].shape, c->out[i].ndim, typenum, inputs, n);
        if (c->out_arr[i] == NULL) goto done;
        c->out[i].data = PyArray_DATA(c->out_arr[i]);
    }
    /* Every shape is valid: only now copy strided inputs into contiguous arrays. */
    for (int i = 0; i < c->n_in; i++) {
        if (make_contiguous(&c->in_arr[i]) < 0) goto done;
        c->in[i].data = PyArray_DATA(c->in_arr[i]);
    }
    Py_BEGIN_ALLOW_THREADS
    st = invoke(c, err, ERR_LEN);
    Py_END_ALLOW_THREADS
    if (st != STN_OK) { raise_status(st, err); goto done; }
    if (c->n_out == 1) {
        result = (PyObject *)c->out_arr[0];
        Py_INCREF(result);
    } else {
        result = PyTuple_New(c->n_out);
        for (int i = 0; result != NULL && i < c->n_out; i++) {
            PyObject *o = c->out_arr[i] ? (PyObject *)c->out_arr[i] : Py_None;
            Py_INCREF(o);
            PyTuple_SET_ITEM(result, i, o);
        }
    }
done:
    call_release(c);
    return result;
}

extern PyMethodDef swiftstn_network_methods[];
extern PyMethodDef swiftstn_generator_methods[];

#endif
