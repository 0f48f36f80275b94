// 2-D grid sampling forward: output[n, c, h, w] = input[n, c] read at grid[n, h, w] = (x, y).
//
// Semantics are PyTorch's vectorised CPU kernel (GridSamplerKernel.cpp), operation for operation,
// so float32 results agree to the last bits. Weights and offsets are computed once per output
// position and reused across channels.

/// Samples `input` at `grid` for the flattened output positions `positions` ⊂ [0, N·Ho·Wo).
///
/// - Parameters:
///   - input: N×C×H×W, C-contiguous.
///   - grid: N×Ho×Wo×2, C-contiguous; (x, y) in normalised coordinates.
///   - output: N×C×Ho×Wo; only the given positions (all channels) are written.
///   - fill: fill padding's C per-channel values, which taps outside the input read instead of
///     zero; `nil` reads zero. Pass it with `.zeros` (fill padding locates taps as zeros padding
///     does).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gridSample2DForward<T: STNFloat>(
    _ s: SamplingShape2D, input: UnsafePointer<T>, grid: UnsafePointer<T>,
    output: UnsafeMutablePointer<T>, mode: InterpolationMode, padding: PaddingMode,
    alignCorners: Bool, positions: Range<Int>, fill: UnsafePointer<T>? = nil
) {
    sample2DForward(s, input, StoredGrid2D(grid), output, mode, padding, alignCorners, positions, fill)
}

/// `gridSample2DForward` with the grid points taken from `source`.
@inlinable
func sample2DForward<T: STNFloat, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G, _ output: UnsafeMutablePointer<T>,
    _ mode: InterpolationMode, _ padding: PaddingMode, _ alignCorners: Bool, _ positions: Range<Int>,
    _ fill: UnsafePointer<T>?
) where G.Scalar == T {
    let path = forward2DPath(T.self, s, mode, padding)
    if path != .scalar {
        dispatchPolicy(
            Forward2DBlockKernel(s, input, source, output, mode, path, positions, fill), padding, alignCorners)
        return
    }
    switch mode {
    case .bilinear:
        bilinear2DForward(s, input, source, output, padding, alignCorners, positions, fill)
    case .nearest:
        nearest2DForward(s, input, source, output, padding, alignCorners, positions, fill)
    case .bicubic:
        bicubic2DForward(s, input, source, output, padding, alignCorners, positions, fill)
    }
}

/// Walks `positions` in blocks (per batch element) with the grid points of each block from
/// `source`: `body(b, q, n, points)` for positions q..<q+n, points[2i], points[2i + 1] being
/// position q + i's (x, y).
@inlinable @inline(__always)
func forEachSourceBlock<T: STNFloat, G: GridSource2D>(
    _ source: G, _ positions: Range<Int>, plane: Int,
    _ body: (_ b: Int, _ q: Int, _ n: Int, _ points: UnsafePointer<T>) -> Void
) where G.Scalar == T {
    withUnsafeTemporaryAllocation(of: T.self, capacity: 2 * sampleBlock) { scratch in
        forEachBatchSegment(positions, plane: plane) { b, flat in
            forEachBlock(flat) { q, n in body(b, q, n, source.points(b, q, n, scratch.baseAddress!)) }
        }
    }
}

/// The four bilinear taps of one output position: offsets into an input plane (−1 when the tap
/// is outside and reads zero) and weights.
@usableFromInline
struct BilinearTaps2D<T: STNFloat> {
    @usableFromInline var o00, o01, o10, o11: Int
    @usableFromInline var w00, w01, w10, w11: T
    /// Fractions: w = x − ⌊x⌋, e = 1 − w, n = y − ⌊y⌋, s = 1 − n (for the grid gradient).
    @usableFromInline var fw, fe, fn, fs: T

    @inlinable @inline(__always)
    init(x: T, y: T, width: Int, height: Int) {
        let xw = x.rounded(.down), yn = y.rounded(.down)
        fw = x - xw; fe = 1 - fw; fn = y - yn; fs = 1 - fn
        w00 = fs * fe; w01 = fs * fw; w10 = fn * fe; w11 = fn * fw
        // NaN, ±Inf and coordinates beyond Int32 become −100: every tap outside.
        let x0 = safeIndexRange(xw).truncatedInt, y0 = safeIndexRange(yn).truncatedInt
        let x0In = x0 >= 0 && x0 < width, x1In = x0 + 1 >= 0 && x0 + 1 < width
        let y0In = y0 >= 0 && y0 < height, y1In = y0 + 1 >= 0 && y0 + 1 < height
        let base = y0 * width + x0
        o00 = x0In && y0In ? base : -1
        o01 = x1In && y0In ? base + 1 : -1
        o10 = x0In && y1In ? base + width : -1
        o11 = x1In && y1In ? base + width + 1 : -1
    }

