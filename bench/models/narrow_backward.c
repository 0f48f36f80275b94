/* A C model of swiftstn's narrow bilinear backward (64×1×28×28, the benchmark's affine grid,
 * zeros padding, align_corners=False), one thread, to find what bounds it on this machine.
 * Not part of the library: docs/performance.md (step 10) reports what it measured.
 *
 *   cc -O2 -march=native bench/models/narrow_backward.c -o /tmp/nb && /tmp/nb
 *
 * Each chunk of 16 outputs does the Swift kernel's vector work (coordinates, the taps from rows
 * of 32 floats, the grid gradient, the four contributions); the input gradient's scatter is one
 * of SCATTER_ORDER (position order, as the library), none (the bound), position order into
 * distinct cells (no two read-modify-writes alias), and "quads" (one 16-byte read-modify-write
 * per position, then each cell summed from its four parts: a different order of additions).
 * The checksums tell the orders' results apart; the "none" and "distinct" modes compute no
 * input gradient. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { POSITION_ORDER, NONE, DISTINCT_CELLS, QUADS, MODES };
static const char *names[] = {"position order (the library's)", "no input-gradient scatter",
                              "position order, distinct cells", "quads + sum pass"};
#define N 64
#define H 28
#define W 28
#define R 32
#define PL ((H + 4) * R)

static float grid[N * H * W * 2] __attribute__((aligned(64)));
static float inp[N * H * W], gout[N * H * W] __attribute__((aligned(64))), gin[N * H * W], ggrid[N * H * W * 2] __attribute__((aligned(64)));
static float planes[PL] __attribute__((aligned(64)));
static float grads[4 * PL + 64 * 16] __attribute__((aligned(64)));
static int offs[16] __attribute__((aligned(64)));

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void copy_in(const float *s, float *d) {
    memset(d, 0, PL * 4);
    for (int y = 0; y < H; y++) memcpy(d + (y + 2) * R, s + y * W, W * 4);
}

#define RMW(t, v) (*(volatile float *)(t) += (v))  /* one scalar read-modify-write, never merged */

