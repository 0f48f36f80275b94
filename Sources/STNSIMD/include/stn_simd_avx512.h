// stn_simd_avx512.h — the instruction layer: thin `static inline` wrappers over AVX-512
// intrinsics (and clang vector shuffles) that Swift cannot spell or import, on clang extended
// vectors, which Swift imports as SIMD16<Float> / SIMD16<Int32>.
//
// Each wrapper has two bodies: the AVX-512 one when `__AVX512F__` is defined (the Swift target
// CPU has it: swiftc hands `-target-cpu` to the clang importer), and a portable one computing the
// same values lane by lane. STN_SIMD_GATHERS says which was compiled; the kernels take their
// vector paths only when it is 1 (the kernel maps, KernelMap2D.swift). Nothing here allocates,
// validates or fails. The algorithms built on these: stn_sampler_fragments.h.
#ifndef STN_SIMD_AVX512_H
#define STN_SIMD_AVX512_H

#if defined(__AVX512F__)
#include <immintrin.h>
#define STN_SIMD_GATHERS 1
#else
#define STN_SIMD_GATHERS 0
#endif

typedef float stn_f32x16 __attribute__((ext_vector_type(16)));
typedef int stn_i32x16 __attribute__((ext_vector_type(16)));
typedef float stn_f32x32 __attribute__((ext_vector_type(32)));
typedef float stn_f32x4 __attribute__((ext_vector_type(4)));
typedef float stn_f32x64 __attribute__((ext_vector_type(64)));
/// Four floats from an address aligned to a float only.
typedef float stn_f32x4_unaligned __attribute__((ext_vector_type(4), aligned(4)));

typedef struct { stn_f32x4 q0, q1, q2, q3; } stn_f32x4x4;

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

/// Whether `a` and `b` are equal in every lane.
static inline __attribute__((always_inline))
int stn_all_equal_i32x16(stn_i32x16 a, stn_i32x16 b) {
#if STN_SIMD_GATHERS
    return _mm512_cmpeq_epi32_mask((__m512i)a, (__m512i)b) == 0xFFFF;
#else
    int all = 1;
    for (int i = 0; i < 16; i++) all &= a[i] == b[i];
    return all;
#endif
}

/// Stores `v` at `p` (16-byte aligned) bypassing the caches (`movntps`): for outputs too large
/// to stay in cache, this saves reading each line before it is overwritten. Call
/// `stn_stream_fence` before the stores must be visible to other threads.
static inline __attribute__((always_inline))
void stn_stream_f32x16(float *p, stn_f32x16 v) {
#if STN_SIMD_GATHERS
    _mm_stream_ps(p, (__m128)__builtin_shufflevector(v, v, 0, 1, 2, 3));
    _mm_stream_ps(p + 4, (__m128)__builtin_shufflevector(v, v, 4, 5, 6, 7));
    _mm_stream_ps(p + 8, (__m128)__builtin_shufflevector(v, v, 8, 9, 10, 11));
    _mm_stream_ps(p + 12, (__m128)__builtin_shufflevector(v, v, 12, 13, 14, 15));
#else
    for (int i = 0; i < 16; i++) p[i] = v[i];
#endif
}

