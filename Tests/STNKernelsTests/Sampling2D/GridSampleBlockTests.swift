import STNTestSupport
import XCTest

@testable import STNKernels

/// The block (vectorised) 2-D sampler against the scalar per-position kernels it replaces: the
/// same bits for every mode, padding and align_corners, including NaN/±Inf/huge grid values and
/// partial blocks, and a call on a sub-range equals those positions of a whole-range call.
final class GridSampleBlockTests: XCTestCase {
    static let specials: [Double] = [.nan, .infinity, -.infinity, 1e30, -1e30, 3e9, -3e9, 1, -1, 0, 0.5, -0.999]

    func makeGrid<T: STNFloat>(_ count: Int, _ rng: inout SplitMix64) -> [T] {
        (0..<count).map { _ in
            let u = rng.unit()
            if u < 0.08 { return T(Self.specials[Int(rng.unit() * Double(Self.specials.count)) % Self.specials.count]) }
            return T((rng.unit() * 2 - 1) * 1.4)
        }
    }

    /// The grid of `theta` (row-major 2×3) for every batch element (align_corners false).
    func affineGrid<T: STNFloat>(_ s: SamplingShape2D, _ theta: [Double]) -> [T] {
        var g = [T]()
        for _ in 0..<s.batch {
            for oy in 0..<s.outputHeight {
                for ox in 0..<s.outputWidth {
                    let x = Double(2 * ox + 1) / Double(s.outputWidth) - 1,
                        y = Double(2 * oy + 1) / Double(s.outputHeight) - 1
                    g.append(T(theta[0] * x + theta[1] * y + theta[2]))
                    g.append(T(theta[3] * x + theta[4] * y + theta[5]))
                }
            }
        }
        return g
    }

    /// Each shape's grids: values in ±1.4 (taps across the border: masked reads), scaled by 0.6
    /// (mostly inside: whole 16-lane chunks read as tap pairs with AVX-512), the benchmark's
    /// affine grid and `theta` (chunks whose taps fit a few whole rows read them as such).
    func gridMakers<T: STNFloat>(_: T.Type, _ theta: [Double]) -> [(SamplingShape2D, inout SplitMix64) -> [T]] {
        [
            { s, rng in self.makeGrid(s.batch * s.outputPlane * 2, &rng) },
            { s, rng in (self.makeGrid(s.batch * s.outputPlane * 2, &rng) as [T]).map { $0 * T(0.6) } },
            { s, _ in self.affineGrid(s, [0.9, -0.15, 0.05, 0.15, 0.9, -0.02]) },
            { s, _ in self.affineGrid(s, theta) },
        ]
    }

    func same<T: STNFloat>(_ a: [T], _ b: [T], _ msg: String) {
        XCTAssertEqual(a.count, b.count)
        for i in a.indices where !(a[i] == b[i] && a[i].sign == b[i].sign) && !(a[i].isNaN && b[i].isNaN) {
            XCTFail("\(msg): index \(i): \(a[i]) vs \(b[i])"); return
        }
    }

