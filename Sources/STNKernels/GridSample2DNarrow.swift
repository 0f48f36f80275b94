import STNSIMD

// Bilinear forward for narrow inputs (Float, AVX-512 builds, zeros or fill padding, fewer than
// `manyChannels` channels, input rows of at most 28 floats — MNIST digits).
//
// The bordered copies (GridSample2DBordered.swift) of such inputs get a row stride of 32 floats:
// a whole row, margins included, is two registers, and one `vpermt2ps` reads any of its taps
// for 16 outputs at once. A chunk of 16 outputs under a smooth grid has its top taps in at most
// four neighbouring rows (the benchmark's rotation: 46 of 49 chunks of a digit), so its four
// tap vectors come from five rows: two permutes per row (left and right taps), the rows merged
// by masked moves on each lane's row. Chunks spanning more rows read pairs of taps with gathers.
// Coordinates, weights and taps stay in registers: one pass per chunk, no block scratch.
//
// Each lane does the arithmetic of `storeBilinearWeights` / `clampedIndex` and the products and
// sums of `bilinearChannelGathered`, and reads the value the block kernels read (the input's
// value inside, the padding value outside), so results are bit-identical (block-vs-scalar tests).
//
// Measured, 64×1×28×28 with the benchmark's grid, one thread: bordered block kernel 47 µs
// (coordinates to scratch 36 %, pair gathers 47 %), this path 36 µs; two threads 26.5 → 20.3 µs.

/// The bilinear forward of `positions` from narrow bordered planes (`g.width == narrowRowWidth`).
@inlinable
func bilinear2DForwardNarrow<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G, _ output: UnsafeMutablePointer<T>,
    _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?, _ g: BorderedPlanes
) where G.Scalar == T {
    let plane = s.outputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    let frame = NarrowFrame(width: W, height: H, rows: g.height, alignCorners: P.alignCorners)
    withPointScratch(T.self) { pts in
        forEachBorderedSegment(s, input, positions, g, fill) { b, flat, planes in
            let dst = asFloat(output + b * C * plane - b * plane)
            let p = asFloat(planes)
            forEachBlock(flat) { q, n in
                let points = asFloat(source.points(b, q, n, pts))
                var i = 0
                while i < n {
                    bilinearNarrowChunk(frame, policy, p, planeStride: g.plane, channels: C, points + 2 * i,
                                        count: Swift.min(16, n - i), dst + q + i, outputStride: plane)
                    i += 16
                }
            }
        }
    }
}

/// What maps a chunk's grid points to taps of the bordered planes.
@usableFromInline
struct NarrowFrame {
    @usableFromInline let scaleX: Float, scaleY: Float
    @usableFromInline let width: Int32, height: Int32
    /// The last row a chunk's five rows may start at (rows + 5 would read past the plane).
    @usableFromInline let lastBase: Int32

    @inlinable
    init(width W: Int, height H: Int, rows: Int, alignCorners: Bool) {
        // unnormalizeVector: (g + 1) · (size − 1)/2, or −0.5 + (g + 1) · size/2.
        scaleX = alignCorners ? Float(W - 1) / 2 : Float(W) / 2
        scaleY = alignCorners ? Float(H - 1) / 2 : Float(H) / 2
        width = Int32(truncatingIfNeeded: W)
        height = Int32(truncatingIfNeeded: H)
        lastBase = Int32(truncatingIfNeeded: rows - 5)
    }
}

