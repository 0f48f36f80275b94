// stn_simd.h — the few vector instructions the Swift kernels cannot spell.
//
// Swift has no way to emit a gather: LLVM never vectorises the kernels' per-channel tap reads
// into `vgatherdps`, and the AVX-512 gather intrinsics are C macros, which Swift does not
// import. This header wraps them in `static inline` functions over clang extended vectors,
// which Swift imports as SIMD16<Float> / SIMD16<Int32>; they inline into the Swift kernels like
// any other instruction. Nothing here allocates, validates or fails (XNNPACK's rule for kernels).
//
// Which body is compiled follows the Swift target CPU (`SWIFTSTN_TARGET_CPU`): swiftc hands its
// `-target-cpu` to the clang importer, so `__AVX512F__` is defined exactly when the kernels are
// compiled for AVX-512. STN_SIMD_GATHERS tells the kernels which one they got; they use these
// functions only when it is 1 and keep their scalar loops otherwise. The portable bodies below
// compute the same values one lane at a time, so the functions mean the same thing either way.
//
// Measured on the 2-core AMD EPYC (Zen 4) this project benchmarks on, bilinear taps of a
// 64-channel 56×56 input, per output element: scalar loads 1.21 ns, 16-lane dword gathers
// 1.01 ns, 8-lane dword gathers (AVX2) 1.19 ns, pairs of neighbouring taps fetched as one
// 64-bit element (`stn_gather_pairs_f32x16`) 0.66 ns. Zen 4 gathers cost about one cycle per
// element, so fetching two taps per element is what pays.
#ifndef STN_SIMD_H
#define STN_SIMD_H

#if defined(__AVX512F__)
#include <immintrin.h>
#define STN_SIMD_GATHERS 1
#else
#define STN_SIMD_GATHERS 0
#endif

typedef float stn_f32x16 __attribute__((ext_vector_type(16)));
typedef int stn_i32x16 __attribute__((ext_vector_type(16)));
typedef float stn_f32x32 __attribute__((ext_vector_type(32)));

/// Asks for the cache line holding `p` to be brought into the level-2 cache (a hint: never faults).
static inline __attribute__((always_inline))
void stn_prefetch_l2(const void *p) {
    __builtin_prefetch(p, 0, 2);
}

/// Whether any lane is negative (an offset that marks a tap outside the input).
static inline __attribute__((always_inline))
int stn_any_negative_i32x16(stn_i32x16 v) {
#if STN_SIMD_GATHERS
    return _mm512_cmplt_epi32_mask((__m512i)v, _mm512_setzero_si512()) != 0;
#else
    int any = 0;
    for (int i = 0; i < 16; i++) any |= v[i] < 0;
    return any;
#endif
}

/// Whether every lane has `first >= 0` and `second == first + 1`: two neighbouring taps, both
/// inside the input (a tap outside is −1), so they can be read as one pair.
static inline __attribute__((always_inline))
int stn_all_pairs_i32x16(stn_i32x16 first, stn_i32x16 second) {
#if STN_SIMD_GATHERS
    __m512i f = (__m512i)first;
    __mmask16 ok = _mm512_cmpge_epi32_mask(f, _mm512_setzero_si512());
    ok = _mm512_mask_cmpeq_epi32_mask(ok, _mm512_add_epi32(f, _mm512_set1_epi32(1)), (__m512i)second);
    return ok == 0xFFFF;
#else
    int all = 1;
    for (int i = 0; i < 16; i++) all &= first[i] >= 0 && second[i] == first[i] + 1;
    return all;
#endif
}

/// Lanes 0–15 and 16–31 of a 32-lane vector. (Swift's own `lowHalf`/`highHalf` are generic
/// and were left as out-of-line calls in the kernels.)
static inline __attribute__((always_inline))
stn_f32x16 stn_low_half_f32x32(stn_f32x32 v) {
    return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

static inline __attribute__((always_inline))
stn_f32x16 stn_high_half_f32x32(stn_f32x32 v) {
    return __builtin_shufflevector(v, v, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
}

/// `base[index[i]]` for each lane. Every index must address a readable element.
static inline __attribute__((always_inline))
stn_f32x16 stn_gather_f32x16(const float *base, stn_i32x16 index) {
#if STN_SIMD_GATHERS
    return (stn_f32x16)_mm512_i32gather_ps((__m512i)index, base, 4);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = base[index[i]];
    return r;
#endif
}

/// `index[i] >= 0 ? base[index[i]] : otherwise[i]`; lanes with a negative index read nothing.
static inline __attribute__((always_inline))
stn_f32x16 stn_gather_or_f32x16(const float *base, stn_i32x16 index, stn_f32x16 otherwise) {
#if STN_SIMD_GATHERS
    __mmask16 inside = _mm512_cmpge_epi32_mask((__m512i)index, _mm512_setzero_si512());
    return (stn_f32x16)_mm512_mask_i32gather_ps((__m512)otherwise, inside, (__m512i)index, base, 4);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = index[i] >= 0 ? base[index[i]] : otherwise[i];
    return r;
#endif
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

#endif
