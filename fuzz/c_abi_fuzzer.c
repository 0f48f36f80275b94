/*
 * libFuzzer harness over libswiftstn's C ABI (include/swiftstn.h), for a library built with
 * AddressSanitizer and SanitizerCoverage so that the fuzzer is guided by coverage of the Swift
 * code itself. Build and run: fuzz/build_c_fuzzer.sh (see fuzz/README.md).
 *
 * The input is decoded into calls: shapes (small, zero, or huge), dtype / mode / padding codes
 * (valid or not), element values (raw bytes: NaN, ±Inf, subnormals), error buffers of any length
 * (NULL included), network specs, per-sample shapes, batches, optimiser settings and states.
 * Buffers are always allocated to exactly the size the header's contract says (the *_shape
 * functions'), so any out-of-bounds access ASan reports is the library's.
 *
 * Contract checked: every status is STN_OK or one of the documented error codes (never
 * STN_INTERNAL), messages are NUL-terminated within err_len, the *_shape functions agree with the
 * compute functions, and the process never crashes.
 *
 * Runs the library single-threaded: in this coverage-instrumented build (only), the helper pool
 * of Sources/SwiftSTN/Threading.swift never acknowledges the first job and the caller spins
 * forever (see fuzz/RESULTS.md); threading is covered by python/tests/test_reliability.py.
 *
 * Known bugs (fuzz/RESULTS.md) are steered around unless SWIFTSTN_FUZZ_STRICT=1: specs whose
 * numbers multiply past 1e7 (parameter allocation / count overflow), per-sample shapes whose
 * element count reaches 2^62 (flatten/linear overflow trap), Adam states with len1 != len2,
 * grid_sample_backward inputs with a zero dimension and other dimensions whose product reaches 2^62.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftstn.h"

#define MAX_ELEMENTS (1 << 16)

typedef struct {
    const uint8_t *p;
    size_t n;
} input;

static int strict = -1;

static uint8_t u8(input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static uint64_t u64(input *in) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | u8(in);
    return v;
}

static double f64(input *in) {
    uint64_t b = u64(in);
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "contract violation: %s\n", what);
        abort();
    }
}

/* A dimension: mostly 0..6, sometimes a huge or negative 64-bit value. */
static int64_t dim(input *in) {
    uint8_t k = u8(in);
    if (k < 232) return k % 7;
    if (k < 248) return (int64_t)1 << (40 + (k - 232) % 23);
    return (int64_t)u64(in);
}

static int32_t read_shape(input *in, int64_t *shape, int32_t max_ndim) {
    int32_t ndim = u8(in) % (max_ndim + 1);
    for (int32_t i = 0; i < ndim; i++) shape[i] = dim(in);
    return ndim;
}

/* Element count, or -1 if negative dims, overflow, or more than MAX_ELEMENTS. */
static int64_t count(const int64_t *shape, int32_t ndim) {
    int64_t c = 1;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) c = 0;
        else if (c > MAX_ELEMENTS / shape[i] + 1) return -1;
        else c *= shape[i];
    }
    for (int32_t i = 0; i < ndim; i++) if (shape[i] > MAX_ELEMENTS) return c == 0 ? 0 : -1;
    return c <= MAX_ELEMENTS ? c : -1;
}

/* A buffer of n elements of dtype code `dtype` (8 bytes each if the code is invalid), filled from
 * the input. Always at least one byte so that a valid pointer is passed. */
static void *buffer(input *in, int64_t n, int32_t dtype) {
    size_t size = (size_t)n * (dtype == STN_FLOAT32 ? 4 : 8);
    uint8_t *b = malloc(size ? size : 1);
    for (size_t i = 0; i < size; i++) b[i] = in->n ? u8(in) : (uint8_t)(i * 37);
    return b;
}

typedef struct {
    char *buf;
    size_t len;
} errbuf;

static errbuf make_err(input *in) {
    static const size_t lens[] = {0, 1, 2, 7, 64, 1024};
    uint8_t k = u8(in);
    errbuf e = {NULL, 0};
    if (k % 8 == 7) return e;  /* NULL buffer */
    e.len = lens[k % 6];
    e.buf = malloc(e.len ? e.len : 1);
    memset(e.buf, 'X', e.len ? e.len : 1);
    return e;
}

