// 2-D grid sampling backward, split in two passes that never write the same memory:
//
// * `gridSample2DBackwardInput` scatters grad_output into grad_input for one batch element and a
//   range of channels. Within a channel plane it visits output positions in order, so the sum
//   into each input pixel has one fixed order whatever the thread count.
// * `gridSample2DBackwardGrid` computes grad_grid for a range of output positions, summing over
//   channels in order.
//
// The STN case needs only the second pass (the image needs no gradient, the grid does), which is
// why they are separate. Formulas are PyTorch's vectorised CPU kernel's.

/// Adds d(loss)/d(input) for batch element `batch`, channels `channels`, into `gradInput`
/// (N×C×H×W, which the caller zeroes first). Fill padding's input gradient is zeros padding's
/// (the fill values are constants): pass `.zeros`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gridSample2DBackwardInput<T: STNFloat>(
    _ s: SamplingShape2D, gradOutput: UnsafePointer<T>, grid: UnsafePointer<T>,
    gradInput: UnsafeMutablePointer<T>, mode: InterpolationMode, padding: PaddingMode,
    alignCorners: Bool, batch b: Int, channels: Range<Int>
) {
    sample2DBackwardInput(s, gradOutput, StoredGrid2D(grid), gradInput, mode, padding, alignCorners, b, channels)
}

/// `gridSample2DBackwardInput` with the grid points taken from `source`.
@inlinable
func sample2DBackwardInput<T: STNFloat, G: GridSource2D>(
    _ s: SamplingShape2D, _ gradOutput: UnsafePointer<T>, _ source: G,
    _ gradInput: UnsafeMutablePointer<T>, _ mode: InterpolationMode, _ padding: PaddingMode,
    _ alignCorners: Bool, _ b: Int, _ channels: Range<Int>
) where G.Scalar == T {
    if backwardInput2DPath(T.self, s, mode, padding) == .blocks {
        dispatchPolicy(BackwardInput2DBlockKernel(s, gradOutput, source, gradInput, b, channels), padding, alignCorners)
        return
    }
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    let gOut = gradOutput + b * C * plane - b * plane
    let gIn = gradInput + b * C * inPlane
    // Positions in order, one block of grid points at a time.
    forEachSourceBlock(source, (b * plane)..<((b + 1) * plane), plane: plane) { _, q0, n, g in
        for i in 0..<n {
            let p = q0 + i
            switch mode {
            case .bilinear:
                let x = sourceIndexVector(g[2 * i], size: W, padding: padding, alignCorners: alignCorners)
                let y = sourceIndexVector(g[2 * i + 1], size: H, padding: padding, alignCorners: alignCorners)
                let t = BilinearTaps2D(x: x, y: y, width: W, height: H)
                for c in channels {
                    let go = gOut[c * plane + p]
                    let dst = gIn + c * inPlane
                    if t.o00 >= 0 { dst[t.o00] += t.w00 * go }
                    if t.o01 >= 0 { dst[t.o01] += t.w01 * go }
                    if t.o10 >= 0 { dst[t.o10] += t.w10 * go }
                    if t.o11 >= 0 { dst[t.o11] += t.w11 * go }
                }
            case .nearest:
                let x = sourceIndexVector(g[2 * i], size: W, padding: padding, alignCorners: alignCorners)
                let y = sourceIndexVector(g[2 * i + 1], size: H, padding: padding, alignCorners: alignCorners)
                let o = nearestOffset2D(x: x, y: y, width: W, height: H)
                if o < 0 { continue }
                for c in channels { gIn[c * inPlane + o] += gOut[c * plane + p] }
            case .bicubic:
                let ix = unnormalizeVector(g[2 * i], size: W, alignCorners: alignCorners)
                let iy = unnormalizeVector(g[2 * i + 1], size: H, alignCorners: alignCorners)
                let t = BicubicTaps2D(ix: ix, iy: iy, width: W, height: H, padding: padding, alignCorners: alignCorners)
                for c in channels {
                    let go = gOut[c * plane + p]
                    let dst = gIn + c * inPlane
                    for i in 0..<4 where t.xs[i] >= 0 {
                        for j in 0..<4 where t.ys[j] >= 0 {
                            dst[t.ys[j] * W + t.xs[i]] += go * t.cx[i] * t.cy[j]
                        }
                    }
                }
            }
        }
    }
}

/// Both backward passes for batch element `b`: adds its input gradient into `gradInput` (zeroed
/// by the caller) as `gridSample2DBackwardInput` with all channels, and writes its grid
/// gradient as `gridSample2DBackwardGrid` with its positions — the same bits. Which of the one-sweep
/// paths or the two passes runs: `backwardElement2DPath` (KernelMap2D.swift).
/// `prefetchNext`: the caller goes on with element b + 1 (a cache hint only).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gridSample2DBackwardElement<T: STNFloat>(
    _ s: SamplingShape2D, gradOutput: UnsafePointer<T>, input: UnsafePointer<T>, grid: UnsafePointer<T>,
    gradInput: UnsafeMutablePointer<T>, gradGrid: UnsafeMutablePointer<T>, mode: InterpolationMode,
    padding: PaddingMode, alignCorners: Bool, batch b: Int, fill: UnsafePointer<T>? = nil, prefetchNext: Bool
) {
    let path = backwardElement2DPath(T.self, s, mode, padding)
    if path != .twoPasses {
        dispatchPolicy(
            BackwardBoth2DBlockKernel(
                s, gradOutput, input, StoredGrid2D(grid), gradInput,
                StoredGridGradient2D(gradGrid), b, fill, path, prefetchNext: prefetchNext),
            .zeros, alignCorners)
        return
    }
    sample2DBackwardInput(
        s, gradOutput, StoredGrid2D(grid), gradInput, mode, padding,
        alignCorners, b, 0..<s.channels)
    let plane = s.outputPlane
    sample2DBackwardGrid(
        s, gradOutput, input, StoredGrid2D(grid), StoredGridGradient2D(gradGrid), mode, padding,
        alignCorners, (b * plane)..<((b + 1) * plane), fill,
        prefetchThrough: prefetchNext ? (b + 2) * plane : (b + 1) * plane)
}

