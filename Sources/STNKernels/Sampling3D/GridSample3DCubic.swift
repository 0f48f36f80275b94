// Tricubic sampling: `mode: .bicubic` on 5-D input (N×C×D×H×W with grid N×Do×Ho×Wo×3), which
// PyTorch does not offer. It is the separable extension of the 2-D bicubic sampler: Keys' cubic
// convolution (A = −0.75) along x, y and z over the 4×4×4 neighbourhood of ⌊(x, y, z)⌋, each
// tap's index padded on its own axis exactly as 2-D bicubic pads it (`padVector`: zeros leaves
// it, border clamps it, reflection reflects it; a tap still outside reads zero, or the channel's
// fill value), with coordinates unnormalised as 2-D bicubic does (`unnormalizeVector`). So a
// NaN or infinite coordinate behaves as in 2-D bicubic (NaN weights: the output is NaN there).
//
// The sum runs x innermost, then y, then z, each a chain of fused multiply-adds like the 2-D
// kernel's; with a volume constant along z and a constant z coordinate it therefore equals the
// 2-D bicubic result up to the rounding of Σ cz = 1.

/// The 4×4×4 tricubic stencil of one output position: per-axis tap indices after padding (−1
/// when the tap reads zero or fill), the cubic weights and the fractional offsets.
@usableFromInline
struct TricubicTaps3D<T: STNFloat> {
    @usableFromInline var xs: Quad<Int>, ys: Quad<Int>, zs: Quad<Int>
    @usableFromInline var cx: Quad<T>, cy: Quad<T>, cz: Quad<T>
    @usableFromInline var tx: T, ty: T, tz: T

    /// `ix`, `iy`, `iz` are unnormalised (pixel) coordinates before padding.
    @inlinable @inline(__always)
    init(ix: T, iy: T, iz: T, width: Int, height: Int, depth: Int, padding: PaddingMode, alignCorners: Bool) {
        let fx = ix.rounded(.down), fy = iy.rounded(.down), fz = iz.rounded(.down)
        tx = ix - fx; ty = iy - fy; tz = iz - fz
        cx = Quad(cubicCoefficients(tx)); cy = Quad(cubicCoefficients(ty)); cz = Quad(cubicCoefficients(tz))
        @inline(__always) func tap(_ v: T, _ size: Int) -> Int {
            let p = padVector(v, size: size, padding: padding, alignCorners: alignCorners)
            let i = safeIndexRange(p).truncatedInt
            return (i >= 0 && i < size) ? i : -1
        }
        xs = Quad(tap(fx - 1, width), tap(fx, width), tap(fx + 1, width), tap(fx + 2, width))
        ys = Quad(tap(fy - 1, height), tap(fy, height), tap(fy + 1, height), tap(fy + 2, height))
        zs = Quad(tap(fz - 1, depth), tap(fz, depth), tap(fz + 1, depth), tap(fz + 2, depth))
    }

    /// Offset of tap (i, j, k) in an input volume, or −1 when it is outside.
    @inlinable @inline(__always)
    func offset(_ i: Int, _ j: Int, _ k: Int, width: Int, height: Int) -> Int {
        let x = xs[i], y = ys[j], z = zs[k]
        return (x >= 0 && y >= 0 && z >= 0) ? (z * height + y) * width + x : -1
    }

    @inlinable @inline(__always)
    func value(_ p: UnsafePointer<T>, _ i: Int, _ j: Int, _ k: Int, width: Int, height: Int, fill: T) -> T {
        let o = offset(i, j, k, width: width, height: height)
        return o >= 0 ? p[o] : fill
    }

    @inlinable @inline(__always)
    func row(_ p: UnsafePointer<T>, _ j: Int, _ k: Int, width: Int, height: Int, fill: T) -> T {
        (cx.v0 * value(p, 0, j, k, width: width, height: height, fill: fill))
            .addingProduct(cx.v1, value(p, 1, j, k, width: width, height: height, fill: fill))
            .addingProduct(cx.v2, value(p, 2, j, k, width: width, height: height, fill: fill))
            .addingProduct(cx.v3, value(p, 3, j, k, width: width, height: height, fill: fill))
    }

    @inlinable @inline(__always)
    func slice(_ p: UnsafePointer<T>, _ k: Int, width: Int, height: Int, fill: T) -> T {
        (cy.v0 * row(p, 0, k, width: width, height: height, fill: fill))
            .addingProduct(cy.v1, row(p, 1, k, width: width, height: height, fill: fill))
            .addingProduct(cy.v2, row(p, 2, k, width: width, height: height, fill: fill))
            .addingProduct(cy.v3, row(p, 3, k, width: width, height: height, fill: fill))
    }

    @inlinable @inline(__always)
    func sample(_ p: UnsafePointer<T>, width: Int, height: Int, fill: T) -> T {
        (cz.v0 * slice(p, 0, width: width, height: height, fill: fill))
            .addingProduct(cz.v1, slice(p, 1, width: width, height: height, fill: fill))
            .addingProduct(cz.v2, slice(p, 2, width: width, height: height, fill: fill))
            .addingProduct(cz.v3, slice(p, 3, width: width, height: height, fill: fill))
    }
}