    func check<T: STNFloat>(_: T.Type) {
        var rng = SplitMix64(seed: 42)
        let shapes =
            [
                SamplingShape2D(
                    batch: 2, channels: 3, inputHeight: 7, inputWidth: 9, outputHeight: 13, outputWidth: 11),
                SamplingShape2D(batch: 1, channels: 5, inputHeight: 1, inputWidth: 1, outputHeight: 3, outputWidth: 70),
                SamplingShape2D(
                    batch: 3, channels: 1, inputHeight: 16, inputWidth: 12, outputHeight: 20, outputWidth: 20),
                // At least `manyChannels`: the forward runs positions outer, channels inner.
                SamplingShape2D(
                    batch: 2, channels: 9, inputHeight: 6, inputWidth: 10, outputHeight: 9, outputWidth: 15),
                // Float bicubic positions outer goes 4 channels at a time: a last group of 2
                // and of 3 channels.
                SamplingShape2D(
                    batch: 2, channels: 10, inputHeight: 8, inputWidth: 9, outputHeight: 7, outputWidth: 12),
                SamplingShape2D(
                    batch: 1, channels: 11, inputHeight: 9, inputWidth: 8, outputHeight: 10, outputWidth: 9),
                // Input too large for the bordered copies (GridSample2DBordered.swift): the
                // Float bicubic chunks with every tap inside go four positions at a time.
                SamplingShape2D(
                    batch: 2, channels: 3, inputHeight: 40, inputWidth: 44, outputHeight: 17, outputWidth: 19),
                // Many channels and a smooth grid: 16-lane chunks read from row windows.
                SamplingShape2D(
                    batch: 2, channels: 9, inputHeight: 30, inputWidth: 41, outputHeight: 27, outputWidth: 37),
                // Multiples of 16 channels: the Float bilinear forward on a pixel-major copy
                // (PixelMajor.swift); 117 and 210 pixels, partial blocks and tiles.
                SamplingShape2D(
                    batch: 2, channels: 16, inputHeight: 9, inputWidth: 13, outputHeight: 11, outputWidth: 12),
                SamplingShape2D(
                    batch: 1, channels: 32, inputHeight: 7, inputWidth: 30, outputHeight: 9, outputWidth: 11),
            ]
            + Self.narrowShapes
        let grids = gridMakers(T.self, [0.7, 0.31, -0.1, -0.25, 0.85, 0.07])
        for (s, makeGrid) in shapes.flatMap({ s in grids.map { (s, $0) } }) {
            let input: [T] = (0..<(s.batch * s.channels * s.inputPlane)).map { _ in T(rng.unit() * 4 - 2) }
            let grid = makeGrid(s, &rng)
            let total = s.batch * s.outputPlane, outCount = s.batch * s.channels * s.outputPlane
            for mode in InterpolationMode.allCases {
                for padding in PaddingMode.allCases {
                    for ac in [false, true] {
                        let tag = "\(T.self) \(s) \(mode) \(padding) ac=\(ac)"
                        var blocks = [T](repeating: 0, count: outCount)
                        var scalar = [T](repeating: 0, count: outCount)
                        var pieces = [T](repeating: 0, count: outCount)
                        input.withUnsafeBufferPointer { i in
                            grid.withUnsafeBufferPointer { g in
                                blocks.withUnsafeMutableBufferPointer { o in
                                    gridSample2DForward(
                                        s, input: i.baseAddress!, grid: g.baseAddress!, output: o.baseAddress!,
                                        mode: mode, padding: padding, alignCorners: ac, positions: 0..<total)
                                }
                                pieces.withUnsafeMutableBufferPointer { o in
                                    var lo = 0, step = 1
                                    while lo < total {
                                        let hi = min(total, lo + step)
                                        gridSample2DForward(
                                            s, input: i.baseAddress!, grid: g.baseAddress!, output: o.baseAddress!,
                                            mode: mode, padding: padding, alignCorners: ac, positions: lo..<hi)
                                        lo = hi; step = step * 3 + 1
                                    }
                                }
                                scalar.withUnsafeMutableBufferPointer { o in
                                    switch mode {
                                    case .bilinear:
                                        bilinear2DForward(
                                            s, i.baseAddress!, g.baseAddress!, o.baseAddress!, padding, ac, 0..<total)
                                    case .nearest:
                                        nearest2DForward(
                                            s, i.baseAddress!, g.baseAddress!, o.baseAddress!, padding, ac, 0..<total)
                                    case .bicubic:
                                        bicubic2DForward(
                                            s, i.baseAddress!, g.baseAddress!, o.baseAddress!, padding, ac, 0..<total)
                                    }
                                }
                            }
                        }
                        same(blocks, scalar, tag + " blocks vs scalar")
                        same(pieces, blocks, tag + " sub-ranges")
                    }
                }
            }
            // Grid gradient: sub-ranges equal the whole range.
            let go: [T] = (0..<outCount).map { _ in T(rng.unit() * 2 - 1) }
            for padding in PaddingMode.allCases {
                for ac in [false, true] {
                    var whole = [T](repeating: 0, count: total * 2), parts = whole
                    input.withUnsafeBufferPointer { i in
                        grid.withUnsafeBufferPointer { g in
                            go.withUnsafeBufferPointer { gop in
                                whole.withUnsafeMutableBufferPointer { gg in
                                    gridSample2DBackwardGrid(
                                        s, gradOutput: gop.baseAddress!, input: i.baseAddress!, grid: g.baseAddress!,
                                        gradGrid: gg.baseAddress!, mode: .bilinear, padding: padding,
                                        alignCorners: ac, positions: 0..<total)
                                }
                                parts.withUnsafeMutableBufferPointer { gg in
                                    for lo in stride(from: 0, to: total, by: 37) {
                                        gridSample2DBackwardGrid(
                                            s, gradOutput: gop.baseAddress!, input: i.baseAddress!,
                                            grid: g.baseAddress!,
                                            gradGrid: gg.baseAddress!, mode: .bilinear, padding: padding,
                                            alignCorners: ac, positions: lo..<min(total, lo + 37))
                                    }
                                }
                            }
                        }
                    }
                    same(parts, whole, "\(T.self) grad grid sub-ranges \(padding) \(ac)")
                    same(
                        whole, scalarBilinearGridGradient(s, input, grid, go, padding, ac),
                        "\(T.self) \(s) grad grid blocks vs scalar \(padding) \(ac)")
                }
            }
        }
    }

