// Block form of the 3-D trilinear forward (KernelMap3D.swift): corners located once per block
// in a vectorised loop, read once for all channels, the per-position loop's sums in its order.
// docs/performance.md#how-gridsample3dblocksswift-works

/// Corner offsets o[k·B + i] (−1 outside) and weights w[k·B + i] of positions 0..<n of a block,
/// grid points g (x, y, z per position).
@inlinable @inline(__always)
func trilinearBlockCorners<T: STNFloat, P: SamplingPolicy>(
    _: P.Type, _ g: UnsafePointer<T>, _ n: Int, width W: Int, height H: Int, depth D: Int,
    _ o: UnsafeMutablePointer<Int32>, _ w: UnsafeMutablePointer<T>
) {
    let B = sampleBlock
    let W32 = Int32(truncatingIfNeeded: W), H32 = Int32(truncatingIfNeeded: H), D32 = Int32(truncatingIfNeeded: D)
    let slice = W32 &* H32
    for i in 0..<n {
        // sourceIndexScalar + TrilinearTaps3D's arithmetic, with 32-bit indices.
        let x = sourceIndexScalar(g[3 * i], size: W, padding: P.padding, alignCorners: P.alignCorners)
        let y = sourceIndexScalar(g[3 * i + 1], size: H, padding: P.padding, alignCorners: P.alignCorners)
        let z = sourceIndexScalar(g[3 * i + 2], size: D, padding: P.padding, alignCorners: P.alignCorners)
        let fx = x.rounded(.down), fy = y.rounded(.down), fz = z.rounded(.down)
        let x1 = (fx + 1) - x, x0 = x - fx
        let y1 = (fy + 1) - y, y0 = y - fy
        let z1 = (fz + 1) - z, z0 = z - fz
        let ix = clampedIndex(fx, lo: -2, hi: W32), iy = clampedIndex(fy, lo: -2, hi: H32)
        let iz = clampedIndex(fz, lo: -2, hi: D32)
        let mx0 = insideMask(ix, W32), mx1 = insideMask(ix &+ 1, W32)
        let my0 = insideMask(iy, H32), my1 = insideMask(iy &+ 1, H32)
        let mz0 = insideMask(iz, D32), mz1 = insideMask(iz &+ 1, D32)
        let base = iz &* slice &+ iy &* W32 &+ ix
        o[i] = base | ~(mx0 & my0 & mz0)
        o[B + i] = (base &+ 1) | ~(mx1 & my0 & mz0)
        o[2 * B + i] = (base &+ W32) | ~(mx0 & my1 & mz0)
        o[3 * B + i] = (base &+ W32 &+ 1) | ~(mx1 & my1 & mz0)
        o[4 * B + i] = (base &+ slice) | ~(mx0 & my0 & mz1)
        o[5 * B + i] = (base &+ slice &+ 1) | ~(mx1 & my0 & mz1)
        o[6 * B + i] = (base &+ slice &+ W32) | ~(mx0 & my1 & mz1)
        o[7 * B + i] = (base &+ slice &+ W32 &+ 1) | ~(mx1 & my1 & mz1)
        w[i] = x1 * y1 * z1; w[B + i] = x0 * y1 * z1
        w[2 * B + i] = x1 * y0 * z1; w[3 * B + i] = x0 * y0 * z1
        w[4 * B + i] = x1 * y1 * z0; w[5 * B + i] = x0 * y1 * z0
        w[6 * B + i] = x1 * y0 * z0; w[7 * B + i] = x0 * y0 * z0
    }
}

