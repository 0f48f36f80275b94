import STNKernels

/// `grid_sample`: validation, threading and the safe Swift API around the sampler kernels.
///
/// input N×C×H×W with grid N×Ho×Wo×2 gives N×C×Ho×Wo; input N×C×D×H×W with grid N×Do×Ho×Wo×3
/// gives N×C×Do×Ho×Wo — `torch.nn.functional.grid_sample`'s contract, every mode and padding —
/// plus tricubic sampling (`.bicubic` on 5-D input) and fill padding (`fill`: taps outside the
/// input read a per-channel value instead of zero; coordinates are zeros padding's).
public enum GridSample {
    /// Validates input and grid shapes for `mode` and returns the output's shape.
    public static func outputShape(
        inputShape: [Int], gridShape: [Int], mode: InterpolationMode,
        op: String = "grid_sample"
    ) throws -> [Int] {
        // Built only for an error message (formatting them on every call cost ~15 % of a
        // small call's overhead).
        var inDesc: String { "input of shape \(describeShape(inputShape))" }
        var gridDesc: String { "grid of shape \(describeShape(gridShape))" }
        guard (inputShape.count == 4 || inputShape.count == 5) && gridShape.count == inputShape.count else {
            throw STNError.invalid(
                "\(op): expected 4-D or 5-D input and grid with the same number of dimensions, got \(inDesc) and \(gridDesc)"
            )
        }
        _ = try elementCount(inputShape, name: "input")
        _ = try elementCount(gridShape, name: "grid")
        let d = inputShape.count - 2
        guard inputShape[0] == gridShape[0] else {
            throw STNError.invalid(
                "\(op): expected input and grid to have the same batch size, got \(inDesc) and \(gridDesc)")
        }
        guard gridShape[gridShape.count - 1] == d else {
            throw STNError.invalid(
                "\(op): expected grid to have size \(d) in its last dimension for \(d + 2)-D input, got \(gridDesc)")
        }
        for i in 2..<inputShape.count where inputShape[i] == 0 {
            throw STNError.invalid(
                "\(op): expected input to have non-empty spatial dimensions, got \(inDesc) with dimension \(i) empty")
        }
        let shape = [inputShape[0], inputShape[1]] + gridShape[1...d]
        _ = try elementCount(shape, name: "output")
        return shape
    }

    /// Validates a `grid_sample` call once: shapes, mode, padding (fill values included), the
    /// layout (channels-last: 4-D input and output, forward only) and, for a backward call,
    /// grad_output's shape. The plan's `forward`/`backward` take it as is.
    public static func plan(
        inputShape: [Int], gridShape: [Int], mode: InterpolationMode, padding: Padding = .zeros,
        alignCorners: Bool, layout: ImageLayout = .channelsFirst, gradOutputShape: [Int]? = nil
    ) throws -> GridSamplePlan {
        let op = gradOutputShape == nil ? "grid_sample" : "grid_sample_backward"
        if gradOutputShape != nil { try layout.requireChannelsFirst(op: op) }
        let logical = try layout.logicalShape(inputShape, name: "input", op: op)
        let outShape = try outputShape(inputShape: logical, gridShape: gridShape, mode: mode, op: op)
        if let gradOutputShape, gradOutputShape != outShape {
            throw STNError.invalid(
                "grid_sample_backward: expected grad_output of shape \(describeShape(outShape)) (the output's shape for input of shape \(describeShape(inputShape)) and grid of shape \(describeShape(gridShape))), got grad_output of shape \(describeShape(gradOutputShape))"
            )
        }
        let (p, fill) = try padding.resolve(channels: logical[1], inputShape: inputShape, op: op)
        return GridSamplePlan(
            inputShape: inputShape, gridShape: gridShape, outputShape: layout.physicalShape(outShape), mode: mode,
            padding: p, fill: fill, alignCorners: alignCorners, layout: layout, logicalInputShape: logical)
    }