@inlinable @inline(__always)
func tricubicTaps<T: STNFloat>(
    _ g: UnsafePointer<T>, _ s: SamplingShape3D, _ padding: PaddingMode,
    _ alignCorners: Bool
) -> TricubicTaps3D<T> {
    let W = s.inputWidth, H = s.inputHeight, D = s.inputDepth
    return TricubicTaps3D(
        ix: unnormalizeVector(g[0], size: W, alignCorners: alignCorners),
        iy: unnormalizeVector(g[1], size: H, alignCorners: alignCorners),
        iz: unnormalizeVector(g[2], size: D, alignCorners: alignCorners),
        width: W, height: H, depth: D, padding: padding, alignCorners: alignCorners)
}

/// Tricubic forward for flattened output positions `positions`; outside taps read `fill[c]` or 0.
@inlinable
func tricubic3DForward<T: STNFloat>(
    _ s: SamplingShape3D, _ input: UnsafePointer<T>, _ grid: UnsafePointer<T>, _ output: UnsafeMutablePointer<T>,
    _ padding: PaddingMode, _ alignCorners: Bool, _ positions: Range<Int>, _ fill: UnsafePointer<T>?
) {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    forEachBatchSegment(positions, plane: plane) { b, flat in
        let src = input + b * C * inPlane
        let dst = output + b * C * plane - b * plane
        for q in flat {
            let t = tricubicTaps(grid + 3 * q, s, padding, alignCorners)
            for c in 0..<C {
                dst[c * plane + q] = t.sample(src + c * inPlane, width: W, height: H, fill: fill?[c] ?? 0)
            }
        }
    }
}

/// Tricubic input gradient for batch element `b`, channels `channels`, positions in order.
@inlinable
func tricubic3DBackwardInput<T: STNFloat>(
    _ s: SamplingShape3D, _ gradOutput: UnsafePointer<T>, _ grid: UnsafePointer<T>,
    _ gradInput: UnsafeMutablePointer<T>, _ padding: PaddingMode, _ alignCorners: Bool,
    _ b: Int, _ channels: Range<Int>
) {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    let gOut = gradOutput + b * C * plane
    let gIn = gradInput + b * C * inPlane
    let g = grid + b * plane * 3
    for p in 0..<plane {
        let t = tricubicTaps(g + 3 * p, s, padding, alignCorners)
        for c in channels {
            let go = gOut[c * plane + p]
            let dst = gIn + c * inPlane
            for k in 0..<4 where t.zs[k] >= 0 {
                for j in 0..<4 where t.ys[j] >= 0 {
                    for i in 0..<4 where t.xs[i] >= 0 {
                        dst[t.offset(i, j, k, width: W, height: H)] += go * t.cx[i] * t.cy[j] * t.cz[k]
                    }
                }
            }
        }
    }
}

/// Tricubic grid gradient for flattened output positions `positions`; outside taps contribute
/// `fill[c]` (or 0) like any value.
@inlinable
func tricubic3DBackwardGrid<T: STNFloat>(
    _ s: SamplingShape3D, _ gradOutput: UnsafePointer<T>, _ input: UnsafePointer<T>, _ grid: UnsafePointer<T>,
    _ gradGrid: UnsafeMutablePointer<T>, _ padding: PaddingMode, _ alignCorners: Bool,
    _ positions: Range<Int>, _ fill: UnsafePointer<T>?
) {
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight, D = s.inputDepth
    let mx: T = unnormalizeGradient(size: W, alignCorners: alignCorners)
    let my: T = unnormalizeGradient(size: H, alignCorners: alignCorners)
    let mz: T = unnormalizeGradient(size: D, alignCorners: alignCorners)
    forEachBatchSegment(positions, plane: plane) { b, flat in
        let src = input + b * C * inPlane
        let gOut = gradOutput + b * C * plane - b * plane
        for q in flat {
            let t = tricubicTaps(grid + 3 * q, s, padding, alignCorners)
            let dx = Quad(cubicCoefficientGradients(t.tx)), dy = Quad(cubicCoefficientGradients(t.ty))
            let dz = Quad(cubicCoefficientGradients(t.tz))
            var gx: T = 0, gy: T = 0, gz: T = 0
            for c in 0..<C {
                let go = gOut[c * plane + q]
                let p = src + c * inPlane
                let f = fill?[c] ?? 0
                for k in 0..<4 {
                    for j in 0..<4 {
                        for i in 0..<4 {
                            let v = t.value(p, i, j, k, width: W, height: H, fill: f) * go
                            gx = gx - v * dx[i] * t.cy[j] * t.cz[k]
                            gy = gy - v * t.cx[i] * dy[j] * t.cz[k]
                            gz = gz - v * t.cx[i] * t.cy[j] * dz[k]
                        }
                    }
                }
            }
            gradGrid[3 * q] = gx * mx
            gradGrid[3 * q + 1] = gy * my
            gradGrid[3 * q + 2] = gz * mz
        }
    }
}
