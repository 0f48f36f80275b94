import STNTestSupport
import SwiftSTN
import XCTest

/// Tricubic sampling (`.bicubic` on 5-D input): central finite differences in float64 against
/// the grid and input gradients for every padding and align_corners, the reduction to 2-D
/// bicubic for a volume constant along depth, and thread-count invariance.
final class TricubicTests: XCTestCase {
    let h = 1e-6
    let tolerance = 1e-7

    func check(padding: Padding?, alignCorners: Bool) throws {
        var rng = SplitMix64(seed: 900 + UInt64(padding?.code ?? 3) * 10 + (alignCorners ? 1 : 0))
        let inputShape = [2, 2, 4, 5, 6], gridShape = [2, 2, 2, 3, 3]
        let input = rng.tensor(inputShape)
        let fill = padding == nil ? [rng.uniform(-2, 2), rng.uniform(-2, 2)] : nil
        var grid = try Tensor<Double>(zeros: gridShape)
        let sizes = [6, 5, 4]  // (W, H, D) in grid-coordinate order
        for i in 0..<grid.count {
            grid.scalars[i] = smoothGridValue(&rng, size: sizes[i % 3], alignCorners: alignCorners)
        }
        func forward(_ i: Tensor<Double>, _ g: Tensor<Double>) throws -> Tensor<Double> {
            if let fill {
                return try gridSample(
                    i, grid: g, mode: .bicubic, padding: .fill(fill.map { Double($0) }), alignCorners: alignCorners)
            }
            return try gridSample(i, grid: g, mode: .bicubic, padding: padding!, alignCorners: alignCorners)
        }
        let out = try forward(input, grid)
        XCTAssertEqual(out.shape, [2, 2, 2, 2, 3])
        let weights = rng.tensor(out.shape)
        let (gIn, gGrid) =
            fill != nil
            ? try gridSampleBackward(
                gradOutput: weights, input: input, grid: grid, mode: .bicubic, padding: .fill(fill!.map { Double($0) }),
                alignCorners: alignCorners)
            : try gridSampleBackward(
                gradOutput: weights, input: input, grid: grid, mode: .bicubic, padding: padding!,
                alignCorners: alignCorners)
        let numGrid = try centralDifferences(grid, h: h) { dot(try forward(input, $0), weights) }
        let numInput = try centralDifferences(input, h: h) { dot(try forward($0, grid), weights) }
        let what = "tricubic \(padding.map { "\($0)" } ?? "fill") alignCorners=\(alignCorners)"
        XCTAssertLessThanOrEqual(maxScaledError(gGrid.scalars, numGrid), tolerance, "grid gradient, \(what)")
        XCTAssertLessThanOrEqual(maxScaledError(gIn!.scalars, numInput), tolerance, "input gradient, \(what)")
        XCTAssertGreaterThan(gGrid.scalars.map(abs).max()!, 0, what)
    }

    func testGradientsMatchFiniteDifferences() throws {
        for padding in [Padding.zeros, .border, .reflection, nil] {
            for ac in [false, true] { try check(padding: padding, alignCorners: ac) }
        }
    }

    func testVolumeConstantAlongDepthGivesBicubic() throws {
        var rng = SplitMix64(seed: 5)
        let image = rng.tensor([1, 2, 5, 6])
        var volume = try Tensor<Double>(zeros: [1, 2, 6, 5, 6])
        for c in 0..<2 {
            for d in 0..<6 { for y in 0..<5 { for x in 0..<6 { volume[0, c, d, y, x] = image[0, c, y, x] } } }
        }
        for padding in Padding.pytorchModes {
            for ac in [false, true] {
                let grid2 = rng.tensor([1, 3, 4, 2], -1.3, 1.3)
                let z = normalised(2.3, size: 6, alignCorners: ac)  // all four z taps inside
                var grid3 = try Tensor<Double>(zeros: [1, 1, 3, 4, 3])
                for p in 0..<12 {
                    grid3.scalars[3 * p] = grid2.scalars[2 * p]
                    grid3.scalars[3 * p + 1] = grid2.scalars[2 * p + 1]
                    grid3.scalars[3 * p + 2] = z
                }
                let a = try gridSample(volume, grid: grid3, mode: .bicubic, padding: padding, alignCorners: ac)
                let b = try gridSample(image, grid: grid2, mode: .bicubic, padding: padding, alignCorners: ac)
                XCTAssertLessThanOrEqual(maxScaledError(a.scalars, b.scalars), 1e-12, "\(padding) \(ac)")
            }
        }
    }

    func testThreadCountDoesNotChangeAnyBit() throws {
        var rng = SplitMix64(seed: 8)
        let input = try Tensor<Float>(
            shape: [3, 2, 5, 6, 7], scalars: rng.tensor([3, 2, 5, 6, 7]).scalars.map(Float.init))
        let grid = try Tensor<Float>(
            shape: [3, 4, 5, 6, 3], scalars: rng.tensor([3, 4, 5, 6, 3], -1.2, 1.2).scalars.map(Float.init))
        let gradOut = try Tensor<Float>(
            shape: [3, 2, 4, 5, 6], scalars: rng.tensor([3, 2, 4, 5, 6]).scalars.map(Float.init))
        let saved = Threading.threadCount
        defer { Threading.threadCount = saved }
        var results: [[UInt32]] = []
        for threads in [1, 2, 3] {
            Threading.threadCount = threads
            var all: [Float] = []
            for padding in Padding.pytorchModes {
                all += try gridSample(input, grid: grid, mode: .bicubic, padding: padding).scalars
                let (gi, gg) = try gridSampleBackward(
                    gradOutput: gradOut, input: input, grid: grid, mode: .bicubic, padding: padding)
                all += gi!.scalars + gg.scalars
            }
            results.append(all.map(\.bitPattern))
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }
}
