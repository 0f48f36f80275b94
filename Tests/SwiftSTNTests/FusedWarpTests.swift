import STNKernels
import STNTestSupport
import SwiftSTN
import XCTest

/// Fused warps: bit for bit the two-step path (affine_grid / perspective_grid, then grid_sample,
/// and back) for outputs and every gradient at 1–3 threads, and central finite differences in
/// float64 against the theta/H and input gradients.
final class FusedWarpTests: XCTestCase {
    let h = 1e-6
    let tolerance = 1e-7

    enum Padding: CaseIterable { case zeros, border, reflection, fill }

    func matrices(_ kind: WarpKind, _ rng: inout SplitMix64, batch: Int) -> Tensor<Double> {
        if kind == .affine {
            var t = rng.tensor([batch, 2, 3], -0.3, 0.3)
            for n in 0..<batch { t[n, 0, 0] += 1; t[n, 1, 1] += 1 }
            return t
        }
        var m = rng.tensor([batch, 3, 3], -0.2, 0.2)
        for n in 0..<batch { for i in 0..<3 { m[n, i, i] += 1 } }
        return m
    }

    func warp<T: STNFloat>(
        _ kind: WarpKind, _ x: Tensor<T>, _ m: Tensor<T>, _ outSize: [Int], _ mode: InterpolationMode,
        _ padding: Padding, _ fill: [T], _ ac: Bool
    ) throws -> Tensor<T> {
        switch (kind, padding) {
        case (.affine, .fill):
            return try warpAffine(
                x, theta: m, outSize: outSize, mode: mode, padding: .fill(fill.map { Double($0) }), alignCorners: ac)
        case (.perspective, .fill):
            return try warpPerspective(
                x, homography: m, outSize: outSize, mode: mode, padding: .fill(fill.map { Double($0) }),
                alignCorners: ac)
        case (.affine, _):
            return try warpAffine(
                x, theta: m, outSize: outSize, mode: mode, padding: SwiftSTN.Padding(paddingMode(padding)),
                alignCorners: ac)
        case (.perspective, _):
            return try warpPerspective(
                x, homography: m, outSize: outSize, mode: mode, padding: SwiftSTN.Padding(paddingMode(padding)),
                alignCorners: ac)
        }
    }

    func warpBackward<T: STNFloat>(
        _ kind: WarpKind, _ go: Tensor<T>, _ x: Tensor<T>, _ m: Tensor<T>, _ outSize: [Int],
        _ mode: InterpolationMode, _ padding: Padding, _ fill: [T], _ ac: Bool
    ) throws -> (Tensor<T>, Tensor<T>) {
        switch (kind, padding) {
        case (.affine, .fill):
            let r = try warpAffineBackward(
                gradOutput: go, input: x, theta: m, outSize: outSize, mode: mode,
                padding: .fill(fill.map { Double($0) }), alignCorners: ac)
            return (r.gradInput!, r.gradTheta)
        case (.perspective, .fill):
            let r = try warpPerspectiveBackward(
                gradOutput: go, input: x, homography: m, outSize: outSize, mode: mode,
                padding: .fill(fill.map { Double($0) }), alignCorners: ac)
            return (r.gradInput!, r.gradHomography)
        case (.affine, _):
            let r = try warpAffineBackward(
                gradOutput: go, input: x, theta: m, outSize: outSize, mode: mode,
                padding: SwiftSTN.Padding(paddingMode(padding)), alignCorners: ac)
            return (r.gradInput!, r.gradTheta)
        case (.perspective, _):
            let r = try warpPerspectiveBackward(
                gradOutput: go, input: x, homography: m, outSize: outSize, mode: mode,
                padding: SwiftSTN.Padding(paddingMode(padding)), alignCorners: ac)
            return (r.gradInput!, r.gradHomography)
        }
    }

    func paddingMode(_ p: Padding) -> PaddingMode {
        switch p {
        case .zeros, .fill: return .zeros;
        case .border: return .border;
        case .reflection: return .reflection
        }
    }

