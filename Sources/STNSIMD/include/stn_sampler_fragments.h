// stn_sampler_fragments.h — sampler algorithms built on the instruction layer
// (stn_simd_avx512.h): tap pairs, the bicubic 4×4×4 column regroup, the narrow backward's
// ordered scatter, grid-point (de)interleaving, 16×16 transposes for pixel-major copies, and the
// row-window and clamped-index arithmetic of the block kernels. Each has an AVX-512 body and a
// portable body with the same values, as the wrappers do.
//
// Why gathers of tap pairs (Zen 4 gathers cost a cycle per element): docs/performance.md#stn_simdh
#ifndef STN_SAMPLER_FRAGMENTS_H
#define STN_SAMPLER_FRAGMENTS_H

#include "stn_simd_avx512.h"

/// Four rows of four neighbouring floats from each of four planes, regrouped by column: lane
/// 4·j + c of column i (lanes 16·i…16·i + 15 of the result) is `plane<c>[row<j> + i]`. Sixteen
/// 4-float loads and an in-lane 4×4 transpose (shuffles clang picks for the target; no gathers).
/// Every address must be readable. (One 64-lane vector: Swift cannot import a struct of 16-lane
/// vectors, nor pointers to them.)
static inline __attribute__((always_inline))
stn_f32x64 stn_columns_4x4x4(const float *p0, const float *p1, const float *p2, const float *p3,
                             long row0, long row1, long row2, long row3) {
    // r<c>: p<c>[row<j> + i] in lane 4·j + i. (A macro, not a helper function: a C call returning
    // a 16-lane vector draws an ABI warning in builds without AVX-512.)
#define STN_ROWS(p) __builtin_shufflevector( \
        __builtin_shufflevector(*(const stn_f32x4_unaligned *)(p + row0), *(const stn_f32x4_unaligned *)(p + row1), \
                                0, 1, 2, 3, 4, 5, 6, 7), \
        __builtin_shufflevector(*(const stn_f32x4_unaligned *)(p + row2), *(const stn_f32x4_unaligned *)(p + row3), \
                                0, 1, 2, 3, 4, 5, 6, 7), \
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    stn_f32x16 r0 = STN_ROWS(p0), r1 = STN_ROWS(p1), r2 = STN_ROWS(p2), r3 = STN_ROWS(p3);
#undef STN_ROWS
    // Per 128-bit lane: unpcklps/unpckhps, then unpcklpd/unpckhpd.
    stn_f32x16 a = __builtin_shufflevector(r0, r1, 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);
    stn_f32x16 b = __builtin_shufflevector(r0, r1, 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
    stn_f32x16 c = __builtin_shufflevector(r2, r3, 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);
    stn_f32x16 d = __builtin_shufflevector(r2, r3, 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
    stn_f32x16 v0 = __builtin_shufflevector(a, c, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
    stn_f32x16 v1 = __builtin_shufflevector(a, c, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    stn_f32x16 v2 = __builtin_shufflevector(b, d, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
    stn_f32x16 v3 = __builtin_shufflevector(b, d, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    stn_f32x32 v01 = __builtin_shufflevector(v0, v1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                             16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
    stn_f32x32 v23 = __builtin_shufflevector(v2, v3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                             16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
    return __builtin_shufflevector(v01, v23, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                                   32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
                                   48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63);
}

/// `base[index[i]]` in lane i and `base[index[i] + 1]` in lane 16 + i: each pair is fetched as
/// one 64-bit element (half the gathered elements of two `stn_gather_f32x16`), then split into
/// the two halves. Both elements of every pair must be readable.
static inline __attribute__((always_inline))
stn_f32x32 stn_gather_pairs_f32x16(const float *base, stn_i32x16 index) {
#if STN_SIMD_GATHERS
    __m512i all = (__m512i)index;
    __m512 lo = _mm512_castpd_ps(_mm512_i32gather_pd(_mm512_castsi512_si256(all), base, 4));
    __m512 hi = _mm512_castpd_ps(_mm512_i32gather_pd(_mm512_extracti64x4_epi64(all, 1), base, 4));
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    stn_f32x16 first = (stn_f32x16)_mm512_permutex2var_ps(lo, even, hi);
    stn_f32x16 second = (stn_f32x16)_mm512_permutex2var_ps(lo, odd, hi);
    return __builtin_shufflevector(first, second, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                   15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
#else
    stn_f32x32 r;
    for (int i = 0; i < 16; i++) {
        r[i] = base[index[i]];
        r[16 + i] = base[index[i] + 1];
    }
    return r;
#endif
}

/// For each position j < count (≤ 16) in turn, adds `nw[j]`, `ne[j]`, `sw[j]`, `se[j]` to
/// `base[off[j]]`, `base[off[j] + 1]`, `base[off[j] + row]`, `base[off[j] + row + 1]`: one
/// scalar read-modify-write each, so every cell receives its contributions in position order,
/// as the scalar kernels add them. The contributions come from the registers, four positions at
/// a time; the accesses are volatile because clang and gcc otherwise fuse a row's two
/// read-modify-writes into one 8-byte one, which overlaps the next position's and is not
/// store-forwarded. Measurements: docs/performance.md#stn_simdh
static inline __attribute__((always_inline))
void stn_scatter_taps_f32x16(float *base, const int *off, int count, long row,
                             stn_f32x16 nw, stn_f32x16 ne, stn_f32x16 sw, stn_f32x16 se) {
#if STN_SIMD_GATHERS
    __m512 a = (__m512)nw, b = (__m512)ne, c = (__m512)sw, d = (__m512)se;
    for (int j = 0; j < count; j += 4) {
        __m128 q0 = _mm512_castps512_ps128(a), q1 = _mm512_castps512_ps128(b);
        __m128 q2 = _mm512_castps512_ps128(c), q3 = _mm512_castps512_ps128(d);
        int n = count - j < 4 ? count - j : 4;
        for (int i = 0; i < n; i++) {
            volatile float *t = base + off[j + i];
            t[0] += _mm_cvtss_f32(q0);
            t[1] += _mm_cvtss_f32(q1);
            t[row] += _mm_cvtss_f32(q2);
            t[row + 1] += _mm_cvtss_f32(q3);
            q0 = _mm_permute_ps(q0, 0x39); q1 = _mm_permute_ps(q1, 0x39);
            q2 = _mm_permute_ps(q2, 0x39); q3 = _mm_permute_ps(q3, 0x39);
        }
        a = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(a), _mm512_castps_si512(a), 4));
        b = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(b), 4));
        c = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(c), _mm512_castps_si512(c), 4));
        d = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(d), _mm512_castps_si512(d), 4));
    }
#else
    for (int j = 0; j < count; j++) {
        volatile float *t = base + off[j];
        t[0] += nw[j];
        t[1] += ne[j];
        t[row] += sw[j];
        t[row + 1] += se[j];
    }
#endif
}

/// Coordinate `k` (0: x, 1: y) of `count` interleaved grid points at `p` (1 ≤ count ≤ 16), zero
/// in the lanes from `count` on; nothing after the points is read. (One function per coordinate:
/// returned together as 32 lanes, LLVM computed each half's permute and the arithmetic on it twice.)
static inline __attribute__((always_inline))
stn_f32x16 stn_point_coordinate_f32x16(const float *p, int count, int k) {
#if STN_SIMD_GATHERS
    __m512 a, b;
    if (count == 16) {
        a = _mm512_loadu_ps(p); b = _mm512_loadu_ps(p + 16);
    } else {
        unsigned all = (1u << (2 * count)) - 1;
        a = _mm512_maskz_loadu_ps((__mmask16)all, p);
        b = _mm512_maskz_loadu_ps((__mmask16)(all >> 16), p + 16);
    }
    __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return (stn_f32x16)_mm512_permutex2var_ps(a, _mm512_add_epi32(even, _mm512_set1_epi32(k)), b);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = i < count ? p[2 * i + k] : 0.0f;
    return r;
#endif
}

/// Stores lanes 0..<count of `x` and `y` interleaved at `p` (x0, y0, x1, y1, …; 2·count floats,
/// 1 ≤ count ≤ 16), touching nothing after them: a chunk's grid gradients.
static inline __attribute__((always_inline))
void stn_store_interleaved_f32x16(float *p, stn_f32x16 x, stn_f32x16 y, int count) {
#if STN_SIMD_GATHERS
    __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    __m512 a = _mm512_permutex2var_ps((__m512)x, lo, (__m512)y), b = _mm512_permutex2var_ps((__m512)x, hi, (__m512)y);
    if (count == 16) {
        _mm512_storeu_ps(p, a); _mm512_storeu_ps(p + 16, b);
    } else {
        unsigned all = (1u << (2 * count)) - 1;
        _mm512_mask_storeu_ps(p, (__mmask16)all, a);
        _mm512_mask_storeu_ps(p + 16, (__mmask16)(all >> 16), b);
    }
#else
    for (int i = 0; i < count; i++) { p[2 * i] = x[i]; p[2 * i + 1] = y[i]; }
#endif
}

/// Transposes the 16×16 tile of rows `src`, `src + srcStride`, … (16 floats each) into rows
/// `dst`, `dst + dstStride`, …: dst row j, lane i = src row i, lane j. With `add`, the rows are
/// added to what `dst` holds instead of overwriting it.
static inline __attribute__((always_inline))
void stn_transpose_16x16(const float *src, long srcStride, float *dst, long dstStride, int add) {
#if STN_SIMD_GATHERS
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * srcStride);
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
    for (int i = 0; i < 16; i++) {
        float *d = dst + i * dstStride;
        _mm512_storeu_ps(d, add ? _mm512_add_ps(_mm512_loadu_ps(d), r[i]) : r[i]);
    }
#else
    float tile[16][16];
    for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) tile[j][i] = src[i * srcStride + j];
    for (int j = 0; j < 16; j++) for (int i = 0; i < 16; i++) {
        float *d = dst + j * dstStride + i;
        *d = add ? *d + tile[j][i] : tile[j][i];
    }
