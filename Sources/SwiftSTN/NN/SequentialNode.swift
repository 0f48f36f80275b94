import STNKernels

/// Layers applied one after another; keeps every intermediate activation of its chunk for the
/// backward pass, and two ping-pong buffers for the gradients flowing back.
final class SequentialNode: LayerNode {
    let layers: [LayerNode]

    init(id: Int, layers: [LayerNode]) {
        self.layers = layers
        super.init(id: id)
    }

    override var subtree: [LayerNode] { [self] + layers.flatMap(\.subtree) }

    override func outputShape(for input: [Int]) throws -> [Int] {
        var shape = input
        for l in layers { shape = try l.plan(input: shape) }
        return shape
    }

    override func workspaceCount(maxBatch: Int) -> Int {
        layers.map { $0.workspaceCount(maxBatch: maxBatch) }.max() ?? 0
    }

    final class State: LayerState {
        var states: [LayerState] = []
        /// outputs[i]: layer i's output (the last one is the caller's buffer, not stored here).
        var outputs: [UnsafeMutablePointer<Float>] = []
        var grads: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)!
    }

    override func makeState(maxBatch: Int) -> LayerState {
        let s = State()
        s.states = layers.map { $0.makeState(maxBatch: maxBatch) }
        s.outputs = layers.dropLast().map { s.allocate(Float.self, maxBatch * $0.outputSize) }
        let widest = layers.map(\.outputSize).max() ?? 0
        s.grads = (s.allocate(Float.self, maxBatch * widest), s.allocate(Float.self, maxBatch * widest))
        return s
    }

    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        let s = st as! State
        guard !layers.isEmpty else { output.update(from: input, count: n * inputSize); return }
        var x = input
        for (i, l) in layers.enumerated() {
            let y = i == layers.count - 1 ? output : s.outputs[i]
            l.forward(c, s.states[i], input: x, output: y, n: n)
            x = UnsafePointer(y)
        }
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        let s = st as! State
        guard !layers.isEmpty else { gradInput?.update(from: gradOutput, count: n * inputSize); return }
        var g = gradOutput
        var flip = false
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let x = i == 0 ? input : UnsafePointer(s.outputs[i - 1])
            let y = i == layers.count - 1 ? output : UnsafePointer(s.outputs[i])
            let gIn: UnsafeMutablePointer<Float>? = i == 0 ? gradInput : (flip ? s.grads.1 : s.grads.0)
            layers[i].backward(c, s.states[i], input: x, output: y, gradOutput: g, gradInput: gIn, n: n)
            if let gIn { g = UnsafePointer(gIn) }
            flip.toggle()
        }
    }
}

/// A spatial transformer (Jaderberg et al., 2015): the localisation net and regressor compute an
/// affine theta per sample; the input is resampled on `affine_grid(theta)` with bilinear
/// interpolation and zero padding. Output shape = input shape.
///
/// The regressor's last Linear layer starts at weight 0 and bias (1, 0, 0, 0, 1, 0), so training
/// starts from the identity transform, as in the seed's network.
final class SpatialTransformerNode: LayerNode {
    let localization: LayerNode
    let regressor: LayerNode
    let alignCorners: Bool
    let kind: TransformKind
    /// Regressor outputs per sample (set when planned).
    private(set) var parameterCountPerSample = 6
    /// The thin-plate interpolation matrix for this input size (tps only; solved once, cached).
    private var thinPlate: ThinPlateMatrix? = nil

    init(id: Int, localization: LayerNode, regressor: LayerNode, alignCorners: Bool, kind: TransformKind = .affine) {
        self.localization = localization; self.regressor = regressor; self.alignCorners = alignCorners
        self.kind = kind
        super.init(id: id)
    }

    override var subtree: [LayerNode] { [self] + localization.subtree + regressor.subtree }

