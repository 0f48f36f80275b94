import STNSIMD

// The `.bordered` path (KernelMap2D.swift): small Float inputs copied with a margin holding the
// padding value, so no tap needs a mask. docs/performance.md#how-gridsample2dborderedswift-works

/// The bordered copies of a batch element's input planes: `margin` cells on every side.
@usableFromInline
struct BorderedPlanes {
    @usableFromInline let margin: Int
    @usableFromInline let width: Int
    @usableFromInline let height: Int
    @usableFromInline var plane: Int { width * height }

    /// Copies larger than this (all channels, in floats) are not made: the path is for inputs
    /// that stay in the level-1/2 cache, where the copy costs little next to the gathers.
    @inlinable static var maxFloats: Int { 16384 }

    /// nil when the copies would be too large, or larger than 4 floats per output position
    /// (a strong downsampling would spend its time copying).
    @inlinable
    init?(_ s: SamplingShape2D, margin: Int) {
        self.margin = margin
        width = s.inputWidth + 2 * margin
        height = s.inputHeight + 2 * margin
        let total = s.channels * width * height
        if total > Self.maxFloats || width * height > 4 * s.outputPlane { return nil }
    }
}

/// Copies the H×W plane `src` into the middle of `dst` (`g.height`×`g.width`) and, unless
/// `marginSet` (it holds `value` from an earlier copy), sets the margin to `value`.
@inlinable @inline(__always)
func copyBordered<T>(
    _ src: UnsafePointer<T>, height H: Int, width W: Int, into dst: UnsafeMutablePointer<T>,
    _ g: BorderedPlanes, value: T, marginSet: Bool
) {
    let m = g.margin, Wp = g.width
    if marginSet {
        if T.self == Float.self && W >= 16 && W <= 32 {
            // Two overlapping 16-float copies per row rather than a `memmove` call per row:
            // 64×1×28×28, one thread, the copies took 8 % of the bilinear forward.
            let s = asFloat(src), d = asFloat(dst + m * Wp + m)
            for y in 0..<H {
                let a = lanes16(s + y * W), b = lanes16(s + y * W + W - 16)
                storeLanes16(a, d + y * Wp)
                storeLanes16(b, d + y * Wp + W - 16)
            }
            return
        }
        for y in 0..<H { (dst + (m + y) * Wp + m).update(from: src + y * W, count: W) }
        return
    }
    dst.update(repeating: value, count: m * Wp)
    for y in 0..<H {
        let row = dst + (m + y) * Wp
        row.update(repeating: value, count: m)
        (row + m).update(from: src + y * W, count: W)
        (row + m + W).update(repeating: value, count: Wp - m - W)
    }
    (dst + (m + H) * Wp).update(repeating: value, count: (g.height - m - H) * Wp)
}

/// Runs `body(b, flat, planes)` for each batch segment of `positions`, `planes` holding the
/// bordered copies of element b's C input planes (`g.plane` apart).
@inlinable @inline(__always)
func forEachBorderedSegment<T: STNFloat>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ positions: Range<Int>, _ g: BorderedPlanes,
    _ fill: UnsafePointer<T>?, _ body: (_ b: Int, _ flat: Range<Int>, _ planes: UnsafePointer<T>) -> Void
) {
    let C = s.channels, inPlane = s.inputPlane
    withUnsafeTemporaryAllocation(of: T.self, capacity: C * g.plane) { buffer in
        let planes = buffer.baseAddress!
        var marginSet = false  // the margins hold the same values for every batch element
        forEachBatchSegment(positions, plane: s.outputPlane) { b, flat in
            for c in 0..<C {
                copyBordered(
                    input + (b * C + c) * inPlane, height: s.inputHeight, width: s.inputWidth,
                    into: planes + c * g.plane, g, value: fill?[c] ?? 0, marginSet: marginSet)
            }
            marginSet = true
            body(b, flat, UnsafePointer(planes))
        }
    }
}

/// The bordered forward of `positions`: for each block of each batch segment, `taps(points, n)`
/// fills the block scratch `o`, `w` (`reals` values) from the block's grid points, then
/// `channel(plane, out, n)` samples one channel's bordered copy into its output.
@inlinable @inline(__always)
func borderedForward<T: STNFloat, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G, _ output: UnsafeMutablePointer<T>,
    _ positions: Range<Int>, _ fill: UnsafePointer<T>?, _ g: BorderedPlanes, reals: Int,
    taps: (_ points: UnsafePointer<T>, _ n: Int, _ o: UnsafeMutablePointer<Int32>, _ w: UnsafeMutablePointer<T>) ->
        Void,
    channel: (
        _ plane: UnsafePointer<Float>, _ o: UnsafePointer<Int32>, _ w: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, _ n: Int
    ) -> Void
) where G.Scalar == T {
    let plane = s.outputPlane, C = s.channels
    withPointScratch(T.self) { pts in
        withBlockScratch(T.self, ints: 64, reals: reals) { o, w in
            forEachBorderedSegment(s, input, positions, g, fill) { b, flat, planes in
                let dst = output + b * C * plane - b * plane
                forEachBlock(flat) { q, n in
                    taps(source.points(b, q, n, pts), n, o, w)
                    for c in 0..<C {
                        channel(
                            asFloat(planes + c * g.plane), o, asFloat(UnsafePointer(w)), asFloat(dst + c * plane + q), n
                        )
                    }
                }
            }
        }
    }
}

