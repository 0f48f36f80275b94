import STNTestSupport
import SwiftSTN
import XCTest

/// The Swift API used directly: identity transforms, validation errors, thread-count invariance.
final class SwiftAPITests: XCTestCase {
    func testIdentityThetaSamplesTheInputBack() throws {
        for ac in [false, true] {
            var rng = SplitMix64(seed: 3)
            let input = rng.tensor([2, 3, 6, 5])
            let theta = try Tensor<Double>(shape: [2, 2, 3], scalars: [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0])
            let grid = try affineGrid(theta, size: input.shape, alignCorners: ac)
            XCTAssertEqual(grid.shape, [2, 6, 5, 2])
            for mode in [InterpolationMode.bilinear, .nearest, .bicubic] {
                let out = try gridSample(input, grid: grid, mode: mode, alignCorners: ac)
                XCTAssertLessThanOrEqual(maxScaledError(out.scalars, input.scalars), 1e-12, "\(mode) ac=\(ac)")
            }
        }
    }

    func testAlignCornersEndpoints() throws {
        // With align_corners the extreme grid values sit on the corner pixels' centres (±1);
        // without, on their outer edges, so the centres are at ±(1 − 1/W).
        let theta = try Tensor<Float>(shape: [1, 2, 3], scalars: [1, 0, 0, 0, 1, 0])
        let xs = { (g: Tensor<Float>) in g.scalars.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) }
        let aligned = xs(try affineGrid(theta, size: [1, 1, 1, 4], alignCorners: true))
        for (a, e) in zip(aligned, [-1, -1.0 / 3, 1.0 / 3, 1] as [Float]) { XCTAssertEqual(a, e, accuracy: 1e-7) }
        let edges = xs(try affineGrid(theta, size: [1, 1, 1, 4], alignCorners: false))
        for (a, e) in zip(edges, [-0.75, -0.25, 0.25, 0.75] as [Float]) { XCTAssertEqual(a, e, accuracy: 1e-7) }
    }

    func testValidationErrorsNameTheArgumentAndShapes() throws {
        let theta = try Tensor<Float>(zeros: [2, 2, 3])
        XCTAssertThrowsError(try affineGrid(theta, size: [3, 1, 4, 4])) { error in
            let e = error as! STNError
            XCTAssertEqual(e.kind, .invalidArgument)
            XCTAssertTrue(
                e.message.contains("theta") && e.message.contains("(2, 2, 3)") && e.message.contains("(3, 1, 4, 4)"),
                e.message)
        }
        XCTAssertThrowsError(try affineGrid(theta, size: [2, 1, 4])) { error in
            XCTAssertTrue((error as! STNError).message.contains("size"))
        }
        XCTAssertThrowsError(try affineGrid(theta, size: [2, 1, 0, 4]))
        let input = try Tensor<Float>(zeros: [2, 1, 4, 4])
        let grid = try Tensor<Float>(zeros: [3, 4, 4, 2])
        XCTAssertThrowsError(try gridSample(input, grid: grid)) { error in
            let m = (error as! STNError).message
            XCTAssertTrue(m.contains("batch size") && m.contains("(2, 1, 4, 4)") && m.contains("(3, 4, 4, 2)"), m)
        }
        let input3 = try Tensor<Float>(zeros: [1, 1, 2, 2, 2])
        let grid3 = try Tensor<Float>(zeros: [1, 1, 1, 1, 3])
        // 5-D bicubic (tricubic) is supported; fill values that match no channel count are not.
        XCTAssertThrowsError(try gridSample(input3, grid: grid3, mode: .bicubic, padding: .fill([1, 2]))) { error in
            XCTAssertTrue((error as! STNError).message.contains("fill"))
        }
    }

    func testOverflowingShapesAreRefused() throws {
        let theta = try Tensor<Float>(zeros: [1, 2, 3])
        XCTAssertThrowsError(try affineGrid(theta, size: [1, 1, 1 << 40, 1 << 40])) { error in
            XCTAssertEqual((error as! STNError).kind, .sizeOverflow)
        }
        XCTAssertThrowsError(try elementCount([1 << 62, 4], name: "x")) { error in
            XCTAssertEqual((error as! STNError).kind, .sizeOverflow)
        }
    }

    func testEmptyBatchAndEmptyOutputAreAllowed() throws {
        let out = try gridSample(try Tensor<Float>(zeros: [0, 2, 3, 3]), grid: try Tensor<Float>(zeros: [0, 2, 2, 2]))
        XCTAssertEqual(out.shape, [0, 2, 2, 2])
        let input = try Tensor<Double>(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        let (gi, gg) = try gridSampleBackward(
            gradOutput: try Tensor(zeros: [1, 1, 0, 3]), input: input,
            grid: try Tensor(zeros: [1, 0, 3, 2]))
        XCTAssertEqual(gi!.scalars, [0, 0, 0, 0])
        XCTAssertEqual(gg.shape, [1, 0, 3, 2])
    }

    func testThreadCountDoesNotChangeAnyBit() throws {
        var rng = SplitMix64(seed: 11)
        let input = try Tensor<Float>(
            shape: [3, 2, 40, 37], scalars: rng.tensor([3, 2, 40, 37], -2, 2).scalars.map(Float.init))
        let grid = try Tensor<Float>(
            shape: [3, 50, 45, 2], scalars: rng.tensor([3, 50, 45, 2], -1.2, 1.2).scalars.map(Float.init))
        let gradOut = try Tensor<Float>(
            shape: [3, 2, 50, 45], scalars: rng.tensor([3, 2, 50, 45]).scalars.map(Float.init))
        let saved = Threading.threadCount
        defer { Threading.threadCount = saved }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            Threading.threadCount = threads
            var all: [Float] = []
            for mode in InterpolationMode.allCases {
                for padding in Padding.pytorchModes {
                    all += try gridSample(input, grid: grid, mode: mode, padding: padding).scalars
                    let (gi, gg) = try gridSampleBackward(
                        gradOutput: gradOut, input: input, grid: grid, mode: mode, padding: padding)
                    all += gi!.scalars + gg.scalars
                }
            }
            results.append(all)
        }
        XCTAssertEqual(results[0].map(\.bitPattern), results[1].map(\.bitPattern))
        XCTAssertEqual(results[0].map(\.bitPattern), results[2].map(\.bitPattern))
    }
}
