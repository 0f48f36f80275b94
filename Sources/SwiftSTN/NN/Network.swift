import Dispatch
import STNKernels
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A trainable network built from a `LayerSpec`: parameters in one flat Float store (declaration
/// order, weight before bias), executed in fixed chunks of samples.
///
/// A batch is cut into chunks of `chunkSize` samples whatever the thread count; chunks run in
/// parallel, each with its own activations, and their parameter gradients are summed in chunk
/// order. So a training step gives the same bits on 1 thread or many.
public final class Network {
    public let spec: LayerSpec
    let root: LayerNode
    let nodes: [LayerNode]
    /// Each node's spec text, by node id (for error messages).
    let layerTexts: [String]
    /// Shapes of every parameter tensor, in order.
    public let parameterShapes: [[Int]]
    /// All parameters, flat.
    public var parameters: [Float]
    /// Samples per chunk: small enough that a batch of 64 feeds 4 threads, large enough that the
    /// linear layers' GEMMs have rows to work on.
    public static let chunkSize = 16
    /// The largest parameter count a network may be built with; `defaultMaxParameters` unless
    /// set. A spec over it is refused (`.outOfMemory`, naming the layer that crosses it) before
    /// anything is allocated, instead of the allocation aborting the process or swapping.
    /// Safe to change from any thread; each `init` reads it once.
    public static var maxParameters: Int {
        get {
            let n = configuredMaxParameters.load(ordering: .relaxed)
            return n > 0 ? n : defaultMaxParameters
        }
        set { configuredMaxParameters.store(max(1, newValue), ordering: .relaxed) }
    }
    private static let configuredMaxParameters = Atomic<Int>(0)

    /// A quarter of physical memory in float32 parameters (training keeps about four copies:
    /// the parameters, their gradient, the optimiser's momentum and the per-chunk gradients), at
    /// most 2^31 (8 GiB); 2^31 when the memory size is unknown. 1,579,781,888 on the 2-core
    /// development VM (23.5 GiB).
    public static let defaultMaxParameters: Int =
        physicalMemoryBytes.map { max(1 << 20, min(1 << 31, $0 / 16)) } ?? 1 << 31

    /// The most `maxParameters` may be set to: half of physical memory in float32 values (2^40
    /// when the memory size is unknown).
    public static let maxSettableParameters: Int = physicalMemoryBytes.map { max(1 << 20, $0 / 8) } ?? 1 << 40

    /// Physical memory in bytes, if the system says.
    static let physicalMemoryBytes: Int? = {
        #if canImport(Glibc)
            let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
            if pages > 0, pageSize > 0 {
                let (bytes, overflow) = pages.multipliedReportingOverflow(by: pageSize)
                if !overflow { return bytes }
            }
        #endif
        return nil
    }()

    private var plannedShape: [Int]? = nil
    private var memoryCheckedShape: [Int]? = nil
    private var slots: [ChunkSlot] = []
    private var chunkGradStore: UnsafeMutablePointer<Float>? = nil
    private var chunkGradCapacity = 0

    deinit { chunkGradStore?.deallocate() }
    private let lock = DispatchQueue(label: "swiftstn.network")

    /// Builds the network and initialises its parameters as PyTorch does (seeded).
    public init(spec: LayerSpec, seed: UInt64 = 0) throws {
        self.spec = spec
        var nextID = 0
        var layerTexts: [String] = []  // by node id, for error messages
        func build(_ s: LayerSpec) throws -> LayerNode {
            let id = nextID
            nextID += 1
            layerTexts.append(s.text)
            switch s {
            case let .conv2d(i, o, k, st, p, b):
                guard i > 0, o > 0, k.0 > 0, k.1 > 0, st.0 > 0, st.1 > 0, p.0 >= 0, p.1 >= 0 else {
                    throw STNError(
                        .invalidArgument,
                        "Conv2d: channels, kernel and stride must be positive and padding non-negative, got \(s.text)")
                }
                return Conv2DNode(id: id, inC: i, outC: o, kernel: k, stride: st, padding: p, bias: b)
            case let .maxPool2d(k, st):
                guard k.0 > 0, k.1 > 0, st.0 > 0, st.1 > 0 else {
                    throw STNError(.invalidArgument, "MaxPool2d: kernel and stride must be positive, got \(s.text)")
                }
                return MaxPool2DNode(id: id, kernel: k, stride: st)
            case .relu: return ReLUNode(id: id)
            case .flatten: return FlattenNode(id: id)
            case .logSoftmax: return LogSoftmaxNode(id: id)
            case let .dropout(p), let .dropout2d(p):
                guard p >= 0 && p <= 1 else {
                    throw STNError(.invalidArgument, "dropout probability has to be between 0 and 1, but got \(p)")
                }
                if case .dropout2d = s { return DropoutNode(id: id, p: p, channelwise: true) }
                return DropoutNode(id: id, p: p, channelwise: false)
            case let .linear(i, o, b):
                guard i > 0, o > 0 else {
                    throw STNError(.invalidArgument, "Linear: features must be positive, got \(s.text)")
                }
                return LinearNode(id: id, inF: i, outF: o, bias: b)
            case let .sequential(layers):
                return SequentialNode(id: id, layers: try layers.map(build))
            case let .spatialTransformer(l, r, ac, kind):
                return SpatialTransformerNode(
                    id: id, localization: try build(l), regressor: try build(r), alignCorners: ac,
                    kind: kind)
            }
        }
        let root = try build(spec)
        self.root = root
        self.layerTexts = layerTexts
        nodes = root.subtree
        var offset = 0
        var shapes: [[Int]] = []
        let limit = Network.maxParameters
        for n in nodes {
            n.parameterOffset = offset
            let own = try n.checkedParameterCount()
            let (next, overflow) = offset.addingReportingOverflow(own)
            if overflow { throw STNError(.sizeOverflow, "the network has more parameters than fit in 64 bits") }
            // Refuse what cannot be allocated before allocating anything, naming the layer.
            guard next <= limit else {
                throw STNError(
                    .outOfMemory,
                    "layer `\(layerTexts[n.id])` has \(own) parameters, "
                        + "which brings the network to \(next) (\(gibibytes(next)) GiB of float32); the limit is "
                        + "\(limit) (\(gibibytes(limit)) GiB; set_max_parameters changes it)")
            }
            offset = next
            shapes += n.parameterShapes
        }
        parameterShapes = shapes
        parameters = [Float](repeating: 0, count: offset)
        initializeParameters(seed: seed)
    }

    /// Re-initialises every parameter (PyTorch's defaults; identity start for transformers).
    public func initializeParameters(seed: UInt64) {
        var rng = RandomSource.derive(seed, 0x1417)
        parameters.withUnsafeMutableBufferPointer { p in
            for n in nodes { n.initialize(p.baseAddress! + n.parameterOffset, &rng) }
            // Transformers override their regressor's last layer after everything else.
            for n in nodes where n is SpatialTransformerNode { n.initialize(p.baseAddress! + n.parameterOffset, &rng) }
        }
    }

    public var parameterCount: Int { parameters.count }

    /// The per-sample output shape for a per-sample input shape, or an error naming the layer.
    public func outputShape(input: [Int]) throws -> [Int] {
        try lock.sync { try plan(input) }
        return root.outputShape
    }

    /// The spatial transformers of the network, outermost first.
    var transformers: [SpatialTransformerNode] { nodes.compactMap { $0 as? SpatialTransformerNode } }

    // MARK: planning and buffers

    final class ChunkSlot {
        let state: LayerState
        let output: UnsafeMutablePointer<Float>
        let gradOutput: UnsafeMutablePointer<Float>
        let workspace: UnsafeMutablePointer<Float>
        let losses: UnsafeMutablePointer<Float>
        let logProbs: UnsafeMutablePointer<Float>
        init(root: LayerNode) {
            let m = Network.chunkSize
            state = root.makeState(maxBatch: m)
            output = .allocate(capacity: m * root.outputSize)
            gradOutput = .allocate(capacity: m * root.outputSize)
            workspace = .allocate(capacity: max(1, root.workspaceCount(maxBatch: m)))
            losses = .allocate(capacity: m)
            logProbs = .allocate(capacity: m * root.outputSize)
        }
        deinit {
            output.deallocate(); gradOutput.deallocate(); workspace.deallocate(); losses.deallocate()
            logProbs.deallocate()
        }
    }

    /// Plans shapes for `input` (re-planning frees the old buffers); before running (`running`),
    /// also checks that its buffers can be allocated. Call with the lock held.
    private func plan(_ input: [Int], running: Bool = false) throws {
        if running && memoryCheckedShape != input {
            try plan(input)
            try checkActivationMemory(input)
            memoryCheckedShape = input
        }
        if plannedShape == input { return }
        memoryCheckedShape = nil
        guard !input.isEmpty, input.allSatisfy({ $0 > 0 }) else {
            throw STNError(.invalidArgument, "expected a non-empty per-sample input shape, got \(describeShape(input))")
        }
        // Every per-chunk buffer is (chunk size × a layer's size) floats: refuse shapes whose
        // products overflow before any layer computes with them.
        _ = try elementCount(input, name: "x (per sample)", elementSize: 4 * Network.chunkSize)
        plannedShape = nil
        slots = []
        _ = try root.plan(input: input)
        plannedShape = input
    }

    /// The most activation memory (bytes) the chunk slots of one call may need: half of physical
    /// memory (2^40 when unknown).
    public static let maxActivationBytes: Int = physicalMemoryBytes.map { $0 / 2 } ?? 1 << 40

    /// Refuses (`.outOfMemory`, naming the largest layer) a plan whose chunk slots could not be
    /// allocated, before any is: a slot holds, per sample of a chunk, each layer's output and
    /// its gradient, layer state of the same order (pooling indices, dropout masks, a
    /// transformer's grid) and the shared workspace. The estimate counts every layer's output
    /// three times (a container's too), an upper bound for the layers here; one slot per thread.
    private func checkActivationMemory(_ input: [Int]) throws {
        let m = Network.chunkSize
        var floats = root.workspaceCount(maxBatch: m) + 3 * m * root.outputSize
        var largest = nodes[0]
        for n in nodes {
            let (perNode, overflow) = n.outputSize.multipliedReportingOverflow(by: 3 * m)
            let (next, overflow2) = floats.addingReportingOverflow(perNode)
            if overflow || overflow2 { floats = Int.max; largest = n; break }
            floats = next
            if n.outputSize > largest.outputSize { largest = n }
        }
        let slots = Swift.max(1, Threading.threadCount)
        let (bytes, overflow) = floats.multipliedReportingOverflow(by: 4 * slots)
        let limit = Network.maxActivationBytes
        guard overflow || bytes > limit else { return }
        let need = overflow ? "more than 2^63 bytes" : "an estimated \(gibibytes(bytes / 4)) GiB"
        let chunks = slots == 1 ? "1 chunk" : "\(slots) chunks"
        let layer = "`\(layerTexts[largest.id])` with output \(describeShape(largest.outputShape)) per sample"
        throw STNError(
            .outOfMemory,
            "per-sample input \(describeShape(input)) needs \(need) of activations "
                + "(\(m) samples per chunk, \(chunks) at a time); the largest layer is \(layer); at most "
                + "\(gibibytes(limit / 4)) GiB (half of this machine's memory) are allowed")
    }

    private func slot(_ i: Int) -> ChunkSlot {
        while slots.count <= i { slots.append(ChunkSlot(root: root)) }
        return slots[i]
    }

    /// Runs `body(chunk, slot)` for every chunk of an `n`-sample batch, chunks spread over the
    /// threads, each thread reusing one slot.
    private func forEachChunk(_ n: Int, _ body: (Int, ChunkSlot) -> Void) {
        let chunks = (n + Network.chunkSize - 1) / Network.chunkSize
        let tasks = max(1, min(Threading.threadCount, chunks))
        let taskSlots = (0..<tasks).map(slot)
        if tasks == 1 {
            for c in 0..<chunks { body(c, taskSlots[0]) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: tasks) { t in
            for c in (chunks * t / tasks)..<(chunks * (t + 1) / tasks) { body(c, taskSlots[t]) }
        }
    }

    // MARK: running

    /// Validates a batch: shape and finiteness. Throws before anything is computed.
    public func checkInput(_ x: UnsafePointer<Float>, n: Int, sampleShape: [Int]) throws {
        let count = n * sampleShape.reduce(1, *)
        for i in 0..<count where !x[i].isFinite {
            throw STNError(.invalidArgument, "x contains a non-finite value (\(x[i])) at flat index \(i)")
        }
    }

    /// The network's output for `n` samples of per-sample shape `sampleShape` (evaluation mode
    /// unless `training`).
    public func forward(
        _ x: UnsafePointer<Float>, n: Int, sampleShape: [Int], output: UnsafeMutablePointer<Float>,
        training: Bool = false, seed: UInt64 = 0, step: UInt64 = 0
    ) throws {
        try lock.sync {
            try plan(sampleShape, running: true)
            let inSize = root.inputSize, outSize = root.outputSize
            parameters.withUnsafeBufferPointer { p in
                forEachChunk(n) { c, s in
                    let lo = c * Network.chunkSize, m = min(Network.chunkSize, n - lo)
                    let ctx = RunContext(
                        parameters: p.baseAddress!, gradients: nil, training: training, seed: seed,
                        step: step, chunk: UInt64(c), workspace: s.workspace)
                    root.forward(ctx, s.state, input: x + lo * inSize, output: output + lo * outSize, n: m)
                }
            }
        }
    }

    /// The first spatial transformer's output and theta (N×2×3) for `n` samples; theta is NaN for
    /// projective and TPS transformers, which have none.
    public func transform(
        _ x: UnsafePointer<Float>, n: Int, sampleShape: [Int], output: UnsafeMutablePointer<Float>,
        theta: UnsafeMutablePointer<Float>
    ) throws {
        guard let stn = transformers.first else {
            throw STNError(.invalidArgument, "the network has no SpatialTransformer")
        }
        try lock.sync {
            try plan(sampleShape, running: true)
            guard stn.inputShape == sampleShape else {
                throw STNError(
                    .invalidArgument,
                    "the first SpatialTransformer is not the network's first layer; its input is (N, \(stn.inputShape.map(String.init).joined(separator: ", ")))"
                )
            }
            let size = stn.inputSize
            parameters.withUnsafeBufferPointer { p in
                forEachChunk(n) { c, s in
                    let lo = c * Network.chunkSize, m = min(Network.chunkSize, n - lo)
                    let ctx = RunContext(
                        parameters: p.baseAddress!, gradients: nil, training: false, seed: 0,
                        step: 0, chunk: UInt64(c), workspace: s.workspace)
                    // A private state: the slot's states belong to the root's layout.
                    let st = stn.makeState(maxBatch: Network.chunkSize) as! SpatialTransformerNode.State
                    stn.forward(ctx, st, input: x + lo * size, output: output + lo * size, n: m)
                    if stn.kind.isAffineFamily {
                        (theta + lo * 6).update(from: st.theta, count: m * 6)
                    } else {  // a homography or a spline has no theta: say so rather than leave garbage
                        (theta + lo * 6).update(repeating: .nan, count: m * 6)
                    }
                }
            }
        }
    }

    /// Loss head: the output is log-probabilities when the network ends in LogSoftmax (NLL loss,
    /// the seed's), logits otherwise (cross-entropy = log_softmax + NLL).
    var endsInLogSoftmax: Bool {
        var n: LayerNode = root
        while let s = n as? SequentialNode, let last = s.layers.last { n = last }
        return n is LogSoftmaxNode
    }

    public struct BatchResult {
        /// Mean loss over the batch.
        public var loss: Double
        /// Samples whose arg-max output equals the label.
        public var correct: Int
    }

    /// Checks labels against the network's class count.
    public func checkLabels(_ labels: UnsafePointer<Int64>, n: Int) throws {
        let classes = root.outputSize
        guard root.outputShape.count == 1 else {
            throw STNError(
                .invalidArgument,
                "the network's output (N, \(root.outputShape.map(String.init).joined(separator: ", "))) is not (N, classes); end it with Flatten and Linear"
            )
        }
        for i in 0..<n where labels[i] < 0 || labels[i] >= Int64(classes) {
            throw STNError(.invalidArgument, "label \(labels[i]) at index \(i) is out of range for \(classes) classes")
        }
    }

    /// Mean loss and (into `gradients`, overwritten) its gradient for a batch; no parameter
    /// changes. `training` enables dropout with masks keyed by (seed, step).
    @discardableResult
    public func lossAndGradient(
        _ x: UnsafePointer<Float>, labels: UnsafePointer<Int64>, n: Int, sampleShape: [Int],
        gradients: UnsafeMutablePointer<Float>?, training: Bool, seed: UInt64 = 0,
        step: UInt64 = 0
    ) throws -> BatchResult {
        try lock.sync {
            try plan(sampleShape, running: true)
            try checkLabels(labels, n: n)
            let classes = root.outputSize, inSize = root.inputSize
            let chunks = (n + Network.chunkSize - 1) / Network.chunkSize
            let pc = parameters.count
            // Per-chunk gradient accumulators, summed in chunk order below (grown, never per step).
            if gradients != nil {
                let (floats, overflow) = chunks.multipliedReportingOverflow(by: pc)
                if overflow || floats > Network.maxActivationBytes / 4 {
                    throw STNError(
                        .outOfMemory,
                        "a batch of \(n) samples needs \(chunks) per-chunk gradients of "
                            + "\(pc) parameters (\(overflow ? "more than 2^63 floats" : "\(gibibytes(floats)) GiB")); "
                            + "at most \(gibibytes(Network.maxActivationBytes / 4)) GiB (half of this machine's "
                            + "memory) are allowed: use a smaller batch")
                }
                if chunkGradCapacity < floats {
                    chunkGradStore?.deallocate()
                    chunkGradStore = .allocate(capacity: floats)
                    chunkGradCapacity = floats
                }
            }
            let chunkGrads = chunkGradStore ?? UnsafeMutablePointer<Float>(bitPattern: 8)!
            if gradients != nil { chunkGrads.update(repeating: 0, count: chunks * pc) }
            var chunkLoss = [Double](repeating: 0, count: chunks)
            var chunkCorrect = [Int](repeating: 0, count: chunks)
            let logSoftmaxOutput = endsInLogSoftmax
            chunkLoss.withUnsafeMutableBufferPointer { lossOut in
                chunkCorrect.withUnsafeMutableBufferPointer { correctOut in
                    parameters.withUnsafeBufferPointer { p in
                        forEachChunk(n) { c, s in
                            let lo = c * Network.chunkSize, m = min(Network.chunkSize, n - lo)
                            let ctx = RunContext(
                                parameters: p.baseAddress!,
                                gradients: gradients == nil ? nil : chunkGrads + c * pc,
                                training: training, seed: seed, step: step, chunk: UInt64(c),
                                workspace: s.workspace)
                            let xin = x + lo * inSize
                            root.forward(ctx, s.state, input: xin, output: s.output, n: m)
                            let y = labels + lo
                            var correct = 0
                            for r in 0..<m {
                                let row = s.output + r * classes
                                var best = 0
                                for k in 1..<max(1, classes) where row[k] > row[best] { best = k }
                                if Int64(best) == y[r] { correct += 1 }
                            }
                            correctOut[c] = correct
                            var loss = 0.0
                            if logSoftmaxOutput {
                                // NLL on log-probabilities: d(mean NLL)/d(logp) = −1/N at the label.
                                s.gradOutput.update(repeating: 0, count: m * classes)
                                for r in 0..<m {
                                    let label = Int(y[r])
                                    loss -= Double(s.output[r * classes + label])
                                    s.gradOutput[r * classes + label] = -1 / Float(n)
                                }
                            } else {
                                // Cross-entropy on logits, fused: (softmax − onehot)/N.
                                let logp = s.logProbs
                                logSoftmaxForward(input: s.output, output: logp, classes: classes, rows: 0..<m)
                                nllLossLogSoftmaxBackward(
                                    logProbs: logp, labels: y, classes: classes, totalCount: n,
                                    losses: s.losses, gradLogits: s.gradOutput, rows: 0..<m)
                                for r in 0..<m { loss += Double(s.losses[r]) }
                            }
                            lossOut[c] = loss
                            if gradients != nil {
                                root.backward(
                                    ctx, s.state, input: xin, output: s.output, gradOutput: s.gradOutput,
                                    gradInput: nil, n: m)
                            }
                        }
                    }
                }
            }
            if let gradients {
                gradients.update(from: chunkGrads, count: pc)
                for c in 1..<max(1, chunks) {
                    let g = chunkGrads + c * pc
                    for i in 0..<pc { gradients[i] += g[i] }
                }
            }
            return BatchResult(loss: chunkLoss.reduce(0, +) / Double(max(n, 1)), correct: chunkCorrect.reduce(0, +))
        }
    }
}

/// `floats` float32 values in GiB, one decimal.
private func gibibytes(_ floats: Int) -> String {
    let tenths = Int((Double(floats) * 4 / Double(1 << 30) * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}