    /// Inputs whose bordered rows fit 32 floats (bilinear, Float, AVX-512: whole rows permuted,
    /// GridSample2DNarrow.swift): MNIST's 28×28 (the widest), several channels, two rows (the
    /// chunk's five rows clamped to the plane), an output width that leaves partial chunks.
    static let narrowShapes = [
        SamplingShape2D(batch: 3, channels: 1, inputHeight: 28, inputWidth: 28, outputHeight: 28, outputWidth: 28),
        SamplingShape2D(batch: 2, channels: 3, inputHeight: 28, inputWidth: 20, outputHeight: 17, outputWidth: 33),
        SamplingShape2D(batch: 2, channels: 2, inputHeight: 2, inputWidth: 27, outputHeight: 5, outputWidth: 40),
    ]

    /// The narrow bilinear path with fill padding against the bordered block kernel it replaced
    /// (rows of W + 4 floats, pair gathers; block-vs-scalar-tested on wider inputs): the same bits
    /// for every narrow shape, grid and align_corners, with zero and non-zero fill values.
    func testNarrowBilinearMatchesBorderedWithFill() {
        var rng = SplitMix64(seed: 11)
        for s in Self.narrowShapes {
            let total = s.batch * s.outputPlane, outCount = s.batch * s.channels * s.outputPlane
            let input: [Float] = (0..<(s.batch * s.channels * s.inputPlane)).map { _ in Float(rng.unit() * 4 - 2) }
            let grids: [[Float]] = [
                makeGrid(total * 2, &rng), affineGrid(s, [0.9, -0.15, 0.05, 0.15, 0.9, -0.02]),
                affineGrid(s, [0.7, 0.31, -0.1, -0.25, 0.85, 0.07]),
                affineGrid(s, [1.3, -0.4, 0.2, 0.5, 1.2, -0.3]),
            ]  // past the border
            let fills: [[Float]] = [
                [Float](repeating: 0, count: s.channels),
                (0..<s.channels).map { _ in Float(rng.unit() * 2 - 1) },
            ]
            for (k, grid) in grids.enumerated() {
                for fill in fills {
                    for ac in [false, true] {
                        var narrow = [Float](repeating: 0, count: outCount), bordered = narrow
                        input.withUnsafeBufferPointer { i in
                            grid.withUnsafeBufferPointer { g in
                                fill.withUnsafeBufferPointer { f in
                                    let src = StoredGrid2D(g.baseAddress!)
                                    func run<P: SamplingPolicy>(_ p: P.Type) {
                                        let wide = BorderedPlanes(s, margin: 2)!, rows = NarrowPlanes(s)!
                                        narrow.withUnsafeMutableBufferPointer { o in
                                            bilinear2DForwardNarrow(
                                                s, i.baseAddress!, src, o.baseAddress!, 0..<total, p, f.baseAddress!,
                                                rows)
                                        }
                                        bordered.withUnsafeMutableBufferPointer { o in
                                            bilinear2DForwardBordered(
                                                s, i.baseAddress!, src, o.baseAddress!, 0..<total, p, f.baseAddress!,
                                                wide)
                                        }
                                    }
                                    if ac { run(ZerosAligned.self) } else { run(ZerosUnaligned.self) }
                                }
                            }
                        }
                        same(narrow, bordered, "\(s) grid \(k) fill \(fill) ac=\(ac)")
                    }
                }
            }
        }
    }

