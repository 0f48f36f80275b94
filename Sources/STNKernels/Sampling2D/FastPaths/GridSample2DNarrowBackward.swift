import STNSIMD

// The `.narrow` backward paths (KernelMap2D.swift): taps read from, and contributions scattered
// into, narrow copies, in the scalar kernel's order. docs/performance.md#how-gridsample2dnarrowbackwardswift-works

/// `bilinear2DBackwardBothBlocks` for narrow inputs (`g`).
@inlinable
func bilinear2DBackwardBothNarrow<T: STNFloat, P: SamplingPolicy, G: GridSource2D, K: GridGradientSink2D>(
    _ s: SamplingShape2D, _ gradOutput: UnsafePointer<T>, _ input: UnsafePointer<T>, _ source: G,
    _ gradInput: UnsafeMutablePointer<T>, _ sink: K, _ b: Int, _ policy: P.Type, _ fill: UnsafePointer<T>?,
    _ g: NarrowPlanes
) where G.Scalar == T, K.Scalar == T {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight, R = narrowRowWidth
    let frame = NarrowFrame(width: W, height: H, alignCorners: P.alignCorners)
    let (scale, scaleY) = narrowGradientScales(W, H, P.alignCorners)
    // Input copies, then 16 floats of slack (a tap at column −2 of row 0 lands 2 floats before
    // the gradient copies), the gradient copies, a chunk's grid-gradient sums (2 × 16) and tap
    // offsets (16).
    let floats = 2 * C * g.plane + 16 + 32 + 16
    withUnsafeTemporaryAllocation(byteCount: floats * MemoryLayout<Float>.stride, alignment: 64) { raw in
        let planes = raw.baseAddress!.bindMemory(to: Float.self, capacity: floats)
        let grads = planes + C * g.plane + 16, sums = grads + C * g.plane
        let offsets = UnsafeMutableRawPointer(sums + 32).assumingMemoryBound(to: Int32.self)
        let src = asFloat(input + b * C * inPlane)
        for c in 0..<C {
            copyNarrow(
                src + c * inPlane, height: H, width: W, into: planes + c * g.plane,
                value: fill.map { asFloat($0)[c] } ?? 0, edgeRowsSet: false)
        }
        grads.update(repeating: 0, count: C * g.plane)
        let gOut = asFloat(gradOutput + b * C * plane - b * plane)  // + q: position q (flat) of channel 0
        withPointScratch(T.self) { pts in
            withPointScratch(T.self) { outScratch in
                forEachBlock((b * plane)..<((b + 1) * plane)) { q, n in
                    let points = asFloat(source.points(b, q, n, pts))
                    let out = sink.destination(q, outScratch)
                    var i = 0
                    while i < n {
                        let lanes = Int32(truncatingIfNeeded: Swift.min(16, n - i))
                        let k = NarrowChunk(frame, policy, points + 2 * i, count: lanes)
                        @inline(__always) func gradOut(_ c: Int) -> SIMD16<Float> {
                            firstLanes(gOut + c * plane + q + i, Int(lanes))
                        }
                        narrowGridGradientChunk(
                            k, planes, planeStride: g.plane, channels: C, gOut + q + i,
                            gradOutStride: plane, lanes, sums, scale, scaleY, asFloat(out + 2 * i))
                        // Input gradient: each channel's contributions position by position.
                        let w00 = k.fs * k.fe, w01 = k.fs * k.fw, w10 = k.fn * k.fe, w11 = k.fn * k.fw
                        UnsafeMutableRawPointer(offsets).storeBytes(
                            of: k.top &* Int32(truncatingIfNeeded: R) &+ k.left,
                            as: SIMD16<Int32>.self)
                        for c in 0..<C {
                            let gval = gradOut(c)
                            stn_scatter_taps_f32x16(
                                grads + c * g.plane, offsets, lanes, R,
                                w00 * gval, w01 * gval, w10 * gval, w11 * gval)
                        }
                        i += 16
                    }
                    sink.commit(b, q, n, out)
                }
            }
        }
        // The copies' insides into grad_input (zeroed by the caller: 0 + sum = sum).
        let dst = asFloat(gradInput + b * C * inPlane)
        for c in 0..<C {
            for y in 0..<H {
                let from = grads + c * g.plane + (y + 2) * R, to = dst + c * inPlane + y * W
                for x in 0..<W { to[x] += from[x] }
            }
        }
    }
}

