import STNSIMD

// Pixel-major (channels-last) copies for many channels (the `.pixelMajor` forward and the
// `.oneSweep` scatter): a tap becomes C/16 vectors. docs/performance.md#how-pixelmajorswift-works

/// Largest pixel-major copy (floats) the kernels make: 2 MiB, so that it stays in the level-2/3
/// caches while an element is sampled or scattered.
@inlinable var pixelMajorMaxFloats: Int { 1 << 19 }

/// The input-gradient scatter of a block for channels 0..<C16 (a multiple of 16), 16 channels
/// per vector: `pixels` holds the element's input gradient pixel-major (pixel p's C16 values at
/// p·C16, then a pixel at `inPlane` that takes the taps outside), `goT` room for the block's
/// grad_output position-major. Plane by plane, each position's four taps add one value to one
/// cell each; here they add C16 values to one pixel each, 16 at a time — the same products
/// (`fs·fe·gval`, …) added to each cell in the same (position) order, so the same bits, with
/// one vector read-modify-write per 16 channels instead of 16 scalar ones
/// (docs/performance.md#pixelmajorswift).
@inlinable @inline(__always)
func scatterChannelVectors(
    _ go: UnsafePointer<Float>, _ plane: Int, _ C16: Int, _ o: UnsafePointer<Int32>, _ f: UnsafePointer<Float>,
    _ n: Int, _ pixels: UnsafeMutablePointer<Float>, _ goT: UnsafeMutablePointer<Float>, _ inPlane: Int
) {
    let B = sampleBlock
    transposeChannels(go, plane, rows: C16, columns: n, into: goT, C16, add: false)
    let outside = Int32(truncatingIfNeeded: inPlane)
    for i in 0..<n {
        let fw = f[i], fe = f[B + i], fn = f[2 * B + i], fs = f[3 * B + i]
        let w00 = SIMD16<Float>(repeating: fs * fe), w01 = SIMD16<Float>(repeating: fs * fw)
        let w10 = SIMD16<Float>(repeating: fn * fe), w11 = SIMD16<Float>(repeating: fn * fw)
        @inline(__always) func pixel(_ k: Int) -> UnsafeMutablePointer<Float> {
            let x = o[k * B + i]
            return pixels + Int(x >= 0 ? x : outside) * C16
        }
        let p00 = pixel(0), p01 = pixel(1), p10 = pixel(2), p11 = pixel(3), g = goT + i * C16
        var v = 0
        while v < C16 {
            let gv = lanes16(g + v)
            storeLanes16(lanes16(p00 + v) + w00 * gv, p00 + v)
            storeLanes16(lanes16(p01 + v) + w01 * gv, p01 + v)
            storeLanes16(lanes16(p10 + v) + w10 * gv, p10 + v)
            storeLanes16(lanes16(p11 + v) + w11 * gv, p11 + v)
            v += 16
        }
    }
}

/// Adds the pixel-major `pixels` (C16 values per pixel) into the planes of `gradInput`.
@inlinable @inline(__always)
func addPixelMajor(
    _ pixels: UnsafePointer<Float>, _ C16: Int, _ inPlane: Int, into gradInput: UnsafeMutablePointer<Float>
) {
    transposeChannels(pixels, C16, rows: inPlane, columns: C16, into: gradInput, inPlane, add: true)
}

/// The input-gradient scatter of a block for C = 2…4 channels through a pixel-major copy with
/// four floats per pixel (`pixels`, the spare pixel at `inPlane` for taps outside): each tap is
/// one 4-lane read-modify-write instead of C scalar ones, the same products added to each cell
/// in the same order. grad_output is read lane by lane, not as vectors (why, and the
/// measurements: docs/performance.md#pixelmajorswift).
@inlinable @inline(__always)
func scatterChannelQuads(
    _ go: UnsafePointer<Float>, _ plane: Int, _ C: Int, _ o: UnsafePointer<Int32>, _ f: UnsafePointer<Float>,
    _ n: Int, _ pixels: UnsafeMutablePointer<Float>, _ inPlane: Int
) {
    let B = sampleBlock, outside = Int32(truncatingIfNeeded: inPlane)
    for i in 0..<n {
        var g = SIMD4<Float>()
        g[0] = go[i]
        g[1] = go[plane + i]
        if C > 2 { g[2] = go[2 * plane + i] }
        if C > 3 { g[3] = go[3 * plane + i] }
        let fw = f[i], fe = f[B + i], fn = f[2 * B + i], fs = f[3 * B + i]
        @inline(__always) func add(_ k: Int, _ w: Float) {
            let x = o[k * B + i]
            let p = pixels + Int(x >= 0 ? x : outside) * 4
            storeLanes4(lanes4(p) + SIMD4<Float>(repeating: w) * g, p)
        }
        add(0, fs * fe)
        add(1, fs * fw)
        add(2, fn * fe)
        add(3, fn * fw)
    }
}

