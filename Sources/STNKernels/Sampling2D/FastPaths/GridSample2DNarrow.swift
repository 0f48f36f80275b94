import STNSIMD

// The `.narrow` forward path (KernelMap2D.swift): inputs with rows of at most 28 floats copied
// into rows of 32, so a `vpermt2ps` reads any tap of a row for 16 outputs at once.
// docs/performance.md#how-gridsample2dnarrowswift-works

/// Row stride of the narrow copies: 32 floats, two registers.
@inlinable var narrowRowWidth: Int { 32 }

/// The copies of a batch element's input planes for the narrow path, `plane` floats apart: rows
/// `narrowRowWidth` floats apart, input row y in row y + 2 from column 0; columns W..<32 and
/// rows 0, 1, H + 2, H + 3 hold what a tap outside reads. Taps at columns −2 and −1 are read at
/// 30 and 31 (`vpermt2ps` indexes a row's 32 floats modulo 32), so no left margin is needed,
/// and each row starts on a cache line (the copy's stores are aligned).
@usableFromInline
struct NarrowPlanes {
    /// Rows per plane: H + 4.
    @usableFromInline let height: Int
    @inlinable var plane: Int { height * narrowRowWidth }

    /// nil for inputs wider than 28, copies larger than `BorderedPlanes.maxFloats` in all, or
    /// larger than 4 floats per output position.
    @inlinable
    init?(_ s: SamplingShape2D) {
        height = s.inputHeight + 4
        if s.inputWidth > narrowRowWidth - 4 || s.channels * plane > BorderedPlanes.maxFloats
            || plane > 4 * s.outputPlane
        {
            return nil
        }
    }
}

/// Copies the H×W plane `src` (W ≤ 28) into `dst` (`NarrowPlanes` layout), the columns right of
/// it set to `value`; the top and bottom two rows too unless `edgeRowsSet` (they hold `value`
/// from an earlier copy).
@inlinable @inline(__always)
func copyNarrow(
    _ src: UnsafePointer<Float>, height H: Int, width W: Int, into dst: UnsafeMutablePointer<Float>,
    value: Float, edgeRowsSet: Bool
) {
    let pad = SIMD16<Float>(repeating: value), R = narrowRowWidth
    if !edgeRowsSet {
        for r in [0, 1, H + 2, H + 3] {
            storeLanes16(pad, dst + r * R)
            storeLanes16(pad, dst + r * R + 16)
        }
    }
    let w0 = Int32(truncatingIfNeeded: Swift.min(W, 16)), w1 = Int32(truncatingIfNeeded: Swift.max(W - 16, 0))
    let m0 = UInt16(truncatingIfNeeded: (1 << w0) - 1), m1 = UInt16(truncatingIfNeeded: (1 << w1) - 1)
    for y in 0..<H {
        let s = src + y * W, d = dst + (y + 2) * R
        storeLanes16(W >= 16 ? lanes16(s) : stn_select_f32x16(m0, stn_load_first_f32x16(s, w0), pad), d)
        storeLanes16(w1 > 0 ? stn_select_f32x16(m1, stn_load_first_f32x16(s + 16, w1), pad) : pad, d + 16)
    }
}

/// Runs `body(b, flat, planes)` for each batch segment of `positions`, `planes` holding the
/// narrow copies of element b's C input planes (`g.plane` apart).
@inlinable @inline(__always)
func forEachNarrowSegment(
    _ s: SamplingShape2D, _ input: UnsafePointer<Float>, _ positions: Range<Int>, _ g: NarrowPlanes,
    _ fill: UnsafePointer<Float>?, _ body: (_ b: Int, _ flat: Range<Int>, _ planes: UnsafePointer<Float>) -> Void
) {
    let C = s.channels, inPlane = s.inputPlane
    withUnsafeTemporaryAllocation(byteCount: C * g.plane * MemoryLayout<Float>.stride, alignment: 64) { raw in
        let planes = raw.baseAddress!.bindMemory(to: Float.self, capacity: C * g.plane)
        var edgeRowsSet = false  // the padding rows hold the same values for every batch element
        forEachBatchSegment(positions, plane: s.outputPlane) { b, flat in
            for c in 0..<C {
                copyNarrow(
                    input + (b * C + c) * inPlane, height: s.inputHeight, width: s.inputWidth,
                    into: planes + c * g.plane, value: fill?[c] ?? 0, edgeRowsSet: edgeRowsSet)
            }
            edgeRowsSet = true
            body(b, flat, UnsafePointer(planes))
        }
    }
}

