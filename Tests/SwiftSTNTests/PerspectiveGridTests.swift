import STNKernels
import STNTestSupport
import SwiftSTN
import XCTest

/// perspective_grid: central finite differences in float64 against the quotient-rule gradient,
/// the identity and affine special cases (bit for bit affine_grid's), the guard of the
/// projective division, and validation.
final class PerspectiveGridTests: XCTestCase {
    let h = 1e-6
    let tolerance = 1e-7
    let sentinel = ProjectiveGuard.sentinel

    /// Identity plus a random perturbation: w stays in [0.5, 1.5] over [−1, 1]².
    func randomHomography(_ rng: inout SplitMix64, batch: Int) -> Tensor<Double> {
        var m = rng.tensor([batch, 3, 3], -0.2, 0.2)
        for n in 0..<batch {
            for i in 0..<3 { m[n, i, i] += 1 }
        }
        return m
    }

    func checkGradient(_ homography: Tensor<Double>, size: [Int], alignCorners: Bool, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let grid = try perspectiveGrid(homography, size: size, alignCorners: alignCorners)
        var weights = rng.tensor(grid.shape)
        let analytic = try perspectiveGridBackward(
            weights, homography: homography, size: size, alignCorners: alignCorners)
        XCTAssertEqual(analytic.shape, homography.shape)
        // Guarded points are constants with no gradient: weighting them changes nothing. Drop
        // them from the loss, where ±1e4 sentinels would swamp the finite differences.
        for i in 0..<grid.count where grid.scalars[i] == sentinel { weights.scalars[i] = 0 }
        XCTAssertEqual(
            try perspectiveGridBackward(weights, homography: homography, size: size, alignCorners: alignCorners),
            analytic)
        let numeric = try centralDifferences(homography, h: h) {
            dot(try perspectiveGrid($0, size: size, alignCorners: alignCorners), weights)
        }
        XCTAssertLessThanOrEqual(
            maxScaledError(analytic.scalars, numeric), tolerance, "perspective_grid \(size) ac=\(alignCorners)")
        XCTAssertGreaterThan(analytic.scalars.map(abs).max()!, 0)
    }

    func testGradientMatchesFiniteDifferences() throws {
        for size in [[2, 1, 4, 5], [1, 3, 1, 6], [3, 2, 7, 3]] {
            for ac in [false, true] {
                var rng = SplitMix64(seed: UInt64(size.reduce(0, +)) + (ac ? 1 : 0))
                try checkGradient(
                    randomHomography(&rng, batch: size[0]), size: size, alignCorners: ac,
                    seed: UInt64(size[2] * 10 + size[3]))
            }
        }
    }

    func testGradientWithGuardedPointsMatchesFiniteDifferences() throws {
        // w = 0.3 + x: the left columns (x < −0.3) are guarded (constant sentinel, zero
        // gradient), the others have w ≥ 0.3, far from the guard for a 1e-6 step.
        let m = try Tensor<Double>(shape: [1, 3, 3], scalars: [1.1, 0.2, -0.1, 0.1, 0.9, 0.05, 1, 0.05, 0.3])
        for ac in [false, true] {
            let grid = try perspectiveGrid(m, size: [1, 1, 4, 5], alignCorners: ac)
            XCTAssertTrue(grid.scalars.contains(sentinel), "some points should be guarded, ac=\(ac)")
            XCTAssertTrue(grid.scalars.contains { $0 != sentinel }, "some points should be valid, ac=\(ac)")
            try checkGradient(m, size: [1, 1, 4, 5], alignCorners: ac, seed: 5)
        }
    }

