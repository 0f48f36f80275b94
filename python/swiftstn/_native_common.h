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
        PyErr_Format(PyExc_TypeError, "%s(): out must have the call's dtype %s (native byte order), got %s", op,
                     typenum == NPY_FLOAT32 ? "float32" : "float64", dtype_name(out));
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

extern PyMethodDef swiftstn_network_methods[];
extern PyMethodDef swiftstn_generator_methods[];
extern PyMethodDef swiftstn_warp_methods[];

#endif