static void check_status(int32_t st, errbuf *e) {
    check(st >= STN_OK && st <= STN_OUT_OF_MEMORY, "status is OK or a documented error (never STN_INTERNAL)");
    if (e->buf && e->len) check(memchr(e->buf, 0, e->len) != NULL, "message NUL-terminated within err_len");
    if (st != STN_OK && e->buf && e->len > 1) check(e->buf[0] != 0, "an error comes with a message");
    free(e->buf);
}

static void fuzz_affine(input *in, int backward) {
    int64_t a[16], size[16], out[16];
    int32_t andim = read_shape(in, a, 6), size_len = read_shape(in, size, 6), ondim = -1;
    errbuf e = make_err(in);
    int32_t st = backward ? stn_affine_grid_backward_shape(a, andim, size, size_len, out, &ondim, e.buf, e.len)
                          : stn_affine_grid_shape(a, andim, size, size_len, out, &ondim, e.buf, e.len);
    check_status(st, &e);
    if (st != STN_OK) return;
    check(ondim >= 3 && ondim <= 5, "output ndim");
    int64_t na = count(a, andim), no = count(out, ondim);
    if (na < 0 || no < 0) return;
    int32_t dtype = u8(in) % 5 == 4 ? (int32_t)u8(in) - 128 : u8(in) & 1;
    int align = u8(in) & 1;
    void *src = buffer(in, na, dtype), *dst = buffer(in, no, dtype);
    e = make_err(in);
    st = backward ? stn_affine_grid_backward(dtype, src, a, andim, size, size_len, align, dst, e.buf, e.len)
                  : stn_affine_grid(dtype, src, a, andim, size, size_len, align, dst, e.buf, e.len);
    if (dtype == 0 || dtype == 1) check(st == STN_OK, "compute accepts what the shape function accepted");
    check_status(st, &e);
    free(src);
    free(dst);
}

static void fuzz_sample(input *in, int backward) {
    int64_t is[16], gs[16], os[16], gos[16];
    int32_t indim = read_shape(in, is, 6), gndim = read_shape(in, gs, 6), ondim = -1;
    int32_t mode = u8(in) % 8 == 7 ? (int32_t)u64(in) : u8(in) % 3;
    int32_t padding = u8(in) % 8 == 7 ? (int32_t)u64(in) : u8(in) % 3;
    errbuf e = make_err(in);
    if (!strict && backward) {  /* known: an empty input with an overflowing spatial product traps */
        double prod = 1;
        int zero = 0;
        for (int32_t k = 0; k < indim; k++) { if (is[k] == 0) zero = 1; else prod *= fabs((double)is[k]); }
        if (zero && prod >= 4.6e18) { free(e.buf); return; }
    }
    int32_t st = stn_grid_sample_shape(is, indim, gs, gndim, mode, os, &ondim, e.buf, e.len);
    check_status(st, &e);
    if (st != STN_OK) return;
    check(ondim == indim, "output ndim == input ndim");
    int64_t ni = count(is, indim), ng = count(gs, gndim), no = count(os, ondim);
    if (ni < 0 || ng < 0 || no < 0) return;
    int32_t dtype = u8(in) & 1;
    int align = u8(in) & 1;
    void *x = buffer(in, ni, dtype), *g = buffer(in, ng, dtype);
    e = make_err(in);
    if (!backward) {
        void *o = buffer(in, no, dtype);
        st = stn_grid_sample(dtype, x, is, indim, g, gs, gndim, mode, padding, align, o, e.buf, e.len);
        if (padding >= 0 && padding <= 2) check(st == STN_OK, "grid_sample accepts what the shape function accepted");
        check_status(st, &e);
        free(o);
    } else {
        /* grad_output of the right shape, or a fuzzed one (allocated to its own size) */
        int32_t gondim = ondim;
        memcpy(gos, os, sizeof(int64_t) * ondim);
        if (u8(in) % 4 == 3) gondim = read_shape(in, gos, 6);
        int64_t ngo = count(gos, gondim);
        if (ngo >= 0) {
            void *go = buffer(in, ngo, dtype), *gi = u8(in) & 1 ? buffer(in, ni, dtype) : NULL;
            void *gg = buffer(in, ng, dtype);
            st = stn_grid_sample_backward(dtype, go, gos, gondim, x, is, indim, g, gs, gndim, mode, padding, align,
                                          gi, gg, e.buf, e.len);
            check_status(st, &e);
            free(go);
            free(gi);
            free(gg);
        } else {
            free(e.buf);
        }
    }
    free(x);
    free(g);
}