    @inlinable @inline(__always)
    func values(_ p: UnsafePointer<T>, fill: T = 0) -> (T, T, T, T) {
        (o00 >= 0 ? p[o00] : fill, o01 >= 0 ? p[o01] : fill, o10 >= 0 ? p[o10] : fill, o11 >= 0 ? p[o11] : fill)
    }

    @inlinable @inline(__always)
    func sample(_ p: UnsafePointer<T>, fill: T = 0) -> T {
        let (v00, v01, v10, v11) = values(p, fill: fill)
        // PyTorch's (nw·v + ne·v) + sw·v + se·v, contracted to fused multiply-adds as its
        // AVX2/AVX-512 builds compile it: bit-identical results on the seed's STN fixture.
        return (v00 * w00).addingProduct(v01, w01).addingProduct(v10, w10).addingProduct(v11, w11)
    }
}

@inlinable
func bilinear2DForward<T: STNFloat>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ grid: UnsafePointer<T>,
    _ output: UnsafeMutablePointer<T>, _ padding: PaddingMode, _ alignCorners: Bool,
    _ positions: Range<Int>
) {
    bilinear2DForward(s, input, StoredGrid2D(grid), output, padding, alignCorners, positions, nil)
}

@inlinable
func bilinear2DForward<T: STNFloat, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G,
    _ output: UnsafeMutablePointer<T>, _ padding: PaddingMode, _ alignCorners: Bool,
    _ positions: Range<Int>, _ fill: UnsafePointer<T>?
) where G.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    forEachSourceBlock(source, positions, plane: plane) { b, q0, n, grid in
        let src = input + b * C * inPlane
        let dst = output + b * C * plane - b * plane
        for i in 0..<n {
            let q = q0 + i
            let x = sourceIndexVector(grid[2 * i], size: s.inputWidth, padding: padding, alignCorners: alignCorners)
            let y = sourceIndexVector(
                grid[2 * i + 1], size: s.inputHeight, padding: padding, alignCorners: alignCorners)
            let taps = BilinearTaps2D(x: x, y: y, width: s.inputWidth, height: s.inputHeight)
            for c in 0..<C {
                dst[c * plane + q] = taps.sample(src + c * inPlane, fill: fill?[c] ?? 0)
            }
        }
    }
}

/// Offset of the nearest pixel (halves round to even), or −1 when it is outside.
@inlinable @inline(__always)
func nearestOffset2D<T: STNFloat>(x: T, y: T, width: Int, height: Int) -> Int {
    let xi = safeIndexRange(x.rounded(.toNearestOrEven)).truncatedInt
    let yi = safeIndexRange(y.rounded(.toNearestOrEven)).truncatedInt
    return (xi >= 0 && xi < width && yi >= 0 && yi < height) ? yi * width + xi : -1
}

@inlinable
func nearest2DForward<T: STNFloat>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ grid: UnsafePointer<T>,
    _ output: UnsafeMutablePointer<T>, _ padding: PaddingMode, _ alignCorners: Bool,
    _ positions: Range<Int>
) {
    nearest2DForward(s, input, StoredGrid2D(grid), output, padding, alignCorners, positions, nil)
}

@inlinable
func nearest2DForward<T: STNFloat, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G,
    _ output: UnsafeMutablePointer<T>, _ padding: PaddingMode, _ alignCorners: Bool,
    _ positions: Range<Int>, _ fill: UnsafePointer<T>?
) where G.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    forEachSourceBlock(source, positions, plane: plane) { b, q0, n, grid in
        let src = input + b * C * inPlane
        let dst = output + b * C * plane - b * plane
        for i in 0..<n {
            let q = q0 + i
            let x = sourceIndexVector(grid[2 * i], size: s.inputWidth, padding: padding, alignCorners: alignCorners)
            let y = sourceIndexVector(
                grid[2 * i + 1], size: s.inputHeight, padding: padding, alignCorners: alignCorners)
            let o = nearestOffset2D(x: x, y: y, width: s.inputWidth, height: s.inputHeight)
            for c in 0..<C {
                dst[c * plane + q] = o >= 0 ? src[c * inPlane + o] : (fill?[c] ?? 0)
            }
        }
    }
}

