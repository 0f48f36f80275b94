/*
 * libFuzzer harness over libswiftstn's C ABI (include/swiftstn.h), for a library built with
 * AddressSanitizer and SanitizerCoverage so that the fuzzer is guided by coverage of the Swift
 * code itself. Build and run: fuzz/build_c_fuzzer.sh (see fuzz/README.md).
 *
 * The input is decoded into calls: shapes (small, zero, or huge), dtype / mode / padding codes
 * (valid or not), element values (raw bytes: NaN, ±Inf, subnormals), error buffers of any length
 * (NULL included), network specs, per-sample shapes, batches, optimiser settings and states.
 * Buffers are always allocated to exactly the size the header's contract says (the shape
 * query's), so any out-of-bounds access ASan reports is the library's.
 *
 * Contract checked: every status is STN_OK or one of the documented error codes (never
 * STN_INTERNAL), messages are NUL-terminated within err_len, a computing call accepts what its
 * shape query accepted, and the process never crashes.
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

/* A descriptor of a fuzzed shape (ndim may exceed STN_MAX_NDIM, dtype may be invalid), no data. */
static stn_tensor tensor(input *in, int32_t dtype) {
    stn_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = read_shape(in, t.shape, STN_MAX_NDIM);
    if (u8(in) % 16 == 15) t.ndim = (int32_t)u8(in) - 8;  /* out of range either way */
    return t;
}

static int64_t tensor_count(const stn_tensor *t) {
    return t->ndim < 0 || t->ndim > STN_MAX_NDIM ? -1 : count(t->shape, t->ndim);
}

static void fuzz_affine(input *in, int backward) {
    int32_t dtype = u8(in) % 5 == 4 ? (int32_t)u8(in) - 128 : u8(in) & 1;
    stn_tensor a = tensor(in, dtype), out;
    int64_t size[16];
    int32_t size_len = read_shape(in, size, 6);
    int align = u8(in) & 1;
    memset(&out, 0, sizeof out);
    errbuf e = make_err(in);
    /* The shape query: output data NULL. */
    int32_t st = backward ? stn_affine_grid_backward(&a, size, size_len, align, &out, e.buf, e.len)
                          : stn_affine_grid(&a, size, size_len, align, &out, e.buf, e.len);
    check_status(st, &e);
    if (st != STN_OK) return;
    check(out.ndim >= 3 && out.ndim <= 5, "output ndim");
    int64_t na = tensor_count(&a), no = count(out.shape, out.ndim);
    if (na < 0 || no < 0) return;
    a.data = buffer(in, na, dtype);
    out.data = buffer(in, no, dtype);
    e = make_err(in);
    st = backward ? stn_affine_grid_backward(&a, size, size_len, align, &out, e.buf, e.len)
                  : stn_affine_grid(&a, size, size_len, align, &out, e.buf, e.len);
    check(st == STN_OK, "compute accepts what the shape query accepted");
    check_status(st, &e);
    free(a.data);
    free(out.data);
}

