// 3-D grid sampling (trilinear and nearest), forward and backward, for input N×C×D×H×W and
// grid N×Do×Ho×Wo×3 holding (x, y, z). Semantics and operation order are PyTorch's scalar CPU
// kernel (ATen/native/GridSampler.cpp, grid_sampler_3d_cpu_impl and its backward).

/// The eight trilinear corners of one output position, in PyTorch's order
/// tnw, tne, tsw, tse, bnw, bne, bsw, bse (t/b: z, n/s: y, w/e: x).
@usableFromInline
struct TrilinearTaps3D<T: STNFloat> {
    /// Offset of the (z0, y0, x0) corner in an input volume.
    @usableFromInline var base: Int
    /// Bit k set when corner k is inside the volume.
    @usableFromInline var inside: UInt8
    /// Distances to the far (index 1) and near (index 0) corner along each axis:
    /// x1 = (⌊x⌋ + 1) − x, x0 = x − ⌊x⌋, and so on.
    @usableFromInline var x0, x1, y0, y1, z0, z1: T
    @usableFromInline var rowStride: Int, sliceStride: Int

    @inlinable @inline(__always)
    init(x: T, y: T, z: T, width: Int, height: Int, depth: Int) {
        let fx = x.rounded(.down), fy = y.rounded(.down), fz = z.rounded(.down)
        x1 = (fx + 1) - x; x0 = x - fx
        y1 = (fy + 1) - y; y0 = y - fy
        z1 = (fz + 1) - z; z0 = z - fz
        let ix = fx.truncatedInt, iy = fy.truncatedInt, iz = fz.truncatedInt
        rowStride = width; sliceStride = width * height
        base = iz * sliceStride + iy * width + ix
        var m: UInt8 = 0
        for k in 0..<8 {
            let cx = ix + (k & 1), cy = iy + ((k >> 1) & 1), cz = iz + (k >> 2)
            if cx >= 0 && cx < width && cy >= 0 && cy < height && cz >= 0 && cz < depth {
                m |= 1 << UInt8(k)
            }
        }
        inside = m
    }

    @inlinable @inline(__always)
    func offset(_ k: Int) -> Int { base + (k >> 2) * sliceStride + ((k >> 1) & 1) * rowStride + (k & 1) }

    @inlinable @inline(__always)
    func isInside(_ k: Int) -> Bool { inside & (1 << UInt8(k)) != 0 }

    /// Per-axis weights of corner k.
    @inlinable @inline(__always)
    func axisWeights(_ k: Int) -> (T, T, T) {
        ((k & 1) == 0 ? x1 : x0, ((k >> 1) & 1) == 0 ? y1 : y0, (k >> 2) == 0 ? z1 : z0)
    }

    @inlinable @inline(__always)
    func weight(_ k: Int) -> T {
        let (wx, wy, wz) = axisWeights(k)
        return wx * wy * wz
    }
}

@inlinable @inline(__always)
func nearestOffset3D<T: STNFloat>(x: T, y: T, z: T, width: Int, height: Int, depth: Int) -> Int {
    let xi = x.rounded(.toNearestOrEven).truncatedInt, yi = y.rounded(.toNearestOrEven).truncatedInt
    let zi = z.rounded(.toNearestOrEven).truncatedInt
    guard xi >= 0 && xi < width && yi >= 0 && yi < height && zi >= 0 && zi < depth else { return -1 }
    return (zi * height + yi) * width + xi
}

@inlinable @inline(__always)
func sourceIndexScalar<T: STNFloat>(_ coord: T, size: Int, padding: PaddingMode, alignCorners: Bool) -> T {
    padScalar(
        unnormalize(coord, size: size, alignCorners: alignCorners),
        size: size, padding: padding, alignCorners: alignCorners)
}

/// Samples a 5-D `input` at a 5-D `grid` for flattened output positions `positions`
/// ⊂ [0, N·Do·Ho·Wo): trilinear (`.bilinear`), nearest, or tricubic (`.bicubic`, see
/// GridSample3DCubic.swift). `fill` (fill padding, with `.zeros`): the C values taps outside the
/// input read instead of zero.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gridSample3DForward<T: STNFloat>(
    _ s: SamplingShape3D, input: UnsafePointer<T>, grid: UnsafePointer<T>,
    output: UnsafeMutablePointer<T>, mode: InterpolationMode, padding: PaddingMode,
    alignCorners: Bool, positions: Range<Int>, fill: UnsafePointer<T>? = nil
) {
    let path = forward3DPath(T.self, s, mode, padding)
    if path != .scalar {
        dispatchPolicy(Trilinear3DBlockKernel(s, input, grid, output, path, positions, fill), padding, alignCorners)
        return
    }
    if mode == .bicubic {
        tricubic3DForward(s, input, grid, output, padding, alignCorners, positions, fill)
        return
    }
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight, D = s.inputDepth
    forEachBatchSegment(positions, plane: plane) { b, flat in
        let src = input + b * C * inPlane
        let dst = output + b * C * plane - b * plane
        for q in flat {
            let x = sourceIndexScalar(grid[3 * q], size: W, padding: padding, alignCorners: alignCorners)
            let y = sourceIndexScalar(grid[3 * q + 1], size: H, padding: padding, alignCorners: alignCorners)
            let z = sourceIndexScalar(grid[3 * q + 2], size: D, padding: padding, alignCorners: alignCorners)
            if mode == .nearest {
                let o = nearestOffset3D(x: x, y: y, z: z, width: W, height: H, depth: D)
                for c in 0..<C { dst[c * plane + q] = o >= 0 ? src[c * inPlane + o] : (fill?[c] ?? 0) }
                continue
            }
            let t = TrilinearTaps3D(x: x, y: y, z: z, width: W, height: H, depth: D)
            for c in 0..<C {
                let p = src + c * inPlane
                var acc: T = 0
                if let fill {
                    // Outside corners read the fill value (with a zero fill, the added terms are
                    // ±0, which leave a sum that starts at +0 unchanged: zeros padding's bits).
                    for k in 0..<8 { acc += (t.isInside(k) ? p[t.offset(k)] : fill[c]) * t.weight(k) }
                } else {
                    for k in 0..<8 where t.isInside(k) { acc += p[t.offset(k)] * t.weight(k) }
                }
                dst[c * plane + q] = acc
            }
        }
    }
}