/// The coordinate scales of the grid gradient (`unnormalizeGradient` for x and y).
@inlinable @inline(__always)
func narrowGradientScales(_ W: Int, _ H: Int, _ alignCorners: Bool) -> (SIMD16<Float>, SIMD16<Float>) {
    (
        SIMD16(repeating: unnormalizeGradient(size: W, alignCorners: alignCorners)),
        SIMD16(repeating: unnormalizeGradient(size: H, alignCorners: alignCorners))
    )
}

/// The grid gradient of a chunk (`count` points, interleaved x, y into `out`): each channel's
/// terms in order (taps from the narrow copies `planes`, grad_output `gradOut`), then the
/// coordinate scales — `accumulateGridLane`'s operations lane by lane. (The sums go through
/// `sums`, 32 floats: kept in registers across the channel loop, LLVM split their arithmetic into
/// 8-lane and scalar pieces.)
@inlinable @inline(__always)
func narrowGridGradientChunk(
    _ k: NarrowChunk, _ planes: UnsafePointer<Float>, planeStride: Int, channels C: Int,
    _ gradOut: UnsafePointer<Float>, gradOutStride: Int, _ count: Int32, _ sums: UnsafeMutablePointer<Float>,
    _ scale: SIMD16<Float>, _ scaleY: SIMD16<Float>, _ out: UnsafeMutablePointer<Float>
) {
    storeLanes16(SIMD16<Float>(), sums)
    storeLanes16(SIMD16<Float>(), sums + 16)
    for c in 0..<C {
        let gval = firstLanes(gradOut + c * gradOutStride, Int(count))
        let t = narrowTaps(k, planes + c * planeStride)
        storeLanes16(lanes16(sums) + ((t.ne - t.nw) * k.fs + (t.se - t.sw) * k.fn) * gval, sums)
        storeLanes16(lanes16(sums + 16) + ((t.sw - t.nw) * k.fe + (t.se - t.ne) * k.fw) * gval, sums + 16)
    }
    stn_store_interleaved_f32x16(out, lanes16(sums) * scale, lanes16(sums + 16) * scaleY, count)
}

/// `bilinear2DBackwardGridBlocks` for narrow inputs (`g`): the grid gradient alone, chunk by
/// chunk from narrow copies of the input, bit for bit the block kernel's: what a spatial
/// transformer's backward computes for MNIST (docs/performance.md#gridsample2dnarrowbackwardswift).
@inlinable
func bilinear2DBackwardGridNarrow<T: STNFloat, P: SamplingPolicy, G: GridSource2D, K: GridGradientSink2D>(
    _ s: SamplingShape2D, _ gradOutput: UnsafePointer<T>, _ input: UnsafePointer<T>, _ source: G, _ sink: K,
    _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?, _ g: NarrowPlanes
) where G.Scalar == T, K.Scalar == T {
    let plane = s.outputPlane, C = s.channels
    let frame = NarrowFrame(width: s.inputWidth, height: s.inputHeight, alignCorners: P.alignCorners)
    let (scale, scaleY) = narrowGradientScales(s.inputWidth, s.inputHeight, P.alignCorners)
    withUnsafeTemporaryAllocation(byteCount: 32 * MemoryLayout<Float>.stride, alignment: 64) { raw in
        let sums = raw.baseAddress!.bindMemory(to: Float.self, capacity: 32)
        withPointScratch(T.self) { pts in
            withPointScratch(T.self) { outScratch in
                forEachNarrowSegment(s, asFloat(input), positions, g, fill.map { asFloat($0) }) { b, flat, planes in
                    let gOut = asFloat(gradOutput + b * C * plane - b * plane)  // + q: position q (flat) of channel 0
                    forEachBlock(flat) { q, n in
                        let points = asFloat(source.points(b, q, n, pts))
                        let out = sink.destination(q, outScratch)
                        var i = 0
                        while i < n {
                            let lanes = Int32(truncatingIfNeeded: Swift.min(16, n - i))
                            let k = NarrowChunk(frame, policy, points + 2 * i, count: lanes)
                            narrowGridGradientChunk(
                                k, planes, planeStride: g.plane, channels: C, gOut + q + i,
                                gradOutStride: plane, lanes, sums, scale, scaleY, asFloat(out + 2 * i))
                            i += 16
                        }
                        sink.commit(b, q, n, out)
                    }
                }
            }
        }
    }
}
