import SwiftSTN

// The training engine's C ABI: networks and trainers as opaque handles (retained Swift objects).
// Declarations and documentation: include/swiftstn.h.

@inline(__always) func network(_ h: UnsafeMutableRawPointer?) throws -> Network {
    guard let h else { throw STNError(.invalidArgument, "network handle is NULL") }
    return Unmanaged<Network>.fromOpaque(h).takeUnretainedValue()
}

@inline(__always) func trainer(_ h: UnsafeMutableRawPointer?) throws -> Trainer {
    guard let h else { throw STNError(.invalidArgument, "trainer handle is NULL") }
    return Unmanaged<Trainer>.fromOpaque(h).takeUnretainedValue()
}

func batchCount(_ n: Int64) throws -> Int {
    guard n >= 0 else { throw STNError(.invalidArgument, "n must be non-negative, got \(n)") }
    return Int(n)
}

/// n and the per-sample shape, refusing a batch whose element count overflows.
func batch(_ n: Int64, _ shape: [Int]) throws -> Int {
    let count = try batchCount(n)
    _ = try elementCount([count] + shape, name: "x", elementSize: 4)
    return count
}

@_cdecl("stn_network_new")
public func stn_network_new(
    _ spec: UnsafePointer<CChar>?, _ seed: UInt64, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    out?.pointee = nil
    return reporting(err, errLen) {
        guard let spec else { throw STNError(.invalidArgument, "spec is NULL") }
        guard let out else { throw STNError(.invalidArgument, "out is NULL") }
        let net = try Network(spec: try LayerSpec(parsing: String(cString: spec)), seed: seed)
        out.pointee = Unmanaged.passRetained(net).toOpaque()
    }
}

@_cdecl("stn_network_create")
public func stn_network_create(
    _ spec: UnsafePointer<CChar>?, _ seed: UInt64,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> UnsafeMutableRawPointer? {
    var handle: UnsafeMutableRawPointer? = nil
    _ = stn_network_new(spec, seed, &handle, err, errLen)
    return handle
}

@_cdecl("stn_network_set_max_parameters")
public func stn_network_set_max_parameters(_ n: Int64, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int) -> Int32 {
    reporting(err, errLen) {
        guard n >= 1 else { throw STNError(.invalidArgument, "max_parameters must be at least 1, got \(n)") }
        guard n <= Int64(Network.maxSettableParameters) else {
            throw STNError(
                .invalidArgument,
                "max_parameters must be at most \(Network.maxSettableParameters) "
                    + "(half of this machine's memory in float32 values), got \(n)")
        }
        Network.maxParameters = Int(n)
    }
}

@_cdecl("stn_network_get_max_parameters")
public func stn_network_get_max_parameters() -> Int64 { Int64(Network.maxParameters) }

@_cdecl("stn_network_free")
public func stn_network_free(_ h: UnsafeMutableRawPointer?) {
    guard let h else { return }
    Unmanaged<Network>.fromOpaque(h).release()
}

@_cdecl("stn_network_parameter_count")
public func stn_network_parameter_count(_ h: UnsafeMutableRawPointer?) -> Int64 {
    (try? network(h)).map { Int64($0.parameterCount) } ?? -1
}

@_cdecl("stn_network_parameter_tensors")
public func stn_network_parameter_tensors(_ h: UnsafeMutableRawPointer?) -> Int32 {
    (try? network(h)).map { Int32($0.parameterShapes.count) } ?? -1
}

@_cdecl("stn_network_parameter_shape")
public func stn_network_parameter_shape(
    _ h: UnsafeMutableRawPointer?, _ index: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let net = try network(h)
        guard index >= 0 && Int(index) < net.parameterShapes.count else {
            throw STNError(
                .invalidArgument, "parameter index \(index) out of range for \(net.parameterShapes.count) tensors")
        }
        try writeShape(net.parameterShapes[Int(index)], outShape, outNdim)
    }
}

@_cdecl("stn_network_get_parameters")
public func stn_network_get_parameters(
    _ h: UnsafeMutableRawPointer?, _ dst: UnsafeMutablePointer<Float>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let net = try network(h)
        guard let dst else { throw STNError(.invalidArgument, "dst is NULL") }
        net.parameters.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: $0.count) }
    }
}

