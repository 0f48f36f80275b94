// Block form of the 2-D bilinear backward (see GridSample2DBlocks.swift for the scheme): tap
// offsets, weights and coordinate gradients for a block of positions in one vectorised loop, then
// per channel the scatter (input gradient, positions in order, as the scalar kernel) or the
// channel-ordered sums (grid gradient), with exactly the scalar kernels' operations per element.

import STNSIMD

/// `sourceIndexVectorWithGradient` + `BilinearTaps2D` for a block: offsets o (4 × B), fractions
/// fw, fe, fn, fs at f[0..<4B] and the coordinate gradients mx, my at f[4B..<6B].
@inlinable @inline(__always)
func bilinearBlockTapsWithGradient<T: STNFloat, P: SamplingPolicy>(
    _: P.Type, _ g: UnsafePointer<T>, _ n: Int, width W: Int, height H: Int,
    _ o: UnsafeMutablePointer<Int32>, _ f: UnsafeMutablePointer<T>
) {
    let B = sampleBlock
    let W32 = Int32(truncatingIfNeeded: W), H32 = Int32(truncatingIfNeeded: H)
    for i in 0..<n {
        let (x, mx) = sourceIndexVectorWithGradient(g[2 * i], size: W, padding: P.padding, alignCorners: P.alignCorners)
        let (y, my) = sourceIndexVectorWithGradient(
            g[2 * i + 1], size: H, padding: P.padding, alignCorners: P.alignCorners)
        let xw = x.rounded(.down), yn = y.rounded(.down)
        let fw = x - xw, fn = y - yn
        f[i] = fw; f[B + i] = 1 - fw; f[2 * B + i] = fn; f[3 * B + i] = 1 - fn
        f[4 * B + i] = mx; f[5 * B + i] = my
        storeBilinearOffsets(xw, yn, W32, H32, o, i)
    }
}

/// Scratch of the bilinear grid-gradient block kernels: a block's grid points and gradients
/// (2·B values each), offsets o (4·B), fractions and coordinate gradients at f[0..<6B], a zero
/// at f[6B] (`zero`), and room for the x and y sums at f[7B..<9B].
@inlinable @inline(__always)
func withGridGradientScratch<T: STNFloat>(
    _: T.Type,
    _ body: (
        _ points: UnsafeMutablePointer<T>, _ gradients: UnsafeMutablePointer<T>,
        _ o: UnsafeMutablePointer<Int32>, _ f: UnsafeMutablePointer<T>, _ zero: UnsafeMutablePointer<T>
    ) -> Void
) {
    withPointScratch(T.self) { pts in
        withPointScratch(T.self) { outScratch in
            // 16 ints of slack: the Float path reads whole 16-lane chunks of the last offsets.
            withBlockScratch(T.self, ints: 4 * 64 + 16, reals: 9 * 64) { o, f in
                let zero = f + 6 * sampleBlock
                zero.initialize(to: 0)
                body(pts, outScratch, o, f, zero)
            }
        }
    }
}

/// Adds channel c's term to lane i's grid-gradient sums gx[i], gy[i] (the scalar kernel's
/// operations), from its taps, its grad_output value and its fractions f (block layout).
@inlinable @inline(__always)
func accumulateGridLane<T: STNFloat>(
    _ gx: UnsafeMutablePointer<T>, _ gy: UnsafeMutablePointer<T>, _ f: UnsafePointer<T>, _ i: Int,
    _ nw: T, _ ne: T, _ sw: T, _ se: T, _ gval: T
) {
    let B = sampleBlock
    let fw = f[i], fe = f[B + i], fn = f[2 * B + i], fs = f[3 * B + i]
    gx[i] = gx[i] + ((ne - nw) * fs + (se - sw) * fn) * gval
    gy[i] = gy[i] + ((sw - nw) * fe + (se - ne) * fw) * gval
}

