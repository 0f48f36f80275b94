/// The runtime form of a layer: shapes planned for a per-sample input shape, parameters at an
/// offset in the network's flat parameter store, and forward/backward over one chunk of samples.
///
/// A node is immutable while a network runs; everything a chunk writes lives in its
/// `LayerState`, one per concurrently running chunk, allocated once per input shape.
class LayerNode {
    /// Depth-first index: keys this layer's random streams (dropout masks).
    let id: Int
    private(set) var inputShape: [Int] = []
    private(set) var outputShape: [Int] = []
    /// Offset of this layer's first parameter in the network's parameter store.
    var parameterOffset = 0

    init(id: Int) { self.id = id }

    var inputSize: Int { inputShape.reduce(1, *) }
    var outputSize: Int { outputShape.reduce(1, *) }

    /// Shapes of this layer's own parameters, in PyTorch's order (weight, then bias).
    var parameterShapes: [[Int]] { [] }
    var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.reduce(1, *) } }

    /// `parameterCount`, refusing sizes whose products overflow.
    func checkedParameterCount() throws -> Int {
        var total = 0
        for shape in parameterShapes {
            let (sum, overflow) = total.addingReportingOverflow(
                try elementCount(shape, name: "a parameter", elementSize: 4))
            if overflow { throw STNError(.sizeOverflow, "the network has more parameters than fit in 64 bits") }
            total = sum
        }
        return total
    }

    /// Checks that the layer accepts per-sample `input` and returns its per-sample output shape.
    func plan(input: [Int]) throws -> [Int] {
        inputShape = input
        outputShape = try outputShape(for: input)
        _ = try elementCount(outputShape, name: "the output of layer \(id)", elementSize: 4 * 64)
        return outputShape
    }

    func outputShape(for input: [Int]) throws -> [Int] { input }

    /// PyTorch's default initialisation of this layer's parameters.
    func initialize(_ p: UnsafeMutablePointer<Float>, _ rng: inout RandomSource) {}

    /// Per-chunk buffers for up to `maxBatch` samples.
    func makeState(maxBatch: Int) -> LayerState { LayerState() }

    /// Scratch this layer needs from the chunk's shared workspace.
    func workspaceCount(maxBatch: Int) -> Int { 0 }

    func forward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, n: Int
    ) {}

    /// Adds parameter gradients into `c.gradients` and writes d(loss)/d(input) into `gradInput`
    /// unless it is nil (the first layer's input needs no gradient).
    func backward(
        _ c: RunContext, _ st: LayerState, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, n: Int
    ) {}

    /// Every node of the subtree, depth first (this one included).
    var subtree: [LayerNode] { [self] }

    func shapeError(_ what: String) -> STNError { STNError(.invalidArgument, what) }
}

/// Buffers owned by one layer for one chunk.
class LayerState {
    private var buffers: [UnsafeMutableRawPointer] = []

    func allocate<T>(_ type: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        buffers.append(UnsafeMutableRawPointer(p))
        return p
    }

    deinit { for b in buffers { b.deallocate() } }
}

/// What every layer call of one chunk shares.
struct RunContext {
    var parameters: UnsafePointer<Float>
    /// The chunk's parameter-gradient accumulator (nil when only running forward).
    var gradients: UnsafeMutablePointer<Float>?
    var training: Bool
    /// Random stream keys: the run's seed, the optimisation step and the chunk index.
    var seed: UInt64
    var step: UInt64
    var chunk: UInt64
    /// Per-chunk scratch shared by all layers (each call uses it only while it runs).
    var workspace: UnsafeMutablePointer<Float>

    func random(layer: Int) -> RandomSource { RandomSource.derive(seed, step, chunk, UInt64(layer)) }
}

/// PyTorch's default init for Conv2d and Linear: weight ~ U(−b, b), bias ~ U(−b, b) with
/// b = 1/√fan_in (kaiming_uniform_ with a = √5 reduces to this bound).
func uniformInit(_ p: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, _ rng: inout RandomSource) {
    let bound = 1 / Float(fanIn).squareRoot()
    for i in 0..<count { p[i] = (rng.nextFloat() * 2 - 1) * bound }
}
