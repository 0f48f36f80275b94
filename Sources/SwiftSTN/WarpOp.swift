import STNKernels

/// `warp_affine` / `warp_perspective`: grid_sample(input, affine_grid(theta, (N, C, Ho, Wo)))
/// and grid_sample(input, perspective_grid(H, (N, C, Ho, Wo))) fused into one pass that never
/// holds the grid in memory (Sources/STNKernels/FusedWarp.swift), with their gradients.
///
/// Outputs, input gradients and matrix gradients are bit for bit those of the two-step path,
/// at every thread count: the grid points are generated with the generators' arithmetic, and
/// the matrix gradient adds the same terms in the same order as the generators' backward.
public enum Warp {
    public typealias Kind = WarpKind

    static func names(_ kind: Kind) -> (op: String, matrix: String, rows: Int) {
        kind == .affine ? ("warp_affine", "theta", 2) : ("warp_perspective", "H", 3)
    }

    /// Validates input (N, C, H, W), the matrices (N, 2, 3) or (N, 3, 3) and `outSize` (Ho, Wo),
    /// and returns the output's shape (N, C, Ho, Wo).
    public static func outputShape(
        kind: Kind, inputShape: [Int], matrixShape: [Int], outSize: [Int],
        op: String? = nil
    ) throws -> [Int] {
        let (name, matrix, rows) = names(kind)
        let op = op ?? name
        // Built only for an error message (formatting them on every call cost ~15 % of a
        // small call's overhead).
        var inDesc: String { "input of shape \(describeShape(inputShape))" }
        guard inputShape.count == 4 else {
            throw STNError.invalid("\(op): expected 4-D input (N, C, H, W), got \(inDesc)")
        }
        _ = try elementCount(inputShape, name: "input")
        for i in 2..<4 where inputShape[i] == 0 {
            throw STNError.invalid(
                "\(op): expected input to have non-empty spatial dimensions, got \(inDesc) with dimension \(i) empty")
        }
        guard outSize.count == 2 && outSize.allSatisfy({ $0 > 0 }) else {
            throw STNError.invalid(
                "\(op): expected out_size to be (Ho, Wo) with positive entries, got out_size \(describeShape(outSize))")
        }
        let expected = [inputShape[0], rows, 3]
        guard matrixShape == expected else {
            throw STNError.invalid(
                "\(op): expected \(matrix) of shape (N, \(rows), 3) = \(describeShape(expected)) for \(inDesc), got \(matrix) of shape \(describeShape(matrixShape))"
            )
        }
        let shape = [inputShape[0], inputShape[1], outSize[0], outSize[1]]
        _ = try elementCount(shape, name: "output")
        return shape
    }

    /// Validates a warp call once: input, matrices, `outSize`, padding (fill values included) and,
    /// for a backward call, grad_output's shape. The plan's `forward`/`backward` take it as is.
    public static func plan(
        kind: Kind, inputShape: [Int], matrixShape: [Int], outSize: [Int], mode: InterpolationMode,
        padding: Padding = .zeros, alignCorners: Bool, layout: ImageLayout = .channelsFirst,
        gradOutputShape: [Int]? = nil
    ) throws -> WarpPlan {
        let op = names(kind).op + (gradOutputShape == nil ? "" : "_backward")
        if gradOutputShape != nil { try layout.requireChannelsFirst(op: op) }
        let logical = try layout.logicalShape(inputShape, name: "input", op: op)
        let outShape = try outputShape(
            kind: kind, inputShape: logical, matrixShape: matrixShape, outSize: outSize, op: op)
        if let gradOutputShape, gradOutputShape != outShape {
            throw STNError.invalid(
                "\(op): expected grad_output of shape \(describeShape(outShape)) (the output's shape for input of shape \(describeShape(inputShape)) and out_size \(describeShape(outSize))), got grad_output of shape \(describeShape(gradOutputShape))"
            )
        }
        let (p, fill) = try padding.resolve(channels: logical[1], inputShape: inputShape, op: op)
        return WarpPlan(
            kind: kind, inputShape: inputShape, matrixShape: matrixShape, outputShape: layout.physicalShape(outShape),
            mode: mode, padding: p, fill: fill, alignCorners: alignCorners, layout: layout,
            logicalInputShape: logical, outSize: outSize)
    }