static void fuzz_sample(input *in, int backward) {
    int32_t dtype = u8(in) & 1;
    stn_tensor x = tensor(in, dtype), g = tensor(in, dtype), out, gx, gg, fill;
    stn_sampling s = {0};
    s.mode = u8(in) % 8 == 7 ? (int32_t)u64(in) : u8(in) % 3;
    s.padding = u8(in) % 8 == 7 ? (int32_t)u64(in) : u8(in) % 4;
    s.align_corners = u8(in) & 1;
    memset(&out, 0, sizeof out);
    memset(&gx, 0, sizeof gx);
    memset(&gg, 0, sizeof gg);
    memset(&fill, 0, sizeof fill);
    int64_t nf = 0;
    if (s.padding == STN_PADDING_FILL || u8(in) % 16 == 15) {
        fill = tensor(in, dtype);
        nf = tensor_count(&fill);
        if (nf < 0) return;
        fill.data = buffer(in, nf, dtype);
        s.fill = &fill;
    }
    errbuf e = make_err(in);
    if (!strict && backward) {  /* known: an empty input with an overflowing spatial product traps */
        double prod = 1;
        int zero = 0;
        for (int32_t k = 0; k < x.ndim && k < STN_MAX_NDIM; k++) {
            if (x.shape[k] == 0) zero = 1; else prod *= fabs((double)x.shape[k]);
        }
        if (zero && prod >= 4.6e18) { free(e.buf); free(fill.data); return; }
    }
    int32_t st = stn_grid_sample(&x, &g, &s, &out, e.buf, e.len);  /* shape query */
    check_status(st, &e);
    int64_t ni = tensor_count(&x), ng = tensor_count(&g), no = st == STN_OK ? count(out.shape, out.ndim) : -1;
    if (st != STN_OK || ni < 0 || ng < 0 || no < 0) { free(fill.data); return; }
    check(out.ndim == x.ndim, "output ndim == input ndim");
    x.data = buffer(in, ni, dtype);
    g.data = buffer(in, ng, dtype);
    e = make_err(in);
    if (!backward) {
        out.data = buffer(in, no, dtype);
        st = stn_grid_sample(&x, &g, &s, &out, e.buf, e.len);
        check(st == STN_OK, "grid_sample computes what its shape query accepted");
        check_status(st, &e);
        free(out.data);
    } else {
        /* grad_output of the right shape, or a fuzzed one (allocated to its own size) */
        stn_tensor go = out;
        if (u8(in) % 4 == 3) go = tensor(in, dtype);
        int64_t ngo = tensor_count(&go);
        if (ngo >= 0) {
            go.data = buffer(in, ngo, dtype);
            int want_gx = u8(in) & 1;
            gx.data = want_gx ? buffer(in, ni, dtype) : NULL;
            gg.data = buffer(in, ng, dtype);
            st = stn_grid_sample_backward(&go, &x, &g, &s, want_gx ? &gx : NULL, &gg, e.buf, e.len);
            check_status(st, &e);
            free(go.data);
            free(gx.data);
            free(gg.data);
        } else {
            free(e.buf);
        }
    }
    free(x.data);
    free(g.data);
    free(fill.data);
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
            stn_tensor xt = {x, STN_FLOAT32, snd + 1, {n}}, yt = {labels, STN_INT64, 1, {n}};
            for (int32_t k = 0; k < snd; k++) xt.shape[k + 1] = sample[k];
            stn_tensor ot = {y, STN_FLOAT32, 0, {0}};
            e = make_err(in);
            check_status(stn_network_forward(net, &xt, u8(in) & 1, u64(in), &ot, e.buf, e.len), &e);
            double loss = 0, acc = 0;
            int64_t correct = 0;
            float *grads = u8(in) & 1 ? malloc(sizeof(float) * (params ? params : 1)) : NULL;
            e = make_err(in);
            check_status(stn_network_loss_and_grad(net, &xt, &yt, u8(in) & 1, 3, &loss, &correct, grads, e.buf, e.len),
                         &e);
            free(grads);
            e = make_err(in);
            check_status(stn_network_evaluate(net, &xt, &yt, (int64_t)(u8(in) % 5) - 1, &loss, &acc, e.buf, e.len), &e);
            float theta[8 * 6];
            float *tout = malloc(sizeof(float) * (n * sc + 1));
            e = make_err(in);
            stn_tensor tt = {tout, STN_FLOAT32, 0, {0}}, th = {theta, STN_FLOAT32, 0, {0}};
            check_status(stn_network_transform(net, &xt, &tt, &th, e.buf, e.len), &e);
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
                check_status(stn_trainer_epoch(t, &xt, &yt, (int64_t)(u8(in) % 4) - 1, u8(in) & 1, u8(in) & 1, 1, 1, NULL,
                                               NULL, &ml, &ma, &done, e.buf, e.len), &e);
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