/// Bilinear grid gradient for `positions`, block form of `gridSample2DBackwardGrid` on the block
/// path `path` (`.rowWindow`, `.gathered` or `.blocks`: KernelMap2D.swift): grid points from
/// `source`, gradients to `sink`, outside taps reading `fill[c]` (or zero).
@inlinable
func bilinear2DBackwardGridBlocks<T: STNFloat, P: SamplingPolicy, G: GridSource2D, K: GridGradientSink2D>(
    _ s: SamplingShape2D, _ gradOutput: UnsafePointer<T>, _ input: UnsafePointer<T>,
    _ source: G, _ sink: K, _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?,
    _ path: SamplerKernelPath, prefetchThrough: Int
) where G.Scalar == T, K.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    withGridGradientScratch(T.self) { pts, outScratch, o, f, zero in
        let B = sampleBlock
        forEachBatchSegment(positions, plane: plane) { b, flat in
            let src = input + b * C * inPlane
            let gOut = gradOutput + b * C * plane - b * plane
            // Steps: one per channel of each 16-lane chunk.
            var prefetch = nextInputPrefetch(
                positions.lowerBound..<Swift.max(positions.upperBound, prefetchThrough),
                flat, b, plane: plane, input: src, count: C * inPlane,
                stepsPerBlock: sampleBlock / 16 * C)
            forEachBlock(flat) { q, n in
                bilinearBlockTapsWithGradient(policy, source.points(b, q, n, pts), n, width: W, height: H, o, f)
                let out = sink.destination(q, outScratch)
                defer { sink.commit(b, q, n, out) }
                if path == .rowWindow || path == .gathered {
                    bilinearGridGradientBlock(
                        s, src, gOut + q, o, f, q, n, fill, zero, &prefetch, out, windowed: path == .rowWindow)
                    return
                }
                prefetch.step(sampleBlock / 16 * C)
                if C < 4 {
                    // Few channels: channel outer, lanes inner (vectorised across the block).
                    let gx = f + 7 * B, gy = f + 8 * B
                    for i in 0..<n { gx[i] = 0; gy[i] = 0 }
                    @inline(__always) func accumulate(_ i: Int, _ nw: T, _ ne: T, _ sw: T, _ se: T, _ gval: T) {
                        accumulateGridLane(gx, gy, UnsafePointer(f), i, nw, ne, sw, se, gval)
                    }
                    if n == B && allInside(o, 4 * B) {
                        for c in 0..<C {
                            let p = src + c * inPlane
                            let go = gOut + c * plane + q
                            for i in 0..<B {
                                accumulate(
                                    i, p[Int(o[i])], p[Int(o[B + i])], p[Int(o[2 * B + i])], p[Int(o[3 * B + i])], go[i]
                                )
                            }
                        }
                    } else {
                        for c in 0..<C {
                            let p = src + c * inPlane
                            let go = gOut + c * plane + q
                            let z = fill.map { $0 + c } ?? UnsafePointer(zero)
                            for i in 0..<n {
                                accumulate(
                                    i, tapValue(p, o[i], zero: z), tapValue(p, o[B + i], zero: z),
                                    tapValue(p, o[2 * B + i], zero: z), tapValue(p, o[3 * B + i], zero: z), go[i])
                            }
                        }
                    }
                    for i in 0..<n {
                        out[2 * i] = gx[i] * f[4 * B + i]
                        out[2 * i + 1] = gy[i] * f[5 * B + i]
                    }
                    return
                }
                // Many channels: lane outer, channel inner, so the sums stay in registers (and
                // run over the channels in order, as in the scalar kernel).
                for i in 0..<n {
                    (out[2 * i], out[2 * i + 1]) = bilinearGridLane(
                        src, inPlane, gOut + q, plane, C, o,
                        UnsafePointer(f), i, fill: fill,
                        zero: UnsafePointer(zero))
                }
            }
        }
    }
}

