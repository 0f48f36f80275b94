// Block form of the 2-D sampler (the `.gathered`, `.blocks`, `.rowWindow`, `.fourChannels` and
// `.positionsOuter` paths of KernelMap2D.swift): the scalar kernels' operations per element, in
// blocks of `sampleBlock` positions so the coordinate loop vectorises and taps are read per
// channel. How, and why the bits stay: docs/performance.md#how-gridsample2dblocksswift-works

import STNSIMD

@inlinable @inline(__always)
func withBlockScratch<T, R>(
    _: T.Type, ints: Int, reals: Int,
    _ body: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<T>) -> R
) -> R {
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: ints) { ib in
        withUnsafeTemporaryAllocation(of: T.self, capacity: reals) { rb in
            body(ib.baseAddress!, rb.baseAddress!)
        }
    }
}

/// Scratch for a block's generated grid points (2·`sampleBlock` values). A separate allocation
/// from the kernels' other scratch, so that the compiler can tell the points from the offsets
/// and weights it writes (with one shared buffer it could not, and kept the tap loops scalar).
@inlinable @inline(__always)
func withPointScratch<T, R>(_: T.Type, _ body: (UnsafeMutablePointer<T>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: T.self, capacity: 2 * 64) { body($0.baseAddress!) }
}

/// Prefetching of batch element b + 1's input while the segment `flat` of element b (inside
/// `positions`) is sampled; `input` is element b's input, `count` its length; `step()` will be
/// called `stepsPerBlock` times per block.
@inlinable @inline(__always)
func nextInputPrefetch<T>(
    _ positions: Range<Int>, _ flat: Range<Int>, _ b: Int, plane: Int,
    input: UnsafePointer<T>, count: Int, stepsPerBlock: Int
) -> NextInputPrefetch {
    let hasNext = (b + 1) * plane < positions.upperBound
    return NextInputPrefetch(
        next: hasNext ? UnsafeRawPointer(input + count) : nil,
        bytes: count * MemoryLayout<T>.stride,
        steps: (flat.count + sampleBlock - 1) / sampleBlock * stepsPerBlock)
}

/// Walks `flat` (inside one batch element) in blocks: `body(q, n)` for positions q..<q+n.
@inlinable @inline(__always)
func forEachBlock(_ flat: Range<Int>, _ body: (_ q: Int, _ n: Int) -> Void) {
    var q = flat.lowerBound
    while q < flat.upperBound {
        let n = Swift.min(sampleBlock, flat.upperBound - q)
        body(q, n)
        q += n
    }
}

/// The zero-padded read of one tap: the tap itself, or a cell holding zero when `o` is −1.
/// (A select of addresses followed by an unconditional load, rather than a masked load, which
/// LLVM would otherwise emit and which is slow on this class of CPU.)
@inlinable @inline(__always)
func tapValue<T: STNFloat>(_ p: UnsafePointer<T>, _ o: Int32, zero: UnsafePointer<T>) -> T {
    (o >= 0 ? p + Int(o) : zero).pointee
}

/// Whether every offset in `o[0..<n]` is ≥ 0 (all taps inside: no masking needed).
@inlinable @inline(__always)
func allInside(_ o: UnsafePointer<Int32>, _ n: Int) -> Bool {
    var m: Int32 = 0
    for i in 0..<n { m |= o[i] }
    return m >= 0
}

// MARK: - Bilinear forward

/// A floored pixel coordinate as an Int32 index clamped to [lo, hi] — NaN gives lo. With
/// lo < 0 and hi ≥ size, whether the index (and its neighbours up to the clamp margin) lies in
/// [0, size) is what `safeIndexRange(x).truncatedInt` would give, in 32-bit lanes.
@inlinable @inline(__always)
func clampedIndex<T: STNFloat>(_ f: T, lo: Int32, hi: Int32) -> Int32 {
    let a = f > T(lo) ? f : T(lo)  // maxps: NaN → lo
    let c = a < T(hi) ? a : T(hi)  // minps
    return truncatedInt32(c)
}

/// −1 (all bits) when 0 ≤ i < size, else 0.
@inlinable @inline(__always)
func insideMask(_ i: Int32, _ size: Int32) -> Int32 {
    UInt32(bitPattern: i) < UInt32(bitPattern: size) ? -1 : 0
}

/// `Int32(x)` through the concrete conversion (one `cvttss2si`/`cvttps2dq`): the generic
/// initialiser takes a slow bit-by-bit path. Only for values in Int32 range.
@inlinable @inline(__always)
func truncatedInt32<T: STNFloat>(_ x: T) -> Int32 {
    if T.self == Float.self { return Int32(unsafeBitCast(x, to: Float.self)) }
    if T.self == Double.self { return Int32(unsafeBitCast(x, to: Double.self)) }
    return Int32(truncatingIfNeeded: x.truncatedInt)
}