@_cdecl("stn_network_set_parameters")
public func stn_network_set_parameters(
    _ h: UnsafeMutableRawPointer?, _ src: UnsafePointer<Float>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let net = try network(h)
        guard let src else { throw STNError(.invalidArgument, "src is NULL") }
        let count = net.parameterCount
        for i in 0..<count where !src[i].isFinite {
            throw STNError(.invalidArgument, "parameters contain a non-finite value at flat index \(i)")
        }
        net.parameters = Array(UnsafeBufferPointer(start: src, count: count))
    }
}

@_cdecl("stn_network_output_shape")
public func stn_network_output_shape(
    _ h: UnsafeMutableRawPointer?, _ sampleShape: UnsafePointer<Int64>?, _ ndim: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let shape = try network(h).outputShape(input: try readSize(sampleShape, ndim, name: "sample_shape"))
        try writeShape(shape, outShape, outNdim)
    }
}

/// A batch argument: x (n, *sample) float32 and, for the functions that take them, labels (n,)
/// int64.
private struct BatchArg {
    let n: Int
    let sampleShape: [Int]
    let x: UnsafePointer<Float>
    let labels: UnsafePointer<Int64>?

    init(_ xDescriptor: UnsafeRawPointer?, labels labelsDescriptor: UnsafeRawPointer? = nil, needsLabels: Bool) throws {
        let x = try TensorArg(xDescriptor, "x")
        guard x.dtypeCode == DType.float32.rawValue else {
            throw STNError(.invalidType, "x must be float32 (dtype code 0), got dtype code \(x.dtypeCode)")
        }
        guard let n = x.shape.first else {
            throw STNError(.invalidArgument, "x must be a batch (n, ...) with at least 1 dimension, got 0")
        }
        sampleShape = Array(x.shape.dropFirst())
        self.n = try batch(Int64(n), sampleShape)
        self.x = UnsafePointer(try x.pointer(Float.self))
        guard needsLabels else {
            labels = nil
            return
        }
        let y = try TensorArg(labelsDescriptor, "labels")
        guard y.dtypeCode == labelsDType else {
            throw STNError(.invalidType, "labels must be int64 (dtype code 2), got dtype code \(y.dtypeCode)")
        }
        guard y.shape == [n] else {
            throw STNError(
                .invalidArgument, "labels must have shape (\(n),) to match x, got shape \(describeShape(y.shape))")
        }
        labels = UnsafePointer(try y.pointer(Int64.self))
    }
}

/// The dtype code of labels (STN_INT64).
private let labelsDType: Int32 = 2

@_cdecl("stn_network_forward")
public func stn_network_forward(
    _ h: UnsafeMutableRawPointer?, _ x: UnsafeRawPointer?, _ training: Int32, _ seed: UInt64,
    _ out: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let net = try network(h)
        let b = try BatchArg(x, needsLabels: false)
        let o = try OutputArg(out, "out")
        let shape = [b.n] + (try net.outputShape(input: b.sampleShape))
        guard describeOutputs([(o, shape)], dtype: .float32) else { return }
        guard b.n > 0 else { return }
        try net.checkInput(b.x, n: b.n, sampleShape: b.sampleShape)
        try net.forward(
            b.x, n: b.n, sampleShape: b.sampleShape, output: o.pointer(Float.self, empty: false),
            training: training != 0, seed: seed)
    }
}

@_cdecl("stn_network_transform")
public func stn_network_transform(
    _ h: UnsafeMutableRawPointer?, _ x: UnsafeRawPointer?, _ out: UnsafeMutableRawPointer?,
    _ theta: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let net = try network(h)
        let b = try BatchArg(x, needsLabels: false)
        let o = try OutputArg(out, "out"), t = try OutputArg(theta, "theta")
        _ = try net.outputShape(input: b.sampleShape)
        guard describeOutputs([(o, [b.n] + b.sampleShape), (t, [b.n, 2, 3])], dtype: .float32) else { return }
        guard b.n > 0 else { return }
        try net.checkInput(b.x, n: b.n, sampleShape: b.sampleShape)
        try net.transform(
            b.x, n: b.n, sampleShape: b.sampleShape, output: o.pointer(Float.self, empty: false),
            theta: t.pointer(Float.self, empty: false))
    }
}