/// The trilinear forward of `positions` on the block path `path` (`.rowWindow` or `.blocks`:
/// KernelMap3D.swift).
@inlinable
func trilinear3DForwardBlocks<T: STNFloat, P: SamplingPolicy>(
    _ s: SamplingShape3D, _ input: UnsafePointer<T>, _ grid: UnsafePointer<T>,
    _ output: UnsafeMutablePointer<T>, _ positions: Range<Int>, _ policy: P.Type, _ fill: UnsafePointer<T>?,
    _ path: SamplerKernelPath
) {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight, D = s.inputDepth
    let stride = MemoryLayout<T>.stride, slice = W * H
    // 16 of slack each: the window path reads whole 16-lane chunks of the last offsets and weights.
    withBlockScratch(T.self, ints: 8 * 64 + 16, reals: 8 * 64 + 16) { o, w in
        let B = sampleBlock
        forEachBatchSegment(positions, plane: plane) { b, flat in
            let src = input + b * C * inPlane
            let dst = output + b * C * plane - b * plane
            forEachBlock(flat) { q, n in
                trilinearBlockCorners(policy, grid + 3 * q, n, width: W, height: H, depth: D, o, w)
                @inline(__always) func position(_ i: Int) {
                    let o0 = o[i], o1 = o[B + i], o2 = o[2 * B + i], o3 = o[3 * B + i]
                    let o4 = o[4 * B + i], o5 = o[5 * B + i], o6 = o[6 * B + i], o7 = o[7 * B + i]
                    let out = dst + q + i
                    if (o0 | o1 | o2 | o3 | o4 | o5 | o6 | o7) >= 0 {
                        // Every corner inside. Corners k, k + 1 are x-neighbours: one 2-lane load
                        // and multiply per pair (as single loads LLVM turned the channel loop
                        // into slow 4-lane gathers across channels).
                        let w01 = SIMD2(w[i], w[B + i]), w23 = SIMD2(w[2 * B + i], w[3 * B + i])
                        let w45 = SIMD2(w[4 * B + i], w[5 * B + i]), w67 = SIMD2(w[6 * B + i], w[7 * B + i])
                        let b0 = Int(o0) * stride, b2 = Int(o2) * stride, b4 = Int(o4) * stride, b6 = Int(o6) * stride
                        for c in 0..<C {
                            let p = UnsafeRawPointer(src + c * inPlane)
                            let a = p.loadUnaligned(fromByteOffset: b0, as: SIMD2<T>.self) * w01
                            let bb = p.loadUnaligned(fromByteOffset: b2, as: SIMD2<T>.self) * w23
                            let d = p.loadUnaligned(fromByteOffset: b4, as: SIMD2<T>.self) * w45
                            let e = p.loadUnaligned(fromByteOffset: b6, as: SIMD2<T>.self) * w67
                            var acc: T = 0
                            acc += a[0]; acc += a[1]; acc += bb[0]; acc += bb[1]
                            acc += d[0]; acc += d[1]; acc += e[0]; acc += e[1]
                            out[c * plane] = acc
                        }
                        return
                    }
                    for c in 0..<C {
                        let p = src + c * inPlane
                        var acc: T = 0
                        if let fill {
                            let f = fill[c]
                            for k in 0..<8 {
                                let ok = o[k * B + i]
                                acc += (ok >= 0 ? p[Int(ok)] : f) * w[k * B + i]
                            }
                        } else {
                            for k in 0..<8 {
                                let ok = o[k * B + i]
                                if ok >= 0 { acc += p[Int(ok)] * w[k * B + i] }
                            }
                        }
                        out[c * plane] = acc
                    }
                }
                guard path == .rowWindow else {
                    for i in 0..<n { position(i) }
                    return
                }
                // Many channels (AVX-512, Float): chunks whose eight corners are all inside read
                // them from two row windows, the front slice's and the same one a slice further
                // (RowWindow.swift), with the same products and sums per lane as above
                // (docs/performance.md#gridsample3dblocksswift).
                let fw = asFloat(UnsafePointer(w))
                forEachRowChunk(n, at: q, outputWidth: s.outputWidth) { i, m in
                    let o0 = firstLanes(o + i, m)
                    var outside = o0
                    for k in 1..<8 { outside |= firstLanes(o + k * B + i, m) }
                    guard m >= 4, !anyOutside(outside),
                        let win = RowWindow(o0, width: W, maxColumn: 14, extraRows: 1, readable: inPlane - slice)
                    else {
                        for k in i..<i + m { position(k) }
                        return
                    }
                    @inline(__always) func weight(_ k: Int) -> SIMD16<Float> { lanes16(fw + k * B + i) }
                    let w0 = weight(0), w1 = weight(1), w2 = weight(2), w3 = weight(3)
                    let w4 = weight(4), w5 = weight(5), w6 = weight(6), w7 = weight(7)
                    withRowCount(win) { rows in
                        for c in 0..<C {
                            let p = asFloat(src + c * inPlane)
                            let (t0, t1, t2, t3) = bilinearWindowTaps(p, width: W, win, rows: rows)
                            let (t4, t5, t6, t7) = bilinearWindowTaps(p + slice, width: W, win, rows: rows)
                            var acc = SIMD16<Float>(repeating: 0)
                            acc += t0 * w0; acc += t1 * w1; acc += t2 * w2; acc += t3 * w3
                            acc += t4 * w4; acc += t5 * w5; acc += t6 * w6; acc += t7 * w7
                            storeFirstLanes(acc, asFloat(dst + c * plane + q + i), m)
                        }
                    }
                }
            }
        }
    }
}