/// The bilinear forward of `positions` through narrow copies of the input.
@inlinable
func bilinear2DForwardNarrow<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G, _ output: UnsafeMutablePointer<T>,
    _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?, _ g: NarrowPlanes
) where G.Scalar == T {
    let plane = s.outputPlane, C = s.channels
    let frame = NarrowFrame(width: s.inputWidth, height: s.inputHeight, alignCorners: P.alignCorners)
    withPointScratch(T.self) { pts in
        forEachNarrowSegment(s, asFloat(input), positions, g, fill.map { asFloat($0) }) { b, flat, p in
            let dst = asFloat(output + b * C * plane - b * plane)
            forEachBlock(flat) { q, n in
                let points = asFloat(source.points(b, q, n, pts))
                var i = 0
                while i < n {
                    bilinearNarrowChunk(
                        frame, policy, p, planeStride: g.plane, channels: C, points + 2 * i,
                        count: Swift.min(16, n - i), dst + q + i, outputStride: plane)
                    i += 16
                }
            }
        }
    }
}

/// What maps a chunk's grid points to taps of the narrow copies.
@usableFromInline
struct NarrowFrame {
    @usableFromInline let scaleX: Float, scaleY: Float
    @usableFromInline let width: Int32, height: Int32
    /// The last row a chunk's five rows may start at (H + 4 rows).
    @usableFromInline let lastBase: Int32

    @inlinable
    init(width W: Int, height H: Int, alignCorners: Bool) {
        // unnormalizeVector: (g + 1) · (size − 1)/2, or −0.5 + (g + 1) · size/2.
        scaleX = alignCorners ? Float(W - 1) / 2 : Float(W) / 2
        scaleY = alignCorners ? Float(H - 1) / 2 : Float(H) / 2
        width = Int32(truncatingIfNeeded: W)
        height = Int32(truncatingIfNeeded: H)
        lastBase = Int32(truncatingIfNeeded: H - 1)
    }
}

/// The pixel coordinates of `count` ≤ 16 grid points: unnormalizeVector lane by lane,
/// fma(g + 1, size/2, −0.5), or (g + 1) · (size − 1)/2 with align_corners.
@usableFromInline
struct NarrowPixels {
    @usableFromInline var x: SIMD16<Float>, y: SIMD16<Float>

    @inlinable @inline(__always)
    init<P: SamplingPolicy>(_ f: NarrowFrame, _: P.Type, _ points: UnsafePointer<Float>, count: Int32) {
        let one = SIMD16<Float>(repeating: 1), shift = SIMD16<Float>(repeating: -0.5)
        let gx = stn_point_coordinate_f32x16(points, count, 0) + one
        let gy = stn_point_coordinate_f32x16(points, count, 1) + one
        let sx = SIMD16<Float>(repeating: f.scaleX), sy = SIMD16<Float>(repeating: f.scaleY)
        x = P.alignCorners ? gx * sx : shift.addingProduct(gx, sx)
        y = P.alignCorners ? gy * sy : shift.addingProduct(gy, sy)
    }
}

/// A chunk of up to 16 grid points mapped onto the narrow copies: `storeBilinearWeights`'s
/// fractions, the taps' columns (left, right: x0, x0 + 1, modulo 32) and rows (top: y0 + 2), and
/// how the rows are read (`narrowTaps`).
@usableFromInline
struct NarrowChunk {
    @usableFromInline var fw: SIMD16<Float>, fe: SIMD16<Float>, fn: SIMD16<Float>, fs: SIMD16<Float>
    @usableFromInline var left: SIMD16<Int32>, right: SIMD16<Int32>, top: SIMD16<Int32>
    /// The lowest lane's row, and the first of the five rows read when `fits`.
    @usableFromInline var low: Int32, base: Int32
    /// Whether every lane's top row is one of base ..< base + 4; then the lanes in rows base + k
    /// for k = 1, 2, 3.
    @usableFromInline var fits: Bool
    @usableFromInline var m1: UInt16, m2: UInt16, m3: UInt16

    /// The chunk of the `count` grid points at `points`.
    @inlinable @inline(__always)
    init<P: SamplingPolicy>(_ f: NarrowFrame, _ policy: P.Type, _ points: UnsafePointer<Float>, count: Int32) {
        let one = SIMD16<Float>(repeating: 1)
        let pixels = NarrowPixels(f, policy, points, count: count), x = pixels.x, y = pixels.y
        let xw = stn_floor_f32x16(x), yn = stn_floor_f32x16(y)
        fw = x - xw; fe = one - fw; fn = y - yn; fs = one - fn
        // Columns x0, x0 + 1 (−2 and −1 read as 30 and 31), rows y0 + 2, y0 + 3 of the copies.
        left = stn_clamped_index_i32x16(xw, -2, f.width)
        right = left &+ 1
        top = stn_clamped_index_i32x16(yn, -2, f.height) &+ 2
        low = stn_min_i32x16(top)
        base = Swift.min(low, f.lastBase)
        let d = top &- SIMD16<Int32>(repeating: base)
        fits = stn_all_below_i32x16(d, 4) != 0
        m1 = stn_equal_mask_i32x16(d, 1); m2 = stn_equal_mask_i32x16(d, 2); m3 = stn_equal_mask_i32x16(d, 3)
    }
}

