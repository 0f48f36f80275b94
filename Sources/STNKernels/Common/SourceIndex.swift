// Grid coordinate → input pixel coordinate, exactly as PyTorch's CPU grid sampler computes it.
//
// Two families exist because PyTorch itself has two: the 2-D CPU sampler is a vectorised kernel
// (ATen/native/cpu/GridSamplerKernel.cpp) whose clamp turns NaN into 0, while the 3-D CPU sampler
// is scalar code (ATen/native/GridSampler.h) whose `std::min(size - 1, std::max(x, 0))` turns NaN
// into `size - 1`. Finite inputs give the same coordinates in both; the families differ only in
// rounding order and in what NaN and ±Inf become, and each kernel follows the PyTorch path it is a
// drop-in for.

/// Maps a normalised coordinate in [−1, 1] to pixel units.
///
/// With `alignCorners` −1 and 1 are the centres of the first and last pixels; without, they are
/// the outer edges of those pixels.
@inlinable @inline(__always)
public func unnormalize<T: STNFloat>(_ coord: T, size: Int, alignCorners: Bool) -> T {
    alignCorners ? ((coord + 1) / 2) * T(size - 1) : ((coord + 1) * T(size) - 1) / 2
}

/// d(unnormalize)/d(coord).
@inlinable @inline(__always)
public func unnormalizeGradient<T: STNFloat>(size: Int, alignCorners: Bool) -> T {
    alignCorners ? T(size - 1) / 2 : T(size) / 2
}

/// PyTorch's `safe_downgrade_to_int_range`: a coordinate that is not finite or does not fit an
/// `Int32` becomes −100, which every bounds check rejects. After it, `Int(x)` cannot trap.
@inlinable @inline(__always)
public func safeIndexRange<T: STNFloat>(_ x: T) -> T {
    (x > T.indexRangeUpper || x < T.indexRangeLower || !x.isFinite) ? -100 : x
}

// MARK: - Scalar family (3-D sampler)

/// `std::min(size - 1, std::max(x, 0))`: NaN becomes `size - 1`.
@inlinable @inline(__always)
func clipScalar<T: STNFloat>(_ x: T, size: Int) -> T {
    let limit = T(size - 1)
    let lo = x < 0 ? 0 : x  // std::max(x, 0): NaN stays NaN
    return limit < lo ? limit : (lo.isNaN ? limit : lo)  // std::min(limit, lo): NaN → limit
}

/// Clip with its derivative: borders themselves count as outside (gradient 0), as in PyTorch.
@inlinable @inline(__always)
func clipScalarWithGradient<T: STNFloat>(_ x: T, size: Int) -> (T, T) {
    if x <= 0 { return (0, 0) }
    let limit = T(size - 1)
    if x >= limit { return (limit, 0) }
    return (x, 1)
}

/// Reflects `x` into [twiceLow/2, twiceHigh/2] (PyTorch's `reflect_coordinates`).
@inlinable @inline(__always)
func reflectScalar<T: STNFloat>(_ x: T, twiceLow: Int, twiceHigh: Int) -> T {
    if twiceLow == twiceHigh { return 0 }
    let lower = T(twiceLow) / 2
    let span = T(twiceHigh - twiceLow) / 2
    let v = (x - lower).magnitude
    let extra = v.truncatingRemainder(dividingBy: span)
    let flips = (v / span).rounded(.down)
    // Parity of the flip count without converting a possibly huge value to Int.
    let even = flips.truncatingRemainder(dividingBy: 2) == 0 || !flips.isFinite
    return even ? extra + lower : span - extra + lower
}

@inlinable @inline(__always)
func reflectScalarWithGradient<T: STNFloat>(_ x: T, twiceLow: Int, twiceHigh: Int) -> (T, T) {
    if twiceLow == twiceHigh { return (0, 0) }
    let lower = T(twiceLow) / 2
    let span = T(twiceHigh - twiceLow) / 2
    var v = x - lower
    var sign: T = 1
    if v < 0 { sign = -1; v = -v }
    let extra = v.truncatingRemainder(dividingBy: span)
    let flips = (v / span).rounded(.down)
    let even = flips.truncatingRemainder(dividingBy: 2) == 0 || !flips.isFinite
    return even ? (extra + lower, sign) : (span - extra + lower, -sign)
}

/// Padding applied to a pixel coordinate, scalar family (`compute_coordinates`), followed by
/// the safe integer range.
@inlinable @inline(__always)
func padScalar<T: STNFloat>(_ x: T, size: Int, padding: PaddingMode, alignCorners: Bool) -> T {
    switch padding {
    case .zeros:
        return safeIndexRange(x)
    case .border:
        return safeIndexRange(clipScalar(x, size: size))
    case .reflection:
        let r =
            alignCorners
            ? reflectScalar(x, twiceLow: 0, twiceHigh: 2 * (size - 1))
            : reflectScalar(x, twiceLow: -1, twiceHigh: 2 * size - 1)
        return safeIndexRange(clipScalar(r, size: size))
    }
}

/// `grid_sampler_compute_source_index_set_grad`: the pixel coordinate and d(pixel)/d(grid).
@inlinable @inline(__always)
func sourceIndexScalarWithGradient<T: STNFloat>(
    _ coord: T, size: Int, padding: PaddingMode, alignCorners: Bool
) -> (T, T) {
    var x = unnormalize(coord, size: size, alignCorners: alignCorners)
    var g: T = unnormalizeGradient(size: size, alignCorners: alignCorners)
    switch padding {
    case .zeros:
        break
    case .border:
        let (c, dc) = clipScalarWithGradient(x, size: size)
        x = c; g *= dc
    case .reflection:
        let (r, dr) =
            alignCorners
            ? reflectScalarWithGradient(x, twiceLow: 0, twiceHigh: 2 * (size - 1))
            : reflectScalarWithGradient(x, twiceLow: -1, twiceHigh: 2 * size - 1)
        let (c, dc) = clipScalarWithGradient(r, size: size)
        x = c; g = g * dr * dc
    }
    return (safeIndexRange(x), g)
}