    override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else {
            throw shapeError(
                "SpatialTransformer expects images (N, C, H, W), got (N, \(input.map(String.init).joined(separator: ", ")))"
            )
        }
        let features = try localization.plan(input: input)
        let theta = try regressor.plan(input: [features.reduce(1, *)])
        let count = theta.reduce(1, *)
        guard kind.accepts(count) else {
            throw shapeError(
                "SpatialTransformer(transform=\"\(kind.name)\"): the regressor must output \(kind.expected) \(kind.name) parameters per sample, got \(count)"
            )
        }
        parameterCountPerSample = count
        if kind == .tps {
            thinPlate = try TPSGrid.interpolationMatrix(
                controlPoints: try TPSGrid.defaultControlPoints(count: count / 2),
                height: input[1], width: input[2], alignCorners: alignCorners,
                op: "SpatialTransformer(transform=\"tps\")")
        }
        return input
    }

    override func initialize(_ p: UnsafeMutablePointer<Float>, _ rng: inout RandomSource) {
        // Children are initialised by the network in depth-first order; then the identity start.
        guard let last = regressor.subtree.last(where: { $0 is LinearNode }) as? LinearNode, kind.accepts(last.outF)
        else {
            return
        }
        let k = last.outF
        let w = p - parameterOffset + last.parameterOffset
        w.update(repeating: 0, count: last.inF * k)
        if last.hasBias { (w + last.inF * k).update(from: kind.identity(count: k), count: k) }
    }

    func samplingShape(_ n: Int) -> SamplingShape2D {
        SamplingShape2D(
            batch: n, channels: inputShape[0], inputHeight: inputShape[1], inputWidth: inputShape[2],
            outputHeight: inputShape[1], outputWidth: inputShape[2])
    }

    final class State: LayerState {
        var loc: LayerState!, reg: LayerState!
        var features: UnsafeMutablePointer<Float>!, theta: UnsafeMutablePointer<Float>!
        var params: UnsafeMutablePointer<Float>!, gradParams: UnsafeMutablePointer<Float>!
        var homography: UnsafeMutablePointer<Float>!, gradHomography: UnsafeMutablePointer<Float>!
        var partials: UnsafeMutablePointer<Double>!
        var grid: UnsafeMutablePointer<Float>!, gradGrid: UnsafeMutablePointer<Float>!
        var gradTheta: UnsafeMutablePointer<Float>!, gradFeatures: UnsafeMutablePointer<Float>!
        var gradInputLoc: UnsafeMutablePointer<Float>!
    }

    override func makeState(maxBatch: Int) -> LayerState {
        let s = State()
        s.loc = localization.makeState(maxBatch: maxBatch)
        s.reg = regressor.makeState(maxBatch: maxBatch)
        s.features = s.allocate(Float.self, maxBatch * localization.outputSize)
        s.gradFeatures = s.allocate(Float.self, maxBatch * localization.outputSize)
        s.theta = s.allocate(Float.self, maxBatch * 6)
        let k = parameterCountPerSample
        s.params = s.allocate(Float.self, maxBatch * k)
        s.gradParams = s.allocate(Float.self, maxBatch * k)
        s.homography = s.allocate(Float.self, maxBatch * 9)
        s.gradHomography = s.allocate(Float.self, maxBatch * 9)
        let chunks = (inputShape[1] * inputShape[2] + thinPlateBackwardChunk - 1) / thinPlateBackwardChunk
        s.partials = s.allocate(Double.self, kind == .tps ? maxBatch * chunks * k : 1)
        s.gradTheta = s.allocate(Float.self, maxBatch * 6)
        let gridCount = maxBatch * inputShape[1] * inputShape[2] * 2
        s.grid = s.allocate(Float.self, gridCount)
        s.gradGrid = s.allocate(Float.self, gridCount)
        s.gradInputLoc = s.allocate(Float.self, maxBatch * inputSize)
        return s
    }

    override func workspaceCount(maxBatch: Int) -> Int {
        max(localization.workspaceCount(maxBatch: maxBatch), regressor.workspaceCount(maxBatch: maxBatch))
    }

    /// Runs the localisation net and regressor: theta for `n` samples into the state.
    func computeTheta(_ c: RunContext, _ s: State, input: UnsafePointer<Float>, n: Int) {
        localization.forward(c, s.loc, input: input, output: s.features, n: n)
        regressor.forward(c, s.reg, input: s.features, output: s.params, n: n)
        let k = parameterCountPerSample
        if kind.isAffineFamily {
            for b in 0..<n { kind.theta(s.params + b * k, s.theta + b * 6) }
        } else if kind == .projective {
            for b in 0..<n {
                (s.homography + 9 * b).update(from: s.params + 8 * b, count: 8)
                s.homography[9 * b + 8] = 1
            }
        }
    }

    override func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {
        let s = st as! State
        computeTheta(c, s, input: input, n: n)
        let (h, w) = (inputShape[1], inputShape[2])
        switch kind {
        case .projective:
            perspectiveGrid2D(
                homography: s.homography, grid: s.grid, height: h, width: w, alignCorners: alignCorners,
                rows: 0..<(n * h))
        case .tps:
            thinPlate!.values.withUnsafeBufferPointer { m in
                thinPlateGrid2D(
                    matrix: m.baseAddress!, displacements: s.params, grid: s.grid, batch: n,
                    count: parameterCountPerSample / 2, height: h, width: w, alignCorners: alignCorners,
                    rows: 0..<h)
            }
        default:
            affineGrid2D(
                theta: s.theta, grid: s.grid, height: h, width: w, alignCorners: alignCorners, rows: 0..<(n * h))
        }
        gridSample2DForward(
            samplingShape(n), input: input, grid: s.grid, output: output, mode: .bilinear,
            padding: .zeros, alignCorners: alignCorners, positions: 0..<(n * h * w))
    }

    override func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {
        let s = st as! State
        let (h, w) = (inputShape[1], inputShape[2])
        let shape = samplingShape(n)
        gridSample2DBackwardGrid(
            shape, gradOutput: gradOutput, input: input, grid: s.grid, gradGrid: s.gradGrid,
            mode: .bilinear, padding: .zeros, alignCorners: alignCorners, positions: 0..<(n * h * w))
        let k = parameterCountPerSample
        switch kind {
        case .projective:
            perspectiveGrid2DBackward(
                gradGrid: s.gradGrid, homography: s.homography, gradHomography: s.gradHomography,
                height: h, width: w, alignCorners: alignCorners, batches: 0..<n)
            for b in 0..<n { (s.gradParams + 8 * b).update(from: s.gradHomography + 9 * b, count: 8) }
        case .tps:
            let points = h * w
            let chunks = (points + thinPlateBackwardChunk - 1) / thinPlateBackwardChunk
            thinPlate!.values.withUnsafeBufferPointer { m in
                thinPlateGrid2DBackwardPartials(
                    matrix: m.baseAddress!, gradGrid: s.gradGrid, partials: s.partials,
                    batch: n, count: k / 2, points: points, tasks: 0..<chunks)
            }
            thinPlateGrid2DBackwardReduce(
                partials: s.partials, gradDisplacements: s.gradParams, count: k / 2,
                points: points, batches: 0..<n)
        default:
            affineGrid2DBackward(
                gradGrid: s.gradGrid, gradTheta: s.gradTheta, height: h, width: w,
                alignCorners: alignCorners, batches: 0..<n)
            for b in 0..<n { kind.parameterGradient(s.gradTheta + b * 6, s.gradParams + b * k) }
        }
        regressor.backward(
            c, s.reg, input: s.features, output: s.params, gradOutput: s.gradParams,
            gradInput: s.gradFeatures, n: n)
        localization.backward(
            c, s.loc, input: input, output: s.features, gradOutput: s.gradFeatures,
            gradInput: gradInput == nil ? nil : s.gradInputLoc, n: n)
        if let gradInput {
            // d/d(input) has two paths: through the sampler and through the localisation net.
            gradInput.update(repeating: 0, count: n * inputSize)
            for b in 0..<n {
                gridSample2DBackwardInput(
                    shape, gradOutput: gradOutput, grid: s.grid, gradInput: gradInput, mode: .bilinear,
                    padding: .zeros, alignCorners: alignCorners, batch: b, channels: 0..<inputShape[0])
            }
            for i in 0..<(n * inputSize) { gradInput[i] += s.gradInputLoc[i] }
        }
    }
}