    /// Both backward passes of a batch element at once (`gridSample2DBackwardElement`, one sweep
    /// for Float bilinear zeros/fill on AVX-512 builds — from narrow copies for narrow inputs with
    /// few channels) against the two passes run separately: the same bits for both gradients,
    /// every mode, padding, align_corners, with and without fill values, on random and affine
    /// grids, and whether or not the next element is prefetched.
    func checkBackwardElement<T: STNFloat>(_: T.Type) {
        var rng = SplitMix64(seed: 7)
        let shapes =
            [
                SamplingShape2D(
                    batch: 3, channels: 3, inputHeight: 7, inputWidth: 9, outputHeight: 13, outputWidth: 11),
                SamplingShape2D(
                    batch: 2, channels: 9, inputHeight: 6, inputWidth: 10, outputHeight: 9, outputWidth: 15),
                SamplingShape2D(
                    batch: 2, channels: 1, inputHeight: 16, inputWidth: 12, outputHeight: 20, outputWidth: 20),
                // Too wide for the narrow copies: the block kernel's sweep with few channels
                // (2 to 4: scattered four floats per pixel, 350 and 315 pixels).
                SamplingShape2D(
                    batch: 2, channels: 2, inputHeight: 10, inputWidth: 40, outputHeight: 9, outputWidth: 33),
                SamplingShape2D(
                    batch: 2, channels: 3, inputHeight: 10, inputWidth: 35, outputHeight: 7, outputWidth: 19),
                SamplingShape2D(
                    batch: 1, channels: 4, inputHeight: 9, inputWidth: 35, outputHeight: 11, outputWidth: 20),
                // At least 16 channels: 16 at a time through a pixel-major copy (Float), the
                // 3 left over plane by plane; 210 pixels (a partial tile of 16) and blocks
                // with a partial chunk.
                SamplingShape2D(
                    batch: 2, channels: 19, inputHeight: 7, inputWidth: 30, outputHeight: 9, outputWidth: 11),
                SamplingShape2D(
                    batch: 1, channels: 32, inputHeight: 8, inputWidth: 8, outputHeight: 12, outputWidth: 16),
            ]
            + Self.narrowShapes
        let grids = gridMakers(T.self, [1.3, -0.4, 0.2, 0.5, 1.2, -0.3])
        for (s, makeGrid) in shapes.flatMap({ s in grids.map { (s, $0) } }) {
            let input: [T] = (0..<(s.batch * s.channels * s.inputPlane)).map { _ in T(rng.unit() * 4 - 2) }
            let grid = makeGrid(s, &rng)
            let go: [T] = (0..<(s.batch * s.channels * s.outputPlane)).map { _ in T(rng.unit() * 2 - 1) }
            let fills: [[T]?] = [nil, (0..<s.channels).map { _ in T(rng.unit() * 2 - 1) }]
            for mode in InterpolationMode.allCases {
                for padding in PaddingMode.allCases {
                    for ac in [false, true] {
                        for fill in fills where fill == nil || padding == .zeros {
                            var gi1 = [T](repeating: 0, count: input.count), gi2 = gi1
                            var gg1 = [T](repeating: 0, count: grid.count), gg2 = gg1
                            input.withUnsafeBufferPointer { i in
                                grid.withUnsafeBufferPointer { g in
                                    go.withUnsafeBufferPointer { o in
                                        (fill ?? []).withUnsafeBufferPointer { f in
                                            let fp = fill == nil ? nil : f.baseAddress
                                            for b in 0..<s.batch {
                                                gridSample2DBackwardElement(
                                                    s, gradOutput: o.baseAddress!, input: i.baseAddress!,
                                                    grid: g.baseAddress!, gradInput: &gi1, gradGrid: &gg1,
                                                    mode: mode, padding: padding, alignCorners: ac, batch: b,
                                                    fill: fp, prefetchNext: b % 2 == 0)
                                                gridSample2DBackwardInput(
                                                    s, gradOutput: o.baseAddress!, grid: g.baseAddress!,
                                                    gradInput: &gi2, mode: mode, padding: padding,
                                                    alignCorners: ac, batch: b, channels: 0..<s.channels)
                                                gridSample2DBackwardGrid(
                                                    s, gradOutput: o.baseAddress!, input: i.baseAddress!,
                                                    grid: g.baseAddress!, gradGrid: &gg2, mode: mode,
                                                    padding: padding, alignCorners: ac,
                                                    positions: (b * s.outputPlane)..<((b + 1) * s.outputPlane),
                                                    fill: fp)
                                            }
                                        }
                                    }
                                }
                            }
                            let tag = "\(T.self) \(s) \(mode) \(padding) ac=\(ac) fill=\(fill != nil)"
                            same(gi1, gi2, tag + " element backward: grad input")
                            same(gg1, gg2, tag + " element backward: grad grid")
                        }
                    }
                }
            }
        }
    }

