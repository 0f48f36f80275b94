import STNKernels

// The parameter-free and parametric layers of a network, each a thin adapter from the node
// protocol to its STNKernels kernel.

final class Conv2DNode: LayerNode {
    let inC: Int, outC: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), hasBias: Bool

    init(id: Int, inC: Int, outC: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), bias: Bool) {
        self.inC = inC; self.outC = outC; self.kernel = kernel; self.stride = stride; self.padding = padding
        self.hasBias = bias
        super.init(id: id)
    }

    override var parameterShapes: [[Int]] {
        [[outC, inC, kernel.0, kernel.1]] + (hasBias ? [[outC]] : [])
    }

    func shape(_ n: Int) -> Conv2DShape {
        Conv2DShape(
            batch: n, inChannels: inC, outChannels: outC, inputHeight: inputShape[1],
            inputWidth: inputShape[2], kernelHeight: kernel.0, kernelWidth: kernel.1,
            stride: stride, padding: padding)
    }

    override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3, input[0] == inC else {
            throw shapeError(
                "Conv2d(\(inC), \(outC)) expects inputs of shape (N, \(inC), H, W), got (N, \(input.map(String.init).joined(separator: ", ")))"
            )
        }
        let ho = (input[1] + 2 * padding.0 - kernel.0) / stride.0 + 1
        let wo = (input[2] + 2 * padding.1 - kernel.1) / stride.1 + 1
        guard input[1] + 2 * padding.0 >= kernel.0, input[2] + 2 * padding.1 >= kernel.1, ho > 0, wo > 0 else {
            throw shapeError(
                "Conv2d kernel \(kernel.0)×\(kernel.1) is larger than its padded input \(input[1])×\(input[2])")
        }
        return [outC, ho, wo]
    }

    override func initialize(_ p: UnsafeMutablePointer<Float>, _ rng: inout RandomSource) {
        let fanIn = inC * kernel.0 * kernel.1
        uniformInit(p, count: outC * fanIn, fanIn: fanIn, &rng)
        if hasBias { uniformInit(p + outC * fanIn, count: outC, fanIn: fanIn, &rng) }
    }

    override func workspaceCount(maxBatch: Int) -> Int { conv2DWorkspaceCount(shape(maxBatch)) }

    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        let w = c.parameters + parameterOffset
        conv2DForward(
            shape(n), input: input, weight: w, bias: hasBias ? w + outC * inC * kernel.0 * kernel.1 : nil,
            output: output, batches: 0..<n, workspace: c.workspace)
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        let s = shape(n)
        let wCount = outC * inC * kernel.0 * kernel.1
        if let g = c.gradients {
            conv2DBackwardWeight(
                s, gradOutput: gradOutput, input: input, gradWeight: g + parameterOffset,
                gradBias: hasBias ? g + parameterOffset + wCount : nil, batches: 0..<n,
                workspace: c.workspace)
        }
        if let gradInput {
            conv2DBackwardInput(
                s, gradOutput: gradOutput, weight: c.parameters + parameterOffset,
                gradInput: gradInput, batches: 0..<n, workspace: c.workspace)
        }
    }
}

final class LinearNode: LayerNode {
    let inF: Int, outF: Int, hasBias: Bool

    init(id: Int, inF: Int, outF: Int, bias: Bool) {
        self.inF = inF; self.outF = outF; self.hasBias = bias
        super.init(id: id)
    }

    override var parameterShapes: [[Int]] { [[outF, inF]] + (hasBias ? [[outF]] : []) }

    override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.reduce(1, *) == inF else {
            throw shapeError(
                "Linear(\(inF), \(outF)) expects \(inF) input features, got \(input.reduce(1, *)) (per-sample shape (\(input.map(String.init).joined(separator: ", "))))"
            )
        }
        return [outF]
    }

    func shape(_ n: Int) -> LinearShape { LinearShape(batch: n, inFeatures: inF, outFeatures: outF) }

    override func initialize(_ p: UnsafeMutablePointer<Float>, _ rng: inout RandomSource) {
        uniformInit(p, count: outF * inF, fanIn: inF, &rng)
        if hasBias { uniformInit(p + outF * inF, count: outF, fanIn: inF, &rng) }
    }

    override func workspaceCount(maxBatch: Int) -> Int { linearWorkspaceCount(shape(maxBatch)) }

    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        let w = c.parameters + parameterOffset
        linearForward(
            shape(n), input: input, weight: w, bias: hasBias ? w + outF * inF : nil, output: output,
            batches: 0..<n, workspace: c.workspace)
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        if let g = c.gradients {
            linearBackwardWeight(
                shape(n), gradOutput: gradOutput, input: input, gradWeight: g + parameterOffset,
                gradBias: hasBias ? g + parameterOffset + outF * inF : nil, batches: 0..<n,
                workspace: c.workspace)
        }
        if let gradInput {
            linearBackwardInput(
                shape(n), gradOutput: gradOutput, weight: c.parameters + parameterOffset,
                gradInput: gradInput, batches: 0..<n, workspace: c.workspace)
        }
    }
}