/// A chunk's four bilinear taps: top-left, top-right, bottom-left, bottom-right.
@usableFromInline
struct NarrowTaps {
    @usableFromInline var nw: SIMD16<Float>, ne: SIMD16<Float>, sw: SIMD16<Float>, se: SIMD16<Float>
    @inlinable @inline(__always)
    init(_ nw: SIMD16<Float>, _ ne: SIMD16<Float>, _ sw: SIMD16<Float>, _ se: SIMD16<Float>) {
        self.nw = nw; self.ne = ne; self.sw = sw; self.se = se
    }
}

/// The chunk's four taps from the copy `p` (rows `narrowRowWidth` apart). (Returned, not passed
/// to a closure: a closure adding them into captured sums made LLVM split that arithmetic into
/// 8-lane and scalar pieces.)
@inlinable @inline(__always)
func narrowTaps(_ k: NarrowChunk, _ p: UnsafePointer<Float>) -> NarrowTaps {
    let R = narrowRowWidth, left = k.left, right = k.right
    if k.fits {
        // Rows base ..< base + 5: lanes in row base + j take their top taps from it, and their
        // bottom taps from the next.
        let m1 = k.m1, m2 = k.m2, m3 = k.m3
        var r = p + Int(k.base) &* R
        var lo = stn_row_f32x16(r), hi = stn_row_f32x16(r + 16)
        var v00 = stn_permute2_f32x16(lo, hi, left), v01 = stn_permute2_f32x16(lo, hi, right)
        r += R; lo = stn_row_f32x16(r); hi = stn_row_f32x16(r + 16)
        var t0 = stn_permute2_f32x16(lo, hi, left), t1 = stn_permute2_f32x16(lo, hi, right)
        v00 = stn_select_f32x16(m1, t0, v00); v01 = stn_select_f32x16(m1, t1, v01)
        var v10 = t0, v11 = t1
        r += R; lo = stn_row_f32x16(r); hi = stn_row_f32x16(r + 16)
        t0 = stn_permute2_f32x16(lo, hi, left); t1 = stn_permute2_f32x16(lo, hi, right)
        v00 = stn_select_f32x16(m2, t0, v00); v01 = stn_select_f32x16(m2, t1, v01)
        v10 = stn_select_f32x16(m1, t0, v10); v11 = stn_select_f32x16(m1, t1, v11)
        r += R; lo = stn_row_f32x16(r); hi = stn_row_f32x16(r + 16)
        t0 = stn_permute2_f32x16(lo, hi, left); t1 = stn_permute2_f32x16(lo, hi, right)
        v00 = stn_select_f32x16(m3, t0, v00); v01 = stn_select_f32x16(m3, t1, v01)
        v10 = stn_select_f32x16(m2, t0, v10); v11 = stn_select_f32x16(m2, t1, v11)
        if m3 != 0 {  // no lane in row base + 3: the fifth row is not needed (about half the chunks)
            r += R; lo = stn_row_f32x16(r); hi = stn_row_f32x16(r + 16)
            t0 = stn_permute2_f32x16(lo, hi, left); t1 = stn_permute2_f32x16(lo, hi, right)
            v10 = stn_select_f32x16(m3, t0, v10); v11 = stn_select_f32x16(m3, t1, v11)
        }
        return NarrowTaps(v00, v01, v10, v11)
    } else {
        // Lanes spread over more rows: every row from the lowest lane's to below the highest's.
        // (Ended by a test per row rather than a maximum taken first: LLVM hoisted that
        // reduction out of this rare branch into every chunk.)
        let top = k.top
        var v00 = SIMD16<Float>(), v01 = v00, v10 = v00, v11 = v00
        var row = k.low
        repeat {
            let r = p + Int(row) &* R
            let lo = stn_row_f32x16(r), hi = stn_row_f32x16(r + 16)
            let t0 = stn_permute2_f32x16(lo, hi, left), t1 = stn_permute2_f32x16(lo, hi, right)
            let mt = stn_equal_mask_i32x16(top, row), mb = stn_equal_mask_i32x16(top, row &- 1)
            v00 = stn_select_f32x16(mt, t0, v00); v01 = stn_select_f32x16(mt, t1, v01)
            v10 = stn_select_f32x16(mb, t0, v10); v11 = stn_select_f32x16(mb, t1, v11)
            row &+= 1
        } while stn_any_at_least_i32x16(top, row &- 1) != 0
        return NarrowTaps(v00, v01, v10, v11)
    }
}