    static func shape(_ i: [Int], _ outSize: [Int]) -> SamplingShape2D {
        SamplingShape2D(
            batch: i[0], channels: i[1], inputHeight: i[2], inputWidth: i[3],
            outputHeight: outSize[0], outputWidth: outSize[1])
    }

    /// `baseCoordinate` of every output column and row: affine_grid's base coordinates.
    static func baseCoordinates<T: STNFloat>(_: T.Type, _ s: SamplingShape2D, _ alignCorners: Bool) -> ([T], [T]) {
        (
            (0..<s.outputWidth).map { baseCoordinate($0, steps: s.outputWidth, alignCorners: alignCorners) },
            (0..<s.outputHeight).map { baseCoordinate($0, steps: s.outputHeight, alignCorners: alignCorners) }
        )
    }
}

/// A validated warp call (`Warp.plan`). `forward` and `backward` check nothing: their pointers
/// must hold the plan's shapes.
public struct WarpPlan: Sendable {
    public let kind: Warp.Kind
    public let inputShape: [Int]
    public let matrixShape: [Int]
    public let outputShape: [Int]
    public let mode: InterpolationMode
    /// Where taps are located (fill padding locates them as zeros padding does).
    public let padding: PaddingMode
    /// Fill padding's values, one per channel; nil for the other paddings.
    public let fill: [Double]?
    public let alignCorners: Bool
    public let layout: ImageLayout
    /// The input's shape as N×C×H×W.
    let logicalInputShape: [Int]
    /// (Ho, Wo).
    let outSize: [Int]

    /// Writes the warped `input` into `output`.
    public func forward<T: STNFloat>(
        input: UnsafePointer<T>, matrices: UnsafePointer<T>, output: UnsafeMutablePointer<T>
    ) {
        if layout == .channelsLast { return forwardPixels(input: input, matrices: matrices, output: output) }
        let (mode, padding, alignCorners) = (self.mode, self.padding, self.alignCorners)
        forEachTask(matrices) { s, geometry, fill, r in
            warp2DForward(
                s, input: input, geometry: geometry, output: output, mode: mode, padding: padding,
                alignCorners: alignCorners, positions: r, fill: fill)
        }
    }

    /// Warps a pixel image (elements `E` in the plan's layout; matrices in the compute type `T`)
    /// into `output` (elements `O`), as `GridSamplePlan.forwardPixels` samples.
    public func forwardPixels<E: PixelElement, O: PixelElement, T: STNFloat>(
        input: UnsafePointer<E>, matrices: UnsafePointer<T>, output: UnsafeMutablePointer<O>
    ) {
        let (mode, padding, alignCorners) = (self.mode, self.padding, self.alignCorners)
        let inL = layout.pixelLayout(logicalInputShape)
        let outL = layout.pixelLayout([logicalInputShape[0], logicalInputShape[1]] + outSize)
        forEachTask(matrices) { s, geometry, fill, r in
            warpPixels2D(
                s, input: input, inputLayout: inL, geometry: geometry, output: output, outputLayout: outL,
                mode: mode, padding: padding, alignCorners: alignCorners, positions: r, fill: fill)
        }
    }