#endif
}

/// Lane j = p[4j + c] (j < 16): channel c of 16 pixels stored four channels per pixel.
static inline __attribute__((always_inline))
stn_f32x16 stn_channel_of_quads_f32x16(const float *p, int c) {
#if STN_SIMD_GATHERS
    __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
                                   _mm512_set1_epi32(c));
    __m512 a = _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_loadu_ps(p + 16));
    __m512 b = _mm512_permutex2var_ps(_mm512_loadu_ps(p + 32), idx, _mm512_loadu_ps(p + 48));
    return (stn_f32x16)_mm512_shuffle_f32x4(a, b, 0x44);
#else
    stn_f32x16 r;
    for (int j = 0; j < 16; j++) r[j] = p[4 * j + c];
    return r;
#endif
}

/// `clampedIndex` of each lane: `f > lo ? f : lo`, then `< hi ? : hi`, truncated (NaN gives lo).
static inline __attribute__((always_inline))
stn_i32x16 stn_clamped_index_i32x16(stn_f32x16 f, int lo, int hi) {
#if STN_SIMD_GATHERS
    __m512 a = _mm512_max_ps((__m512)f, _mm512_set1_ps((float)lo));   // f > lo ? f : lo
    __m512 c = _mm512_min_ps(a, _mm512_set1_ps((float)hi));           // a < hi ? a : hi
    return (stn_i32x16)_mm512_cvttps_epi32(c);
#else
    stn_i32x16 r;
    for (int i = 0; i < 16; i++) {
        float a = f[i] > (float)lo ? f[i] : (float)lo;
        r[i] = (int)(a < (float)hi ? a : (float)hi);
    }
    return r;
#endif
}