/// Samples `count` ≤ 16 outputs of each of `channels` planes (`planeStride` apart in `p`,
/// `outputStride` apart in `out`) at the grid points `points`.
@inlinable @inline(__always)
func bilinearNarrowChunk<P: SamplingPolicy>(
    _ f: NarrowFrame, _ policy: P.Type, _ p: UnsafePointer<Float>, planeStride: Int, channels C: Int,
    _ points: UnsafePointer<Float>, count: Int, _ out: UnsafeMutablePointer<Float>, outputStride: Int
) {
    let n = Int32(truncatingIfNeeded: count)
    let k = NarrowChunk(f, policy, points, count: n)
    let w00 = k.fs * k.fe, w01 = k.fs * k.fw, w10 = k.fn * k.fe, w11 = k.fn * k.fw
    for c in 0..<C {
        let o = out + c * outputStride
        let t = narrowTaps(k, p + c * planeStride)
        let r = (t.nw * w00).addingProduct(t.ne, w01).addingProduct(t.sw, w10).addingProduct(t.se, w11)
        if count == 16 { storeLanes16(r, o) } else { stn_store_first_f32x16(o, r, n) }
    }
}

/// The nearest forward of `positions` through narrow copies of the input. Its driver repeats
/// `bilinear2DForwardNarrow`'s on purpose: a shared one taking the chunk kernel as a closure was
/// slower (docs/performance.md#gridsample2dnarrowswift).
@inlinable
func nearest2DForwardNarrow<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G, _ output: UnsafeMutablePointer<T>,
    _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?, _ g: NarrowPlanes
) where G.Scalar == T {
    let plane = s.outputPlane, C = s.channels
    let frame = NarrowFrame(width: s.inputWidth, height: s.inputHeight, alignCorners: P.alignCorners)
    withPointScratch(T.self) { pts in
        forEachNarrowSegment(s, asFloat(input), positions, g, fill.map { asFloat($0) }) { b, flat, p in
            let dst = asFloat(output + b * C * plane - b * plane)
            forEachBlock(flat) { q, n in
                let points = asFloat(source.points(b, q, n, pts))
                for i in stride(from: 0, to: n, by: 16) {
                    nearestNarrowChunk(
                        frame, policy, p, planeStride: g.plane, channels: C, points + 2 * i,
                        count: Swift.min(16, n - i), dst + q + i, outputStride: plane)
                }
            }
        }
    }
}

/// Nearest samples of `count` ≤ 16 outputs of each of `channels` planes: `nearestBlockOffsets`'s
/// pixel (rounded half to even, clamped to [−1, size]: −1 and size read the padding) from four
/// whole rows when the chunk's rows fit, else walking its rows.
@inlinable @inline(__always)
func nearestNarrowChunk<P: SamplingPolicy>(
    _ f: NarrowFrame, _ policy: P.Type, _ p: UnsafePointer<Float>, planeStride: Int, channels C: Int,
    _ points: UnsafePointer<Float>, count: Int, _ out: UnsafeMutablePointer<Float>, outputStride: Int
) {
    let n = Int32(truncatingIfNeeded: count), R = narrowRowWidth
    let pixels = NarrowPixels(f, policy, points, count: n)
    let column = stn_clamped_index_i32x16(stn_round_even_f32x16(pixels.x), -1, f.width)
    let top = stn_clamped_index_i32x16(stn_round_even_f32x16(pixels.y), -1, f.height) &+ 2
    let low = stn_min_i32x16(top), base = Swift.min(low, f.height)  // rows base ..< base + 4 of H + 4
    let d = top &- SIMD16<Int32>(repeating: base)
    let fits = stn_all_below_i32x16(d, 4) != 0
    let m1 = stn_equal_mask_i32x16(d, 1), m2 = stn_equal_mask_i32x16(d, 2), m3 = stn_equal_mask_i32x16(d, 3)
    for c in 0..<C {
        let pc = p + c * planeStride
        @inline(__always) func tap(_ row: Int32) -> SIMD16<Float> {
            let r = pc + Int(row) &* R
            return stn_permute2_f32x16(stn_row_f32x16(r), stn_row_f32x16(r + 16), column)
        }
        var v: SIMD16<Float>
        if fits {
            v = tap(base)
            v = stn_select_f32x16(m1, tap(base &+ 1), v)
            v = stn_select_f32x16(m2, tap(base &+ 2), v)
            if m3 != 0 { v = stn_select_f32x16(m3, tap(base &+ 3), v) }
        } else {
            v = SIMD16<Float>()
            var row = low
            repeat {
                v = stn_select_f32x16(stn_equal_mask_i32x16(top, row), tap(row), v)
                row &+= 1
            } while stn_any_at_least_i32x16(top, row) != 0
        }
        let o = out + c * outputStride
        if count == 16 { storeLanes16(v, o) } else { stn_store_first_f32x16(o, v, n) }
    }
}