    static func backward<T: STNFloat>(
        gradOutput: UnsafePointer<T>, input: UnsafePointer<T>, inputShape: [Int], grid: UnsafePointer<T>,
        gridShape: [Int], mode: InterpolationMode, padding: PaddingMode, alignCorners: Bool,
        fill: UnsafePointer<T>?, gradInput: UnsafeMutablePointer<T>?, gradGrid: UnsafeMutablePointer<T>
    ) {
        let (n, c) = (inputShape[0], inputShape[1])
        let inPlane = inputShape.dropFirst(2).reduce(1, *)
        let grain = positionGrain(channels: c)
        // With enough batch elements, one task per run of whole elements does both passes for
        // them (zeroing, input-gradient scatter, grid gradient): one dispatch instead of two, and
        // each element's data is still in cache for the second pass. Every element's arithmetic is
        // exactly the split version's, so the bits are the same.
        let fuse = gradInput != nil && n >= 2 * Threading.threadCount
        if inputShape.count == 4 && fuse, let gradInput {
            let s = shape2D(inputShape, gridShape)
            Threading.parallelFor(n, grain: 1) { batches in
                for b in batches {
                    zeroElements(gradInput + b * c * inPlane, count: c * inPlane)
                    gridSample2DBackwardElement(
                        s, gradOutput: gradOutput, input: input, grid: grid, gradInput: gradInput,
                        gradGrid: gradGrid, mode: mode, padding: padding,
                        alignCorners: alignCorners, batch: b, fill: fill,
                        prefetchNext: b + 1 < batches.upperBound)
                }
            }
        } else if inputShape.count == 5 && fuse, let gradInput {
            let s = shape3D(inputShape, gridShape)
            Threading.parallelFor(n, grain: 1) { batches in
                for b in batches {
                    zeroElements(gradInput + b * c * inPlane, count: c * inPlane)
                    gridSample3DBackwardInput(
                        s, gradOutput: gradOutput, grid: grid, gradInput: gradInput, mode: mode,
                        padding: padding, alignCorners: alignCorners, batch: b, channels: 0..<c)
                    gridSample3DBackwardGrid(
                        s, gradOutput: gradOutput, input: input, grid: grid, gradGrid: gradGrid, mode: mode,
                        padding: padding, alignCorners: alignCorners,
                        positions: (b * s.outputPlane)..<((b + 1) * s.outputPlane), fill: fill)
                }
            }
        } else if inputShape.count == 4 {
            let s = shape2D(inputShape, gridShape)
            if let gradInput {
                Threading.parallelFor(n * c, grain: channelGrain(s.outputPlane)) { r in
                    forEachChannelRange(r, channels: c) { b, channels in
                        zeroElements(
                            gradInput + (b * c + channels.lowerBound) * inPlane, count: channels.count * inPlane)
                        gridSample2DBackwardInput(
                            s, gradOutput: gradOutput, grid: grid, gradInput: gradInput, mode: mode,
                            padding: padding, alignCorners: alignCorners, batch: b, channels: channels)
                    }
                }
            }
            Threading.parallelFor(n * s.outputPlane, grain: grain) { r in
                gridSample2DBackwardGrid(
                    s, gradOutput: gradOutput, input: input, grid: grid, gradGrid: gradGrid, mode: mode,
                    padding: padding, alignCorners: alignCorners, positions: r, fill: fill)
            }
        } else {
            let s = shape3D(inputShape, gridShape)
            if let gradInput {
                Threading.parallelFor(n * c, grain: channelGrain(s.outputPlane)) { r in
                    forEachChannelRange(r, channels: c) { b, channels in
                        zeroElements(
                            gradInput + (b * c + channels.lowerBound) * inPlane, count: channels.count * inPlane)
                        gridSample3DBackwardInput(
                            s, gradOutput: gradOutput, grid: grid, gradInput: gradInput, mode: mode,
                            padding: padding, alignCorners: alignCorners, batch: b, channels: channels)
                    }
                }
            }
            Threading.parallelFor(n * s.outputPlane, grain: grain) { r in
                gridSample3DBackwardGrid(
                    s, gradOutput: gradOutput, input: input, grid: grid, gradGrid: gradGrid, mode: mode,
                    padding: padding, alignCorners: alignCorners, positions: r, fill: fill)
            }
        }
    }

    static func shape2D(_ i: [Int], _ g: [Int]) -> SamplingShape2D {
        SamplingShape2D(
            batch: i[0], channels: i[1], inputHeight: i[2], inputWidth: i[3],
            outputHeight: g[1], outputWidth: g[2])
    }

    static func shape3D(_ i: [Int], _ g: [Int]) -> SamplingShape3D {
        SamplingShape3D(
            batch: i[0], channels: i[1], inputDepth: i[2], inputHeight: i[3], inputWidth: i[4],
            outputDepth: g[1], outputHeight: g[2], outputWidth: g[3])
    }

    /// Output positions per task: enough that a task's ~(positions × channels) work dwarfs the
    /// cost of handing it to a thread.
    static func positionGrain(channels: Int) -> Int { max(16, 16_384 / max(1, channels)) }

    /// (batch, channel) planes per task in the input-gradient pass.
    static func channelGrain(_ outputPlane: Int) -> Int { max(1, 16_384 / max(1, outputPlane)) }

    /// Splits a range of flattened (batch, channel) indices into per-batch channel ranges.
    static func forEachChannelRange(_ flat: Range<Int>, channels c: Int, _ body: (Int, Range<Int>) -> Void) {
        var i = flat.lowerBound
        while i < flat.upperBound {
            let b = i / c
            let end = min(flat.upperBound, (b + 1) * c)
            body(b, (i - b * c)..<(end - b * c))
            i = end
        }
    }
}

