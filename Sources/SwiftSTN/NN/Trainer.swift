/// The training loop: shuffling, batching, forward, backward and update, all in Swift, with
/// progress reported through a callback between batches.
public final class Trainer {
    public let network: Network
    public let optimizer: Optimizer
    /// Optimisation steps taken; keys the dropout masks, so a resumed run continues exactly.
    public var step: UInt64 = 0
    /// The run's seed: shuffling and dropout derive from it.
    public let seed: UInt64
    private var gradients: [Float]

    public init(network: Network, optimizer: Optimizer, seed: UInt64) {
        self.network = network
        self.optimizer = optimizer
        self.seed = seed
        gradients = [Float](repeating: 0, count: network.parameterCount)
    }

    public struct Progress {
        public var epoch: Int
        public var batch: Int
        public var batches: Int
        public var samplesSeen: Int
        /// Mean loss over the batches of this epoch so far.
        public var meanLoss: Double
        public var correct: Int
    }

    public struct EpochResult: Sendable {
        public var meanLoss: Double
        public var accuracy: Double
        public var samples: Int
        /// False when the progress callback asked to stop early.
        public var completed: Bool
    }

    /// One epoch over `n` samples (`x`: n × sampleShape, `labels`: n). The order is a shuffle
    /// keyed by (seed, epoch) when `shuffle` is set. `progress` is called every
    /// `reportEvery` batches and after the last; returning false stops after that batch.
    /// `training` false runs the steps in evaluation mode (no dropout).
    public func trainEpoch(
        _ x: UnsafePointer<Float>, labels: UnsafePointer<Int64>, n: Int, sampleShape: [Int],
        batchSize: Int, shuffle: Bool, epoch: Int, training: Bool = true, reportEvery: Int = 10,
        progress: (Progress) -> Bool = { _ in true }
    ) throws -> EpochResult {
        guard batchSize > 0 else { throw STNError(.invalidArgument, "batch_size must be positive, got \(batchSize)") }
        guard n > 0 else { throw STNError(.invalidArgument, "no training samples") }
        _ = try network.outputShape(input: sampleShape)
        try network.checkInput(x, n: n, sampleShape: sampleShape)
        try network.checkLabels(labels, n: n)
        let sampleSize = sampleShape.reduce(1, *)
        var order = Array(0..<n)
        if shuffle {
            var rng = RandomSource.derive(seed, 0x5AFF1E, UInt64(epoch))
            rng.shuffle(&order)
        }
        let batches = (n + batchSize - 1) / batchSize
        let bx = UnsafeMutablePointer<Float>.allocate(capacity: min(batchSize, n) * sampleSize)
        let by = UnsafeMutablePointer<Int64>.allocate(capacity: min(batchSize, n))
        defer { bx.deallocate(); by.deallocate() }
        var lossSum = 0.0, correct = 0, seen = 0
        for b in 0..<batches {
            let lo = b * batchSize, m = min(batchSize, n - lo)
            for r in 0..<m {
                let src = order[lo + r]
                (bx + r * sampleSize).update(from: x + src * sampleSize, count: sampleSize)
                by[r] = labels[src]
            }
            let result = try gradients.withUnsafeMutableBufferPointer { g in
                try network.lossAndGradient(
                    bx, labels: by, n: m, sampleShape: sampleShape, gradients: g.baseAddress!,
                    training: training, seed: seed, step: step)
            }
            gradients.withUnsafeBufferPointer { g in
                network.parameters.withUnsafeMutableBufferPointer { p in
                    optimizer.step(p.baseAddress!, g.baseAddress!, count: p.count)
                }
            }
            step += 1
            lossSum += result.loss * Double(m); correct += result.correct; seen += m
            if (b + 1) % max(1, reportEvery) == 0 || b == batches - 1 {
                let keepGoing = progress(
                    Progress(
                        epoch: epoch, batch: b + 1, batches: batches, samplesSeen: seen,
                        meanLoss: lossSum / Double(seen), correct: correct))
                if !keepGoing {
                    return EpochResult(
                        meanLoss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                        samples: seen, completed: false)
                }
            }
        }
        return EpochResult(
            meanLoss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen), samples: seen,
            completed: true)
    }
}

extension Network {
    /// Mean loss and accuracy over `n` samples in evaluation mode, in batches of `batchSize`.
    public func evaluate(
        _ x: UnsafePointer<Float>, labels: UnsafePointer<Int64>, n: Int, sampleShape: [Int],
        batchSize: Int = 1000
    ) throws -> (loss: Double, accuracy: Double) {
        guard n > 0 else { throw STNError(.invalidArgument, "no samples to evaluate") }
        try checkInput(x, n: n, sampleShape: sampleShape)
        let size = sampleShape.reduce(1, *)
        var lossSum = 0.0, correct = 0
        var lo = 0
        while lo < n {
            let m = min(batchSize, n - lo)
            let r = try lossAndGradient(
                x + lo * size, labels: labels + lo, n: m, sampleShape: sampleShape,
                gradients: nil, training: false)
            lossSum += r.loss * Double(m); correct += r.correct
            lo += m
        }
        return (lossSum / Double(n), Double(correct) / Double(n))
    }
}