    func testIdentityAndAffineHomographiesGiveAffineGridExactly() throws {
        var rng = SplitMix64(seed: 17)
        for size in [[2, 1, 5, 7], [1, 1, 1, 4], [1, 2, 6, 1]] {
            for ac in [false, true] {
                // Identity, float32 and float64.
                let eyeD = try Tensor<Double>(
                    shape: [size[0], 3, 3],
                    scalars: Array([[Double]](repeating: [1, 0, 0, 0, 1, 0, 0, 0, 1], count: size[0]).joined()))
                let thetaD = try Tensor<Double>(
                    shape: [size[0], 2, 3],
                    scalars: Array([[Double]](repeating: [1, 0, 0, 0, 1, 0], count: size[0]).joined()))
                XCTAssertEqual(
                    try perspectiveGrid(eyeD, size: size, alignCorners: ac),
                    try affineGrid(thetaD, size: size, alignCorners: ac))
                let eyeF = try Tensor<Float>(shape: eyeD.shape, scalars: eyeD.scalars.map(Float.init))
                let thetaF = try Tensor<Float>(shape: thetaD.shape, scalars: thetaD.scalars.map(Float.init))
                XCTAssertEqual(
                    try perspectiveGrid(eyeF, size: size, alignCorners: ac),
                    try affineGrid(thetaF, size: size, alignCorners: ac))
                // Any H with last row (0, 0, 1) is affine_grid of its first two rows, bit for bit.
                let theta = rng.tensor([size[0], 2, 3])
                var m = try Tensor<Double>(zeros: [size[0], 3, 3])
                for n in 0..<size[0] {
                    for k in 0..<6 { m.scalars[9 * n + k] = theta.scalars[6 * n + k] }
                    m[n, 2, 2] = 1
                }
                XCTAssertEqual(
                    try perspectiveGrid(m, size: size, alignCorners: ac),
                    try affineGrid(theta, size: size, alignCorners: ac))
            }
        }
    }

    func testGuardedPointsGetTheSentinelAndNoGradient() throws {
        // w = x: columns with x ≤ 0 are behind the projection (w ≤ 0), the others map to (1, y/x).
        let m = try Tensor<Double>(shape: [1, 3, 3], scalars: [1, 0, 0, 0, 1, 0, 1, 0, 0])
        let size = [1, 1, 3, 5]
        let grid = try perspectiveGrid(m, size: size, alignCorners: true)  // x ∈ {−1, −½, 0, ½, 1}
        var gradAtGuarded = try Tensor<Double>(zeros: grid.shape)
        for hh in 0..<3 {
            let y = Double(hh - 1)
            for w in 0..<5 {
                let x = Double(w - 2) / 2
                if x <= 0 {
                    XCTAssertEqual(grid[0, hh, w, 0], sentinel)
                    XCTAssertEqual(grid[0, hh, w, 1], sentinel)
                    gradAtGuarded[0, hh, w, 0] = 1
                    gradAtGuarded[0, hh, w, 1] = -2
                } else {
                    XCTAssertEqual(grid[0, hh, w, 0], 1)
                    XCTAssertEqual(grid[0, hh, w, 1], y / x, accuracy: 1e-15)
                }
            }
        }
        let g = try perspectiveGridBackward(gradAtGuarded, homography: m, size: size, alignCorners: true)
        XCTAssertEqual(g.scalars, [Double](repeating: 0, count: 9))

        // A tiny positive w is guarded too: w = 1e-9 everywhere.
        let tiny = try Tensor<Double>(shape: [1, 3, 3], scalars: [1, 0, 0, 0, 1, 0, 0, 0, 1e-9])
        XCTAssertTrue(try perspectiveGrid(tiny, size: size).scalars.allSatisfy { $0 == sentinel })
        // −I maps every point to w = −1: behind the projection.
        let minusEye = try Tensor<Float>(shape: [1, 3, 3], scalars: [-1, 0, 0, 0, -1, 0, 0, 0, -1])
        XCTAssertTrue(try perspectiveGrid(minusEye, size: size).scalars.allSatisfy { $0 == Float(sentinel) })
    }