/// Lane i's four tap offsets o[k·B + i] (−1 for a tap outside) from its floored coordinates.
@inlinable @inline(__always)
func storeBilinearOffsets<T: STNFloat>(
    _ xw: T, _ yn: T, _ W32: Int32, _ H32: Int32, _ o: UnsafeMutablePointer<Int32>, _ i: Int
) {
    let B = sampleBlock
    let x0 = clampedIndex(xw, lo: -2, hi: W32), y0 = clampedIndex(yn, lo: -2, hi: H32)
    // All-ones when the index is inside, zero otherwise (branch-free, so it vectorises).
    let mx0 = insideMask(x0, W32), mx1 = insideMask(x0 &+ 1, W32)
    let my0 = insideMask(y0, H32), my1 = insideMask(y0 &+ 1, H32)
    let base = y0 &* W32 &+ x0
    o[i] = base | ~(mx0 & my0)
    o[B + i] = (base &+ 1) | ~(mx1 & my0)
    o[2 * B + i] = (base &+ W32) | ~(mx0 & my1)
    o[3 * B + i] = (base &+ W32 &+ 1) | ~(mx1 & my1)
}

@inlinable @inline(__always)
func bilinearBlockTaps<T: STNFloat, P: SamplingPolicy>(
    _ policy: P.Type, _ g: UnsafePointer<T>, _ n: Int, width W: Int, height H: Int,
    _ o: UnsafeMutablePointer<Int32>, _ w: UnsafeMutablePointer<T>
) {
    let W32 = Int32(truncatingIfNeeded: W), H32 = Int32(truncatingIfNeeded: H)
    for i in 0..<n {
        let (xw, yn) = storeBilinearWeights(policy, g, i, width: W, height: H, w)
        storeBilinearOffsets(xw, yn, W32, H32, o, i)
    }
}

/// Lane i's four bilinear weights w[k·B + i] from its grid point (BilinearTaps2D's arithmetic);
/// returns the floored pixel coordinates.
@inlinable @inline(__always)
func storeBilinearWeights<T: STNFloat, P: SamplingPolicy>(
    _: P.Type, _ g: UnsafePointer<T>, _ i: Int, width W: Int, height H: Int, _ w: UnsafeMutablePointer<T>
) -> (T, T) {
    let B = sampleBlock
    let x = sourceIndexVector(g[2 * i], size: W, padding: P.padding, alignCorners: P.alignCorners)
    let y = sourceIndexVector(g[2 * i + 1], size: H, padding: P.padding, alignCorners: P.alignCorners)
    let xw = x.rounded(.down), yn = y.rounded(.down)
    let fw = x - xw, fe = 1 - fw, fn = y - yn, fs = 1 - fn
    w[i] = fs * fe; w[B + i] = fs * fw; w[2 * B + i] = fn * fe; w[3 * B + i] = fn * fw
    return (xw, yn)
}

/// Lane i of a block's bilinear sample of plane p: its four taps (`z.pointee` for a tap outside)
/// weighted as in the scalar kernel. The one per-lane form of the masked loop, the vector path's
/// tail and the many-channel path's border positions.
@inlinable @inline(__always)
func bilinearLane<T: STNFloat>(
    _ p: UnsafePointer<T>, _ o: UnsafePointer<Int32>, _ w: UnsafePointer<T>, _ i: Int, zero z: UnsafePointer<T>
) -> T {
    let B = sampleBlock
    let v00 = tapValue(p, o[i], zero: z), v01 = tapValue(p, o[B + i], zero: z)
    let v10 = tapValue(p, o[2 * B + i], zero: z), v11 = tapValue(p, o[3 * B + i], zero: z)
    return (v00 * w[i]).addingProduct(v01, w[B + i]).addingProduct(v10, w[2 * B + i]).addingProduct(v11, w[3 * B + i])
}