/// The grid gradient (x, y) of lane i of a block: sums over the channels in order, with
/// `gradientOutput[c · plane + i]`; outside taps read `fill[c]` or zero. The one per-lane form of
/// the many-channel loop and the vector path's tail.
@inlinable @inline(__always)
func bilinearGridLane<T: STNFloat>(
    _ src: UnsafePointer<T>, _ inPlane: Int, _ gOut: UnsafePointer<T>, _ plane: Int, _ C: Int,
    _ o: UnsafePointer<Int32>, _ f: UnsafePointer<T>, _ i: Int, fill: UnsafePointer<T>?, zero: UnsafePointer<T>
) -> (T, T) {
    let B = sampleBlock
    let o00 = o[i], o01 = o[B + i], o10 = o[2 * B + i], o11 = o[3 * B + i]
    let fw = f[i], fe = f[B + i], fn = f[2 * B + i], fs = f[3 * B + i]
    var ax: T = 0, ay: T = 0
    let go = gOut + i
    if (o00 | o01 | o10 | o11) >= 0 {
        let i00 = Int(o00), i01 = Int(o01), i10 = Int(o10), i11 = Int(o11)
        for c in 0..<C {
            let p = src + c * inPlane
            let nw = p[i00], ne = p[i01], sw = p[i10], se = p[i11]
            let gval = go[c * plane]
            ax = ax + ((ne - nw) * fs + (se - sw) * fn) * gval
            ay = ay + ((sw - nw) * fe + (se - ne) * fw) * gval
        }
    } else {
        for c in 0..<C {
            let p = src + c * inPlane
            let z = fill.map { $0 + c } ?? zero
            let nw = tapValue(p, o00, zero: z), ne = tapValue(p, o01, zero: z)
            let sw = tapValue(p, o10, zero: z), se = tapValue(p, o11, zero: z)
            let gval = go[c * plane]
            ax = ax + ((ne - nw) * fs + (se - sw) * fn) * gval
            ay = ay + ((sw - nw) * fe + (se - ne) * fw) * gval
        }
    }
    return (ax * f[4 * B + i], ay * f[5 * B + i])
}

/// Grid gradient of a block, Float: channel by channel, 16 lanes at a time with gathers (tap pairs
/// where a chunk's taps are all inside), the rest lane by lane; the sums wait in gx and gy
/// between channels, so they still run over the channels in order with the same operations per
/// lane as the loops above. Writes the x and y gradients to gx and gy.
///
/// Channel outer because LLVM split a channel-inner loop body into 16-, 8-, 4-lane and scalar
/// pieces. Measurements: docs/performance.md#gridsample2dbackwardblocksswift
@inlinable @inline(__always)
func bilinearGridGradientGathered(
    _ src: UnsafePointer<Float>, _ inPlane: Int, _ gOut: UnsafePointer<Float>, _ plane: Int, _ C: Int,
    _ o: UnsafePointer<Int32>, _ f: UnsafePointer<Float>,
    _ gx: UnsafeMutablePointer<Float>, _ gy: UnsafeMutablePointer<Float>, _ n: Int,
    fill: UnsafePointer<Float>?, zero: UnsafePointer<Float>, _ prefetch: inout NextInputPrefetch
) {
    let B = sampleBlock
    for k in 0..<n { gx[k] = 0; gy[k] = 0 }
    for c in 0..<C {
        let p = src + c * inPlane
        let zp = fill.map { $0 + c } ?? zero, z = zp.pointee
        let go = gOut + c * plane
        var i = 0
        while i + 16 <= n {
            prefetch.step()
            let o00 = lanes16(o + i), o01 = lanes16(o + B + i), o10 = lanes16(o + 2 * B + i),
                o11 = lanes16(o + 3 * B + i)
            let fw = lanes16(f + i), fe = lanes16(f + B + i), fn = lanes16(f + 2 * B + i), fs = lanes16(f + 3 * B + i)
            let nw, ne, sw, se: SIMD16<Float>
            if !anyOutside(o00 | o01 | o10 | o11) {
                (nw, ne) = gatherTapPairs(p, o00)
                (sw, se) = gatherTapPairs(p, o10)
            } else {
                let zv = SIMD16<Float>(repeating: z)
                nw = gatherTaps(p, o00, or: zv); ne = gatherTaps(p, o01, or: zv)
                sw = gatherTaps(p, o10, or: zv); se = gatherTaps(p, o11, or: zv)
            }
            let gval = lanes16(go + i)
            storeLanes16(lanes16(gx + i) + ((ne - nw) * fs + (se - sw) * fn) * gval, gx + i)
            storeLanes16(lanes16(gy + i) + ((sw - nw) * fe + (se - ne) * fw) * gval, gy + i)
            i += 16
        }
        while i < n {
            accumulateGridLane(
                gx, gy, f, i, tapValue(p, o[i], zero: zp), tapValue(p, o[B + i], zero: zp),
                tapValue(p, o[2 * B + i], zero: zp), tapValue(p, o[3 * B + i], zero: zp), go[i])
            i += 1
        }
    }
    for k in 0..<n {
        gx[k] = gx[k] * f[4 * B + k]
        gy[k] = gy[k] * f[5 * B + k]
    }
}