    /// The two-step path: grid, sample, sample backward, generator backward.
    func twoStep<T: STNFloat>(
        _ kind: WarpKind, _ go: Tensor<T>, _ x: Tensor<T>, _ m: Tensor<T>, _ size: [Int],
        _ mode: InterpolationMode, _ padding: Padding, _ fill: [T], _ ac: Bool
    ) throws -> [Tensor<T>] {
        let grid =
            kind == .affine
            ? try affineGrid(m, size: size, alignCorners: ac) : try perspectiveGrid(m, size: size, alignCorners: ac)
        let out: Tensor<T>, gi: Tensor<T>?, gg: Tensor<T>
        if padding == .fill {
            out = try gridSample(x, grid: grid, mode: mode, padding: .fill(fill.map { Double($0) }), alignCorners: ac)
            (gi, gg) = try gridSampleBackward(
                gradOutput: go, input: x, grid: grid, mode: mode, padding: .fill(fill.map { Double($0) }),
                alignCorners: ac)
        } else {
            out = try gridSample(
                x, grid: grid, mode: mode, padding: SwiftSTN.Padding(paddingMode(padding)), alignCorners: ac)
            (gi, gg) = try gridSampleBackward(
                gradOutput: go, input: x, grid: grid, mode: mode, padding: SwiftSTN.Padding(paddingMode(padding)),
                alignCorners: ac)
        }
        let gm =
            kind == .affine
            ? try affineGridBackward(gg, size: size, alignCorners: ac)
            : try perspectiveGridBackward(gg, homography: m, size: size, alignCorners: ac)
        return [out, gi!, gm]
    }

    /// Every bit of a value (sign, exponent, significand — NaN payloads included).
    func bits<T: STNFloat>(_ v: T) -> [UInt64] {
        [v.sign == .minus ? 1 : 0, UInt64(v.exponentBitPattern), UInt64(v.significandBitPattern)]
    }

    func checkBitwise<T: STNFloat>(_: T.Type) throws {
        var rng = SplitMix64(seed: 21)
        let saved = Threading.threadCount
        defer { Threading.threadCount = saved }
        // (N, C, H, W, Ho, Wo): rows shorter and longer than a block, N below and above 2 × threads.
        for dims in [[1, 2, 5, 7, 3, 4], [2, 3, 9, 11, 7, 13], [6, 5, 6, 6, 5, 70]] {
            let (n, c, ho, wo) = (dims[0], dims[1], dims[4], dims[5])
            let x = try Tensor<T>(
                shape: Array(dims[0..<4]), scalars: rng.tensor(Array(dims[0..<4])).scalars.map { T($0) })
            let go = try Tensor<T>(shape: [n, c, ho, wo], scalars: rng.tensor([n, c, ho, wo]).scalars.map { T($0) })
            let fill = (0..<c).map { _ in T(rng.uniform(-1, 1)) }
            for kind in [WarpKind.affine, .perspective] {
                let m64 = matrices(kind, &rng, batch: n)
                var m = try Tensor<T>(shape: m64.shape, scalars: m64.scalars.map { T($0) })
                m.scalars[1] = .nan; if n > 1 { m.scalars[m.count - 2] = .infinity }
                for mode in InterpolationMode.allCases {
                    for padding in Padding.allCases {
                        for ac in [false, true] {
                            let ref = try twoStep(kind, go, x, m, [n, c, ho, wo], mode, padding, fill, ac)
                            for threads in [1, 2, 3] {
                                Threading.threadCount = threads
                                let out = try warp(kind, x, m, [ho, wo], mode, padding, fill, ac)
                                let (gi, gm) = try warpBackward(kind, go, x, m, [ho, wo], mode, padding, fill, ac)
                                let what = "\(T.self) \(dims) \(kind) \(mode) \(padding) ac=\(ac) threads=\(threads)"
                                XCTAssertEqual(out.scalars.map(bits), ref[0].scalars.map(bits), "output \(what)")
                                XCTAssertEqual(gi.scalars.map(bits), ref[1].scalars.map(bits), "grad_input \(what)")
                                XCTAssertEqual(gm.scalars.map(bits), ref[2].scalars.map(bits), "grad matrix \(what)")
                            }
                            Threading.threadCount = saved
                        }
                    }
                }
            }
        }
    }