/// Bilinear forward for `positions`, grid points from `source`, on the block path `path`
/// (`.rowWindow`, `.positionsOuter`, `.gathered` or `.blocks`: KernelMap2D.swift). Taps outside
/// the input read `fill[c]` (fill padding) or zero (`fill` nil).
@inlinable
func bilinear2DForwardBlocks<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G,
    _ output: UnsafeMutablePointer<T>, _ positions: Range<Int>, _ policy: P.Type,
    _ fill: UnsafePointer<T>?, _ path: SamplerKernelPath
) where G.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    let streaming = streamsOutput(T.self, count: s.batch * C * plane)
    defer { if streaming { stn_stream_fence() } }
    // 16 ints of slack: the window path reads whole 16-lane chunks of the last offsets.
    withPointScratch(T.self) { pts in
        withBlockScratch(T.self, ints: 4 * 64 + 16, reals: 5 * 64 + 1) { o, w in
            let B = sampleBlock
            let r = w + 4 * B
            let zero = w + 5 * B
            zero.initialize(to: 0)
            forEachBatchSegment(positions, plane: plane) { b, flat in
                let src = input + b * C * inPlane
                let dst = output + b * C * plane - b * plane
                var prefetch = nextInputPrefetch(
                    positions, flat, b, plane: plane, input: src, count: C * inPlane,
                    stepsPerBlock: C)
                forEachBlock(flat) { q, n in
                    bilinearBlockTaps(policy, source.points(b, q, n, pts), n, width: W, height: H, o, w)
                    if path == .rowWindow || path == .positionsOuter {
                        prefetch.step(C)
                        bilinearPositionsOuter(
                            src, inPlane, width: W, dst + q, plane, C, o, UnsafePointer(w), n, at: q,
                            outputWidth: s.outputWidth, fill: fill,
                            zero: UnsafePointer(zero), windows: path == .rowWindow)
                        return
                    }
                    if path == .gathered {
                        for c in 0..<C {
                            prefetch.step()
                            let z = fill.map { $0 + c } ?? UnsafePointer(zero)
                            let out = asFloat(dst + c * plane + q)
                            bilinearChannelGathered(
                                asFloat(src + c * inPlane), o, asFloat(UnsafePointer(w)),
                                out, n, outside: asFloat(z),
                                streaming: streaming && Int(bitPattern: out) & 15 == 0)
                        }
                        return
                    }
                    if n == B && allInside(o, 4 * B) {
                        for c in 0..<C {
                            prefetch.step()
                            let p = src + c * inPlane
                            for i in 0..<B {
                                let v00 = p[Int(o[i])], v01 = p[Int(o[B + i])]
                                let v10 = p[Int(o[2 * B + i])], v11 = p[Int(o[3 * B + i])]
                                r[i] = (v00 * w[i]).addingProduct(v01, w[B + i])
                                    .addingProduct(v10, w[2 * B + i]).addingProduct(v11, w[3 * B + i])
                            }
                            (dst + c * plane + q).update(from: r, count: B)
                        }
                        return
                    }
                    for c in 0..<C {
                        prefetch.step()
                        let p = src + c * inPlane
                        let z = fill.map { $0 + c } ?? UnsafePointer(zero)
                        for i in 0..<n { r[i] = bilinearLane(p, o, w, i, zero: z) }
                        (dst + c * plane + q).update(from: r, count: n)
                    }
                }
            }
        }
    }
}

/// One channel of a block, lanes 0..<n, Float: 16 lanes at a time with gathers, the rest one by
/// one; the same operations per lane as the loops above. Chunks whose taps are all inside read
/// each row's two taps as one pair; others read tap by tap, `outside.pointee` where a tap is out.
/// `streaming`: write around the cache (`out` 16-byte aligned; see `streamingBytes`).
@inlinable @inline(__always)
func bilinearChannelGathered(
    _ p: UnsafePointer<Float>, _ o: UnsafePointer<Int32>, _ w: UnsafePointer<Float>,
    _ out: UnsafeMutablePointer<Float>, _ n: Int, outside z: UnsafePointer<Float>, streaming: Bool = false
) {
    let B = sampleBlock
    var i = 0
    while i + 16 <= n {
        let o0 = lanes16(o + i), o1 = lanes16(o + B + i)
        let o2 = lanes16(o + 2 * B + i), o3 = lanes16(o + 3 * B + i)
        let v00, v01, v10, v11: SIMD16<Float>
        if anyOutside(o0 | o1 | o2 | o3) {
            let f = SIMD16<Float>(repeating: z.pointee)
            v00 = gatherTaps(p, o0, or: f); v01 = gatherTaps(p, o1, or: f)
            v10 = gatherTaps(p, o2, or: f); v11 = gatherTaps(p, o3, or: f)
        } else {
            (v00, v01) = gatherTapPairs(p, o0)  // o1 = o0 + 1 when both are inside
            (v10, v11) = gatherTapPairs(p, o2)
        }
        let r = (v00 * lanes16(w + i)).addingProduct(v01, lanes16(w + B + i))
            .addingProduct(v10, lanes16(w + 2 * B + i)).addingProduct(v11, lanes16(w + 3 * B + i))
        if streaming { stn_stream_f32x16(out + i, r) } else { storeLanes16(r, out + i) }
        i += 16
    }
    while i < n {
        out[i] = bilinearLane(p, o, w, i, zero: z)
        i += 1
    }
}

/// Outputs of at least this many bytes are written with streaming stores by the gathered Float
/// bilinear and nearest paths (`stn_stream_f32x16`): they would not stay in cache anyway, and
/// writing around the cache saves reading every output line first
/// (docs/performance.md#gridsample2dblocksswift).
@inlinable var streamingBytes: Int { 8 << 20 }

/// Whether a sampler writing `count` elements of T streams its output.
@inlinable @inline(__always)
func streamsOutput<T>(_: T.Type, count: Int) -> Bool {
    simdGathers && T.self == Float.self && count * MemoryLayout<T>.stride >= streamingBytes
}

