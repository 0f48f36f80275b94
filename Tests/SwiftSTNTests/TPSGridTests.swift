import STNKernels
import STNTestSupport
import SwiftSTN
import XCTest

/// tps_grid: central finite differences in float64 against Mᵀ·grad, the identity, interpolation
/// and affine-reproduction properties, singular control points, the cache, and validation.
final class TPSGridTests: XCTestCase {
    let h = 1e-6
    let tolerance = 1e-7

    /// Five scattered, distinct, non-collinear points.
    let scattered = try! Tensor<Double>(
        shape: [5, 2], scalars: [-0.9, -0.7, 0.8, -0.85, 0.1, 0.05, -0.6, 0.9, 0.95, 0.7])

    func identityGrid<T: STNFloat>(_: T.Type, size: [Int], alignCorners: Bool) throws -> Tensor<T> {
        let theta = try Tensor<T>(
            shape: [size[0], 2, 3], scalars: Array([[T]](repeating: [1, 0, 0, 0, 1, 0], count: size[0]).joined()))
        return try affineGrid(theta, size: size, alignCorners: alignCorners)
    }

    func checkGradient(size: [Int], k: Int, controlPoints: Tensor<Double>?, alignCorners: Bool, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let d = rng.tensor([size[0], k, 2], -0.2, 0.2)
        let grid = try tpsGrid(d, size: size, controlPoints: controlPoints, alignCorners: alignCorners)
        let weights = rng.tensor(grid.shape)
        let a: Tensor<Double>
        if let cp = controlPoints {
            a = try tpsGridBackward(weights, size: size, controlPoints: cp, alignCorners: alignCorners)
        } else {
            a = try tpsGridBackward(weights, size: size, controlPointCount: k, alignCorners: alignCorners)
        }
        XCTAssertEqual(a.shape, d.shape)
        let numeric = try centralDifferences(d, h: h) {
            dot(try tpsGrid($0, size: size, controlPoints: controlPoints, alignCorners: alignCorners), weights)
        }
        XCTAssertLessThanOrEqual(
            maxScaledError(a.scalars, numeric), tolerance, "tps_grid \(size) K=\(k) ac=\(alignCorners)")
        XCTAssertGreaterThan(a.scalars.map(abs).max()!, 0)
    }

    func testGradientMatchesFiniteDifferences() throws {
        for ac in [false, true] {
            try checkGradient(size: [2, 1, 5, 6], k: 9, controlPoints: nil, alignCorners: ac, seed: 1)
            try checkGradient(size: [1, 3, 4, 4], k: 4, controlPoints: nil, alignCorners: ac, seed: 2)
            try checkGradient(size: [3, 1, 3, 7], k: 16, controlPoints: nil, alignCorners: ac, seed: 3)
            try checkGradient(size: [2, 2, 6, 5], k: 5, controlPoints: scattered, alignCorners: ac, seed: 4)
        }
    }

    func testZeroDisplacementGivesTheIdentityGridExactly() throws {
        for size in [[2, 1, 5, 7], [1, 1, 1, 4], [1, 2, 8, 8]] {
            for ac in [false, true] {
                for k in [4, 9, 25] {
                    XCTAssertEqual(
                        try tpsGrid(try Tensor<Double>(zeros: [size[0], k, 2]), size: size, alignCorners: ac),
                        try identityGrid(Double.self, size: size, alignCorners: ac))
                    XCTAssertEqual(
                        try tpsGrid(try Tensor<Float>(zeros: [size[0], k, 2]), size: size, alignCorners: ac),
                        try identityGrid(Float.self, size: size, alignCorners: ac))
                }
                XCTAssertEqual(
                    try tpsGrid(
                        try Tensor<Float>(zeros: [size[0], 5, 2]), size: size, controlPoints: scattered,
                        alignCorners: ac),
                    try identityGrid(Float.self, size: size, alignCorners: ac))
            }
        }
    }

    func testControlPointsMoveByTheirDisplacements() throws {
        // align_corners=True and a 3×3 output: the base coordinates are the 3×3 default points.
        var rng = SplitMix64(seed: 9)
        let d = rng.tensor([2, 9, 2], -0.3, 0.3)
        let grid = try tpsGrid(d, size: [2, 1, 3, 3], alignCorners: true)
        let c = try TPSGrid.defaultControlPoints(count: 9)
        XCTAssertEqual(c, [-1, -1, 0, -1, 1, -1, -1, 0, 0, 0, 1, 0, -1, 1, 0, 1, 1, 1])
        for n in 0..<2 {
            for k in 0..<9 {
                XCTAssertEqual(grid.scalars[18 * n + 2 * k], c[2 * k] + d.scalars[18 * n + 2 * k], accuracy: 1e-12)
                XCTAssertEqual(
                    grid.scalars[18 * n + 2 * k + 1], c[2 * k + 1] + d.scalars[18 * n + 2 * k + 1], accuracy: 1e-12)
            }
        }
    }