@_cdecl("stn_network_loss_and_grad")
public func stn_network_loss_and_grad(
    _ h: UnsafeMutableRawPointer?, _ x: UnsafeRawPointer?, _ labels: UnsafeRawPointer?, _ training: Int32,
    _ seed: UInt64, _ loss: UnsafeMutablePointer<Double>?, _ correct: UnsafeMutablePointer<Int64>?,
    _ grads: UnsafeMutablePointer<Float>?, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let net = try network(h)
        let b = try BatchArg(x, labels: labels, needsLabels: true)
        guard b.n > 0 else { throw STNError(.invalidArgument, "loss_and_grad needs at least one sample") }
        _ = try net.outputShape(input: b.sampleShape)
        try net.checkInput(b.x, n: b.n, sampleShape: b.sampleShape)
        let r = try net.lossAndGradient(
            b.x, labels: b.labels!, n: b.n, sampleShape: b.sampleShape, gradients: grads,
            training: training != 0, seed: seed)
        loss?.pointee = r.loss
        correct?.pointee = Int64(r.correct)
    }
}

@_cdecl("stn_network_evaluate")
public func stn_network_evaluate(
    _ h: UnsafeMutableRawPointer?, _ x: UnsafeRawPointer?, _ labels: UnsafeRawPointer?, _ batchSize: Int64,
    _ loss: UnsafeMutablePointer<Double>?, _ accuracy: UnsafeMutablePointer<Double>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let net = try network(h)
        let b = try BatchArg(x, labels: labels, needsLabels: true)
        guard batchSize > 0 else { throw STNError(.invalidArgument, "batch_size must be positive, got \(batchSize)") }
        _ = try net.outputShape(input: b.sampleShape)
        let r = try net.evaluate(
            b.x, labels: b.labels!, n: b.n, sampleShape: b.sampleShape, batchSize: Int(batchSize))
        loss?.pointee = r.loss
        accuracy?.pointee = r.accuracy
    }
}

// MARK: trainers

@_cdecl("stn_trainer_create")
public func stn_trainer_create(
    _ h: UnsafeMutableRawPointer?, _ kind: Int32, _ lr: Double, _ momentum: Double,
    _ dampening: Double, _ nesterov: Int32, _ weightDecay: Double, _ beta1: Double,
    _ beta2: Double, _ eps: Double, _ seed: UInt64,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> UnsafeMutableRawPointer? {
    var handle: UnsafeMutableRawPointer? = nil
    _ = reporting(err, errLen) {
        let net = try network(h)
        var s = Optimizer.Settings()
        guard let k = Optimizer.Kind(rawValue: kind) else {
            throw STNError(.invalidArgument, "optimizer code \(kind) is not 0 (sgd) or 1 (adam)")
        }
        s.kind = k; s.learningRate = lr; s.momentum = momentum; s.dampening = dampening; s.nesterov = nesterov != 0
        s.weightDecay = weightDecay; s.beta1 = beta1; s.beta2 = beta2; s.epsilon = eps
        let t = Trainer(network: net, optimizer: try Optimizer(s), seed: seed)
        handle = Unmanaged.passRetained(t).toOpaque()
    }
    return handle
}

@_cdecl("stn_trainer_free")
public func stn_trainer_free(_ h: UnsafeMutableRawPointer?) {
    guard let h else { return }
    Unmanaged<Trainer>.fromOpaque(h).release()
}

public typealias ProgressCallback =
    @convention(c) (UnsafeMutableRawPointer?, Int32, Int64, Int64, Int64, Double, Int64) -> Int32

@_cdecl("stn_trainer_epoch")
public func stn_trainer_epoch(
    _ h: UnsafeMutableRawPointer?, _ x: UnsafeRawPointer?, _ labels: UnsafeRawPointer?, _ batchSize: Int64,
    _ shuffle: Int32, _ training: Int32, _ epoch: Int32, _ reportEvery: Int32,
    _ callback: ProgressCallback?, _ context: UnsafeMutableRawPointer?,
    _ meanLoss: UnsafeMutablePointer<Double>?, _ accuracy: UnsafeMutablePointer<Double>?,
    _ completed: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let t = try trainer(h)
        let b = try BatchArg(x, labels: labels, needsLabels: true)
        guard batchSize > 0 && batchSize <= Int64(Int32.max) else {
            throw STNError(.invalidArgument, "batch_size must be positive, got \(batchSize)")
        }
        let r = try t.trainEpoch(
            b.x, labels: b.labels!, n: b.n, sampleShape: b.sampleShape, batchSize: Int(batchSize),
            shuffle: shuffle != 0, epoch: Int(epoch), training: training != 0,
            reportEvery: Int(max(1, reportEvery))
        ) { p in
            guard let callback else { return true }
            return callback(
                context, Int32(p.epoch), Int64(p.batch), Int64(p.batches), Int64(p.samplesSeen),
                p.meanLoss, Int64(p.correct)) == 0
        }
        meanLoss?.pointee = r.meanLoss
        accuracy?.pointee = r.accuracy
        completed?.pointee = r.completed ? 1 : 0
    }
}