/// Bilinear forward of a block with positions outer and channels inner: each position's offsets
/// and weights stay in registers for all channels, and each row's two taps come as one 2-lane
/// load. Same operations per element as the loops above. With `windows` (the `.rowWindow` path:
/// Float, AVX-512), chunks of 16 positions whose taps fit a `RowWindow` read them from whole rows
/// instead (docs/performance.md#gridsample2dblocksswift).
@inlinable @inline(__always)
func bilinearPositionsOuter<T: STNFloat>(
    _ src: UnsafePointer<T>, _ inPlane: Int, width W: Int, _ dst: UnsafeMutablePointer<T>, _ plane: Int, _ C: Int,
    _ o: UnsafePointer<Int32>, _ w: UnsafePointer<T>, _ n: Int, at q: Int, outputWidth Wo: Int,
    fill: UnsafePointer<T>?, zero: UnsafePointer<T>, windows: Bool
) {
    let B = sampleBlock
    let stride = MemoryLayout<T>.stride
    @inline(__always) func position(_ i: Int) {
        let o00 = o[i], o01 = o[B + i], o10 = o[2 * B + i], o11 = o[3 * B + i]
        let w00 = w[i], w01 = w[B + i], w10 = w[2 * B + i], w11 = w[3 * B + i]
        let out = dst + i
        if (o00 | o01 | o10 | o11) >= 0 {
            let top = Int(o00) * stride, bottom = Int(o10) * stride
            for c in 0..<C {
                let p = UnsafeRawPointer(src + c * inPlane)
                let t = p.loadUnaligned(fromByteOffset: top, as: SIMD2<T>.self)
                let b = p.loadUnaligned(fromByteOffset: bottom, as: SIMD2<T>.self)
                out[c * plane] = (t[0] * w00).addingProduct(t[1], w01).addingProduct(b[0], w10).addingProduct(b[1], w11)
            }
        } else {
            for c in 0..<C {
                out[c * plane] = bilinearLane(src + c * inPlane, o, w, i, zero: fill.map { $0 + c } ?? zero)
            }
        }
    }
    if windows {
        let fw = asFloat(w)
        forEachRowChunk(n, at: q, outputWidth: Wo) { i, m in
            guard m >= 4,
                let (win, inside) = bilinearWindow(
                    firstLanes(o + i, m), firstLanes(o + B + i, m), firstLanes(o + 2 * B + i, m),
                    firstLanes(o + 3 * B + i, m), width: W, readable: inPlane)
            else {
                for k in i..<i + m { position(k) }
                return
            }
            let w00 = lanes16(fw + i), w01 = lanes16(fw + B + i)
            let w10 = lanes16(fw + 2 * B + i), w11 = lanes16(fw + 3 * B + i)
            withRowCount(win) { rows in
                for c in 0..<C {
                    var t = bilinearWindowTaps(asFloat(src + c * inPlane), width: W, win, rows: rows)
                    if let inside {
                        t = inside.masking(t, outside: SIMD16(repeating: fill.map { asFloat($0)[c] } ?? 0))
                    }
                    let (v00, v01, v10, v11) = t
                    storeFirstLanes(
                        (v00 * w00).addingProduct(v01, w01).addingProduct(v10, w10).addingProduct(v11, w11),
                        asFloat(dst + c * plane + i), m)
                }
            }
        }
        return
    }
    for i in 0..<n { position(i) }
}

// MARK: - Nearest forward

@inlinable @inline(__always)
func nearestBlockOffsets<T: STNFloat, P: SamplingPolicy>(
    _: P.Type, _ g: UnsafePointer<T>, _ n: Int, width W: Int, height H: Int,
    _ o: UnsafeMutablePointer<Int32>
) {
    let W32 = Int32(truncatingIfNeeded: W), H32 = Int32(truncatingIfNeeded: H)
    for i in 0..<n {
        let x = sourceIndexVector(g[2 * i], size: W, padding: P.padding, alignCorners: P.alignCorners)
        let y = sourceIndexVector(g[2 * i + 1], size: H, padding: P.padding, alignCorners: P.alignCorners)
        // nearestOffset2D with 32-bit indices.
        let xi = clampedIndex(x.rounded(.toNearestOrEven), lo: -1, hi: W32)
        let yi = clampedIndex(y.rounded(.toNearestOrEven), lo: -1, hi: H32)
        o[i] = (yi &* W32 &+ xi) | ~(insideMask(xi, W32) & insideMask(yi, H32))
    }
}