static inline __attribute__((always_inline))
void stn_stream_fence(void) {
#if STN_SIMD_GATHERS
    _mm_sfence();
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

/// Lanes 16·k…16·k + 15 of `v` (k = 0…3, a constant after inlining).
static inline __attribute__((always_inline))
stn_f32x16 stn_part_f32x64(stn_f32x64 v, int k) {
    switch (k) {
    case 0: return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    case 1: return __builtin_shufflevector(v, v, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
    case 2: return __builtin_shufflevector(v, v, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47);
    default: return __builtin_shufflevector(v, v, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63);
    }
}

/// `v`, unchanged, through an empty `asm` that the optimiser cannot look into. A kernel that
/// computes four lanes in vector registers and then stores them to four strided addresses had
/// its shuffles and vector FMAs turned back into scalar loads and FMAs by LLVM (the lane
/// extractions pulled the arithmetic apart); passing the result through here keeps it whole.
static inline __attribute__((always_inline))
stn_f32x4 stn_opaque_f32x4(stn_f32x4 v) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__("" : "+x"(v));
#elif defined(__aarch64__)
    __asm__("" : "+w"(v));
#endif
    return v;
}

/// `v` four times: lanes 4·j + i are `v[i]`.
static inline __attribute__((always_inline))
stn_f32x16 stn_repeat4_f32x4(stn_f32x4 v) {
    return __builtin_shufflevector(v, v, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
}

/// Lanes 0–3, 4–7, 8–11 and 12–15 of `v`.
static inline __attribute__((always_inline))
stn_f32x4x4 stn_quarters_f32x16(stn_f32x16 v) {
    stn_f32x4x4 out;
    out.q0 = __builtin_shufflevector(v, v, 0, 1, 2, 3);
    out.q1 = __builtin_shufflevector(v, v, 4, 5, 6, 7);
    out.q2 = __builtin_shufflevector(v, v, 8, 9, 10, 11);
    out.q3 = __builtin_shufflevector(v, v, 12, 13, 14, 15);
    return out;
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

/// 16 floats from `p` (aligned to a float only), loaded once into a register: the window kernels
/// permute each input row up to four times, and LLVM would otherwise fold the load into every
/// `vpermps` (a 64-byte load per permute). Measurements: docs/performance.md#stn_simdh
static inline __attribute__((always_inline))
stn_f32x16 stn_row_f32x16(const float *p) {
    stn_f32x16 v;
    __builtin_memcpy(&v, p, sizeof v);
#if STN_SIMD_GATHERS
    __asm__("" : "+v"(v));
#endif
    return v;
}

/// Lanes 0..<count of `v`, and lane 0 again in the lanes from `count` on (1 ≤ count ≤ 16): a
/// short chunk whose unused lanes repeat a used one, so they pass any check the used ones pass.
static inline __attribute__((always_inline))
stn_i32x16 stn_first_i32x16(stn_i32x16 v, int count) {
#if STN_SIMD_GATHERS
    __m512i all = (__m512i)v;
    return (stn_i32x16)_mm512_mask_mov_epi32(_mm512_broadcastd_epi32(_mm512_castsi512_si128(all)),
                                             (__mmask16)((1u << count) - 1), all);
#else
    stn_i32x16 r;
    for (int i = 0; i < 16; i++) r[i] = i < count ? v[i] : v[0];
    return r;
#endif
}

/// Lanes 0..<count from `p` (count ≤ 16), zero in the others; nothing after them is read.
static inline __attribute__((always_inline))
stn_f32x16 stn_load_first_f32x16(const float *p, int count) {
#if STN_SIMD_GATHERS
    return (stn_f32x16)_mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1), p);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = i < count ? p[i] : 0.0f;
    return r;
#endif
}

/// Stores lanes 0..<count of `v` at `p` (count ≤ 16), touching nothing after them.
static inline __attribute__((always_inline))
void stn_store_first_f32x16(float *p, stn_f32x16 v, int count) {
#if STN_SIMD_GATHERS
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << count) - 1), (__m512)v);
#else
    for (int i = 0; i < count; i++) p[i] = v[i];
#endif
}

/// `table[index[i] & 15]` in lane i (one `vpermps`).
static inline __attribute__((always_inline))
stn_f32x16 stn_permute_f32x16(stn_f32x16 table, stn_i32x16 index) {
#if STN_SIMD_GATHERS
    return (stn_f32x16)_mm512_permutexvar_ps((__m512i)index, (__m512)table);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = table[index[i] & 15];
    return r;
#endif
}

/// Lanes whose bit is set in `mask` get `table[index[i] & 15]`, the others keep `v[i]` (one
/// merge-masked `vpermps`).
static inline __attribute__((always_inline))
stn_f32x16 stn_permute_into_f32x16(stn_f32x16 v, unsigned short mask, stn_f32x16 table, stn_i32x16 index) {
#if STN_SIMD_GATHERS
    return (stn_f32x16)_mm512_mask_permutexvar_ps((__m512)v, mask, (__m512i)index, (__m512)table);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = (mask >> i & 1) ? table[index[i] & 15] : v[i];
    return r;
#endif
}