/// Adds channels 0..<C of the four-floats-per-pixel `pixels` into the planes of `gradInput`.
@inlinable @inline(__always)
func addPixelQuads(
    _ pixels: UnsafePointer<Float>, _ C: Int, _ inPlane: Int, into gradInput: UnsafeMutablePointer<Float>
) {
    var p0 = 0
    while p0 + 16 <= inPlane {
        for c in 0..<C {
            let d = gradInput + c * inPlane + p0
            storeLanes16(lanes16(d) + stn_channel_of_quads_f32x16(pixels + 4 * p0, Int32(truncatingIfNeeded: c)), d)
        }
        p0 += 16
    }
    for p in p0..<inPlane {
        for c in 0..<C { gradInput[c * inPlane + p] += pixels[4 * p + c] }
    }
}

/// Bilinear forward of `positions` through a pixel-major copy of each batch element's input
/// (C a multiple of 16, `pixelMajorForwardFits`): per position, each tap is C/16 vectors blended with
/// the position's weights (the products and sums of `bilinearLane`, 16 channels at a time) into
/// a position-major block, transposed into the output planes. Taps outside read a spare pixel
/// holding the fill values (or zeros). The `.pixelMajor` path (KernelMap2D.swift); measured in
/// docs/performance.md#pixelmajorswift.
@inlinable
func bilinear2DForwardPixelMajor<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G, _ output: UnsafeMutablePointer<T>,
    _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?
) where G.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight, B = sampleBlock
    let floats = C * (inPlane + 1) + B * C
    withPointScratch(T.self) { pts in
        withBlockScratch(T.self, ints: 4 * B, reals: 4 * B) { o, w in
            withUnsafeTemporaryAllocation(byteCount: floats * 4, alignment: 64) { raw in
                let pixels = raw.baseAddress!.bindMemory(to: Float.self, capacity: floats)
                let block = pixels + C * (inPlane + 1)  // a block's outputs, position-major
                let wf = asFloat(UnsafePointer(w))
                for c in 0..<C { pixels[inPlane * C + c] = fill.map { asFloat($0)[c] } ?? 0 }
                forEachBatchSegment(positions, plane: plane) { b, flat in
                    copyPixelMajor(asFloat(input + b * C * inPlane), C, inPlane, into: pixels)
                    let dst = asFloat(output + b * C * plane - b * plane)
                    forEachBlock(flat) { q, n in
                        bilinearBlockTaps(policy, source.points(b, q, n, pts), n, width: W, height: H, o, w)
                        let outside = Int32(truncatingIfNeeded: inPlane)
                        for i in 0..<n {
                            @inline(__always) func pixel(_ k: Int) -> UnsafePointer<Float> {
                                let x = o[k * B + i]
                                return UnsafePointer(pixels + Int(x >= 0 ? x : outside) * C)
                            }
                            let p00 = pixel(0), p01 = pixel(1), p10 = pixel(2), p11 = pixel(3), r = block + i * C
                            let w00 = SIMD16<Float>(repeating: wf[i]), w01 = SIMD16<Float>(repeating: wf[B + i])
                            let w10 = SIMD16<Float>(repeating: wf[2 * B + i]),
                                w11 = SIMD16<Float>(repeating: wf[3 * B + i])
                            var v = 0
                            while v < C {
                                storeLanes16(
                                    (lanes16(p00 + v) * w00).addingProduct(lanes16(p01 + v), w01)
                                        .addingProduct(lanes16(p10 + v), w10).addingProduct(lanes16(p11 + v), w11),
                                    r + v)
                                v += 16
                            }
                        }
                        // The block into the output planes.
                        transposeChannels(block, C, rows: n, columns: C, into: dst + q, plane, add: false)
                    }
                }
            }
        }
    }
}

/// Copies the C planes of `input` (inPlane floats each, C a multiple of 16) pixel-major into
/// `pixels` (pixel p's C values at p·C).
@inlinable @inline(__always)
func copyPixelMajor(_ input: UnsafePointer<Float>, _ C: Int, _ inPlane: Int, into pixels: UnsafeMutablePointer<Float>) {
    transposeChannels(input, inPlane, rows: C, columns: inPlane, into: pixels, C, add: false)
}

/// Transposes the `rows` rows of `columns` values at `src` (rows `srcStride` apart) into
/// `columns` rows of `rows` values at `dst` (rows `dstStride` apart): dst[j·dstStride + i] =
/// src[i·srcStride + j], added to what `dst` holds with `add`. 16×16 tiles, then the edges value
/// by value. (Planes to pixel-major, pixel-major to planes, and blocks either way.)
@inlinable @inline(__always)
func transposeChannels(
    _ src: UnsafePointer<Float>, _ srcStride: Int, rows: Int, columns: Int,
    into dst: UnsafeMutablePointer<Float>, _ dstStride: Int, add: Bool
) {
    let r16 = rows / 16 * 16, c16 = columns / 16 * 16
    for j0 in stride(from: 0, to: c16, by: 16) {
        for i0 in stride(from: 0, to: r16, by: 16) {
            stn_transpose_16x16(src + i0 * srcStride + j0, srcStride, dst + j0 * dstStride + i0, dstStride, add ? 1 : 0)
        }
    }
    @inline(__always) func one(_ i: Int, _ j: Int) {
        let v = src[i * srcStride + j], d = dst + j * dstStride + i
        d.pointee = add ? d.pointee + v : v
    }
    for i in r16..<rows { for j in 0..<columns { one(i, j) } }
    for i in 0..<r16 { for j in c16..<columns { one(i, j) } }
}