/// Nearest forward for `positions` on the block path `path` (as `bilinear2DForwardBlocks`).
@inlinable
func nearest2DForwardBlocks<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G,
    _ output: UnsafeMutablePointer<T>, _ positions: Range<Int>, _ policy: P.Type,
    _ fill: UnsafePointer<T>?, _ path: SamplerKernelPath
) where G.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    let streaming = streamsOutput(T.self, count: s.batch * C * plane)
    defer { if streaming { stn_stream_fence() } }
    // 16 ints of slack: the window path reads whole 16-lane chunks.
    withPointScratch(T.self) { pts in
        withBlockScratch(T.self, ints: 64 + 16, reals: 64 + 1) { o, r in
            let zero = r + sampleBlock
            zero.initialize(to: 0)
            forEachBatchSegment(positions, plane: plane) { b, flat in
                let src = input + b * C * inPlane
                let dst = output + b * C * plane - b * plane
                var prefetch = nextInputPrefetch(
                    positions, flat, b, plane: plane, input: src, count: C * inPlane,
                    stepsPerBlock: C)
                forEachBlock(flat) { q, n in
                    nearestBlockOffsets(policy, source.points(b, q, n, pts), n, width: W, height: H, o)
                    if path == .rowWindow || path == .positionsOuter {
                        prefetch.step(C)
                        nearestPositionsOuter(
                            src, inPlane, width: W, dst + q, plane, C, o, n, at: q,
                            outputWidth: s.outputWidth, fill: fill, windows: path == .rowWindow)
                        return
                    }
                    if path == .gathered {
                        for c in 0..<C {
                            prefetch.step()
                            let z = fill.map { $0 + c } ?? UnsafePointer(zero)
                            let out = asFloat(dst + c * plane + q)
                            nearestChannelGathered(
                                asFloat(src + c * inPlane), o, out, n, outside: asFloat(z),
                                streaming: streaming && Int(bitPattern: out) & 15 == 0)
                        }
                        return
                    }
                    for c in 0..<C {
                        prefetch.step()
                        let p = src + c * inPlane
                        let z = fill.map { $0 + c } ?? UnsafePointer(zero)
                        for i in 0..<n { r[i] = tapValue(p, o[i], zero: z) }
                        (dst + c * plane + q).update(from: r, count: n)
                    }
                }
            }
        }
    }
}

/// Nearest forward of a block with positions outer and channels inner; with `windows` (the
/// `.rowWindow` path: Float, AVX-512), chunks whose taps fit a `RowWindow` read them from whole
/// rows (docs/performance.md#gridsample2dblocksswift).
@inlinable @inline(__always)
func nearestPositionsOuter<T: STNFloat>(
    _ src: UnsafePointer<T>, _ inPlane: Int, width W: Int, _ dst: UnsafeMutablePointer<T>, _ plane: Int, _ C: Int,
    _ o: UnsafePointer<Int32>, _ n: Int, at q: Int, outputWidth Wo: Int, fill: UnsafePointer<T>?, windows: Bool
) {
    @inline(__always) func position(_ i: Int) {
        let oi = o[i], out = dst + i
        if oi >= 0 {
            let p = src + Int(oi)
            for c in 0..<C { out[c * plane] = p[c * inPlane] }
        } else {
            for c in 0..<C { out[c * plane] = fill?[c] ?? 0 }
        }
    }
    if windows {
        forEachRowChunk(n, at: q, outputWidth: Wo) { i, m in
            // Lanes outside read the fill: they take an inside lane's offset, and are masked.
            let o0 = firstLanes(o + i, m), inside = stn_nonnegative_mask_i32x16(o0)
            guard m >= 4,
                let win = RowWindow(
                    stn_top_left_i32x16(o0, o0, o0, o0, 0), width: W, maxColumn: 15,
                    extraRows: 0, readable: inPlane)
            else {
                for k in i..<i + m { position(k) }
                return
            }
            withRowCount(win) { rows in
                for c in 0..<C {
                    var v = nearestWindowTap(asFloat(src + c * inPlane), width: W, win, rows: rows)
                    if inside != 0xFFFF {
                        v = stn_select_f32x16(inside, v, SIMD16(repeating: fill.map { asFloat($0)[c] } ?? 0))
                    }
                    storeFirstLanes(v, asFloat(dst + c * plane + i), m)
                }
            }
        }
        return
    }
    for i in 0..<n { position(i) }
}

/// One channel of a block, lanes 0..<n, Float: 16 lanes at a time with a gather, the rest one
/// by one.
@inlinable @inline(__always)
func nearestChannelGathered(
    _ p: UnsafePointer<Float>, _ o: UnsafePointer<Int32>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
    outside z: UnsafePointer<Float>, streaming: Bool = false
) {
    var i = 0
    while i + 16 <= n {
        let r = gatherTaps(p, lanes16(o + i), or: SIMD16(repeating: z.pointee))
        if streaming { stn_stream_f32x16(out + i, r) } else { storeLanes16(r, out + i) }
        i += 16
    }
    while i < n {
        out[i] = tapValue(p, o[i], zero: z)
        i += 1
    }
}

// MARK: - Bicubic forward