/// Samples `count` ≤ 16 outputs of each of `channels` planes (`planeStride` apart in `p`,
/// `outputStride` apart in `out`) at the grid points `points`.
@inlinable @inline(__always)
func bilinearNarrowChunk<P: SamplingPolicy>(
    _ f: NarrowFrame, _: P.Type, _ p: UnsafePointer<Float>, planeStride: Int, channels C: Int,
    _ points: UnsafePointer<Float>, count: Int, _ out: UnsafeMutablePointer<Float>, outputStride: Int
) {
    let xy = stn_points_f32x32(points, Int32(truncatingIfNeeded: count))
    let one = SIMD16<Float>(repeating: 1), shift = SIMD16<Float>(repeating: -0.5)
    // unnormalizeVector, lane by lane: fma(g + 1, size/2, −0.5), or (g + 1) · (size − 1)/2.
    let gx = stn_low_half_f32x32(xy) + one, gy = stn_high_half_f32x32(xy) + one
    let sx = SIMD16<Float>(repeating: f.scaleX), sy = SIMD16<Float>(repeating: f.scaleY)
    let x = P.alignCorners ? gx * sx : shift.addingProduct(gx, sx)
    let y = P.alignCorners ? gy * sy : shift.addingProduct(gy, sy)
    let xw = stn_floor_f32x16(x), yn = stn_floor_f32x16(y)
    let fw = x - xw, fe = one - fw, fn = y - yn, fs = one - fn
    let w00 = fs * fe, w01 = fs * fw, w10 = fn * fe, w11 = fn * fw
    // Taps in the bordered planes (margin 2): columns x0 + 2, x0 + 3; rows y0 + 2, y0 + 3.
    let two = SIMD16<Int32>(repeating: 2)
    let left = stn_clamped_index_i32x16(xw, -2, f.width) &+ two, right = left &+ 1
    let top = stn_clamped_index_i32x16(yn, -2, f.height) &+ two
    let base = Swift.min(stn_min_i32x16(top), f.lastBase)
    let d = top &- SIMD16<Int32>(repeating: base)
    @inline(__always) func store(_ r: SIMD16<Float>, _ c: Int) {
        if count == 16 { storeLanes16(r, out + c * outputStride) }
        else { stn_store_first_f32x16(out + c * outputStride, r, Int32(truncatingIfNeeded: count)) }
    }
    if stn_all_below_i32x16(d, 4) != 0 {
        let m1 = stn_equal_mask_i32x16(d, 1), m2 = stn_equal_mask_i32x16(d, 2), m3 = stn_equal_mask_i32x16(d, 3)
        for c in 0..<C {
            var r = p + c * planeStride + Int(base) &* narrowRowWidth
            var lo = stn_row_f32x16(r), hi = stn_row_f32x16(r + 16)
            var v00 = stn_permute2_f32x16(lo, hi, left), v01 = stn_permute2_f32x16(lo, hi, right)
            r += narrowRowWidth; lo = stn_row_f32x16(r); hi = stn_row_f32x16(r + 16)
            var t0 = stn_permute2_f32x16(lo, hi, left), t1 = stn_permute2_f32x16(lo, hi, right)
            v00 = stn_select_f32x16(m1, t0, v00); v01 = stn_select_f32x16(m1, t1, v01)
            var v10 = t0, v11 = t1
            r += narrowRowWidth; lo = stn_row_f32x16(r); hi = stn_row_f32x16(r + 16)
            t0 = stn_permute2_f32x16(lo, hi, left); t1 = stn_permute2_f32x16(lo, hi, right)
            v00 = stn_select_f32x16(m2, t0, v00); v01 = stn_select_f32x16(m2, t1, v01)
            v10 = stn_select_f32x16(m1, t0, v10); v11 = stn_select_f32x16(m1, t1, v11)
            r += narrowRowWidth; lo = stn_row_f32x16(r); hi = stn_row_f32x16(r + 16)
            t0 = stn_permute2_f32x16(lo, hi, left); t1 = stn_permute2_f32x16(lo, hi, right)
            v00 = stn_select_f32x16(m3, t0, v00); v01 = stn_select_f32x16(m3, t1, v01)
            v10 = stn_select_f32x16(m2, t0, v10); v11 = stn_select_f32x16(m2, t1, v11)
            if m3 != 0 {
                r += narrowRowWidth; lo = stn_row_f32x16(r); hi = stn_row_f32x16(r + 16)
                t0 = stn_permute2_f32x16(lo, hi, left); t1 = stn_permute2_f32x16(lo, hi, right)
                v10 = stn_select_f32x16(m3, t0, v10); v11 = stn_select_f32x16(m3, t1, v11)
            }
            store((v00 * w00).addingProduct(v01, w01).addingProduct(v10, w10).addingProduct(v11, w11), c)
        }
    } else {
        let o = top &* Int32(truncatingIfNeeded: narrowRowWidth) &+ left
        let down = o &+ Int32(truncatingIfNeeded: narrowRowWidth)
        for c in 0..<C {
            let pc = p + c * planeStride
            let (v00, v01) = gatherTapPairs(pc, o)
            let (v10, v11) = gatherTapPairs(pc, down)
            store((v00 * w00).addingProduct(v01, w01).addingProduct(v10, w10).addingProduct(v11, w11), c)
        }
    }
}
