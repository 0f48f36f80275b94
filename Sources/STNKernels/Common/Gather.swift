// Lane-wise reads of sampler taps with AVX-512 gathers (`STNSIMD`), for Float.
//
// The block kernels compute each block's tap offsets (Int32, −1 for a tap outside the input)
// and weights once, then read the taps per channel. These helpers read 16 lanes of taps at a
// time. They only change how values are fetched: each lane's arithmetic is the scalar kernels'
// (same operations, same order, same fused multiply-adds), so results stay bit-identical.
// Callers use them only when `simdGathers` is true; otherwise they keep their scalar loops.

import STNSIMD

/// Whether this build reads taps with AVX-512 gathers: true when the kernels are compiled for a
/// CPU with AVX-512 (`SWIFTSTN_TARGET_CPU=native` on such a machine, `znver4`, …). A constant
/// of the build, so every test of it folds away.
@inlinable @inline(__always)
var simdGathers: Bool { STN_SIMD_GATHERS != 0 }

/// 16 consecutive Int32 lanes from `p`.
@inlinable @inline(__always)
func lanes16(_ p: UnsafePointer<Int32>) -> SIMD16<Int32> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Int32>.self)
}

/// 16 consecutive Float lanes from `p`.
@inlinable @inline(__always)
func lanes16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// 4 consecutive Float lanes from `p`.
@inlinable @inline(__always)
func lanes4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inlinable @inline(__always)
func storeLanes4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

@inlinable @inline(__always)
func storeLanes16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Whether any lane is negative, i.e. any tap of these offsets lies outside the input.
@inlinable @inline(__always)
func anyOutside(_ o: SIMD16<Int32>) -> Bool {
    stn_any_negative_i32x16(o) != 0  // Swift's `any(o .< 0)` stayed an out-of-line call
}

/// Whether every lane's `first` and `second` are neighbouring taps inside the input
/// (`first ≥ 0`, `second = first + 1`), i.e. readable with `gatherTapPairs(p, first)`.
@inlinable @inline(__always)
func arePairs(_ first: SIMD16<Int32>, _ second: SIMD16<Int32>) -> Bool {
    stn_all_pairs_i32x16(first, second) != 0
}

/// `p[o[i]]`, or `otherwise` where `o[i]` is −1 (reads nothing there).
@inlinable @inline(__always)
func gatherTaps(_ p: UnsafePointer<Float>, _ o: SIMD16<Int32>, or otherwise: SIMD16<Float>) -> SIMD16<Float> {
    stn_gather_or_f32x16(p, o, otherwise)
}

/// `p[o[i]]`; every offset must be ≥ 0.
@inlinable @inline(__always)
func gatherTaps(_ p: UnsafePointer<Float>, _ o: SIMD16<Int32>) -> SIMD16<Float> {
    stn_gather_f32x16(p, o)
}

/// `(p[o[i]], p[o[i] + 1])`: two horizontally neighbouring taps per lane, fetched together.
/// Every offset and its successor must address the input.
@inlinable @inline(__always)
func gatherTapPairs(_ p: UnsafePointer<Float>, _ o: SIMD16<Int32>) -> (SIMD16<Float>, SIMD16<Float>) {
    let r = stn_gather_pairs_f32x16(p, o)
    return (stn_low_half_f32x32(r), stn_high_half_f32x32(r))
}

/// `T`'s pointer as a Float pointer, for the Float-only gather paths (callers have checked
/// `T.self == Float.self`).
@inlinable @inline(__always)
func asFloat<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inlinable @inline(__always)
func asFloat<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

/// Spreads cache hints for the next batch element's input over the work on the current one.
///
/// Rotated grids read the input diagonally, which the hardware prefetchers do not follow. The
/// hints are spread a few per channel of a block (hinting a whole input at once does nothing).
/// Measurements: docs/performance.md#gatherswift
@usableFromInline
struct NextInputPrefetch {
    @usableFromInline let base: UnsafeRawPointer?
    @usableFromInline let lines: Int
    @usableFromInline let perStep: Int
    @usableFromInline var done = 0

    /// Inputs larger than this are not prefetched: they would not stay in L2 until used.
    @inlinable static var maxBytes: Int { 1 << 20 }

    /// `next`: the next batch element's input (`bytes` long), or nil when there is none to fetch;
    /// `steps`: how many times `step()` will be called while the current element is worked on.
    @inlinable
    init(next: UnsafeRawPointer?, bytes: Int, steps: Int) {
        let use = next != nil && bytes <= Self.maxBytes && steps > 0
        base = use ? next : nil
        lines = use ? (bytes + 63) / 64 : 0
        perStep = use ? (lines + steps - 1) / steps : 0
    }

    /// The hints for `k` steps of the work.
    @inlinable @inline(__always)
    mutating func step(_ k: Int = 1) {
        guard let base else { return }
        let end = Swift.min(lines, done + k * perStep)
        while done < end {
            stn_prefetch_l2(base + 64 * done)
            done += 1
        }
    }
}
