import STNTestSupport
import SwiftSTN
import XCTest

/// Central finite differences in float64 against every analytic gradient: grid_sample's input
/// and grid gradients for every mode × padding × align_corners, 2-D and 3-D, and affine_grid's
/// theta gradient.
final class GradientCheckTests: XCTestCase {
    let h = 1e-6
    let tolerance = 1e-7

    func checkGridSample(dims: Int, mode: InterpolationMode, padding: Padding, alignCorners: Bool) throws {
        var rng = SplitMix64(
            seed: UInt64(dims * 100 + Int(mode.rawValue) * 10 + Int(padding.code)) + (alignCorners ? 7 : 0))
        let inputShape = dims == 2 ? [2, 3, 5, 4] : [2, 2, 3, 4, 5]
        let gridShape = dims == 2 ? [2, 3, 4, 2] : [2, 2, 3, 2, 3]
        let input = rng.tensor(inputShape)
        var grid = try Tensor<Double>(zeros: gridShape)
        // Spatial sizes in grid-coordinate order (x, y[, z]) = (W, H[, D]).
        let sizes = Array(inputShape.dropFirst(2).reversed())
        for i in 0..<grid.count {
            grid.scalars[i] = smoothGridValue(&rng, size: sizes[i % dims], alignCorners: alignCorners)
        }
        let out = try gridSample(input, grid: grid, mode: mode, padding: padding, alignCorners: alignCorners)
        let weights = rng.tensor(out.shape)
        let (gIn, gGrid) = try gridSampleBackward(
            gradOutput: weights, input: input, grid: grid, mode: mode,
            padding: padding, alignCorners: alignCorners)
        func loss(_ i: Tensor<Double>, _ g: Tensor<Double>) throws -> Double {
            dot(try gridSample(i, grid: g, mode: mode, padding: padding, alignCorners: alignCorners), weights)
        }
        let numGrid = try centralDifferences(grid, h: h) { try loss(input, $0) }
        let numInput = try centralDifferences(input, h: h) { try loss($0, grid) }
        let what = "\(dims)-D \(mode) \(padding) alignCorners=\(alignCorners)"
        XCTAssertLessThanOrEqual(maxScaledError(gGrid.scalars, numGrid), tolerance, "grid gradient, \(what)")
        XCTAssertLessThanOrEqual(maxScaledError(gIn!.scalars, numInput), tolerance, "input gradient, \(what)")
        if mode == .nearest {
            XCTAssertTrue(gGrid.scalars.allSatisfy { $0 == 0 }, "nearest has a zero grid gradient, \(what)")
        } else {
            XCTAssertGreaterThan(gGrid.scalars.map(abs).max()!, 0, "gradient should not vanish, \(what)")
        }
    }

    func testGridSample2D() throws {
        for mode in InterpolationMode.allCases {
            for padding in Padding.pytorchModes {
                for ac in [false, true] { try checkGridSample(dims: 2, mode: mode, padding: padding, alignCorners: ac) }
            }
        }
    }

    func testGridSample3D() throws {
        for mode in [InterpolationMode.bilinear, .nearest] {
            for padding in Padding.pytorchModes {
                for ac in [false, true] { try checkGridSample(dims: 3, mode: mode, padding: padding, alignCorners: ac) }
            }
        }
    }

    func testAffineGrid() throws {
        for size in [[2, 1, 4, 5], [1, 3, 1, 6], [2, 2, 3, 4, 2]] {
            for ac in [false, true] {
                var rng = SplitMix64(seed: UInt64(size.reduce(0, +)) + (ac ? 1 : 0))
                let d = size.count - 2
                let theta = rng.tensor([size[0], d, d + 1])
                let grid = try affineGrid(theta, size: size, alignCorners: ac)
                let weights = rng.tensor(grid.shape)
                let analytic = try affineGridBackward(weights, size: size, alignCorners: ac)
                let numeric = try centralDifferences(theta, h: h) {
                    dot(try affineGrid($0, size: size, alignCorners: ac), weights)
                }
                XCTAssertLessThanOrEqual(
                    maxScaledError(analytic.scalars, numeric), tolerance, "affine_grid \(size) ac=\(ac)")
            }
        }
    }
}