static inline __attribute__((always_inline)) void chunk(int mode, const float *g, const float *go, float *gg, const float *P, float *G) {
    const __m512 one = _mm512_set1_ps(1);
    __m512 a = _mm512_load_ps(g), b = _mm512_load_ps(g + 16);
    __m512i ex = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    __m512i ey = _mm512_add_epi32(ex, _mm512_set1_epi32(1));
    __m512 x = _mm512_fmadd_ps(_mm512_add_ps(_mm512_permutex2var_ps(a, ex, b), one), _mm512_set1_ps(W * 0.5f), _mm512_set1_ps(-0.5f));
    __m512 y = _mm512_fmadd_ps(_mm512_add_ps(_mm512_permutex2var_ps(a, ey, b), one), _mm512_set1_ps(H * 0.5f), _mm512_set1_ps(-0.5f));
    __m512 xw = _mm512_roundscale_ps(x, 9), yn = _mm512_roundscale_ps(y, 9);
    __m512 fw = _mm512_sub_ps(x, xw), fe = _mm512_sub_ps(one, fw), fn = _mm512_sub_ps(y, yn), fs = _mm512_sub_ps(one, fn);
    __m512i left = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(xw, _mm512_set1_ps(-2)), _mm512_set1_ps(W)));
    __m512i top = _mm512_add_epi32(_mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(yn, _mm512_set1_ps(-2)), _mm512_set1_ps(H))), _mm512_set1_epi32(2));
    __m512i right = _mm512_add_epi32(left, _mm512_set1_epi32(1));
    int low = _mm512_reduce_min_epi32(top), base = low < H - 1 ? low : H - 1;
    __m512i d = _mm512_sub_epi32(top, _mm512_set1_epi32(base));
    __mmask16 m1 = _mm512_cmpeq_epi32_mask(d, _mm512_set1_epi32(1)), m2 = _mm512_cmpeq_epi32_mask(d, _mm512_set1_epi32(2)),
              m3 = _mm512_cmpeq_epi32_mask(d, _mm512_set1_epi32(3));
    /* The benchmark's grid: every chunk's top rows fit in base ..< base + 4. */
    const float *r = P + base * R;
    __m512 v00 = _mm512_permutex2var_ps(_mm512_load_ps(r), left, _mm512_load_ps(r + 16));
    __m512 v01 = _mm512_permutex2var_ps(_mm512_load_ps(r), right, _mm512_load_ps(r + 16));
    __m512 v10 = v00, v11 = v01;
    for (int k = 1; k <= 4; k++) {
        r += R;
        __m512 t0 = _mm512_permutex2var_ps(_mm512_load_ps(r), left, _mm512_load_ps(r + 16));
        __m512 t1 = _mm512_permutex2var_ps(_mm512_load_ps(r), right, _mm512_load_ps(r + 16));
        __mmask16 mt = k == 1 ? m1 : k == 2 ? m2 : k == 3 ? m3 : 0, mb = k == 1 ? 0xffff : k == 2 ? m1 : k == 3 ? m2 : m3;
        v00 = _mm512_mask_mov_ps(v00, mt, t0); v01 = _mm512_mask_mov_ps(v01, mt, t1);
        v10 = _mm512_mask_mov_ps(v10, mb, t0); v11 = _mm512_mask_mov_ps(v11, mb, t1);
    }
    __m512 gv = _mm512_load_ps(go);
    __m512 sx = _mm512_mul_ps(_mm512_fmadd_ps(_mm512_sub_ps(v01, v00), fs, _mm512_mul_ps(_mm512_sub_ps(v11, v10), fn)), gv);
    __m512 sy = _mm512_mul_ps(_mm512_fmadd_ps(_mm512_sub_ps(v10, v00), fe, _mm512_mul_ps(_mm512_sub_ps(v11, v01), fw)), gv);
    sx = _mm512_mul_ps(sx, _mm512_set1_ps(W * 0.5f)); sy = _mm512_mul_ps(sy, _mm512_set1_ps(H * 0.5f));
    __m512i il = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0), ih = _mm512_add_epi32(il, _mm512_set1_epi32(8));
    _mm512_store_ps(gg, _mm512_permutex2var_ps(sx, il, sy)); _mm512_store_ps(gg + 16, _mm512_permutex2var_ps(sx, ih, sy));
    __m512 c00 = _mm512_mul_ps(_mm512_mul_ps(fs, fe), gv), c01 = _mm512_mul_ps(_mm512_mul_ps(fs, fw), gv);
    __m512 c10 = _mm512_mul_ps(_mm512_mul_ps(fn, fe), gv), c11 = _mm512_mul_ps(_mm512_mul_ps(fn, fw), gv);
    _mm512_store_si512(offs, _mm512_add_epi32(_mm512_mullo_epi32(top, _mm512_set1_epi32(R)), left));
    if (mode == NONE) {
        __m512 s = _mm512_add_ps(_mm512_add_ps(c00, c01), _mm512_add_ps(c10, c11));   /* keep the products */
        _mm512_store_ps(G, _mm512_add_ps(_mm512_load_ps(G), s));
    } else if (mode == QUADS) {
        /* 4×4 transposes: T_k lane l = the four contributions of position 4l + k. */
        __m512 a0 = _mm512_unpacklo_ps(c00, c01), a1 = _mm512_unpackhi_ps(c00, c01);
        __m512 a2 = _mm512_unpacklo_ps(c10, c11), a3 = _mm512_unpackhi_ps(c10, c11);
        __m512 T[4] = {_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a0), _mm512_castps_pd(a2))),
                       _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a0), _mm512_castps_pd(a2))),
                       _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a1), _mm512_castps_pd(a3))),
                       _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a1), _mm512_castps_pd(a3)))};
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            float *t = G + 4 * offs[j];
            __m128 q = j < 4 ? _mm512_castps512_ps128(T[j % 4]) : j < 8 ? _mm512_extractf32x4_ps(T[j % 4], 1)
                     : j < 12 ? _mm512_extractf32x4_ps(T[j % 4], 2) : _mm512_extractf32x4_ps(T[j % 4], 3);
            _mm_store_ps(t, _mm_add_ps(_mm_load_ps(t), q));
        }
    } else {
        /* Contributions taken from the registers four positions at a time (a 64-byte store read
         * back as floats cost more), added one position at a time. */
        for (int k = 0; k < 4; k++) {
            __m128 q0 = _mm512_extractf32x4_ps(c00, 0), q1 = _mm512_extractf32x4_ps(c01, 0);
            __m128 q2 = _mm512_extractf32x4_ps(c10, 0), q3 = _mm512_extractf32x4_ps(c11, 0);
            if (k == 1) { q0 = _mm512_extractf32x4_ps(c00, 1); q1 = _mm512_extractf32x4_ps(c01, 1); q2 = _mm512_extractf32x4_ps(c10, 1); q3 = _mm512_extractf32x4_ps(c11, 1); }
            if (k == 2) { q0 = _mm512_extractf32x4_ps(c00, 2); q1 = _mm512_extractf32x4_ps(c01, 2); q2 = _mm512_extractf32x4_ps(c10, 2); q3 = _mm512_extractf32x4_ps(c11, 2); }
            if (k == 3) { q0 = _mm512_extractf32x4_ps(c00, 3); q1 = _mm512_extractf32x4_ps(c01, 3); q2 = _mm512_extractf32x4_ps(c10, 3); q3 = _mm512_extractf32x4_ps(c11, 3); }
            for (int j = 4 * k; j < 4 * k + 4; j++) {
                float *t = G + (mode == DISTINCT_CELLS ? 64 * j : offs[j]);
                RMW(t, _mm_cvtss_f32(q0)); RMW(t + 1, _mm_cvtss_f32(q1)); RMW(t + R, _mm_cvtss_f32(q2)); RMW(t + R + 1, _mm_cvtss_f32(q3));
                q0 = _mm_permute_ps(q0, 0x39); q1 = _mm_permute_ps(q1, 0x39); q2 = _mm_permute_ps(q2, 0x39); q3 = _mm_permute_ps(q3, 0x39);
            }
        }
    }
}