@_cdecl("stn_trainer_get_step")
public func stn_trainer_get_step(_ h: UnsafeMutableRawPointer?) -> UInt64 { (try? trainer(h))?.step ?? 0 }

@_cdecl("stn_trainer_set_step")
public func stn_trainer_set_step(_ h: UnsafeMutableRawPointer?, _ step: UInt64) { (try? trainer(h))?.step = step }

// MARK: trainer state (checkpoints)

@_cdecl("stn_trainer_state_size")
public func stn_trainer_state_size(
    _ h: UnsafeMutableRawPointer?, _ len1: UnsafeMutablePointer<Int64>?,
    _ len2: UnsafeMutablePointer<Int64>?
) -> Int32 {
    guard let t = try? trainer(h) else { return 1 }
    len1?.pointee = Int64(t.optimizer.state1.count)
    len2?.pointee = Int64(t.optimizer.state2.count)
    return 0
}

@_cdecl("stn_trainer_get_state")
public func stn_trainer_get_state(
    _ h: UnsafeMutableRawPointer?, _ state1: UnsafeMutablePointer<Float>?,
    _ state2: UnsafeMutablePointer<Float>?, _ optimizerSteps: UnsafeMutablePointer<Int64>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let t = try trainer(h)
        let o = t.optimizer
        if !o.state1.isEmpty {
            guard let state1 else { throw STNError(.invalidArgument, "state1 is NULL") }
            o.state1.withUnsafeBufferPointer { state1.update(from: $0.baseAddress!, count: $0.count) }
        }
        if !o.state2.isEmpty {
            guard let state2 else { throw STNError(.invalidArgument, "state2 is NULL") }
            o.state2.withUnsafeBufferPointer { state2.update(from: $0.baseAddress!, count: $0.count) }
        }
        optimizerSteps?.pointee = Int64(o.steps)
    }
}

@_cdecl("stn_trainer_set_state")
public func stn_trainer_set_state(
    _ h: UnsafeMutableRawPointer?, _ state1: UnsafePointer<Float>?, _ len1: Int64,
    _ state2: UnsafePointer<Float>?, _ len2: Int64, _ optimizerSteps: Int64,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let t = try trainer(h)
        let count = Int64(t.network.parameterCount)
        for (len, name) in [(len1, "state1"), (len2, "state2")] where len != 0 && len != count {
            throw STNError(.invalidArgument, "optimizer \(name) has \(len) values; the network has \(count) parameters")
        }
        guard optimizerSteps >= 0 else { throw STNError(.invalidArgument, "optimizer steps must be non-negative") }
        if (len1 > 0 && state1 == nil) || (len2 > 0 && state2 == nil) {
            throw STNError(.invalidArgument, "optimizer state pointer is NULL")
        }
        let s1 = len1 > 0 ? Array(UnsafeBufferPointer(start: state1!, count: Int(len1))) : []
        let s2 = len2 > 0 ? Array(UnsafeBufferPointer(start: state2!, count: Int(len2))) : []
        try t.optimizer.restore(steps: Int(optimizerSteps), state1: s1, state2: s2, count: Int(count))
    }
}
/// Writes `shape` into a caller array of `capacity` (at least 5) and its length into `ndim`.
private func writeShape(_ shape: [Int], _ out: UnsafeMutablePointer<Int64>?, _ ndim: UnsafeMutablePointer<Int32>?)
    throws
{
    guard let out, let ndim else { throw STNError(.invalidArgument, "out_shape and out_ndim must not be NULL") }
    for (i, d) in shape.enumerated() { out[i] = Int64(d) }
    ndim.pointee = Int32(shape.count)
}