/* A spec: raw text from the input, NUL-terminated. */
static int spec_too_big(const char *s) {
    double product = 1;
    while (*s) {
        if ((*s >= '0' && *s <= '9') || *s == '.') {
            char *end;
            double v = strtod(s, &end);
            if (end == s) { s++; continue; }
            if (v == v && v > 1) product *= v;
            s = end;
        } else if (*s == 'e' || *s == 'E') {
            if (s[1] && ((s[1] >= '0' && s[1] <= '9') || s[1] == '+' || s[1] == '-')) return 1;
            s++;
        } else {
            s++;
        }
    }
    return product > 1e7;
}

static void fuzz_network(input *in) {
    size_t len = u8(in) % 160;
    char spec[161];
    size_t i;
    for (i = 0; i < len && in->n; i++) spec[i] = (char)u8(in);
    spec[i] = 0;
    if (!strict && spec_too_big(spec)) return;
    errbuf e = make_err(in);
    stn_network *net = NULL;
    int32_t created = stn_network_new(spec, u64(in), &net, e.buf, e.len);
    check_status(created, &e);
    check((created == STN_OK) == (net != NULL), "stn_network_new: status and handle disagree");
    if (!net) return;
    int64_t params = stn_network_parameter_count(net);
    int32_t tensors = stn_network_parameter_tensors(net);
    check(params >= 0 && tensors >= 0, "parameter counts");
    int64_t total = 0;
    for (int32_t t = 0; t <= tensors; t++) {  /* one past the end: must be refused */
        int64_t shape[16];
        int32_t nd = 0;
        e = make_err(in);
        int32_t st = stn_network_parameter_shape(net, t, shape, &nd, e.buf, e.len);
        check((st == STN_OK) == (t < tensors), "parameter_shape index check");
        check_status(st, &e);
        if (st == STN_OK) total += count(shape, nd);
    }
    check(total == params, "parameter shapes add up to the count");
    float *p = malloc(sizeof(float) * (params ? params : 1));
    e = make_err(in);
    check_status(stn_network_get_parameters(net, p, e.buf, e.len), &e);
    if (params && u8(in) % 4 == 0) p[u8(in) % params] = NAN;
    e = make_err(in);
    check_status(stn_network_set_parameters(net, p, e.buf, e.len), &e);

    int64_t sample[16], out[16];
    int32_t snd = read_shape(in, sample, 5), ond = -1;
    int64_t sc = count(sample, snd);
    int huge = 0;
    {
        double prod = 1;
        for (int32_t k = 0; k < snd; k++) prod *= fabs((double)sample[k]);
        huge = prod >= 4.6e18;
    }
    if (strict || !huge) {
        e = make_err(in);
        int32_t st = stn_network_output_shape(net, sample, snd, out, &ond, e.buf, e.len);
        check_status(st, &e);
        int64_t oc = st == STN_OK ? count(out, ond) : -1;
        int64_t n = u8(in) % 5;
        if (oc >= 0 && sc > 0 && n * sc <= MAX_ELEMENTS && n * oc <= MAX_ELEMENTS) {
            float *x = malloc(sizeof(float) * (n * sc + 1)), *y = malloc(sizeof(float) * (n * oc + 1));
            for (int64_t k = 0; k < n * sc; k++) x[k] = (float)((int)u8(in) - 128) / 32.0f;
            if (n && u8(in) % 8 == 0) x[u8(in) % (n * sc)] = INFINITY;
            int64_t labels[8];
            for (int k = 0; k < 8; k++) labels[k] = (int64_t)(u8(in) % 6) - 1;
            e = make_err(in);
            check_status(stn_network_forward(net, x, n, sample, snd, u8(in) & 1, u64(in), y, e.buf, e.len), &e);
            double loss = 0, acc = 0;
            int64_t correct = 0;
            float *grads = u8(in) & 1 ? malloc(sizeof(float) * (params ? params : 1)) : NULL;
            e = make_err(in);
            check_status(stn_network_loss_and_grad(net, x, labels, n, sample, snd, u8(in) & 1, 3, &loss, &correct, grads,
                                                   e.buf, e.len), &e);
            free(grads);
            e = make_err(in);
            check_status(stn_network_evaluate(net, x, labels, n, sample, snd, (int64_t)(u8(in) % 5) - 1, &loss, &acc,
                                              e.buf, e.len), &e);
            float theta[8 * 6];
            float *tout = malloc(sizeof(float) * (n * sc + 1));
            e = make_err(in);
            check_status(stn_network_transform(net, x, n, sample, snd, tout, theta, e.buf, e.len), &e);
            free(tout);
            /* a trainer with fuzzed settings, state and one epoch */
            int32_t kind = (int32_t)(u8(in) % 3);
            double s[7];
            for (int k = 0; k < 7; k++) s[k] = u8(in) % 2 ? f64(in) : (double)(u8(in) % 4) / 4;
            e = make_err(in);
            stn_trainer *t = stn_trainer_create(net, kind, s[0], s[1], s[2], u8(in) & 1, s[3], s[4], s[5], s[6], 9,
                                                e.buf, e.len);
            check_status(t ? STN_OK : STN_INVALID_ARGUMENT, &e);
            if (t) {
                int64_t l1 = 0, l2 = 0;
                stn_trainer_state_size(t, &l1, &l2);
                int64_t len1 = u8(in) % 3 == 0 ? params : 0, len2 = u8(in) % 3 == 0 ? params : 0;
                if (u8(in) % 5 == 0) len1 = (int64_t)u8(in) - 1;
                if (strict || kind != 1 || len1 == len2) {
                    float *s1 = calloc((size_t)(len1 > 0 ? len1 : 1), sizeof(float));
                    float *s2 = calloc((size_t)(len2 > 0 ? len2 : 1), sizeof(float));
                    e = make_err(in);
                    check_status(stn_trainer_set_state(t, s1, len1, s2, len2, (int64_t)u8(in) - 1, e.buf, e.len), &e);
                    free(s1);
                    free(s2);
                }
                double ml = 0, ma = 0;
                int32_t done = 0;
                e = make_err(in);
                check_status(stn_trainer_epoch(t, x, labels, n, sample, snd, (int64_t)(u8(in) % 4) - 1, u8(in) & 1,
                                               u8(in) & 1, 1, 1, NULL, NULL, &ml, &ma, &done, e.buf, e.len), &e);
                stn_trainer_state_size(t, &l1, &l2);
                float *g1 = malloc(sizeof(float) * (l1 + 1)), *g2 = malloc(sizeof(float) * (l2 + 1));
                int64_t steps = 0;
                e = make_err(in);
                check_status(stn_trainer_get_state(t, g1, g2, &steps, e.buf, e.len), &e);
                free(g1);
                free(g2);
                stn_trainer_free(t);
            }
            free(x);
            free(y);
        }
    }
    free(p);
    stn_network_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (strict < 0) {
        const char *s = getenv("SWIFTSTN_FUZZ_STRICT");
        strict = s && s[0] == '1';
        stn_set_num_threads(1, NULL, 0);
        /* networks over 40 MB of parameters are refused (STN_OUT_OF_MEMORY) rather than
         * allocated past libFuzzer's malloc limit (fuzz/RESULTS.md, 10) */
        stn_network_set_max_parameters(10000000, NULL, 0);
    }
    input in = {data, size};
    switch (u8(&in) % 7) {
        case 0: fuzz_affine(&in, 0); break;
        case 1: fuzz_affine(&in, 1); break;
        case 2: fuzz_sample(&in, 0); break;
        case 3: fuzz_sample(&in, 1); break;
        case 4: case 5: fuzz_network(&in); break;
        default: {
            errbuf e = make_err(&in);
            int32_t n = (int32_t)u64(&in);
            int32_t st = stn_set_num_threads(n, e.buf, e.len);
            check((st == STN_OK) == (n >= 1), "set_num_threads accepts exactly n >= 1");
            check_status(st, &e);
            stn_set_num_threads(1, NULL, 0);
        }
    }
    return 0;
}