/// A validated `grid_sample` call (`GridSample.plan`). `forward` and `backward` check nothing:
/// their pointers must hold the plan's shapes (`inputShape`, `gridShape`, `outputShape`).
public struct GridSamplePlan: Sendable {
    public let inputShape: [Int]
    public let gridShape: [Int]
    public let outputShape: [Int]
    public let mode: InterpolationMode
    /// Where taps are located (fill padding locates them as zeros padding does).
    public let padding: PaddingMode
    /// Fill padding's values, one per channel; nil for the other paddings.
    public let fill: [Double]?
    public let alignCorners: Bool
    public let layout: ImageLayout
    /// The input's shape as N×C×H×W (or N×C×D×H×W).
    let logicalInputShape: [Int]

    /// Samples `input` at `grid` into `output`.
    public func forward<T: STNFloat>(
        input: UnsafePointer<T>, grid: UnsafePointer<T>, output: UnsafeMutablePointer<T>
    ) {
        if layout == .channelsLast { return forwardPixels(input: input, grid: grid, output: output) }
        let (mode, padding, alignCorners) = (self.mode, self.padding, self.alignCorners)
        if inputShape.count == 5 {
            let s = GridSample.shape3D(inputShape, gridShape)
            return forEachTask(T.self, s.outputPlane) { fill, r in
                gridSample3DForward(
                    s, input: input, grid: grid, output: output, mode: mode, padding: padding,
                    alignCorners: alignCorners, positions: r, fill: fill)
            }
        }
        let s = GridSample.shape2D(inputShape, gridShape)
        forEachTask(T.self, s.outputPlane) { fill, r in
            gridSample2DForward(
                s, input: input, grid: grid, output: output, mode: mode, padding: padding,
                alignCorners: alignCorners, positions: r, fill: fill)
        }
    }

    /// Samples a 2-D pixel image (uint8, float16, float32 or float64 elements `E`, in the plan's
    /// layout) at `grid` (compute type `T`: float64 for float64 images, else float32) into
    /// `output` (elements `O`): each value is the float path's, converted once (see
    /// `PixelElement`).
    public func forwardPixels<E: PixelElement, O: PixelElement, T: STNFloat>(
        input: UnsafePointer<E>, grid: UnsafePointer<T>, output: UnsafeMutablePointer<O>
    ) {
        let logical = logicalInputShape
        let s = GridSample.shape2D(logical, gridShape)
        let (inL, outL) = (layout.pixelLayout(logical), layout.pixelLayout([s.batch, s.channels] + gridShape[1...2]))
        let (mode, padding, alignCorners) = (self.mode, self.padding, self.alignCorners)
        forEachTask(T.self, s.outputPlane) { fill, r in
            gridSamplePixels2D(
                s, input: input, inputLayout: inL, grid: grid, output: output, outputLayout: outL, mode: mode,
                padding: padding, alignCorners: alignCorners, positions: r, fill: fill)
        }
    }

    /// The forward passes' threading: `body(fill, positions)` for every task's range of the
    /// N·`plane` output positions.
    private func forEachTask<T: STNFloat>(_: T.Type, _ plane: Int, _ body: (UnsafePointer<T>?, Range<Int>) -> Void) {
        if outputShape.contains(0) { return }
        let (n, c) = (logicalInputShape[0], logicalInputShape[1])
        withFill(fill, as: T.self) { fill in
            Threading.parallelFor(n * plane, grain: GridSample.positionGrain(channels: c)) { r in body(fill, r) }
        }
    }

    /// The gradients: d(loss)/d(input) into `gradInput` (input's shape; nil skips that work, as a
    /// spatial transformer whose input needs no gradient does) and d(loss)/d(grid) into
    /// `gradGrid`. With fill padding the input gradient is zeros padding's (fill values are
    /// constants); the grid gradient includes the fill values read by outside taps.
    public func backward<T: STNFloat>(
        gradOutput: UnsafePointer<T>, input: UnsafePointer<T>, grid: UnsafePointer<T>,
        gradInput: UnsafeMutablePointer<T>?, gradGrid: UnsafeMutablePointer<T>
    ) {
        // An empty input has no gradient to zero (its pointer may be a placeholder).
        let gradInput = inputShape.contains(0) ? nil : gradInput
        withFill(fill, as: T.self) { fill in
            GridSample.backward(
                gradOutput: gradOutput, input: input, inputShape: inputShape, grid: grid, gridShape: gridShape,
                mode: mode, padding: padding, alignCorners: alignCorners, fill: fill, gradInput: gradInput,
                gradGrid: gradGrid)
        }
    }
}