/// Per block: 16 tap offsets per position (index 4·j + i for x tap i, y tap j, stride B), the
/// x and y cubic weights (4 each, stride B) and the fractions tx, ty.
@inlinable @inline(__always)
func bicubicBlockTaps<T: STNFloat, P: SamplingPolicy>(
    _: P.Type, _ g: UnsafePointer<T>, _ n: Int, width W: Int, height H: Int,
    _ o: UnsafeMutablePointer<Int32>, _ w: UnsafeMutablePointer<T>
) {
    let B = sampleBlock
    let W32 = Int32(truncatingIfNeeded: W), H32 = Int32(truncatingIfNeeded: H)
    for k in 0..<n {
        let ix = unnormalizeVector(g[2 * k], size: W, alignCorners: P.alignCorners)
        let iy = unnormalizeVector(g[2 * k + 1], size: H, alignCorners: P.alignCorners)
        // BicubicTaps2D's arithmetic, with 32-bit indices.
        let fx = ix.rounded(.down), fy = iy.rounded(.down)
        let tx = ix - fx, ty = iy - fy
        let cx = cubicCoefficients(tx), cy = cubicCoefficients(ty)
        @inline(__always) func tap(_ v: T, _ size: Int, _ size32: Int32) -> Int32 {
            let p = padVector(v, size: size, padding: P.padding, alignCorners: P.alignCorners)
            let i = clampedIndex(p, lo: -1, hi: size32)
            return i | ~insideMask(i, size32)
        }
        let xs = (tap(fx - 1, W, W32), tap(fx, W, W32), tap(fx + 1, W, W32), tap(fx + 2, W, W32))
        let ys = (tap(fy - 1, H, H32), tap(fy, H, H32), tap(fy + 1, H, H32), tap(fy + 2, H, H32))
        @inline(__always) func put(_ j: Int, _ y: Int32) {
            // Taps are −1 (all ones) when outside: OR-ing the signs masks the combination.
            let row = y &* W32, yOut = y >> 31
            o[(4 * j) * B + k] = (row &+ xs.0) | (xs.0 >> 31) | yOut
            o[(4 * j + 1) * B + k] = (row &+ xs.1) | (xs.1 >> 31) | yOut
            o[(4 * j + 2) * B + k] = (row &+ xs.2) | (xs.2 >> 31) | yOut
            o[(4 * j + 3) * B + k] = (row &+ xs.3) | (xs.3 >> 31) | yOut
        }
        put(0, ys.0); put(1, ys.1); put(2, ys.2); put(3, ys.3)
        w[k] = cx.0; w[B + k] = cx.1; w[2 * B + k] = cx.2; w[3 * B + k] = cx.3
        w[4 * B + k] = cy.0; w[5 * B + k] = cy.1; w[6 * B + k] = cy.2; w[7 * B + k] = cy.3
        w[8 * B + k] = tx; w[9 * B + k] = ty
    }
}

/// Lane k of a block's bicubic sample of plane p: its 16 taps (`z.pointee` for a tap outside)
/// weighted row by row as in the scalar kernel. The one per-lane form of the scalar loop, the
/// vector path's tail and the many-channel path's border positions.
@inlinable @inline(__always)
func bicubicLane<T: STNFloat>(
    _ p: UnsafePointer<T>, _ o: UnsafePointer<Int32>, _ w: UnsafePointer<T>, _ k: Int, zero z: UnsafePointer<T>
) -> T {
    let B = sampleBlock
    let cx0 = w[k], cx1 = w[B + k], cx2 = w[2 * B + k], cx3 = w[3 * B + k]
    @inline(__always) func row(_ j: Int) -> T {
        let base = 4 * j * B + k
        return (cx0 * tapValue(p, o[base], zero: z)).addingProduct(cx1, tapValue(p, o[base + B], zero: z))
            .addingProduct(cx2, tapValue(p, o[base + 2 * B], zero: z))
            .addingProduct(cx3, tapValue(p, o[base + 3 * B], zero: z))
    }
    return (w[4 * B + k] * row(0)).addingProduct(w[5 * B + k], row(1))
        .addingProduct(w[6 * B + k], row(2)).addingProduct(w[7 * B + k], row(3))
}

/// Bicubic forward for `positions` on the block path `path` (`.fourChannels`, `.positionsOuter`,
/// `.gathered` or `.blocks`: KernelMap2D.swift).
@inlinable
func bicubic2DForwardBlocks<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<T>, _ source: G,
    _ output: UnsafeMutablePointer<T>, _ positions: Range<Int>, _ policy: P.Type,
    _ fill: UnsafePointer<T>?, _ path: SamplerKernelPath
) where G.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    withPointScratch(T.self) { pts in
        withBlockScratch(T.self, ints: 16 * 64, reals: 11 * 64 + 1) { o, w in
            let B = sampleBlock
            let r = w + 10 * B
            let zero = w + 11 * B
            zero.initialize(to: 0)
            forEachBatchSegment(positions, plane: plane) { b, flat in
                let src = input + b * C * inPlane
                let dst = output + b * C * plane - b * plane
                var prefetch = nextInputPrefetch(
                    positions, flat, b, plane: plane, input: src, count: C * inPlane,
                    stepsPerBlock: C)
                forEachBlock(flat) { q, n in
                    bicubicBlockTaps(policy, source.points(b, q, n, pts), n, width: W, height: H, o, w)
                    if path == .fourChannels || path == .positionsOuter {
                        prefetch.step(C)
                        bicubicPositionsOuter(
                            src, inPlane, dst + q, plane, C, o, UnsafePointer(w), n, fill: fill,
                            zero: UnsafePointer(zero), fourChannels: path == .fourChannels)
                        return
                    }
                    if path == .gathered {
                        for c in 0..<C {
                            prefetch.step()
                            let z = fill.map { $0 + c } ?? UnsafePointer(zero)
                            bicubicChannelGathered(
                                asFloat(src + c * inPlane), W, o, asFloat(UnsafePointer(w)),
                                asFloat(dst + c * plane + q), n, outside: asFloat(z))
                        }
                        return
                    }
                    for c in 0..<C {
                        prefetch.step()
                        let p = src + c * inPlane
                        let z = fill.map { $0 + c } ?? UnsafePointer(zero)
                        for k in 0..<n { r[k] = bicubicLane(p, o, w, k, zero: z) }
                        (dst + c * plane + q).update(from: r, count: n)
                    }
                }
            }
        }
    }
}