    func testAffineDisplacementsAreReproducedEverywhere() throws {
        // d_k = A·c_k + t moves every point p to p + A·p + t: thin plates reproduce affine maps.
        let (a, t) = ([0.1, -0.2, 0.15, 0.05], [0.03, -0.07])
        for (points, k) in [(nil, 16), (scattered, 5)] as [(Tensor<Double>?, Int)] {
            let c = try points?.scalars ?? TPSGrid.defaultControlPoints(count: k)
            var d = try Tensor<Double>(zeros: [1, k, 2])
            for i in 0..<k {
                d.scalars[2 * i] = a[0] * c[2 * i] + a[1] * c[2 * i + 1] + t[0]
                d.scalars[2 * i + 1] = a[2] * c[2 * i] + a[3] * c[2 * i + 1] + t[1]
            }
            let size = [1, 1, 6, 9]
            let grid = try tpsGrid(d, size: size, controlPoints: points)
            let base = try identityGrid(Double.self, size: size, alignCorners: false)
            for p in 0..<(grid.count / 2) {
                let (x, y) = (base.scalars[2 * p], base.scalars[2 * p + 1])
                XCTAssertEqual(grid.scalars[2 * p], x + a[0] * x + a[1] * y + t[0], accuracy: 1e-12)
                XCTAssertEqual(grid.scalars[2 * p + 1], y + a[2] * x + a[3] * y + t[1], accuracy: 1e-12)
            }
        }
    }

    func testSingularControlPointsAreClearErrors() throws {
        let d = try Tensor<Double>(zeros: [1, 4, 2])
        let duplicate = try Tensor<Double>(shape: [4, 2], scalars: [-1, -1, 1, -1, 0.5, 0.5, 0.5, 0.5])
        XCTAssertThrowsError(try tpsGrid(d, size: [1, 1, 4, 4], controlPoints: duplicate)) { error in
            let e = error as! STNError
            XCTAssertEqual(e.kind, .invalidArgument)
            XCTAssertTrue(e.message.contains("control points 2 and 3") && e.message.contains("singular"), e.message)
        }
        let collinear = try Tensor<Double>(shape: [4, 2], scalars: [-1, -0.2, -0.3, 0.01, 0.4, 0.22, 0.9, 0.37])
        XCTAssertThrowsError(try tpsGrid(d, size: [1, 1, 4, 4], controlPoints: collinear)) { error in
            XCTAssertTrue((error as! STNError).message.contains("one line"), (error as! STNError).message)
        }
        // Distinct and not collinear, but numerically singular: the solve's pivot check refuses it.
        let nearlyEqual = try Tensor<Double>(shape: [4, 2], scalars: [-1, -1, 1, -1, 0.5, 0.5, 0.5, 0.5 + 1e-15])
        XCTAssertThrowsError(try tpsGrid(d, size: [1, 1, 4, 4], controlPoints: nearlyEqual)) { error in
            XCTAssertTrue((error as! STNError).message.contains("singular"), (error as! STNError).message)
        }
        let nonFinite = try Tensor<Double>(shape: [4, 2], scalars: [-1, -1, 1, -1, .nan, 0.5, 0, 1])
        XCTAssertThrowsError(try tpsGrid(d, size: [1, 1, 4, 4], controlPoints: nonFinite)) { error in
            XCTAssertTrue((error as! STNError).message.contains("finite"), (error as! STNError).message)
        }
        XCTAssertThrowsError(
            try tpsGridBackward(try Tensor<Double>(zeros: [1, 4, 4, 2]), size: [1, 1, 4, 4], controlPoints: duplicate)
        ) { error in
            XCTAssertTrue(
                (error as! STNError).message.hasPrefix("tps_grid_backward: control points 2 and 3"),
                (error as! STNError).message)
        }
    }

    func testDefaultControlPointsNeedAPerfectSquare() throws {
        for k in [1, 2, 3, 5, 8, 15] {
            XCTAssertThrowsError(try tpsGrid(try Tensor<Float>(zeros: [2, k, 2]), size: [2, 1, 4, 4])) { error in
                let m = (error as! STNError).message
                XCTAssertTrue(
                    m.contains("perfect square ≥ 4") && m.contains("K = \(k)") && m.contains("(2, \(k), 2)"), m)
            }
        }
        XCTAssertThrowsError(
            try tpsGridBackward(try Tensor<Float>(zeros: [2, 4, 4, 2]), size: [2, 1, 4, 4], controlPointCount: 6)
        ) { error in
            XCTAssertTrue((error as! STNError).message.contains("perfect square"))
        }
    }