/// Samples `input` at `grid` (`torch.nn.functional.grid_sample`; `.bicubic` on 5-D input is
/// tricubic; `.fill` padding reads per-channel values outside the input).
public func gridSample<T: STNFloat>(
    _ input: Tensor<T>, grid: Tensor<T>, mode: InterpolationMode = .bilinear,
    padding: Padding = .zeros, alignCorners: Bool = false
) throws -> Tensor<T> {
    let plan = try GridSample.plan(
        inputShape: input.shape, gridShape: grid.shape, mode: mode, padding: padding, alignCorners: alignCorners)
    return try forwardTensor(input, grid, plan.outputShape) { plan.forward(input: $0, grid: $1, output: $2) }
}

/// The Tensor API of a sampler's forward pass: allocates the output of `shape` and runs `body`
/// on the buffers (input, grid or matrices, output).
func forwardTensor<T: STNFloat>(
    _ input: Tensor<T>, _ other: Tensor<T>, _ shape: [Int],
    _ body: (UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void
) throws -> Tensor<T> {
    var output = Tensor<T>(uncheckedShape: shape, count: try elementCount(shape, name: "output"))
    input.scalars.withBase { i in
        other.scalars.withBase { o in output.scalars.withMutableBase { body(i, o, $0) } }
    }
    return output
}

/// The gradients of `gridSample` with respect to its input (unless `inputRequiresGrad` is false,
/// which skips that work) and its grid.
public func gridSampleBackward<T: STNFloat>(
    gradOutput: Tensor<T>, input: Tensor<T>, grid: Tensor<T>, mode: InterpolationMode = .bilinear,
    padding: Padding = .zeros, alignCorners: Bool = false, inputRequiresGrad: Bool = true
) throws -> (gradInput: Tensor<T>?, gradGrid: Tensor<T>) {
    let plan = try GridSample.plan(
        inputShape: input.shape, gridShape: grid.shape, mode: mode, padding: padding, alignCorners: alignCorners,
        gradOutputShape: gradOutput.shape)
    let r = backwardTensors(gradOutput, input, grid, inputRequiresGrad) { go, i, g, gi, gg in
        plan.backward(gradOutput: go, input: i, grid: g, gradInput: gi, gradGrid: gg)
    }
    return (r.0, r.1)
}

/// The Tensor API of a sampler's backward pass: allocates the gradients of `input` (unless
/// `inputRequiresGrad` is false) and of `other` (the grid or matrices), and runs `body` on the
/// buffers (grad_output, input, other, grad_input or nil, grad_other).
func backwardTensors<T: STNFloat>(
    _ gradOutput: Tensor<T>, _ input: Tensor<T>, _ other: Tensor<T>, _ inputRequiresGrad: Bool,
    _ body: (
        UnsafePointer<T>, UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>
    ) -> Void
) -> (Tensor<T>?, Tensor<T>) {
    var gradOther = Tensor<T>(uncheckedShape: other.shape, count: other.count)
    var gradInput: Tensor<T>? = inputRequiresGrad ? Tensor<T>(uncheckedShape: input.shape, count: input.count) : nil
    gradOutput.scalars.withBase { go in
        input.scalars.withBase { i in
            other.scalars.withBase { o in
                gradOther.scalars.withMutableBase { g in
                    withOptionalMutableBase(&gradInput) { gi in body(go, i, o, gi, g) }
                }
            }
        }
    }
    return (gradInput, gradOther)
}

/// `body` with the base of `tensor`'s scalars, or nil when there is no tensor.
func withOptionalMutableBase<T: STNFloat, R>(_ tensor: inout Tensor<T>?, _ body: (UnsafeMutablePointer<T>?) -> R) -> R {
    if tensor == nil { return body(nil) }
    return tensor!.scalars.withMutableBase { body($0) }
}

/// `body` with a valid pointer to `values`' first element (a harmless address when it is
/// empty: kernels never read it then), or nil.
func withOptionalBase<T: STNFloat, R>(_ values: [T]?, _ body: (UnsafePointer<T>?) throws -> R) rethrows -> R {
    guard let values else { return try body(nil) }
    return try values.withBase { try body($0) }
}

extension Array where Element: STNFloat {
    /// Like `withUnsafeBufferPointer`, but always hands out a valid pointer (an empty array's
    /// buffer may have none; kernels never read through it then).
    func withBase<R>(_ body: (UnsafePointer<Element>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { b in
            if let p = b.baseAddress { return try body(p) }
            var dummy: Element = 0
            return try withUnsafePointer(to: &dummy) { try body($0) }
        }
    }

    mutating func withMutableBase<R>(_ body: (UnsafeMutablePointer<Element>) throws -> R) rethrows -> R {
        try withUnsafeMutableBufferPointer { b in
            if let p = b.baseAddress { return try body(p) }
            var dummy: Element = 0
            return try withUnsafeMutablePointer(to: &dummy) { try body($0) }
        }
    }
}