/// Grid gradient of a block with at least `manyChannels` channels, Float: chunk by chunk (16
/// lanes, fewer where an output row ends), each chunk's sums in registers over the channels in
/// order, with the same operations per lane as the loops above. A chunk whose taps fit a
/// `RowWindow` reads them from whole rows, the others gather them. Writes the x and y gradients
/// to gx and gy (docs/performance.md#gridsample2dbackwardblocksswift).
@inlinable @inline(__always)
func bilinearGridGradientWindowed(
    _ src: UnsafePointer<Float>, _ inPlane: Int, width W: Int, _ gOut: UnsafePointer<Float>, _ plane: Int, _ C: Int,
    _ o: UnsafePointer<Int32>, _ f: UnsafePointer<Float>,
    _ gx: UnsafeMutablePointer<Float>, _ gy: UnsafeMutablePointer<Float>, _ n: Int, at q: Int, outputWidth Wo: Int,
    fill: UnsafePointer<Float>?, _ prefetch: inout NextInputPrefetch
) {
    let B = sampleBlock
    forEachRowChunk(n, at: q, outputWidth: Wo) { i, m in
        prefetch.step(C)
        let o00 = firstLanes(o + i, m), o01 = firstLanes(o + B + i, m)
        let o10 = firstLanes(o + 2 * B + i, m), o11 = firstLanes(o + 3 * B + i, m)
        let fw = lanes16(f + i), fe = lanes16(f + B + i), fn = lanes16(f + 2 * B + i), fs = lanes16(f + 3 * B + i)
        // Each branch ends in its own stores: returning the sums (or the taps) from a closure as a
        // tuple went through memory, and LLVM split the arithmetic into 8-, 4-, 2-lane and scalar
        // pieces.
        @inline(__always) func add(
            _ ax: inout SIMD16<Float>, _ ay: inout SIMD16<Float>, _ c: Int,
            _ nw: SIMD16<Float>, _ ne: SIMD16<Float>, _ sw: SIMD16<Float>, _ se: SIMD16<Float>
        ) {
            let gval = firstLanes(gOut + c * plane + i, m)
            ax = ax + ((ne - nw) * fs + (se - sw) * fn) * gval
            ay = ay + ((sw - nw) * fe + (se - ne) * fw) * gval
        }
        @inline(__always) func store(_ ax: SIMD16<Float>, _ ay: SIMD16<Float>) {
            storeFirstLanes(ax * lanes16(f + 4 * B + i), gx + i, m)
            storeFirstLanes(ay * lanes16(f + 5 * B + i), gy + i, m)
        }
        if m >= 4, let (win, inside) = bilinearWindow(o00, o01, o10, o11, width: W, readable: inPlane) {
            withRowCount(win) { rows in
                var ax = SIMD16<Float>(repeating: 0), ay = ax
                for c in 0..<C {
                    var t = bilinearWindowTaps(src + c * inPlane, width: W, win, rows: rows)
                    if let inside { t = inside.masking(t, outside: SIMD16(repeating: fill?[c] ?? 0)) }
                    let (nw, ne, sw, se) = t
                    add(&ax, &ay, c, nw, ne, sw, se)
                }
                store(ax, ay)
            }
        } else {
            var ax = SIMD16<Float>(repeating: 0), ay = ax
            for c in 0..<C {
                let p = src + c * inPlane
                let zv = SIMD16<Float>(repeating: fill?[c] ?? 0)
                add(
                    &ax, &ay, c, gatherTaps(p, o00, or: zv), gatherTaps(p, o01, or: zv), gatherTaps(p, o10, or: zv),
                    gatherTaps(p, o11, or: zv))
            }
            store(ax, ay)
        }
    }
}