/// Writes d(loss)/d(grid) for the flattened output positions `positions` into `gradGrid`
/// (N×Ho×Wo×2). Nearest sampling is piecewise constant: its grid gradient is zero. With `fill`
/// (fill padding, `.zeros`), taps outside the input contribute their fill value like any value.
/// `prefetchThrough`: positions up to which the caller goes on after `positions` (with the same
/// thread), so that the kernel may bring the next batch element's input into cache while it works
/// on this one; nil for `positions.upperBound`. A hint only: results do not depend on it.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gridSample2DBackwardGrid<T: STNFloat>(
    _ s: SamplingShape2D, gradOutput: UnsafePointer<T>, input: UnsafePointer<T>,
    grid: UnsafePointer<T>, gradGrid: UnsafeMutablePointer<T>, mode: InterpolationMode,
    padding: PaddingMode, alignCorners: Bool, positions: Range<Int>, fill: UnsafePointer<T>? = nil,
    prefetchThrough: Int? = nil
) {
    sample2DBackwardGrid(
        s, gradOutput, input, StoredGrid2D(grid), StoredGridGradient2D(gradGrid), mode,
        padding, alignCorners, positions, fill, prefetchThrough: prefetchThrough)
}

/// `gridSample2DBackwardGrid` with the grid points from `source` and the gradients to `sink`.
@inlinable
func sample2DBackwardGrid<T: STNFloat, G: GridSource2D, K: GridGradientSink2D>(
    _ s: SamplingShape2D, _ gradOutput: UnsafePointer<T>, _ input: UnsafePointer<T>,
    _ source: G, _ sink: K, _ mode: InterpolationMode, _ padding: PaddingMode, _ alignCorners: Bool,
    _ positions: Range<Int>, _ fill: UnsafePointer<T>?, prefetchThrough: Int? = nil
) where G.Scalar == T, K.Scalar == T {
    let path = backwardGrid2DPath(T.self, s, mode, padding)
    if path != .scalar {
        dispatchPolicy(
            BackwardGrid2DBlockKernel(
                s, gradOutput, input, source, sink, positions, fill, path,
                prefetchThrough: prefetchThrough ?? positions.upperBound),
            padding, alignCorners)
        return
    }
    let plane = s.outputPlane, inPlane = s.inputPlane, C = s.channels
    let W = s.inputWidth, H = s.inputHeight
    withUnsafeTemporaryAllocation(of: T.self, capacity: 2 * sampleBlock) { outScratch in
        forEachSourceBlock(source, positions, plane: plane) { b, q0, n, grid in
            let src = input + b * C * inPlane
            let gOut = gradOutput + b * C * plane - b * plane
            let gradGrid = sink.destination(q0, outScratch.baseAddress!)
            for i in 0..<n {
                let q = q0 + i
                var gx: T = 0, gy: T = 0
                switch mode {
                case .bilinear:
                    let (x, mx) = sourceIndexVectorWithGradient(
                        grid[2 * i], size: W, padding: padding, alignCorners: alignCorners)
                    let (y, my) = sourceIndexVectorWithGradient(
                        grid[2 * i + 1], size: H, padding: padding, alignCorners: alignCorners)
                    let t = BilinearTaps2D(x: x, y: y, width: W, height: H)
                    for c in 0..<C {
                        let go = gOut[c * plane + q]
                        let (nw, ne, sw, se) = t.values(src + c * inPlane, fill: fill?[c] ?? 0)
                        gx = gx + ((ne - nw) * t.fs + (se - sw) * t.fn) * go
                        gy = gy + ((sw - nw) * t.fe + (se - ne) * t.fw) * go
                    }
                    gx = gx * mx; gy = gy * my
                case .nearest:
                    break
                case .bicubic:
                    let ix = unnormalizeVector(grid[2 * i], size: W, alignCorners: alignCorners)
                    let iy = unnormalizeVector(grid[2 * i + 1], size: H, alignCorners: alignCorners)
                    let t = BicubicTaps2D(
                        ix: ix, iy: iy, width: W, height: H, padding: padding, alignCorners: alignCorners)
                    let dx = Quad(cubicCoefficientGradients(t.tx)), dy = Quad(cubicCoefficientGradients(t.ty))
                    for c in 0..<C {
                        let go = gOut[c * plane + q]
                        let p = src + c * inPlane
                        let f = fill?[c] ?? 0
                        for i in 0..<4 {
                            for j in 0..<4 {
                                let v = t.value(p, i, j, width: W, fill: f)
                                gx = gx - v * go * dx[i] * t.cy[j]
                                gy = gy - v * go * t.cx[i] * dy[j]
                            }
                        }
                    }
                    let mx: T = unnormalizeGradient(size: W, alignCorners: alignCorners)
                    let my: T = unnormalizeGradient(size: H, alignCorners: alignCorners)
                    gx = gx * mx; gy = gy * my
                }
                gradGrid[2 * i] = gx
                gradGrid[2 * i + 1] = gy
            }
            sink.commit(b, q0, n, gradGrid)
        }
    }
}