    func testValidationErrorsNameTheArgumentAndShapes() throws {
        XCTAssertThrowsError(try tpsGrid(try Tensor<Float>(zeros: [3, 4, 2]), size: [2, 1, 4, 4])) { error in
            let m = (error as! STNError).message
            XCTAssertTrue(
                m.contains("displacements of shape (N, K, 2) with N = 2") && m.contains("(3, 4, 2)")
                    && m.contains("(2, 1, 4, 4)"), m)
        }
        XCTAssertThrowsError(
            try tpsGrid(try Tensor<Double>(zeros: [1, 4, 2]), size: [1, 1, 4, 4], controlPoints: scattered)
        ) { error in
            let m = (error as! STNError).message
            XCTAssertTrue(
                m.contains("(N, K, 2) = (1, 5, 2)") && m.contains("control_points of shape (5, 2)")
                    && m.contains("got displacements of shape (1, 4, 2)"), m)
        }
        XCTAssertThrowsError(
            try tpsGrid(
                try Tensor<Double>(zeros: [1, 2, 2]), size: [1, 1, 4, 4],
                controlPoints: try Tensor<Double>(shape: [2, 2], scalars: [0, 0, 1, 1]))
        ) { error in
            XCTAssertTrue(
                (error as! STNError).message.contains(
                    "control_points of shape (K, 2) with K ≥ 3, got control_points of shape (2, 2)"))
        }
        XCTAssertThrowsError(try tpsGrid(try Tensor<Double>(zeros: [1, 4, 2]), size: [1, 1, 4])) { error in
            XCTAssertTrue((error as! STNError).message.contains("size must have 4 elements"))
        }
        XCTAssertThrowsError(
            try tpsGridBackward(try Tensor<Double>(zeros: [1, 4, 5, 2]), size: [1, 1, 4, 4], controlPointCount: 4)
        ) { error in
            let m = (error as! STNError).message
            XCTAssertTrue(m.contains("grad_grid of shape (1, 4, 4, 2)") && m.contains("(1, 4, 5, 2)"), m)
        }
    }

    func testNonFiniteDisplacementsGiveTheSentinel() throws {
        var d = try Tensor<Float>(zeros: [2, 4, 2])
        d.scalars[0] = .nan
        let grid = try tpsGrid(d, size: [2, 1, 3, 3])
        XCTAssertTrue(grid.scalars.allSatisfy { $0.isFinite })
        XCTAssertTrue(grid.scalars[0..<18].allSatisfy { $0 == Float(ProjectiveGuard.sentinel) })
        XCTAssertEqual(
            Array(grid.scalars[18...]),
            Array(try identityGrid(Float.self, size: [1, 1, 3, 3], alignCorners: false).scalars))
    }

    func testTheSolvedMatrixIsCached() throws {
        TPSGrid.clearCache()
        let d = try Tensor<Double>(zeros: [1, 9, 2])
        _ = try tpsGrid(d, size: [1, 1, 5, 5])
        XCTAssertEqual(TPSGrid.cachedMatrixCount, 1)
        _ = try tpsGrid(d, size: [1, 1, 5, 5])
        _ = try tpsGridBackward(try Tensor<Double>(zeros: [1, 5, 5, 2]), size: [1, 1, 5, 5], controlPointCount: 9)
        XCTAssertEqual(TPSGrid.cachedMatrixCount, 1, "same points and size: one solve")
        _ = try tpsGrid(d, size: [1, 1, 5, 5], alignCorners: true)
        _ = try tpsGrid(d, size: [1, 1, 5, 6])
        XCTAssertEqual(TPSGrid.cachedMatrixCount, 3)
        for w in 1...20 { _ = try tpsGrid(d, size: [1, 1, 2, w]) }
        XCTAssertEqual(TPSGrid.cachedMatrixCount, TPSGrid.cacheCapacity, "least recently used entries are evicted")
        // The matrix: rows sum to 1 (constants are reproduced) and reproduce the base points.
        let m = try TPSGrid.interpolationMatrix(
            controlPoints: scattered.scalars, height: 4, width: 3, alignCorners: false)
        let base = try identityGrid(Double.self, size: [1, 1, 4, 3], alignCorners: false)
        for p in 0..<12 {
            let row = m.values[(5 * p)..<(5 * p + 5)]
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-12)
            let x = zip(row, stride(from: 0, to: 10, by: 2)).reduce(0.0) { $0 + $1.0 * scattered.scalars[$1.1] }
            XCTAssertEqual(x, base.scalars[2 * p], accuracy: 1e-12)
        }
        TPSGrid.clearCache()
        XCTAssertEqual(TPSGrid.cachedMatrixCount, 0)
    }

    func testThreadCountDoesNotChangeAnyBit() throws {
        var rng = SplitMix64(seed: 31)
        let d = try Tensor<Float>(
            shape: [3, 16, 2], scalars: rng.tensor([3, 16, 2], -0.2, 0.2).scalars.map(Float.init))
        let size = [3, 1, 29, 33]
        let gradGrid = try Tensor<Float>(
            shape: [3, 29, 33, 2], scalars: rng.tensor([3, 29, 33, 2]).scalars.map(Float.init))
        let saved = Threading.threadCount
        defer { Threading.threadCount = saved }
        TPSGrid.clearCache()
        Threading.threadCount = 1
        let g1 = try tpsGrid(d, size: size), b1 = try tpsGridBackward(gradGrid, size: size, controlPointCount: 16)
        TPSGrid.clearCache()
        Threading.threadCount = 5
        XCTAssertEqual(try tpsGrid(d, size: size), g1)
        XCTAssertEqual(try tpsGridBackward(gradGrid, size: size, controlPointCount: 16), b1)
    }
}