/// The offset of each lane's top-left bilinear tap, from its four tap offsets (top-left,
/// top-right, bottom-left, bottom-right; −1 for a tap outside the input, rows `width` apart):
/// its first tap inside, moved back to the top-left. Lanes with no tap inside take the first such
/// lane's value; all lanes are −1 when no lane has a tap inside.
static inline __attribute__((always_inline))
stn_i32x16 stn_top_left_i32x16(stn_i32x16 o00, stn_i32x16 o01, stn_i32x16 o10, stn_i32x16 o11, int width) {
#if STN_SIMD_GATHERS
    __m512i zero = _mm512_setzero_si512(), w = _mm512_set1_epi32(width);
    __m512i t = _mm512_sub_epi32(_mm512_sub_epi32((__m512i)o11, w), _mm512_set1_epi32(1));
    __mmask16 k10 = _mm512_cmpge_epi32_mask((__m512i)o10, zero), k01 = _mm512_cmpge_epi32_mask((__m512i)o01, zero);
    __mmask16 k00 = _mm512_cmpge_epi32_mask((__m512i)o00, zero), k11 = _mm512_cmpge_epi32_mask((__m512i)o11, zero);
    t = _mm512_mask_mov_epi32(t, k10, _mm512_sub_epi32((__m512i)o10, w));
    t = _mm512_mask_mov_epi32(t, k01, _mm512_sub_epi32((__m512i)o01, _mm512_set1_epi32(1)));
    t = _mm512_mask_mov_epi32(t, k00, (__m512i)o00);
    __mmask16 any = k00 | k01 | k10 | k11;
    if (!any) return (stn_i32x16)_mm512_set1_epi32(-1);
    __m512i first = _mm512_permutexvar_epi32(_mm512_set1_epi32(__builtin_ctz(any)), t);
    return (stn_i32x16)_mm512_mask_mov_epi32(first, any, t);
#else
    stn_i32x16 t;
    int first = -1;
    for (int i = 0; i < 16; i++) {
        t[i] = o00[i] >= 0 ? o00[i] : o01[i] >= 0 ? o01[i] - 1 : o10[i] >= 0 ? o10[i] - width
             : o11[i] >= 0 ? o11[i] - width - 1 : -1;
        if (first < 0 && (o00[i] >= 0 || o01[i] >= 0 || o10[i] >= 0 || o11[i] >= 0)) first = i;
    }
    for (int i = 0; i < 16; i++)
        if (o00[i] < 0 && o01[i] < 0 && o10[i] < 0 && o11[i] < 0) t[i] = first < 0 ? -1 : t[first];
    return t;
#endif
}