final class MaxPool2DNode: LayerNode {
    let kernel: (Int, Int), stride: (Int, Int)

    init(id: Int, kernel: (Int, Int), stride: (Int, Int)) {
        self.kernel = kernel; self.stride = stride
        super.init(id: id)
    }

    func shape(_ n: Int) -> MaxPool2DShape {
        MaxPool2DShape(
            batch: n, channels: inputShape[0], inputHeight: inputShape[1], inputWidth: inputShape[2],
            kernel: kernel, stride: stride)
    }

    override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3, input[1] >= kernel.0, input[2] >= kernel.1 else {
            throw shapeError(
                "MaxPool2d(\(kernel.0)×\(kernel.1)) expects inputs (N, C, H, W) with H, W ≥ the kernel, got (N, \(input.map(String.init).joined(separator: ", ")))"
            )
        }
        return [input[0], (input[1] - kernel.0) / stride.0 + 1, (input[2] - kernel.1) / stride.1 + 1]
    }

    final class State: LayerState { var indices: UnsafeMutablePointer<Int32>! }

    override func makeState(maxBatch: Int) -> LayerState {
        let s = State()
        s.indices = s.allocate(Int32.self, maxBatch * outputSize)
        return s
    }

    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        maxPool2DForward(shape(n), input: input, output: output, indices: (st as! State).indices, batches: 0..<n)
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        guard let gradInput else { return }
        maxPool2DBackward(
            shape(n), gradOutput: gradOutput, indices: (st as! State).indices, gradInput: gradInput, batches: 0..<n)
    }
}

final class ReLUNode: LayerNode {
    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        reluForward(input: input, output: output, range: 0..<(n * inputSize))
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        guard let gradInput else { return }
        reluBackward(gradOutput: gradOutput, output: output, gradInput: gradInput, range: 0..<(n * inputSize))
    }
}

final class FlattenNode: LayerNode {
    override func outputShape(for input: [Int]) throws -> [Int] { [input.reduce(1, *)] }

    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        output.update(from: input, count: n * inputSize)
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        gradInput?.update(from: gradOutput, count: n * inputSize)
    }
}

final class LogSoftmaxNode: LayerNode {
    override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 1 else {
            throw shapeError(
                "LogSoftmax expects (N, classes) inputs, got (N, \(input.map(String.init).joined(separator: ", "))); add a Flatten"
            )
        }
        return input
    }

    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        logSoftmaxForward(input: input, output: output, classes: inputSize, rows: 0..<n)
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        guard let gradInput else { return }
        logSoftmaxBackward(
            gradOutput: gradOutput, output: output, gradInput: gradInput, classes: inputSize, rows: 0..<n)
    }
}

/// Dropout (element-wise) and Dropout2d (whole channels), PyTorch's inverted dropout: kept values
/// are scaled by 1/(1 − p) in training, the layer is the identity in evaluation.
final class DropoutNode: LayerNode {
    let p: Double
    let channelwise: Bool

    init(id: Int, p: Double, channelwise: Bool) {
        self.p = p; self.channelwise = channelwise
        super.init(id: id)
    }

    override func outputShape(for input: [Int]) throws -> [Int] {
        if channelwise && input.count != 3 {
            throw shapeError(
                "Dropout2d expects inputs (N, C, H, W), got (N, \(input.map(String.init).joined(separator: ", ")))")
        }
        return input
    }

    final class State: LayerState { var mask: UnsafeMutablePointer<Float>!; var active = false }

    override func makeState(maxBatch: Int) -> LayerState {
        let s = State()
        s.mask = s.allocate(Float.self, maxBatch * (channelwise ? inputShape[0] : inputSize))
        return s
    }

    var scale: Float { p >= 1 ? 0 : Float(1 / (1 - p)) }

    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        let s = st as! State
        s.active = c.training && p > 0
        guard s.active else {
            output.update(from: input, count: n * inputSize)
            return
        }
        var rng = c.random(layer: id)
        let count = n * (channelwise ? inputShape[0] : inputSize)
        let keep = 1 - p
        for i in 0..<count { s.mask[i] = rng.nextDouble() < keep ? 1 : 0 }
        if channelwise {
            dropout2DForward(
                input: input, mask: s.mask, scale: scale, output: output, channels: inputShape[0],
                plane: inputShape[1] * inputShape[2], batches: 0..<n)
        } else {
            dropoutForward(input: input, mask: s.mask, scale: scale, output: output, range: 0..<count)
        }
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        guard let gradInput else { return }
        let s = st as! State
        guard s.active else {
            gradInput.update(from: gradOutput, count: n * inputSize)
            return
        }
        if channelwise {
            dropout2DBackward(
                gradOutput: gradOutput, mask: s.mask, scale: scale, gradInput: gradInput,
                channels: inputShape[0], plane: inputShape[1] * inputShape[2], batches: 0..<n)
        } else {
            dropoutBackward(
                gradOutput: gradOutput, mask: s.mask, scale: scale, gradInput: gradInput, range: 0..<(n * inputSize))
        }
    }
}