/* Part k of the 16 quads from cell `cell` on (quads of four floats, cell-major). */
static inline __m512 quad_part(const float *Q, int cell, int k) {
    const float *q = Q + 4 * cell;
    __m512i e = _mm512_set_epi32(28 + k, 24 + k, 20 + k, 16 + k, 12 + k, 8 + k, 4 + k, k, 28 + k, 24 + k, 20 + k, 16 + k, 12 + k, 8 + k, 4 + k, k);
    __m512 lo = _mm512_permutex2var_ps(_mm512_loadu_ps(q), e, _mm512_loadu_ps(q + 16));
    __m512 hi = _mm512_permutex2var_ps(_mm512_loadu_ps(q + 32), e, _mm512_loadu_ps(q + 48));
    return _mm512_shuffle_f32x4(lo, hi, 0x44);
}

static inline __attribute__((always_inline)) void run(int mode) {
    memset(gin, 0, sizeof gin);
    for (int n = 0; n < N; n++) {
        float *G = grads + 64;   /* slack: a tap at column −2 of row 0 */
        copy_in(inp + n * H * W, planes);
        memset(grads, 0, (mode == QUADS ? 4 * PL : PL) * 4 + 256);
        for (int q = 0; q < H * W; q += 16)
            chunk(mode, grid + 2 * (n * H * W + q), gout + n * H * W + q, ggrid + 2 * (n * H * W + q), planes, G);
        float *dst = gin + n * H * W;
        if (mode == POSITION_ORDER) {
            for (int y = 0; y < H; y++) for (int x = 0; x < W; x++) dst[y * W + x] += G[(y + 2) * R + x];
        } else if (mode == QUADS) {
            for (int y = 0; y < H; y++) for (int x = 0; x < W; x += 16) {
                int X = (y + 2) * R + x;
                __m512 v = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(quad_part(G, X, 0), quad_part(G, X - 1, 1)),
                                                       quad_part(G, X - R, 2)), quad_part(G, X - R - 1, 3));
                __mmask16 m = x + 16 <= W ? 0xffff : (1u << (W - x)) - 1;
                _mm512_mask_storeu_ps(dst + y * W + x, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + y * W + x), v));
            }
        }
    }
}

int main(void) {
    const float th[6] = {0.9f, -0.15f, 0.05f, 0.15f, 0.9f, -0.02f};   /* bench/run.py's theta */
    srand(1);
    for (int n = 0; n < N; n++) for (int i = 0; i < H; i++) for (int j = 0; j < W; j++) {
        float xn = (2 * j + 1.0f) / W - 1, yn = (2 * i + 1.0f) / H - 1;
        int q = (n * H + i) * W + j;
        grid[2 * q] = th[0] * xn + th[1] * yn + th[2]; grid[2 * q + 1] = th[3] * xn + th[4] * yn + th[5];
        inp[q] = rand() / (float)RAND_MAX - 0.5f; gout[q] = rand() / (float)RAND_MAX - 0.5f;
    }
    for (int round = 0; round < 3; round++)
        for (int mode = 0; mode < MODES; mode++) {
            double best = 1e9, sum = 0;
            for (int rep = 0; rep < 300; rep++) {
                double t = now();
                switch (mode) {   /* one specialised copy per mode */
                case POSITION_ORDER: run(POSITION_ORDER); break;
                case NONE: run(NONE); break;
                case DISTINCT_CELLS: run(DISTINCT_CELLS); break;
                default: run(QUADS); break;
                }
                t = now() - t;
                if (t < best) best = t;
            }
            for (int i = 0; i < N * H * W; i++) sum += gin[i] * (i % 7) + ggrid[2 * i];
            printf("%-32s %6.1f µs  (checksum %.6f)\n", names[mode], best * 1e6, sum);
        }
    return 0;
}