/// Splits offsets `d` from the top-left of a window (rows `width` apart) into rows
/// and columns: returns each lane's column `d − row·width`, and in `*rows` the number of rows the
/// lanes span in its low 16 bits (1 + the largest row, at most 4) and the lanes in rows 1, 2 and 3
/// as masks in bits 16–31, 32–47 and 48–63 — or 0 there when some lane is negative, lies at or
/// past row 4, or has a column above `maxColumn`.
static inline __attribute__((always_inline))
stn_i32x16 stn_row_window_i32x16(stn_i32x16 d, int width, int maxColumn, unsigned long long *rows) {
#if STN_SIMD_GATHERS
    __m512i v = (__m512i)d, w = _mm512_set1_epi32(width);
    __mmask16 k1 = _mm512_cmpge_epi32_mask(v, w);
    __mmask16 k2 = _mm512_cmpge_epi32_mask(v, _mm512_add_epi32(w, w));
    __mmask16 k3 = _mm512_cmpge_epi32_mask(v, _mm512_mullo_epi32(w, _mm512_set1_epi32(3)));
    __mmask16 out = _mm512_cmpge_epi32_mask(v, _mm512_slli_epi32(w, 2)) | _mm512_cmplt_epi32_mask(v, _mm512_setzero_si512());
    __m512i c = _mm512_mask_sub_epi32(v, k1, v, w);
    c = _mm512_mask_sub_epi32(c, k2, c, w);
    c = _mm512_mask_sub_epi32(c, k3, c, w);
    out |= _mm512_cmpgt_epu32_mask(c, _mm512_set1_epi32(maxColumn));
    unsigned long long n = k3 ? 4 : k2 ? 3 : k1 ? 2 : 1;
    *rows = out ? 0 : n | (unsigned long long)(k1 & ~k2) << 16 | (unsigned long long)(k2 & ~k3) << 32
                          | (unsigned long long)k3 << 48;
    return (stn_i32x16)c;
#else
    stn_i32x16 c;
    unsigned long long n = 1, m1 = 0, m2 = 0, m3 = 0;
    int ok = 1;
    for (int i = 0; i < 16; i++) {
        int r = d[i] < 0 ? -1 : d[i] / width;
        c[i] = d[i] - (r < 0 ? 0 : r) * width;
        ok &= r >= 0 && r < 4 && (unsigned)c[i] <= (unsigned)maxColumn;
        if (r >= 1 && r < 4) {
            if ((unsigned long long)r + 1 > n) n = r + 1;
            if (r == 1) m1 |= 1ull << i;
            if (r == 2) m2 |= 1ull << i;
            if (r == 3) m3 |= 1ull << i;
        }
    }
    *rows = ok ? n | m1 << 16 | m2 << 32 | m3 << 48 : 0;
    return c;
#endif
}

#endif
