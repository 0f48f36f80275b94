import STNTestSupport
import SwiftSTN

extension SplitMix64 {
    /// A tensor of `shape` with values uniform in [lo, hi).
    mutating func tensor(_ shape: [Int], _ lo: Double = -1, _ hi: Double = 1) -> Tensor<Double> {
        let n = shape.reduce(1, *)
        return try! Tensor(shape: shape, scalars: (0..<n).map { _ in uniform(lo, hi) })
    }
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