// MARK: - Bilinear

/// Bilinear offsets (of the top-left tap in the bordered plane, margin 2) and weights of a block.
/// The floored coordinates are clamped to [−2, size] exactly as in `bilinearBlockTaps`.
@inlinable @inline(__always)
func bilinearBorderedTaps<T: STNFloat, P: SamplingPolicy>(
    _ policy: P.Type, _ g: UnsafePointer<T>, _ n: Int, width W: Int, height H: Int, rowStride Wp: Int,
    _ o: UnsafeMutablePointer<Int32>, _ w: UnsafeMutablePointer<T>
) {
    let W32 = Int32(truncatingIfNeeded: W), H32 = Int32(truncatingIfNeeded: H), Wp32 = Int32(truncatingIfNeeded: Wp)
    for i in 0..<n {
        let (xw, yn) = storeBilinearWeights(policy, g, i, width: W, height: H, w)
        let x0 = clampedIndex(xw, lo: -2, hi: W32), y0 = clampedIndex(yn, lo: -2, hi: H32)
        o[i] = (y0 &+ 2) &* Wp32 &+ x0 &+ 2
    }
}

/// One channel of a block from its bordered plane `p`: two pair gathers per 16 lanes.
@inlinable @inline(__always)
func bilinearBorderedChannel(
    _ p: UnsafePointer<Float>, _ o: UnsafePointer<Int32>, _ w: UnsafePointer<Float>,
    _ out: UnsafeMutablePointer<Float>, _ n: Int, rowStride Wp: Int
) {
    let B = sampleBlock
    let down = SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: Wp))
    var i = 0
    while i + 16 <= n {
        let top = lanes16(o + i)
        let (v00, v01) = gatherTapPairs(p, top)
        let (v10, v11) = gatherTapPairs(p, top &+ down)
        let r = (v00 * lanes16(w + i)).addingProduct(v01, lanes16(w + B + i))
            .addingProduct(v10, lanes16(w + 2 * B + i)).addingProduct(v11, lanes16(w + 3 * B + i))
        storeLanes16(r, out + i)
        i += 16
    }
    while i < n {
        let t = p + Int(o[i])
        out[i] = (t[0] * w[i]).addingProduct(t[1], w[B + i]).addingProduct(t[Wp], w[2 * B + i])
            .addingProduct(t[Wp + 1], w[3 * B + i])
        i += 1
    }
}

@inlinable
func bilinear2DForwardBordered<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G, _ output: UnsafeMutablePointer<T>,
    _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?, _ g: BorderedPlanes
) where G.Scalar == T {
    borderedForward(
        s, input, source, output, positions, fill, g, reals: 4 * 64,
        taps: { points, n, o, w in
            bilinearBorderedTaps(
                policy, points, n, width: s.inputWidth, height: s.inputHeight, rowStride: g.width, o, w)
        },
        channel: { p, o, w, out, n in
            bilinearBorderedChannel(p, o, w, out, n, rowStride: g.width)
        })
}

// MARK: - Bicubic

/// Bicubic samples of four positions of one plane, each with its 4×4 taps inside (`t<k>`: the
/// top-left tap of position k, rows `rowStride` apart), weights at `w` in the block layout
/// (cx at w[0..<4], w[B..<B+4], …; cy at w[4·B..<4·B+4], …). The 16 rows go into the lanes of
/// four column vectors (tap i of row j of position k in lane 4·j + k of column i), so each lane
/// sees the scalar kernel's row sum and each position its sum of rows, in the same order.
@inlinable @inline(__always)
func bicubicFourPositions(
    _ t0: UnsafePointer<Float>, _ t1: UnsafePointer<Float>, _ t2: UnsafePointer<Float>, _ t3: UnsafePointer<Float>,
    rowStride: Int, _ w: UnsafePointer<Float>
) -> SIMD4<Float> {
    let B = sampleBlock
    let t = stn_columns_4x4x4(t0, t1, t2, t3, 0, rowStride, 2 * rowStride, 3 * rowStride)
    @inline(__always) func cx(_ i: Int) -> SIMD16<Float> { stn_repeat4_f32x4(lanes4(w + i * B)) }
    let rows = (cx(0) * stn_part_f32x64(t, 0)).addingProduct(cx(1), stn_part_f32x64(t, 1))
        .addingProduct(cx(2), stn_part_f32x64(t, 2)).addingProduct(cx(3), stn_part_f32x64(t, 3))
    let q = stn_quarters_f32x16(rows)
    return stn_opaque_f32x4(
        (lanes4(w + 4 * B) * q.q0).addingProduct(lanes4(w + 5 * B), q.q1)
            .addingProduct(lanes4(w + 6 * B), q.q2).addingProduct(lanes4(w + 7 * B), q.q3))
}

