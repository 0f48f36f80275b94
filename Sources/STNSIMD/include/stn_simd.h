// stn_simd.h — the few vector instructions the Swift kernels cannot spell (module STNSIMD).
//
// Swift cannot emit a gather (LLVM never vectorises the per-channel tap reads into
// `vgatherdps`, and the AVX-512 intrinsics are C macros Swift does not import), so the kernels
// reach them through these `static inline` functions, which inline like any instruction:
//
//   stn_simd_avx512.h        instruction wrappers, one per intrinsic idea, with portable bodies
//   stn_sampler_fragments.h  sampler algorithms built on them
//
// How the header works and what it was measured against: docs/performance.md#stn_simdh
#ifndef STN_SIMD_H
#define STN_SIMD_H

#include "stn_simd_avx512.h"
#include "stn_sampler_fragments.h"

#endif