/// The 4×4 bicubic stencil of one output position: per-axis tap indices after padding (−1 when
/// the tap reads zero), the cubic weights, and the fractional offsets they came from.
@usableFromInline
struct BicubicTaps2D<T: STNFloat> {
    @usableFromInline var xs: Quad<Int>
    @usableFromInline var ys: Quad<Int>
    @usableFromInline var cx: Quad<T>
    @usableFromInline var cy: Quad<T>
    @usableFromInline var tx: T
    @usableFromInline var ty: T

    /// `ix`, `iy` are unnormalised (pixel) coordinates before padding: bicubic pads each tap.
    @inlinable @inline(__always)
    init(ix: T, iy: T, width: Int, height: Int, padding: PaddingMode, alignCorners: Bool) {
        let fx = ix.rounded(.down), fy = iy.rounded(.down)
        tx = ix - fx; ty = iy - fy
        cx = Quad(cubicCoefficients(tx)); cy = Quad(cubicCoefficients(ty))
        @inline(__always) func tap(_ v: T, _ size: Int) -> Int {
            let p = padVector(v, size: size, padding: padding, alignCorners: alignCorners)
            let i = safeIndexRange(p).truncatedInt
            return (i >= 0 && i < size) ? i : -1
        }
        xs = Quad(tap(fx - 1, width), tap(fx, width), tap(fx + 1, width), tap(fx + 2, width))
        ys = Quad(tap(fy - 1, height), tap(fy, height), tap(fy + 1, height), tap(fy + 2, height))
    }

    /// The input value at tap (i, j), `fill` (zero by default) where the tap is outside. Masked
    /// taps still take part in the weighted sums, so a NaN weight propagates exactly as in PyTorch.
    @inlinable @inline(__always)
    func value(_ p: UnsafePointer<T>, _ i: Int, _ j: Int, width: Int, fill: T = 0) -> T {
        let x = xs[i], y = ys[j]
        return (x >= 0 && y >= 0) ? p[y * width + x] : fill
    }

    @inlinable @inline(__always)
    func row(_ p: UnsafePointer<T>, _ j: Int, width: Int, fill: T = 0) -> T {
        (cx.v0 * value(p, 0, j, width: width, fill: fill)).addingProduct(
            cx.v1, value(p, 1, j, width: width, fill: fill)
        )
        .addingProduct(cx.v2, value(p, 2, j, width: width, fill: fill))
        .addingProduct(cx.v3, value(p, 3, j, width: width, fill: fill))
    }

    @inlinable @inline(__always)
    func sample(_ p: UnsafePointer<T>, width: Int, fill: T = 0) -> T {
        (cy.v0 * row(p, 0, width: width, fill: fill)).addingProduct(cy.v1, row(p, 1, width: width, fill: fill))
            .addingProduct(cy.v2, row(p, 2, width: width, fill: fill))
            .addingProduct(cy.v3, row(p, 3, width: width, fill: fill))
    }
}

@inlinable
func bicubic2DForward<T: STNFloat>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ grid: UnsafePointer<T>,
    _ output: UnsafeMutablePointer<T>, _ padding: PaddingMode, _ alignCorners: Bool,
    _ positions: Range<Int>
) {
    bicubic2DForward(s, input, StoredGrid2D(grid), output, padding, alignCorners, positions, nil)
}

@inlinable
func bicubic2DForward<T: STNFloat, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G,
    _ output: UnsafeMutablePointer<T>, _ padding: PaddingMode, _ alignCorners: Bool,
    _ positions: Range<Int>, _ fill: UnsafePointer<T>?
) where G.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels, W = s.inputWidth
    forEachSourceBlock(source, positions, plane: plane) { b, q0, n, grid in
        let src = input + b * C * inPlane
        let dst = output + b * C * plane - b * plane
        for i in 0..<n {
            let q = q0 + i
            let ix = unnormalizeVector(grid[2 * i], size: W, alignCorners: alignCorners)
            let iy = unnormalizeVector(grid[2 * i + 1], size: s.inputHeight, alignCorners: alignCorners)
            let taps = BicubicTaps2D(
                ix: ix, iy: iy, width: W, height: s.inputHeight,
                padding: padding, alignCorners: alignCorners)
            for c in 0..<C {
                dst[c * plane + q] = taps.sample(src + c * inPlane, width: W, fill: fill?[c] ?? 0)
            }
        }
    }
}
