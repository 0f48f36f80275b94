import STNTestSupport
import SwiftSTN
import XCTest

/// Fill padding: central finite differences in float64 against the grid and input gradients
/// (every mode, 2-D and 3-D, both align_corners), fill = 0 against zeros padding bit for bit,
/// and what an outside tap reads.
final class FillPaddingTests: XCTestCase {
    let h = 1e-6
    let tolerance = 1e-7

    func check(dims: Int, mode: InterpolationMode, alignCorners: Bool) throws {
        var rng = SplitMix64(seed: UInt64(dims * 100 + Int(mode.rawValue) * 10) + (alignCorners ? 5 : 0))
        let inputShape = dims == 2 ? [2, 3, 5, 4] : [2, 2, 3, 4, 5]
        let gridShape = dims == 2 ? [2, 3, 4, 2] : [2, 2, 3, 2, 3]
        let input = rng.tensor(inputShape)
        let fill = (0..<inputShape[1]).map { _ in rng.uniform(-2, 2) }
        var grid = try Tensor<Double>(zeros: gridShape)
        let sizes = Array(inputShape.dropFirst(2).reversed())
        for i in 0..<grid.count {
            grid.scalars[i] = smoothGridValue(&rng, size: sizes[i % dims], alignCorners: alignCorners)
        }
        let out = try gridSample(
            input, grid: grid, mode: mode, padding: .fill(fill.map { Double($0) }), alignCorners: alignCorners)
        let weights = rng.tensor(out.shape)
        let (gIn, gGrid) = try gridSampleBackward(
            gradOutput: weights, input: input, grid: grid, mode: mode,
            padding: .fill(fill.map { Double($0) }), alignCorners: alignCorners)
        func loss(_ i: Tensor<Double>, _ g: Tensor<Double>) throws -> Double {
            dot(
                try gridSample(
                    i, grid: g, mode: mode, padding: .fill(fill.map { Double($0) }), alignCorners: alignCorners),
                weights)
        }
        let numGrid = try centralDifferences(grid, h: h) { try loss(input, $0) }
        let numInput = try centralDifferences(input, h: h) { try loss($0, grid) }
        let what = "\(dims)-D \(mode) fill alignCorners=\(alignCorners)"
        XCTAssertLessThanOrEqual(maxScaledError(gGrid.scalars, numGrid), tolerance, "grid gradient, \(what)")
        XCTAssertLessThanOrEqual(maxScaledError(gIn!.scalars, numInput), tolerance, "input gradient, \(what)")
        // The input gradient is zeros padding's; the grid gradient differs from it (fill ≠ 0).
        let (gIn0, gGrid0) = try gridSampleBackward(
            gradOutput: weights, input: input, grid: grid, mode: mode,
            padding: .zeros, alignCorners: alignCorners)
        XCTAssertEqual(gIn!.scalars.map(\.bitPattern), gIn0!.scalars.map(\.bitPattern), what)
        if mode != .nearest { XCTAssertNotEqual(gGrid.scalars, gGrid0.scalars, what) }
    }

    func testGradientsMatchFiniteDifferences() throws {
        for dims in [2, 3] {
            for mode in InterpolationMode.allCases {
                for ac in [false, true] { try check(dims: dims, mode: mode, alignCorners: ac) }
            }
        }
    }

    func testZeroFillIsZerosPaddingBitForBit() throws {
        var rng = SplitMix64(seed: 77)
        for dims in [2, 3] {
            let inputShape = dims == 2 ? [2, 3, 6, 5] : [2, 3, 3, 4, 5]
            let gridShape = dims == 2 ? [2, 7, 9, 2] : [2, 3, 4, 5, 3]
            let input = try Tensor<Float>(shape: inputShape, scalars: rng.tensor(inputShape).scalars.map(Float.init))
            var gridValues = rng.tensor(gridShape, -1.6, 1.6).scalars.map(Float.init)
            for (k, v) in [Float.nan, .infinity, -.infinity, 1e30, 3e9].enumerated() { gridValues[7 * k + 1] = v }
            let grid = try Tensor<Float>(shape: gridShape, scalars: gridValues)
            let out = try gridSample(input, grid: grid).shape
            let gradOut = try Tensor<Float>(shape: out, scalars: rng.tensor(out).scalars.map(Float.init))
            for mode in InterpolationMode.allCases {
                for ac in [false, true] {
                    let a = try gridSample(input, grid: grid, mode: mode, padding: .fill([0]), alignCorners: ac)
                    let b = try gridSample(input, grid: grid, mode: mode, padding: .zeros, alignCorners: ac)
                    XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), "\(dims)-D \(mode) \(ac)")
                    let (gi, gg) = try gridSampleBackward(
                        gradOutput: gradOut, input: input, grid: grid, mode: mode,
                        padding: .fill([0, 0, 0]), alignCorners: ac)
                    let (gi0, gg0) = try gridSampleBackward(
                        gradOutput: gradOut, input: input, grid: grid, mode: mode,
                        padding: .zeros, alignCorners: ac)
                    XCTAssertEqual(gi!.scalars.map(\.bitPattern), gi0!.scalars.map(\.bitPattern))
                    XCTAssertEqual(gg.scalars.map(\.bitPattern), gg0.scalars.map(\.bitPattern))
                }
            }
        }
    }

    func testOutsideTapsReadTheChannelsFillValue() throws {
        let input = try Tensor<Double>(zeros: [1, 2, 3, 3])
        let far = try Tensor<Double>(shape: [1, 1, 1, 2], scalars: [3, -3])
        for mode in InterpolationMode.allCases {
            let out = try gridSample(input, grid: far, mode: mode, padding: .fill([1.5, -4]))
            XCTAssertEqual(out.scalars, [1.5, -4], "\(mode)")
        }
        // Half in: bilinear between the last column (value 2) and the fill (10), halfway.
        let row = try Tensor<Double>(shape: [1, 1, 1, 2], scalars: [0, 2])
        let edge = try Tensor<Double>(shape: [1, 1, 1, 2], scalars: [1, 0])  // x = 1 (align_corners=false): pixel 1.5
        XCTAssertEqual(try gridSample(row, grid: edge, padding: .fill([10])).scalars, [6])
    }

    func testFillIsValidated() throws {
        let input = try Tensor<Double>(zeros: [1, 3, 2, 2])
        let grid = try Tensor<Double>(zeros: [1, 1, 1, 2])
        XCTAssertThrowsError(try gridSample(input, grid: grid, padding: .fill([1, 2]))) { error in
            let m = (error as! STNError).message
            XCTAssertTrue(m.contains("fill") && m.contains("C = 3") && m.contains("(1, 3, 2, 2)"), m)
        }
        XCTAssertThrowsError(try gridSample(input, grid: grid, padding: .fill([.nan]))) { error in
            XCTAssertTrue((error as! STNError).message.contains("finite"))
        }
        XCTAssertThrowsError(try gridSample(input, grid: grid, padding: .fill([])))
    }
}
