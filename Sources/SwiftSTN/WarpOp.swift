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

    /// Validates and writes the warped `input` into `output` (of `outputShape(...)`). `fill`
    /// selects fill padding (with `padding` `.zeros`), as in `GridSample.run`.
    public static func run<T: STNFloat>(
        kind: Kind, input: UnsafePointer<T>, inputShape: [Int], matrices: UnsafePointer<T>, matrixShape: [Int],
        outSize: [Int], mode: InterpolationMode, padding: PaddingMode, alignCorners: Bool,
        fill: UnsafeBufferPointer<T>? = nil, output: UnsafeMutablePointer<T>
    ) throws {
        let op = names(kind).op
        _ = try outputShape(kind: kind, inputShape: inputShape, matrixShape: matrixShape, outSize: outSize)
        let fills = try fill.map { try GridSample.fillValues($0, inputShape: inputShape, padding: padding, op: op) }
        let s = shape(inputShape, outSize)
        let (baseX, baseY) = baseCoordinates(T.self, s, alignCorners)
        withOptionalBase(fills) { fill in
            baseX.withBase { bx in
                baseY.withBase { by in
                    let geometry = WarpGeometry2D(kind: kind, matrices: matrices, baseX: bx, baseY: by)
                    Threading.parallelFor(
                        s.batch * s.outputPlane, grain: GridSample.positionGrain(channels: s.channels)
                    ) { r in
                        warp2DForward(
                            s, input: input, geometry: geometry, output: output, mode: mode, padding: padding,
                            alignCorners: alignCorners, positions: r, fill: fill)
                    }
                }
            }
        }
    }

    /// Validates and computes the gradients of the warp: d(loss)/d(input) into `gradInput`
    /// (input's shape; `nil` skips that work) and d(loss)/d(matrices) into `gradMatrices`
    /// (the matrices' shape).
    public static func runBackward<T: STNFloat>(
        kind: Kind, gradOutput: UnsafePointer<T>, gradOutputShape: [Int], input: UnsafePointer<T>, inputShape: [Int],
        matrices: UnsafePointer<T>, matrixShape: [Int], outSize: [Int], mode: InterpolationMode,
        padding: PaddingMode, alignCorners: Bool, fill: UnsafeBufferPointer<T>? = nil,
        gradInput: UnsafeMutablePointer<T>?, gradMatrices: UnsafeMutablePointer<T>
    ) throws {
        let op = names(kind).op + "_backward"
        let outShape = try outputShape(
            kind: kind, inputShape: inputShape, matrixShape: matrixShape, outSize: outSize, op: op)
        guard gradOutputShape == outShape else {
            throw STNError.invalid(
                "\(op): expected grad_output of shape \(describeShape(outShape)) (the output's shape for input of shape \(describeShape(inputShape)) and out_size \(describeShape(outSize))), got grad_output of shape \(describeShape(gradOutputShape))"
            )
        }
        let fills = try fill.map { try GridSample.fillValues($0, inputShape: inputShape, padding: padding, op: op) }
        let s = shape(inputShape, outSize)
        let (n, c, ho, wo) = (s.batch, s.channels, s.outputHeight, s.outputWidth)
        let (baseX, baseY) = baseCoordinates(T.self, s, alignCorners)
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

// MARK: - Swift API

/// grid_sample(input, affine_grid(theta, (N, C, Ho, Wo))) in one pass, bit for bit.
/// `outSize` is (Ho, Wo); theta is N×2×3.
public func warpAffine<T: STNFloat>(
    _ input: Tensor<T>, theta: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    padding: PaddingMode = .zeros, alignCorners: Bool = false
) throws -> Tensor<T> {
    try warp(.affine, input, theta, outSize, mode, padding, nil, alignCorners)
}

/// `warpAffine` with fill padding (taps outside the input read `fill[c]`).
public func warpAffine<T: STNFloat>(
    _ input: Tensor<T>, theta: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear, fill: [T],
    alignCorners: Bool = false
) throws -> Tensor<T> {
    try warp(.affine, input, theta, outSize, mode, .zeros, fill, alignCorners)
}

/// grid_sample(input, perspective_grid(H, (N, C, Ho, Wo))) in one pass, bit for bit. H is N×3×3.
public func warpPerspective<T: STNFloat>(
    _ input: Tensor<T>, homography: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    padding: PaddingMode = .zeros, alignCorners: Bool = false
) throws -> Tensor<T> {
    try warp(.perspective, input, homography, outSize, mode, padding, nil, alignCorners)
}

/// `warpPerspective` with fill padding.
public func warpPerspective<T: STNFloat>(
    _ input: Tensor<T>, homography: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear, fill: [T],
    alignCorners: Bool = false
) throws -> Tensor<T> {
    try warp(.perspective, input, homography, outSize, mode, .zeros, fill, alignCorners)
}

/// Gradients of `warpAffine`: d(loss)/d(input) (nil unless `inputRequiresGrad`) and d(loss)/d(theta).
public func warpAffineBackward<T: STNFloat>(
    gradOutput: Tensor<T>, input: Tensor<T>, theta: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    padding: PaddingMode = .zeros, alignCorners: Bool = false, inputRequiresGrad: Bool = true
) throws -> (gradInput: Tensor<T>?, gradTheta: Tensor<T>) {
    let r = try warpBackward(
        .affine, gradOutput, input, theta, outSize, mode, padding, nil, alignCorners, inputRequiresGrad)
    return (r.0, r.1)
}

/// Gradients of fill-padded `warpAffine`.
public func warpAffineBackward<T: STNFloat>(
    gradOutput: Tensor<T>, input: Tensor<T>, theta: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    fill: [T], alignCorners: Bool = false, inputRequiresGrad: Bool = true
) throws -> (gradInput: Tensor<T>?, gradTheta: Tensor<T>) {
    let r = try warpBackward(
        .affine, gradOutput, input, theta, outSize, mode, .zeros, fill, alignCorners, inputRequiresGrad)
    return (r.0, r.1)
}

/// Gradients of `warpPerspective`: d(loss)/d(input) (nil unless `inputRequiresGrad`) and d(loss)/d(H).
public func warpPerspectiveBackward<T: STNFloat>(
    gradOutput: Tensor<T>, input: Tensor<T>, homography: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    padding: PaddingMode = .zeros, alignCorners: Bool = false, inputRequiresGrad: Bool = true
) throws -> (gradInput: Tensor<T>?, gradHomography: Tensor<T>) {
    let r = try warpBackward(
        .perspective, gradOutput, input, homography, outSize, mode, padding, nil, alignCorners, inputRequiresGrad)
    return (r.0, r.1)
}

/// Gradients of fill-padded `warpPerspective`.
public func warpPerspectiveBackward<T: STNFloat>(
    gradOutput: Tensor<T>, input: Tensor<T>, homography: Tensor<T>, outSize: [Int], mode: InterpolationMode = .bilinear,
    fill: [T], alignCorners: Bool = false, inputRequiresGrad: Bool = true
) throws -> (gradInput: Tensor<T>?, gradHomography: Tensor<T>) {
    let r = try warpBackward(
        .perspective, gradOutput, input, homography, outSize, mode, .zeros, fill, alignCorners, inputRequiresGrad)
    return (r.0, r.1)
}

private func warp<T: STNFloat>(
    _ kind: Warp.Kind, _ input: Tensor<T>, _ matrices: Tensor<T>, _ outSize: [Int], _ mode: InterpolationMode,
    _ padding: PaddingMode, _ fill: [T]?, _ alignCorners: Bool
) throws -> Tensor<T> {
    let shape = try Warp.outputShape(kind: kind, inputShape: input.shape, matrixShape: matrices.shape, outSize: outSize)
    var output = Tensor<T>(uncheckedShape: shape, count: try elementCount(shape, name: "output"))
    try input.scalars.withBase { i in
        try matrices.scalars.withBase { m in
            try output.scalars.withMutableBase { o in
                try withOptionalBuffer(fill) { f in
                    try Warp.run(
                        kind: kind, input: i, inputShape: input.shape, matrices: m, matrixShape: matrices.shape,
                        outSize: outSize, mode: mode, padding: padding, alignCorners: alignCorners, fill: f, output: o)
                }
            }
        }
    }
    return output
}

private func warpBackward<T: STNFloat>(
    _ kind: Warp.Kind, _ gradOutput: Tensor<T>, _ input: Tensor<T>, _ matrices: Tensor<T>, _ outSize: [Int],
    _ mode: InterpolationMode, _ padding: PaddingMode, _ fill: [T]?, _ alignCorners: Bool, _ inputRequiresGrad: Bool
) throws -> (Tensor<T>?, Tensor<T>) {
    _ = try Warp.outputShape(
        kind: kind, inputShape: input.shape, matrixShape: matrices.shape, outSize: outSize,
        op: Warp.names(kind).op + "_backward")
    var gradMatrices = Tensor<T>(uncheckedShape: matrices.shape, count: matrices.count)
    var gradInput: Tensor<T>? = inputRequiresGrad ? Tensor<T>(uncheckedShape: input.shape, count: input.count) : nil
    try gradOutput.scalars.withBase { go in
        try input.scalars.withBase { i in
            try matrices.scalars.withBase { m in
                try gradMatrices.scalars.withMutableBase { gm in
                    try withOptionalBuffer(fill) { f in
                        func run(_ gi: UnsafeMutablePointer<T>?) throws {
                            try Warp.runBackward(
                                kind: kind, gradOutput: go, gradOutputShape: gradOutput.shape, input: i,
                                inputShape: input.shape, matrices: m, matrixShape: matrices.shape,
                                outSize: outSize, mode: mode, padding: padding, alignCorners: alignCorners,
                                fill: f, gradInput: gi, gradMatrices: gm)
                        }
                        if gradInput != nil {
                            try gradInput!.scalars.withMutableBase { try run($0) }
                        } else {
                            try run(nil)
                        }
                    }
                }
            }
        }
    }
    return (gradInput, gradMatrices)
}