/// The grid gradient of a block whose scratch is `withGridGradientScratch`'s
/// (`bilinearGridGradientWindowed` when `windowed`, the `.rowWindow` path; else
/// `bilinearGridGradientGathered`), the (x, y) gradients written interleaved to `out`. Float only
/// (the map chose a gathering path).
@inlinable @inline(__always)
func bilinearGridGradientBlock<T: STNFloat>(
    _ s: SamplingShape2D, _ src: UnsafePointer<T>, _ gOut: UnsafePointer<T>,
    _ o: UnsafePointer<Int32>, _ f: UnsafeMutablePointer<T>, _ q: Int, _ n: Int, _ fill: UnsafePointer<T>?,
    _ zero: UnsafePointer<T>, _ prefetch: inout NextInputPrefetch, _ out: UnsafeMutablePointer<T>, windowed: Bool
) {
    let B = sampleBlock
    let gx = f + 7 * B, gy = f + 8 * B
    if windowed {
        bilinearGridGradientWindowed(
            asFloat(src), s.inputPlane, width: s.inputWidth, asFloat(gOut), s.outputPlane,
            s.channels, o, asFloat(UnsafePointer(f)), asFloat(gx), asFloat(gy), n, at: q,
            outputWidth: s.outputWidth, fill: fill.map { asFloat($0) }, &prefetch)
    } else {
        bilinearGridGradientGathered(
            asFloat(src), s.inputPlane, asFloat(gOut), s.outputPlane, s.channels, o,
            asFloat(UnsafePointer(f)), asFloat(gx), asFloat(gy), n,
            fill: fill.map { asFloat($0) }, zero: asFloat(UnsafePointer(zero)), &prefetch)
    }
    for i in 0..<n {
        out[2 * i] = gx[i]
        out[2 * i + 1] = gy[i]
    }
}

/// Bilinear input gradient for batch element `b`, channels `channels`, block form of
/// `gridSample2DBackwardInput`: each channel plane receives its contributions in position order.
@inlinable
func bilinear2DBackwardInputBlocks<T: STNFloat, P: SamplingPolicy, G: GridSource2D>(
    _ s: SamplingShape2D, _ gradOutput: UnsafePointer<T>, _ source: G,
    _ gradInput: UnsafeMutablePointer<T>, _ b: Int, _ channels: Range<Int>, _ policy: P.Type
) where G.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    let gOut = gradOutput + b * C * plane
    let gIn = gradInput + b * C * inPlane
    withPointScratch(T.self) { pts in
        withBlockScratch(T.self, ints: 4 * 64, reals: 4 * 64) { o, w in
            let B = sampleBlock
            forEachBlock(0..<plane) { q, n in
                bilinearBlockTaps(policy, source.points(b, b * plane + q, n, pts), n, width: W, height: H, o, w)
                for c in channels {
                    let go = gOut + c * plane + q
                    let dst = gIn + c * inPlane
                    for i in 0..<n {
                        let gval = go[i]
                        let o00 = o[i], o01 = o[B + i], o10 = o[2 * B + i], o11 = o[3 * B + i]
                        if o00 >= 0 { dst[Int(o00)] += w[i] * gval }
                        if o01 >= 0 { dst[Int(o01)] += w[B + i] * gval }
                        if o10 >= 0 { dst[Int(o10)] += w[2 * B + i] * gval }
                        if o11 >= 0 { dst[Int(o11)] += w[3 * B + i] * gval }
                    }
                }
            }
        }
    }
}