    /// The forward passes' threading: `body(shape, geometry, fill, positions)` for every task's
    /// range of output positions.
    private func forEachTask<T: STNFloat>(
        _ matrices: UnsafePointer<T>,
        _ body: (SamplingShape2D, WarpGeometry2D<T>, UnsafePointer<T>?, Range<Int>) -> Void
    ) {
        if outputShape.contains(0) { return }
        let s = Warp.shape(logicalInputShape, outSize)
        let (baseX, baseY) = Warp.baseCoordinates(T.self, s, alignCorners)
        withFill(fill, as: T.self) { fill in
            baseX.withBase { bx in
                baseY.withBase { by in
                    let geometry = WarpGeometry2D(kind: kind, matrices: matrices, baseX: bx, baseY: by)
                    Threading.parallelFor(
                        s.batch * s.outputPlane, grain: GridSample.positionGrain(channels: s.channels)
                    ) { r in body(s, geometry, fill, r) }
                }
            }
        }
    }

    /// The gradients: d(loss)/d(input) into `gradInput` (input's shape; nil skips that work) and
    /// d(loss)/d(matrices) into `gradMatrices` (the matrices' shape).
    public func backward<T: STNFloat>(
        gradOutput: UnsafePointer<T>, input: UnsafePointer<T>, matrices: UnsafePointer<T>,
        gradInput: UnsafeMutablePointer<T>?, gradMatrices: UnsafeMutablePointer<T>
    ) {
        // An empty input has no gradient to zero (its pointer may be a placeholder).
        let gradInput = inputShape.contains(0) ? nil : gradInput
        let (kind, mode, padding, alignCorners) = (self.kind, self.mode, self.padding, self.alignCorners)
        let fills = fill.map { $0.map { T($0) } }
        let s = Warp.shape(inputShape, outSize)
        let (n, c, ho, wo) = (s.batch, s.channels, s.outputHeight, s.outputWidth)
        let (baseX, baseY) = Warp.baseCoordinates(T.self, s, alignCorners)
        let width = kind == .affine ? 4 : 6
        var rowSums = [T](repeating: 0, count: n * ho * width)
        withOptionalBase(fills) { fill in
            baseX.withBase { bx in
                baseY.withBase { by in
                    rowSums.withMutableBase { sums in
                        let geometry = WarpGeometry2D(kind: kind, matrices: matrices, baseX: bx, baseY: by)
                        @inline(__always) func gridPass(_ rows: Range<Int>, prefetchThrough: Int? = nil) {
                            warp2DBackwardRowSums(
                                s, gradOutput: gradOutput, input: input, geometry: geometry, rowSums: sums,
                                mode: mode, padding: padding, alignCorners: alignCorners, rows: rows, fill: fill,
                                prefetchThroughRow: prefetchThrough)
                        }
                        if let gradInput, n >= 2 * Threading.threadCount {
                            // One task per run of whole batch elements does everything for them
                            // (as GridSample.runBackward does); the bits do not depend on the split.
                            Threading.parallelFor(n, grain: 1) { batches in
                                for b in batches {
                                    zeroElements(gradInput + b * c * s.inputPlane, count: c * s.inputPlane)
                                    warp2DBackwardElement(
                                        s, gradOutput: gradOutput, input: input, geometry: geometry,
                                        gradInput: gradInput, rowSums: sums, mode: mode, padding: padding,
                                        alignCorners: alignCorners, batch: b, fill: fill,
                                        prefetchNext: b + 1 < batches.upperBound)
                                }
                                warp2DBackwardFold(
                                    geometry: geometry, rowSums: sums, gradMatrices: gradMatrices,
                                    height: ho, batches: batches)
                            }
                            return
                        }
                        if let gradInput {
                            Threading.parallelFor(n * c, grain: GridSample.channelGrain(s.outputPlane)) { r in
                                GridSample.forEachChannelRange(r, channels: c) { b, channels in
                                    zeroElements(
                                        gradInput + (b * c + channels.lowerBound) * s.inputPlane,
                                        count: channels.count * s.inputPlane)
                                    warp2DBackwardInput(
                                        s, gradOutput: gradOutput, geometry: geometry, gradInput: gradInput,
                                        mode: mode, padding: padding, alignCorners: alignCorners,
                                        batch: b, channels: channels)
                                }
                            }
                        }
                        let rowGrain = max(1, GridSample.positionGrain(channels: c) / wo)
                        Threading.parallelFor(n * ho, grain: rowGrain) { rows in gridPass(rows) }
                        warp2DBackwardFold(
                            geometry: geometry, rowSums: sums, gradMatrices: gradMatrices,
                            height: ho, batches: 0..<n)
                    }
                }
            }
        }
    }
}

