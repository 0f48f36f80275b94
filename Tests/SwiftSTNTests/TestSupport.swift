import SwiftSTN

/// A small deterministic generator (SplitMix64) so tests need no Foundation and never flake.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }
    mutating func tensor(_ shape: [Int], _ lo: Double = -1, _ hi: Double = 1) -> Tensor<Double> {
        let n = shape.reduce(1, *)
        return try! Tensor(shape: shape, scalars: (0..<n).map { _ in uniform(lo, hi) })
    }
    mutating func int(_ lo: Int, _ hi: Int) -> Int { lo + Int(next() % UInt64(hi - lo + 1)) }
}

/// Σ a·b: the scalar loss whose gradient with respect to `a` is `b`.
func dot(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
    zip(a.scalars, b.scalars).reduce(0) { $0 + $1.0 * $1.1 }
}

/// The grid coordinate whose pixel coordinate is `px` (inverse of `unnormalize`).
func normalised(_ px: Double, size: Int, alignCorners: Bool) -> Double {
    alignCorners ? px * 2 / Double(size - 1) - 1 : (2 * px + 1) / Double(size) - 1
}

/// A grid value whose pixel coordinate is k + u with u kept away from 0 and ½, so that no
/// interpolation tap, clip or reflection boundary is within reach of a finite difference.
func smoothGridValue(_ rng: inout SplitMix64, size: Int, alignCorners: Bool) -> Double {
    // Mostly inside, some outside: a few taps beyond every edge.
    let k = Double(rng.int(-2, size))
    let u = rng.uniform(0.1, 0.4) + (rng.next() & 1 == 0 ? 0 : 0.5)
    return normalised(k + u, size: size, alignCorners: alignCorners)
}

func maxScaledError(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
}

/// Central differences (f(x + h·e_i) − f(x − h·e_i)) / 2h for every element i of x.
func centralDifferences(_ x: Tensor<Double>, h: Double, _ f: (Tensor<Double>) throws -> Double) rethrows -> [Double] {
    var out = [Double](repeating: 0, count: x.count)
    for i in 0..<x.count {
        var plus = x, minus = x
        plus.scalars[i] += h; minus.scalars[i] -= h
        out[i] = (try f(plus) - f(minus)) / (2 * h)
    }
    return out
}