    func testNonFiniteHomographiesNeverGiveNaN() throws {
        let size = [4, 1, 3, 4]
        for T in [Float.self, Double.self] as [any STNFloat.Type] {
            func check<S: STNFloat>(_: S.Type) throws {
                var scalars = [S](repeating: 0, count: 36)
                for n in 0..<4 { scalars[9 * n] = 1; scalars[9 * n + 4] = 1; scalars[9 * n + 8] = 1 }
                scalars[0] = .nan  // batch 0: u is NaN everywhere
                scalars[9 + 8] = .infinity  // batch 1: w is infinite everywhere
                scalars[18 + 2] = -.infinity  // batch 2: u is −∞ everywhere
                scalars[27 + 8] = S.greatestFiniteMagnitude
                scalars[27 + 6] = S.greatestFiniteMagnitude  // batch 3: w overflows (or is huge) somewhere
                let m = try Tensor<S>(shape: [4, 3, 3], scalars: scalars)
                let grid = try perspectiveGrid(m, size: size)
                XCTAssertTrue(grid.scalars.allSatisfy { $0.isFinite }, "\(S.self)")
                XCTAssertTrue(grid.scalars[0..<72].allSatisfy { $0 == S(sentinel) }, "batches 0 to 2, \(S.self)")
                let gradGrid = try Tensor<S>(shape: grid.shape, scalars: [S](repeating: 1, count: grid.count))
                let g = try perspectiveGridBackward(gradGrid, homography: m, size: size)
                XCTAssertTrue(g.scalars.allSatisfy { $0.isFinite }, "\(S.self)")
                XCTAssertTrue(g.scalars[0..<27].allSatisfy { $0 == 0 }, "\(S.self)")
            }
            try check(T)
        }
    }

    func testThreadCountDoesNotChangeAnyBit() throws {
        var rng = SplitMix64(seed: 23)
        let m = try Tensor<Float>(shape: [3, 3, 3], scalars: randomHomography(&rng, batch: 3).scalars.map(Float.init))
        let size = [3, 1, 37, 41]
        let gradGrid = try Tensor<Float>(
            shape: [3, 37, 41, 2], scalars: rng.tensor([3, 37, 41, 2]).scalars.map(Float.init))
        let saved = Threading.threadCount
        defer { Threading.threadCount = saved }
        Threading.threadCount = 1
        let g1 = try perspectiveGrid(m, size: size),
            b1 = try perspectiveGridBackward(gradGrid, homography: m, size: size)
        Threading.threadCount = 5
        XCTAssertEqual(try perspectiveGrid(m, size: size), g1)
        XCTAssertEqual(try perspectiveGridBackward(gradGrid, homography: m, size: size), b1)
    }

    func testValidationErrorsNameTheArgumentAndShapes() throws {
        let m = try Tensor<Float>(zeros: [2, 3, 3])
        XCTAssertThrowsError(try perspectiveGrid(m, size: [3, 1, 4, 4])) { error in
            let e = error as! STNError
            XCTAssertEqual(e.kind, .invalidArgument)
            XCTAssertTrue(
                e.message.contains("H of shape (N, 3, 3) = (3, 3, 3)") && e.message.contains("(2, 3, 3)")
                    && e.message.contains("(3, 1, 4, 4)"), e.message)
        }
        XCTAssertThrowsError(try perspectiveGrid(try Tensor<Float>(zeros: [2, 2, 3]), size: [2, 1, 4, 4])) { error in
            XCTAssertTrue((error as! STNError).message.contains("got H of shape (2, 2, 3)"))
        }
        XCTAssertThrowsError(try perspectiveGrid(m, size: [2, 1, 4, 4, 4])) { error in
            XCTAssertTrue((error as! STNError).message.contains("size must have 4 elements"))
        }
        XCTAssertThrowsError(try perspectiveGrid(m, size: [2, 1, 0, 4]))
        XCTAssertThrowsError(
            try perspectiveGridBackward(try Tensor<Float>(zeros: [2, 4, 5, 2]), homography: m, size: [2, 1, 4, 4])
        ) { error in
            let msg = (error as! STNError).message
            XCTAssertTrue(msg.contains("grad_grid of shape (2, 4, 4, 2)") && msg.contains("(2, 4, 5, 2)"), msg)
        }
    }
}
