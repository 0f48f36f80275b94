/// The optimisers of `torch.optim`, with PyTorch's update rules, over a flat parameter store.
public final class Optimizer {
    public enum Kind: Int32, Sendable { case sgd = 0, adam = 1 }

    public struct Settings: Equatable, Sendable {
        public var kind: Kind = .sgd
        public var learningRate: Double = 0.01
        public var momentum: Double = 0
        public var dampening: Double = 0
        public var nesterov = false
        public var weightDecay: Double = 0
        public var beta1: Double = 0.9
        public var beta2: Double = 0.999
        public var epsilon: Double = 1e-8
        public init() {}
    }

    public let settings: Settings
    /// Momentum buffers (SGD) or first moments (Adam); empty until the first step.
    public internal(set) var state1: [Float] = []
    /// Second moments (Adam).
    public internal(set) var state2: [Float] = []
    /// Steps taken.
    public internal(set) var steps = 0

    public init(_ settings: Settings) throws {
        guard settings.learningRate >= 0, settings.learningRate.isFinite else {
            throw STNError(.invalidArgument, "Invalid learning rate: \(settings.learningRate)")
        }
        guard settings.momentum >= 0 else {
            throw STNError(.invalidArgument, "Invalid momentum value: \(settings.momentum)")
        }
        guard settings.weightDecay >= 0 else {
            throw STNError(.invalidArgument, "Invalid weight_decay value: \(settings.weightDecay)")
        }
        if settings.nesterov && (settings.momentum <= 0 || settings.dampening != 0) {
            throw STNError(.invalidArgument, "Nesterov momentum requires a momentum and zero dampening")
        }
        guard (0..<1).contains(settings.beta1), (0..<1).contains(settings.beta2) else {
            throw STNError(.invalidArgument, "Invalid beta parameters: (\(settings.beta1), \(settings.beta2))")
        }
        guard settings.epsilon >= 0 else {
            throw STNError(.invalidArgument, "Invalid epsilon value: \(settings.epsilon)")
        }
        self.settings = settings
    }

    /// Restores saved state (a checkpoint's) for `count` parameters, refusing buffers that do not
    /// fit this optimiser (SGD: a momentum buffer or none, no second buffer; Adam: both moments
    /// or neither).
    public func restore(steps: Int, state1: [Float], state2: [Float], count: Int) throws {
        let ok: Bool
        switch settings.kind {
        case .sgd: ok = (state1.isEmpty || state1.count == count) && state2.isEmpty
        case .adam: ok = (state1.isEmpty && state2.isEmpty) || (state1.count == count && state2.count == count)
        }
        guard ok else {
            throw STNError(
                .invalidArgument,
                "optimizer state does not fit \(settings.kind == .sgd ? "SGD" : "Adam") with \(count) parameters: buffers of \(state1.count) and \(state2.count) values"
            )
        }
        self.steps = steps; self.state1 = state1; self.state2 = state2
    }

    /// One update of `parameters` with `gradients` (both `count` long).
    public func step(_ parameters: UnsafeMutablePointer<Float>, _ gradients: UnsafePointer<Float>, count: Int) {
        steps += 1
        let s = settings
        let lr = Float(s.learningRate), wd = Float(s.weightDecay)
        switch s.kind {
        case .sgd:
            let mu = Float(s.momentum), damp = Float(s.dampening)
            if mu != 0 && state1.count != count { state1 = [] }
            let first = state1.isEmpty
            if mu != 0 && first { state1 = [Float](repeating: 0, count: count) }
            state1.withUnsafeMutableBufferPointer { buf in
                for i in 0..<count {
                    var d = gradients[i]
                    if wd != 0 { d += wd * parameters[i] }
                    if mu != 0 {
                        // PyTorch: the first step copies the gradient into the buffer.
                        buf[i] = first ? d : mu * buf[i] + (1 - damp) * d
                        d = s.nesterov ? d + mu * buf[i] : buf[i]
                    }
                    parameters[i] -= lr * d
                }
            }
        case .adam:
            if state1.count != count || state2.count != count {
                state1 = [Float](repeating: 0, count: count)
                state2 = [Float](repeating: 0, count: count)
            }
            let b1 = Float(s.beta1), b2 = Float(s.beta2), eps = Float(s.epsilon)
            let bc1 = 1 - Float(pow(s.beta1, Double(steps)))
            let bc2Sqrt = Float(pow(s.beta2, Double(steps)) * -1 + 1).squareRoot()
            let stepSize = lr / bc1
            state1.withUnsafeMutableBufferPointer { m in
                state2.withUnsafeMutableBufferPointer { v in
                    for i in 0..<count {
                        var g = gradients[i]
                        if wd != 0 { g += wd * parameters[i] }
                        m[i] += (g - m[i]) * (1 - b1)  // lerp, as torch's exp_avg.lerp_
                        v[i] = v[i] * b2 + (1 - b2) * g * g
                        let denom = v[i].squareRoot() / bc2Sqrt + eps
                        parameters[i] -= stepSize * m[i] / denom
                    }
                }
            }
        }
    }
}

/// `pow` without Foundation.
@inline(__always)
func pow(_ x: Double, _ n: Double) -> Double {
    var result = 1.0, base = x
    var k = Int(n)
    while k > 0 {
        if k & 1 == 1 { result *= base }
        base *= base
        k >>= 1
    }
    return result
}