/// Adds d(loss)/d(input) for batch element `batch`, channels `channels` (see the 2-D version).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gridSample3DBackwardInput<T: STNFloat>(
    _ s: SamplingShape3D, gradOutput: UnsafePointer<T>, grid: UnsafePointer<T>,
    gradInput: UnsafeMutablePointer<T>, mode: InterpolationMode, padding: PaddingMode,
    alignCorners: Bool, batch b: Int, channels: Range<Int>
) {
    if mode == .bicubic {
        tricubic3DBackwardInput(s, gradOutput, grid, gradInput, padding, alignCorners, b, channels)
        return
    }
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight, D = s.inputDepth
    let gOut = gradOutput + b * C * plane
    let gIn = gradInput + b * C * inPlane
    let g = grid + b * plane * 3
    for p in 0..<plane {
        // PyTorch's 3-D backward locates taps with the gradient-tracking clip, whose NaN handling
        // differs from the forward's (NaN → out of range instead of size − 1).
        let x = sourceIndexScalarWithGradient(g[3 * p], size: W, padding: padding, alignCorners: alignCorners).0
        let y = sourceIndexScalarWithGradient(g[3 * p + 1], size: H, padding: padding, alignCorners: alignCorners).0
        let z = sourceIndexScalarWithGradient(g[3 * p + 2], size: D, padding: padding, alignCorners: alignCorners).0
        if mode == .nearest {
            let o = nearestOffset3D(x: x, y: y, z: z, width: W, height: H, depth: D)
            if o >= 0 { for c in channels { gIn[c * inPlane + o] += gOut[c * plane + p] } }
            continue
        }
        let t = TrilinearTaps3D(x: x, y: y, z: z, width: W, height: H, depth: D)
        for c in channels {
            let go = gOut[c * plane + p]
            let dst = gIn + c * inPlane
            for k in 0..<8 where t.isInside(k) { dst[t.offset(k)] += t.weight(k) * go }
        }
    }
}

/// Writes d(loss)/d(grid) for flattened output positions `positions` into `gradGrid`
/// (N×Do×Ho×Wo×3). Zero for nearest. With `fill`, outside taps contribute their fill value.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gridSample3DBackwardGrid<T: STNFloat>(
    _ s: SamplingShape3D, gradOutput: UnsafePointer<T>, input: UnsafePointer<T>,
    grid: UnsafePointer<T>, gradGrid: UnsafeMutablePointer<T>, mode: InterpolationMode,
    padding: PaddingMode, alignCorners: Bool, positions: Range<Int>, fill: UnsafePointer<T>? = nil
) {
    if mode == .bicubic {
        tricubic3DBackwardGrid(s, gradOutput, input, grid, gradGrid, padding, alignCorners, positions, fill)
        return
    }
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight, D = s.inputDepth
    forEachBatchSegment(positions, plane: plane) { b, flat in
        let src = input + b * C * inPlane
        let gOut = gradOutput + b * C * plane - b * plane
        for q in flat {
            if mode == .nearest {
                gradGrid[3 * q] = 0; gradGrid[3 * q + 1] = 0; gradGrid[3 * q + 2] = 0
                continue
            }
            let (x, mx) = sourceIndexScalarWithGradient(
                grid[3 * q], size: W, padding: padding, alignCorners: alignCorners)
            let (y, my) = sourceIndexScalarWithGradient(
                grid[3 * q + 1], size: H, padding: padding, alignCorners: alignCorners)
            let (z, mz) = sourceIndexScalarWithGradient(
                grid[3 * q + 2], size: D, padding: padding, alignCorners: alignCorners)
            let t = TrilinearTaps3D(x: x, y: y, z: z, width: W, height: H, depth: D)
            var gx: T = 0, gy: T = 0, gz: T = 0
            for c in 0..<C {
                let go = gOut[c * plane + q]
                let p = src + c * inPlane
                for k in 0..<8 where fill != nil || t.isInside(k) {
                    let v = t.isInside(k) ? p[t.offset(k)] : fill![c]
                    let (wx, wy, wz) = t.axisWeights(k)
                    // Moving x towards the far corner raises the weights of the x1 corners.
                    if k & 1 == 0 { gx -= v * wy * wz * go } else { gx += v * wy * wz * go }
                    if (k >> 1) & 1 == 0 { gy -= v * wx * wz * go } else { gy += v * wx * wz * go }
                    if k >> 2 == 0 { gz -= v * wx * wy * go } else { gz += v * wx * wy * go }
                }
            }
            gradGrid[3 * q] = mx * gx
            gradGrid[3 * q + 1] = my * gy
            gradGrid[3 * q + 2] = mz * gz
        }
    }
}