/// Whether lanes i..<i+16 of a bicubic block have all 16 taps inside an input W wide: each
/// tap (row j, column m) at its first tap's offset + j·W + m.
@inlinable @inline(__always)
func allInsideRows(_ o: UnsafePointer<Int32>, _ i: Int, _ W: Int) -> Bool {
    let B = sampleBlock
    let first = lanes16(o + i)
    if anyOutside(first) { return false }
    var same = true
    for j in 0..<4 {
        for m in 0..<4 where j + m > 0 {
            same =
                same
                && stn_all_equal_i32x16(
                    lanes16(o + (4 * j + m) * B + i),
                    first &+ Int32(truncatingIfNeeded: j * W + m)) != 0
        }
    }
    return same
}

/// One channel of a block, lanes 0..<n, Float: 16 lanes at a time, the rest one by one; the same
/// operations per lane as the loop above. Chunks with every tap inside go four positions at a
/// time through `bicubicFourPositions` (row loads and shuffles instead of gathers:
/// docs/performance.md#gridsample2dblocksswift); others gather, and where a row's four taps are
/// two inside pairs they are read as pairs.
@inlinable @inline(__always)
func bicubicChannelGathered(
    _ p: UnsafePointer<Float>, _ W: Int, _ o: UnsafePointer<Int32>, _ w: UnsafePointer<Float>,
    _ out: UnsafeMutablePointer<Float>, _ n: Int, outside z: UnsafePointer<Float>
) {
    let B = sampleBlock
    var i = 0
    while i + 16 <= n {
        if allInsideRows(o, i, W) {
            for k in stride(from: i, to: i + 16, by: 4) {
                storeLanes4(
                    bicubicFourPositions(
                        p + Int(o[k]), p + Int(o[k + 1]), p + Int(o[k + 2]), p + Int(o[k + 3]),
                        rowStride: W, w + k), out + k)
            }
            i += 16
            continue
        }
        let cx0 = lanes16(w + i), cx1 = lanes16(w + B + i), cx2 = lanes16(w + 2 * B + i), cx3 = lanes16(w + 3 * B + i)
        @inline(__always) func row(_ j: Int) -> SIMD16<Float> {
            let base = o + 4 * j * B + i
            let o0 = lanes16(base), o1 = lanes16(base + B), o2 = lanes16(base + 2 * B), o3 = lanes16(base + 3 * B)
            let t0, t1, t2, t3: SIMD16<Float>
            if arePairs(o0, o1) && arePairs(o2, o3) {
                (t0, t1) = gatherTapPairs(p, o0)
                (t2, t3) = gatherTapPairs(p, o2)
            } else {
                let f = SIMD16<Float>(repeating: z.pointee)
                t0 = gatherTaps(p, o0, or: f); t1 = gatherTaps(p, o1, or: f)
                t2 = gatherTaps(p, o2, or: f); t3 = gatherTaps(p, o3, or: f)
            }
            return (cx0 * t0).addingProduct(cx1, t1).addingProduct(cx2, t2).addingProduct(cx3, t3)
        }
        let r = (lanes16(w + 4 * B + i) * row(0)).addingProduct(lanes16(w + 5 * B + i), row(1))
            .addingProduct(lanes16(w + 6 * B + i), row(2)).addingProduct(lanes16(w + 7 * B + i), row(3))
        storeLanes16(r, out + i)
        i += 16
    }
    while i < n {
        out[i] = bicubicLane(p, o, w, i, zero: z)
        i += 1
    }
}

/// One inside position's bicubic sample of up to four channels: channel i's plane is `p[i]`
/// (callers repeat a plane to fill unused slots), its rows of taps start at offsets `r0`…`r3`.
/// The channels' sixteen rows sit in the lanes of four column vectors (tap i of row j of channel
/// c in lane 4·j + c of column i), so each lane sees the scalar kernel's row sum (`cx0·t0`, then
/// fused multiply-adds) and each channel its sum of rows in the same order: bit for bit the
/// scalar result. Per four channels: 16 row loads, 20 shuffles and 8 vector FMAs in place of 64
/// scalar FMAs (docs/performance.md#gridsample2dblocksswift).
@inlinable @inline(__always)
func bicubicFourChannels(
    _ p0: UnsafePointer<Float>, _ p1: UnsafePointer<Float>, _ p2: UnsafePointer<Float>, _ p3: UnsafePointer<Float>,
    _ r0: Int, _ r1: Int, _ r2: Int, _ r3: Int,
    _ cx: SIMD4<Float>, _ cy: SIMD4<Float>
) -> SIMD4<Float> {
    let t = stn_columns_4x4x4(p0, p1, p2, p3, r0, r1, r2, r3)
    let t0 = stn_part_f32x64(t, 0), t1 = stn_part_f32x64(t, 1), t2 = stn_part_f32x64(t, 2), t3 = stn_part_f32x64(t, 3)
    let rows = (cx[0] * t0).addingProduct(cx[1], t1).addingProduct(cx[2], t2).addingProduct(cx[3], t3)
    let q = stn_quarters_f32x16(rows)
    // Opaque: otherwise LLVM takes the four lane stores that follow as a reason to turn all of
    // the above back into scalar loads and FMAs.
    return stn_opaque_f32x4(
        (cy[0] * q.q0).addingProduct(cy[1], q.q1).addingProduct(cy[2], q.q2)
            .addingProduct(cy[3], q.q3))
}