// MARK: - Swift API

/// grid_sample(input, affine_grid(theta, (N, C, Ho, Wo))) in one pass, bit for bit.
/// `outSize` is (Ho, Wo); theta is N×2×3.
public func warpAffine<T: STNFloat>(
    _ input: Tensor<T>, theta: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    padding: Padding = .zeros, alignCorners: Bool = false
) throws -> Tensor<T> {
    try warp(.affine, input, theta, outSize, mode, padding, alignCorners)
}

/// grid_sample(input, perspective_grid(H, (N, C, Ho, Wo))) in one pass, bit for bit. H is N×3×3.
public func warpPerspective<T: STNFloat>(
    _ input: Tensor<T>, homography: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    padding: Padding = .zeros, alignCorners: Bool = false
) throws -> Tensor<T> {
    try warp(.perspective, input, homography, outSize, mode, padding, alignCorners)
}

/// Gradients of `warpAffine`: d(loss)/d(input) (nil unless `inputRequiresGrad`) and d(loss)/d(theta).
public func warpAffineBackward<T: STNFloat>(
    gradOutput: Tensor<T>, input: Tensor<T>, theta: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    padding: Padding = .zeros, alignCorners: Bool = false, inputRequiresGrad: Bool = true
) throws -> (gradInput: Tensor<T>?, gradTheta: Tensor<T>) {
    let r = try warpBackward(.affine, gradOutput, input, theta, outSize, mode, padding, alignCorners, inputRequiresGrad)
    return (r.0, r.1)
}

/// Gradients of `warpPerspective`: d(loss)/d(input) (nil unless `inputRequiresGrad`) and d(loss)/d(H).
public func warpPerspectiveBackward<T: STNFloat>(
    gradOutput: Tensor<T>, input: Tensor<T>, homography: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    padding: Padding = .zeros, alignCorners: Bool = false, inputRequiresGrad: Bool = true
) throws -> (gradInput: Tensor<T>?, gradHomography: Tensor<T>) {
    let r = try warpBackward(
        .perspective, gradOutput, input, homography, outSize, mode, padding, alignCorners, inputRequiresGrad)
    return (r.0, r.1)
}

private func warp<T: STNFloat>(
    _ kind: Warp.Kind, _ input: Tensor<T>, _ matrices: Tensor<T>, _ outSize: [Int], _ mode: InterpolationMode,
    _ padding: Padding, _ alignCorners: Bool
) throws -> Tensor<T> {
    let plan = try Warp.plan(
        kind: kind, inputShape: input.shape, matrixShape: matrices.shape, outSize: outSize, mode: mode,
        padding: padding, alignCorners: alignCorners)
    return try forwardTensor(input, matrices, plan.outputShape) { plan.forward(input: $0, matrices: $1, output: $2) }
}

private func warpBackward<T: STNFloat>(
    _ kind: Warp.Kind, _ gradOutput: Tensor<T>, _ input: Tensor<T>, _ matrices: Tensor<T>, _ outSize: [Int],
    _ mode: InterpolationMode, _ padding: Padding, _ alignCorners: Bool, _ inputRequiresGrad: Bool
) throws -> (Tensor<T>?, Tensor<T>) {
    let plan = try Warp.plan(
        kind: kind, inputShape: input.shape, matrixShape: matrices.shape, outSize: outSize, mode: mode,
        padding: padding, alignCorners: alignCorners, gradOutputShape: gradOutput.shape)
    return backwardTensors(gradOutput, input, matrices, inputRequiresGrad) { go, i, m, gi, gm in
        plan.backward(gradOutput: go, input: i, matrices: m, gradInput: gi, gradMatrices: gm)
    }
}