/// Bicubic offsets (of the top-left of the 4×4 taps in the bordered plane, margin 4) and the
/// cubic weights (layout of `bicubicBlockTaps`: cx at k, B + k, …; cy at 4·B + k, …). The
/// floored coordinate is clamped to [−3, size + 1]: every coordinate with a tap inside is in
/// that range, and a clamped one has all its taps in the margin, as the original's were outside.
@inlinable @inline(__always)
func bicubicBorderedTaps<T: STNFloat, P: SamplingPolicy>(
    _: P.Type, _ g: UnsafePointer<T>, _ n: Int, width W: Int, height H: Int, rowStride Wp: Int,
    _ o: UnsafeMutablePointer<Int32>, _ w: UnsafeMutablePointer<T>
) {
    let B = sampleBlock
    let W32 = Int32(truncatingIfNeeded: W), H32 = Int32(truncatingIfNeeded: H), Wp32 = Int32(truncatingIfNeeded: Wp)
    for k in 0..<n {
        let ix = unnormalizeVector(g[2 * k], size: W, alignCorners: P.alignCorners)
        let iy = unnormalizeVector(g[2 * k + 1], size: H, alignCorners: P.alignCorners)
        let fx = ix.rounded(.down), fy = iy.rounded(.down)
        let cx = cubicCoefficients(ix - fx), cy = cubicCoefficients(iy - fy)
        let x = clampedIndex(fx, lo: -3, hi: W32 &+ 1), y = clampedIndex(fy, lo: -3, hi: H32 &+ 1)
        o[k] = (y &+ 3) &* Wp32 &+ x &+ 3  // tap (fx − 1, fy − 1), shifted by the margin
        w[k] = cx.0; w[B + k] = cx.1; w[2 * B + k] = cx.2; w[3 * B + k] = cx.3
        w[4 * B + k] = cy.0; w[5 * B + k] = cy.1; w[6 * B + k] = cy.2; w[7 * B + k] = cy.3
    }
}

/// One channel of a block from its bordered plane `p`: each of the four rows is two pair
/// gathers per 16 lanes; the operations of `bicubicChannelGathered` / `bicubicLane`.
@inlinable @inline(__always)
func bicubicBorderedChannel(
    _ p: UnsafePointer<Float>, _ o: UnsafePointer<Int32>, _ w: UnsafePointer<Float>,
    _ out: UnsafeMutablePointer<Float>, _ n: Int, rowStride Wp: Int
) {
    let B = sampleBlock
    var i = 0
    while i + 4 <= n {
        storeLanes4(
            bicubicFourPositions(
                p + Int(o[i]), p + Int(o[i + 1]), p + Int(o[i + 2]), p + Int(o[i + 3]),
                rowStride: Wp, w + i), out + i)
        i += 4
    }
    while i < n {
        let t = p + Int(o[i])
        @inline(__always) func row(_ j: Int) -> Float {
            let r = t + j * Wp
            return (w[i] * r[0]).addingProduct(w[B + i], r[1]).addingProduct(w[2 * B + i], r[2])
                .addingProduct(w[3 * B + i], r[3])
        }
        out[i] = (w[4 * B + i] * row(0)).addingProduct(w[5 * B + i], row(1)).addingProduct(w[6 * B + i], row(2))
            .addingProduct(w[7 * B + i], row(3))
        i += 1
    }
}

@inlinable
func bicubic2DForwardBordered<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G, _ output: UnsafeMutablePointer<T>,
    _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?, _ g: BorderedPlanes
) where G.Scalar == T {
    borderedForward(
        s, input, source, output, positions, fill, g, reals: 8 * 64,
        taps: { points, n, o, w in
            bicubicBorderedTaps(policy, points, n, width: s.inputWidth, height: s.inputHeight, rowStride: g.width, o, w)
        },
        channel: { p, o, w, out, n in
            bicubicBorderedChannel(p, o, w, out, n, rowStride: g.width)
        })
}