    func testBitForBitTheTwoStepPathFloat() throws { try checkBitwise(Float.self) }
    func testBitForBitTheTwoStepPathDouble() throws { try checkBitwise(Double.self) }

    /// Distance of pixel coordinate p to the nearest integer or half-integer (where bilinear,
    /// bicubic and nearest sampling, clipping and reflection have their kinks).
    func kinkDistance(_ p: Double) -> Double {
        let f = p * 2 - (p * 2).rounded(.down)
        return min(f, 1 - f) / 2
    }

    func checkGradients(kind: WarpKind, mode: InterpolationMode, padding: Padding, alignCorners ac: Bool) throws {
        let size = [2, 2, 5, 6], outSize = [3, 4]
        var rng = SplitMix64(seed: UInt64(mode.rawValue) * 10 + (ac ? 5 : 0) + (kind == .affine ? 0 : 100))
        // Matrices whose grid points all stay ≥ 0.02 px from every kink, so a 1e-6 step of the
        // finite difference never crosses one.
        var m = matrices(kind, &rng, batch: 2)
        while true {
            let grid =
                kind == .affine
                ? try affineGrid(m, size: [2, 2] + outSize, alignCorners: ac)
                : try perspectiveGrid(m, size: [2, 2] + outSize, alignCorners: ac)
            let ok = grid.scalars.enumerated().allSatisfy { i, g in
                let s = i % 2 == 0 ? size[3] : size[2]
                let px = ac ? (g + 1) / 2 * Double(s - 1) : ((g + 1) * Double(s) - 1) / 2
                return kinkDistance(px) > 0.02
            }
            if ok { break }
            m = matrices(kind, &rng, batch: 2)
        }
        let x = rng.tensor(size)
        let fill = [rng.uniform(-2, 2), rng.uniform(-2, 2)]
        let weights = rng.tensor([2, 2] + outSize)
        let (gi, gm) = try warpBackward(kind, weights, x, m, outSize, mode, padding, fill, ac)
        func loss(_ x: Tensor<Double>, _ m: Tensor<Double>) throws -> Double {
            dot(try warp(kind, x, m, outSize, mode, padding, fill, ac), weights)
        }
        let numM = try centralDifferences(m, h: h) { try loss(x, $0) }
        let numX = try centralDifferences(x, h: h) { try loss($0, m) }
        let what = "\(kind) \(mode) \(padding) alignCorners=\(ac)"
        XCTAssertLessThanOrEqual(maxScaledError(gm.scalars, numM), tolerance, "matrix gradient, \(what)")
        XCTAssertLessThanOrEqual(maxScaledError(gi.scalars, numX), tolerance, "input gradient, \(what)")
        if mode == .nearest {
            XCTAssertTrue(gm.scalars.allSatisfy { $0 == 0 }, what)
        } else {
            XCTAssertGreaterThan(gm.scalars.map(abs).max()!, 0, what)
        }
    }

    func testGradientsMatchFiniteDifferences() throws {
        for kind in [WarpKind.affine, .perspective] {
            for mode in InterpolationMode.allCases {
                for padding in Padding.allCases {
                    for ac in [false, true] {
                        try checkGradients(kind: kind, mode: mode, padding: padding, alignCorners: ac)
                    }
                }
            }
        }
    }

    func testValidation() throws {
        let x = try Tensor<Float>(zeros: [2, 1, 4, 4])
        XCTAssertThrowsError(try warpAffine(x, theta: try Tensor<Float>(zeros: [2, 3, 3]), outSize: [3, 3])) { error in
            let m = (error as! STNError).message
            XCTAssertTrue(m.contains("theta") && m.contains("(2, 2, 3)") && m.contains("(2, 1, 4, 4)"), m)
        }
        XCTAssertThrowsError(try warpPerspective(x, homography: try Tensor<Float>(zeros: [2, 3, 3]), outSize: [3])) {
            error in
            XCTAssertTrue((error as! STNError).message.contains("out_size"))
        }
        XCTAssertThrowsError(
            try warpAffine(x, theta: try Tensor<Float>(zeros: [2, 2, 3]), outSize: [3, 3], padding: .fill([1, 2])))
    }
}