/// The inside positions of `bicubicPositionsOuter` for Float, four channels at a time
/// (`bicubicFourChannels`); the last group repeats its last plane in the unused slots.
@inlinable @inline(__always)
func bicubicChannelsInFours(
    _ src: UnsafePointer<Float>, _ inPlane: Int, _ out: UnsafeMutablePointer<Float>, _ plane: Int, _ C: Int,
    _ r0: Int32, _ r1: Int32, _ r2: Int32, _ r3: Int32, _ cx: SIMD4<Float>, _ cy: SIMD4<Float>
) {
    var c = 0
    while c < C {
        let last = C - 1 - c
        let p = src + c * inPlane
        let r = bicubicFourChannels(
            p, p + Swift.min(1, last) * inPlane, p + Swift.min(2, last) * inPlane,
            p + Swift.min(3, last) * inPlane, Int(r0), Int(r1), Int(r2), Int(r3), cx, cy)
        let o = out + c * plane
        o[0] = r[0]
        if last >= 1 { o[plane] = r[1] }
        if last >= 2 { o[2 * plane] = r[2] }
        if last >= 3 { o[3 * plane] = r[3] }
        c += 4
    }
}

/// Bicubic forward of a block with positions outer and channels inner (see
/// `bilinearPositionsOuter`): where each row's four taps are consecutive and inside, a row is one
/// 4-lane load, or with `fourChannels` (the `.fourChannels` path: Float, AVX-512) four channels'
/// rows go through `bicubicFourChannels` together. Same operations per element as the loops above.
@inlinable @inline(__always)
func bicubicPositionsOuter<T: STNFloat>(
    _ src: UnsafePointer<T>, _ inPlane: Int, _ dst: UnsafeMutablePointer<T>, _ plane: Int, _ C: Int,
    _ o: UnsafePointer<Int32>, _ w: UnsafePointer<T>, _ n: Int, fill: UnsafePointer<T>?, zero: UnsafePointer<T>,
    fourChannels: Bool
) {
    let B = sampleBlock
    let stride = MemoryLayout<T>.stride
    for k in 0..<n {
        let cx0 = w[k], cx1 = w[B + k], cx2 = w[2 * B + k], cx3 = w[3 * B + k]
        let cy0 = w[4 * B + k], cy1 = w[5 * B + k], cy2 = w[6 * B + k], cy3 = w[7 * B + k]
        let r0 = o[k], r1 = o[4 * B + k], r2 = o[8 * B + k], r3 = o[12 * B + k]
        @inline(__always) func run(_ j: Int, _ first: Int32) -> Bool {
            first >= 0 && o[(4 * j + 1) * B + k] == first &+ 1 && o[(4 * j + 2) * B + k] == first &+ 2
                && o[(4 * j + 3) * B + k] == first &+ 3
        }
        let out = dst + k
        if run(0, r0) && run(1, r1) && run(2, r2) && run(3, r3) {
            let b0 = Int(r0) * stride, b1 = Int(r1) * stride, b2 = Int(r2) * stride, b3 = Int(r3) * stride
            if fourChannels {
                @inline(__always) func f32(_ v: T) -> Float { unsafeBitCast(v, to: Float.self) }
                bicubicChannelsInFours(
                    asFloat(src), inPlane, asFloat(out), plane, C, r0, r1, r2, r3,
                    SIMD4(f32(cx0), f32(cx1), f32(cx2), f32(cx3)),
                    SIMD4(f32(cy0), f32(cy1), f32(cy2), f32(cy3)))
                continue
            }
            for c in 0..<C {
                let p = UnsafeRawPointer(src + c * inPlane)
                @inline(__always) func row(_ at: Int) -> T {
                    let v = p.loadUnaligned(fromByteOffset: at, as: SIMD4<T>.self)
                    return (cx0 * v[0]).addingProduct(cx1, v[1]).addingProduct(cx2, v[2]).addingProduct(cx3, v[3])
                }
                out[c * plane] = (cy0 * row(b0)).addingProduct(cy1, row(b1)).addingProduct(cy2, row(b2))
                    .addingProduct(cy3, row(b3))
            }
        } else {
            for c in 0..<C {
                out[c * plane] = bicubicLane(src + c * inPlane, o, w, k, zero: fill.map { $0 + c } ?? zero)
            }
        }
    }
}