/// Both bilinear backward passes for batch element `b`, block by block (Float, AVX-512 build,
/// zeros padding — fill included): each block's offsets and fractions are computed once, its grid
/// gradient summed (as `bilinearGridGradientGathered`), then its contributions scattered into
/// `gradInput` channel by channel. Each channel plane still receives its contributions in
/// position order, and each position's grid gradient still sums the channels in order, with the
/// scatter's weights `fs·fe`, … formed from the same fractions as in `bilinearBlockTaps`: bit for
/// bit the two separate passes. In one sweep the grid and grad_output are read once and the
/// coordinates computed once (docs/performance.md#gridsample2dbackwardblocksswift). The
/// `.oneSweep` path of KernelMap2D.swift; its grid gradient takes `backwardGrid2DPath`'s path and
/// its scatter `oneSweepScatter`'s.
@inlinable
func bilinear2DBackwardBothBlocks<T: STNFloat, P: SamplingPolicy, G: GridSource2D, K: GridGradientSink2D>(
    _ s: SamplingShape2D, _ gradOutput: UnsafePointer<T>, _ input: UnsafePointer<T>, _ source: G,
    _ gradInput: UnsafeMutablePointer<T>, _ sink: K, _ b: Int, _ policy: P.Type, _ fill: UnsafePointer<T>?,
    prefetchNext: Bool
) where G.Scalar == T, K.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    let windowed = backwardGrid2DPath(T.self, s, .bilinear, P.padding) == .rowWindow
    // The first C16 channels go through a pixel-major copy of the input gradient
    // (`scatterChannelVectors`), 2 to 4 channels through one with four floats per pixel
    // (`scatterChannelQuads`); the others are scattered plane by plane.
    let (C16, quads) = oneSweepScatter(T.self, s)
    let scattered = quads ? C : C16  // channels not scattered plane by plane
    let copyFloats = quads ? 4 * (inPlane + 1) : C16 * (inPlane + 1 + sampleBlock)
    withGridGradientScratch(T.self) { pts, outScratch, o, f, zero in
        withUnsafeTemporaryAllocation(byteCount: Swift.max(1, copyFloats) * 4, alignment: 64) { raw in
            let B = sampleBlock
            let src = input + b * C * inPlane
            let gOut = gradOutput + b * C * plane - b * plane  // + q: position q (flat) of channel 0
            let gIn = gradInput + b * C * inPlane
            let flat = (b * plane)..<((b + 1) * plane)
            let pixels = raw.baseAddress!.bindMemory(to: Float.self, capacity: Swift.max(1, copyFloats))
            let goT = pixels + C16 * (inPlane + 1)
            if C16 > 0 { pixels.update(repeating: 0, count: C16 * (inPlane + 1)) }
            if quads { pixels.update(repeating: 0, count: 4 * (inPlane + 1)) }
            var prefetch = nextInputPrefetch(
                flat.lowerBound..<(prefetchNext ? flat.upperBound + 1 : flat.upperBound),
                flat, b, plane: plane, input: src, count: C * inPlane,
                stepsPerBlock: sampleBlock / 16 * C)
            forEachBlock(flat) { q, n in
                bilinearBlockTapsWithGradient(policy, source.points(b, q, n, pts), n, width: W, height: H, o, f)
                let out = sink.destination(q, outScratch)
                bilinearGridGradientBlock(s, src, gOut + q, o, f, q, n, fill, zero, &prefetch, out, windowed: windowed)
                sink.commit(b, q, n, out)
                if C16 > 0 {
                    scatterChannelVectors(
                        asFloat(gOut + q), plane, C16, o, asFloat(UnsafePointer(f)), n, pixels, goT, inPlane)
                }
                if quads {
                    scatterChannelQuads(asFloat(gOut + q), plane, C, o, asFloat(UnsafePointer(f)), n, pixels, inPlane)
                }
                for c in scattered..<C {
                    let go = gOut + c * plane + q
                    let dst = gIn + c * inPlane
                    for i in 0..<n {
                        let gval = go[i]
                        let fw = f[i], fe = f[B + i], fn = f[2 * B + i], fs = f[3 * B + i]
                        let o00 = o[i], o01 = o[B + i], o10 = o[2 * B + i], o11 = o[3 * B + i]
                        if o00 >= 0 { dst[Int(o00)] += fs * fe * gval }
                        if o01 >= 0 { dst[Int(o01)] += fs * fw * gval }
                        if o10 >= 0 { dst[Int(o10)] += fn * fe * gval }
                        if o11 >= 0 { dst[Int(o11)] += fn * fw * gval }
                    }
                }
            }
            if C16 > 0 { addPixelMajor(pixels, C16, inPlane, into: asFloat(gIn)) }
            if quads { addPixelQuads(pixels, C, inPlane, into: asFloat(gIn)) }
        }
    }
}
