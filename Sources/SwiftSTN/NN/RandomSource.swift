/// The engine's random numbers: SplitMix64, seedable and splittable by key.
///
/// Every random decision in training derives from (seed, purpose, indices) through `derive`,
/// never from shared mutable state, so results do not depend on the thread count or on the order
/// in which threads run, and a run can be resumed from its seed and step counter alone.
public struct RandomSource: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for a sub-stream identified by `keys` (e.g. step, chunk, layer).
    public static func derive(_ seed: UInt64, _ keys: UInt64...) -> RandomSource {
        var s = RandomSource(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        for k in keys { s.state = s.state &* 0x9E37_79B9_7F4A_7C15 ^ k; _ = s.next() }
        return s
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits (exactly representable in Float).
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform integer in [0, bound) without modulo bias (Lemire's method).
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let t = (0 &- b) % b
            while m.low < t { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Fisher–Yates shuffle.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, next(below: i + 1))
        }
    }
}