/// `table[index[i] & 31]` in lane i, `table` being the 32 floats `lo` then `hi` (one
/// `vpermt2ps`): any tap of a row of up to 32 floats, in one instruction.
static inline __attribute__((always_inline))
stn_f32x16 stn_permute2_f32x16(stn_f32x16 lo, stn_f32x16 hi, stn_i32x16 index) {
#if STN_SIMD_GATHERS
    return (stn_f32x16)_mm512_permutex2var_ps((__m512)lo, (__m512i)index, (__m512)hi);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = (index[i] & 16) ? hi[index[i] & 15] : lo[index[i] & 15];
    return r;
#endif
}

/// The smallest lane of `v`.
static inline __attribute__((always_inline))
int stn_min_i32x16(stn_i32x16 v) {
#if STN_SIMD_GATHERS
    return _mm512_reduce_min_epi32((__m512i)v);
#else
    int m = v[0];
    for (int i = 1; i < 16; i++) m = v[i] < m ? v[i] : m;
    return m;
#endif
}

/// Each lane rounded down (`vrndscaleps`; `floorf` lane by lane otherwise).
static inline __attribute__((always_inline))
stn_f32x16 stn_floor_f32x16(stn_f32x16 v) {
#if STN_SIMD_GATHERS
    return (stn_f32x16)_mm512_roundscale_ps((__m512)v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = __builtin_floorf(v[i]);
    return r;
#endif
}

/// Each lane rounded to the nearest integer, halves to even (`vrndscaleps`; `rintf` otherwise).
static inline __attribute__((always_inline))
stn_f32x16 stn_round_even_f32x16(stn_f32x16 v) {
#if STN_SIMD_GATHERS
    return (stn_f32x16)_mm512_roundscale_ps((__m512)v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = __builtin_rintf(v[i]);
    return r;
#endif
}

/// Whether some lane of `v` is at least `value`.
static inline __attribute__((always_inline))
int stn_any_at_least_i32x16(stn_i32x16 v, int value) {
#if STN_SIMD_GATHERS
    return _mm512_cmpge_epi32_mask((__m512i)v, _mm512_set1_epi32(value)) != 0;
#else
    int any = 0;
    for (int i = 0; i < 16; i++) any |= v[i] >= value;
    return any;
#endif
}

/// Bit i set where lane i of `v` equals `value`.
static inline __attribute__((always_inline))
unsigned short stn_equal_mask_i32x16(stn_i32x16 v, int value) {
#if STN_SIMD_GATHERS
    return _mm512_cmpeq_epi32_mask((__m512i)v, _mm512_set1_epi32(value));
#else
    unsigned short m = 0;
    for (int i = 0; i < 16; i++) m |= (unsigned short)(v[i] == value) << i;
    return m;
#endif
}

/// Whether every lane of `v` is in [0, bound) (bound ≥ 0; one unsigned compare).
static inline __attribute__((always_inline))
int stn_all_below_i32x16(stn_i32x16 v, int bound) {
#if STN_SIMD_GATHERS
    return _mm512_cmplt_epu32_mask((__m512i)v, _mm512_set1_epi32(bound)) == 0xFFFF;
#else
    int all = 1;
    for (int i = 0; i < 16; i++) all &= (unsigned)v[i] < (unsigned)bound;
    return all;
#endif
}

/// Bit i set where lane i of `v` is ≥ 0 (a tap inside the input).
static inline __attribute__((always_inline))
unsigned short stn_nonnegative_mask_i32x16(stn_i32x16 v) {
#if STN_SIMD_GATHERS
    return _mm512_cmpge_epi32_mask((__m512i)v, _mm512_setzero_si512());
#else
    unsigned short m = 0;
    for (int i = 0; i < 16; i++) m |= (unsigned short)(v[i] >= 0) << i;
    return m;
#endif
}

/// `v[i]` where bit i of `mask` is set, `otherwise[i]` elsewhere (one masked move).
static inline __attribute__((always_inline))
stn_f32x16 stn_select_f32x16(unsigned short mask, stn_f32x16 v, stn_f32x16 otherwise) {
#if STN_SIMD_GATHERS
    return (stn_f32x16)_mm512_mask_mov_ps((__m512)otherwise, mask, (__m512)v);
#else
    stn_f32x16 r;
    for (int i = 0; i < 16; i++) r[i] = (mask >> i & 1) ? v[i] : otherwise[i];
    return r;
#endif
}

#endif