// MARK: - Vectorised family (2-D sampler)

/// `clamp_max(size - 1, clamp_min(0, x))` with NaN clamped to 0.
@inlinable @inline(__always)
func clipVector<T: STNFloat>(_ x: T, size: Int) -> T {
    let limit = T(size - 1)
    let lo = x > 0 ? x : 0  // NaN → 0
    return lo < limit ? lo : limit
}

/// Clip with derivative; a coordinate that lands exactly on a border has gradient 0.
@inlinable @inline(__always)
func clipVectorWithGradient<T: STNFloat>(_ x: T, size: Int) -> (T, T) {
    let limit = T(size - 1)
    let lo = x > 0 ? x : 0
    let res = lo < limit ? lo : limit
    let inside = lo != 0 && res != limit
    return (res, inside ? 1 : 0)
}

/// Reflection over a period of `twiceSpan` starting at 0 (the vectorised formulation).
@inlinable @inline(__always)
func reflectVector<T: STNFloat>(_ x: T, twiceSpan: T) -> T {
    if twiceSpan == 0 { return 0 }
    let a = x.magnitude
    let doubleFlips = (a / twiceSpan).rounded(.towardZero)
    let extra = a - doubleFlips * twiceSpan
    let reflected = twiceSpan - extra
    // at::vec::minimum propagates NaN.
    if extra.isNaN || reflected.isNaN { return .nan }
    return extra < reflected ? extra : reflected
}

@inlinable @inline(__always)
func reflectVectorWithGradient<T: STNFloat>(_ x: T, twiceSpan: T) -> (T, T) {
    if twiceSpan == 0 { return (0, 0) }
    let negative = x < 0
    let a = x.magnitude
    let doubleFlips = (a / twiceSpan).rounded(.towardZero)
    let extra = a - doubleFlips * twiceSpan
    let reflected = twiceSpan - extra
    let oneMoreFlip = extra > reflected
    return (oneMoreFlip ? reflected : extra, (oneMoreFlip != negative) ? -1 : 1)
}

/// Padding applied to a pixel coordinate, vectorised family (`compute_coordinates`).
/// Border and reflection results are always finite and inside [0, size − 1]. With zeros padding
/// the coordinate is returned as is — NaN and ±Inf included — because PyTorch's vectorised kernel
/// derives its interpolation weights from it (so a NaN grid value gives a NaN output); callers
/// convert to an index only through `safeIndexRange`.
@inlinable @inline(__always)
func padVector<T: STNFloat>(_ x: T, size: Int, padding: PaddingMode, alignCorners: Bool) -> T {
    switch padding {
    case .zeros:
        return x
    case .border:
        return clipVector(x, size: size)
    case .reflection:
        if alignCorners {
            return clipVector(reflectVector(x, twiceSpan: T(2 * (size - 1))), size: size)
        }
        return clipVector(reflectVector(x + 0.5, twiceSpan: T(2 * size)) - 0.5, size: size)
    }
}

/// `unnormalize` as the vectorised kernel writes it: (coord + 1)·s, or (coord + 1)·s − ½ as one
/// fused multiply-add, with s = (size − 1)/2 or size/2 — the same value up to rounding, and
/// exactly PyTorch's rounding.
@inlinable @inline(__always)
public func unnormalizeVector<T: STNFloat>(_ coord: T, size: Int, alignCorners: Bool) -> T {
    alignCorners ? (coord + 1) * (T(size - 1) / 2) : T(-0.5).addingProduct(coord + 1, T(size) / 2)
}

/// Pixel coordinate of a grid value, vectorised family.
@inlinable @inline(__always)
func sourceIndexVector<T: STNFloat>(_ coord: T, size: Int, padding: PaddingMode, alignCorners: Bool) -> T {
    padVector(
        unnormalizeVector(coord, size: size, alignCorners: alignCorners),
        size: size, padding: padding, alignCorners: alignCorners)
}

/// Pixel coordinate and d(pixel)/d(grid), vectorised family (`apply_get_grad`).
@inlinable @inline(__always)
func sourceIndexVectorWithGradient<T: STNFloat>(
    _ coord: T, size: Int, padding: PaddingMode, alignCorners: Bool
) -> (T, T) {
    let x = unnormalizeVector(coord, size: size, alignCorners: alignCorners)
    let scale: T = unnormalizeGradient(size: size, alignCorners: alignCorners)
    switch padding {
    case .zeros:
        return (x, scale)
    case .border:
        let (c, dc) = clipVectorWithGradient(x, size: size)
        return (c, dc * scale)
    case .reflection:
        let r: T, dr: T
        if alignCorners {
            (r, dr) = reflectVectorWithGradient(x, twiceSpan: T(2 * (size - 1)))
        } else {
            let (r0, d0) = reflectVectorWithGradient(x + 0.5, twiceSpan: T(2 * size))
            (r, dr) = (r0 - 0.5, d0)
        }
        let (c, dc) = clipVectorWithGradient(r, size: size)
        return (c, dc * (dr * scale))
    }
}