    func testBackwardElementMatchesSeparatePassesFloat() { checkBackwardElement(Float.self) }
    func testBackwardElementMatchesSeparatePassesDouble() { checkBackwardElement(Double.self) }

    /// The scalar kernel's bilinear grid gradient (GridSample2DBackward.swift), position by position.
    func scalarBilinearGridGradient<T: STNFloat>(
        _ s: SamplingShape2D, _ input: [T], _ grid: [T], _ gradOutput: [T], _ padding: PaddingMode, _ ac: Bool
    ) -> [T] {
        var out = [T](repeating: 0, count: s.batch * s.outputPlane * 2)
        let C = s.channels, plane = s.outputPlane
        input.withUnsafeBufferPointer { inp in
            for q in 0..<(s.batch * plane) {
                let b = q / plane, k = q % plane
                let (x, mx) = sourceIndexVectorWithGradient(
                    grid[2 * q], size: s.inputWidth, padding: padding, alignCorners: ac)
                let (y, my) = sourceIndexVectorWithGradient(
                    grid[2 * q + 1], size: s.inputHeight, padding: padding, alignCorners: ac)
                let t = BilinearTaps2D(x: x, y: y, width: s.inputWidth, height: s.inputHeight)
                var gx: T = 0, gy: T = 0
                for c in 0..<C {
                    let go = gradOutput[(b * C + c) * plane + k]
                    let (nw, ne, sw, se) = t.values(inp.baseAddress! + (b * C + c) * s.inputPlane, fill: 0)
                    gx = gx + ((ne - nw) * t.fs + (se - sw) * t.fn) * go
                    gy = gy + ((sw - nw) * t.fe + (se - ne) * t.fw) * go
                }
                out[2 * q] = gx * mx
                out[2 * q + 1] = gy * my
            }
        }
        return out
    }

    func testBlockKernelsMatchScalarFloat() { check(Float.self) }
    func testBlockKernelsMatchScalarDouble() { check(Double.self) }

    func testClampedIndexKeepsInsideness() {
        let size: Int32 = 5
        for v in [-1e30, -3e9, -7, -2, -1, 0, 1, 4, 5, 6, 3e9, 1e30, Double.nan, .infinity, -.infinity] {
            let i = clampedIndex(v, lo: -2, hi: size)
            let reference = safeIndexRange(v).truncatedInt
            XCTAssertEqual(i >= 0 && i < size, reference >= 0 && reference < Int(size), "\(v)")
            XCTAssertEqual(i + 1 >= 0 && i + 1 < size, reference + 1 >= 0 && reference + 1 < Int(size), "\(v)")
        }
    }
}
