import XCTest

@testable import STNKernels

/// The kernel maps (KernelMap2D.swift, KernelMap3D.swift): which path each pass picks, and that
/// the text tables name every path the functions can return.
final class KernelMapTests: XCTestCase {
    func shape(_ c: Int, _ h: Int, _ w: Int, out: Int = 0) -> SamplingShape2D {
        SamplingShape2D(
            batch: 2, channels: c, inputHeight: h, inputWidth: w, outputHeight: out > 0 ? out : h,
            outputWidth: out > 0 ? out : w)
    }

    var shapes: [SamplingShape2D] {
        [
            shape(1, 28, 28), shape(3, 28, 28), shape(1, 60, 60), shape(3, 224, 224), shape(8, 28, 28),
            shape(16, 56, 56), shape(64, 56, 56), shape(64, 224, 224), shape(3, 64, 64, out: 8),
            shape(4, 40_000, 40_000),
        ]
    }

    func path<T: STNFloat>(
        _: T.Type, _ s: SamplingShape2D, _ m: InterpolationMode, _ p: PaddingMode, _ pass: SamplerPass
    )
        -> SamplerKernelPath
    {
        gridSample2DKernelPath(T.self, s, mode: m, padding: p, pass: pass)
    }

    func testEveryChosenPathIsListed() {
        for s in shapes {
            for m in InterpolationMode.allCases {
                for p in PaddingMode.allCases {
                    for pass in SamplerPass.allCases {
                        for chosen in [path(Float.self, s, m, p, pass), path(Double.self, s, m, p, pass)] {
                            XCTAssert(
                                gridSample2DKernelRules.contains { $0.pass == pass && $0.path == chosen },
                                "\(pass) \(chosen) not in the 2-D rules")
                        }
                    }
                }
            }
        }
    }

    func testDoubleAndPortableBuildsTakeNoVectorPath() {
        let vectorPaths: Set<SamplerKernelPath> = [
            .narrow, .bordered, .pixelMajor, .rowWindow, .fourChannels, .gathered, .oneSweep,
        ]
        for s in shapes {
            for m in InterpolationMode.allCases {
                for p in PaddingMode.allCases {
                    for pass in SamplerPass.allCases {
                        XCTAssertFalse(vectorPaths.contains(path(Double.self, s, m, p, pass)))
                        if !simdGathers { XCTAssertFalse(vectorPaths.contains(path(Float.self, s, m, p, pass))) }
                    }
                }
            }
        }
    }

    func testForwardChoices() {
        let huge = shape(4, 40_000, 40_000)
        XCTAssertEqual(path(Float.self, huge, .bilinear, .zeros, .forward), .scalar)
        XCTAssertEqual(path(Float.self, huge, .bilinear, .zeros, .backwardGrid), .scalar)
        XCTAssertEqual(path(Float.self, huge, .bilinear, .zeros, .backwardElement), .twoPasses)
        XCTAssertEqual(path(Double.self, shape(1, 28, 28), .bilinear, .zeros, .forward), .blocks)
        XCTAssertEqual(path(Double.self, shape(64, 56, 56), .bicubic, .border, .forward), .positionsOuter)
        XCTAssertEqual(path(Float.self, shape(3, 28, 28), .nearest, .zeros, .backwardInput), .scalar)
        XCTAssertEqual(path(Float.self, shape(3, 28, 28), .bilinear, .border, .backwardInput), .blocks)
        let mnist = shape(1, 28, 28), many = shape(64, 56, 56)
        if simdGathers {
            XCTAssertEqual(path(Float.self, mnist, .bilinear, .zeros, .forward), .narrow)
            XCTAssertEqual(path(Float.self, mnist, .nearest, .zeros, .forward), .narrow)
            XCTAssertEqual(path(Float.self, mnist, .bicubic, .zeros, .forward), .bordered)
            XCTAssertEqual(path(Float.self, mnist, .bilinear, .border, .forward), .gathered)
            XCTAssertEqual(path(Float.self, shape(1, 60, 60), .bilinear, .zeros, .forward), .bordered)
            XCTAssertEqual(path(Float.self, shape(1, 60, 60), .nearest, .zeros, .forward), .gathered)
            XCTAssertEqual(path(Float.self, many, .bilinear, .zeros, .forward), .pixelMajor)
            XCTAssertEqual(path(Float.self, many, .bilinear, .reflection, .forward), .rowWindow)
            XCTAssertEqual(path(Float.self, many, .nearest, .zeros, .forward), .rowWindow)
            XCTAssertEqual(path(Float.self, many, .bicubic, .zeros, .forward), .fourChannels)
            XCTAssertEqual(path(Float.self, mnist, .bilinear, .zeros, .backwardGrid), .narrow)
            XCTAssertEqual(path(Float.self, many, .bilinear, .zeros, .backwardGrid), .rowWindow)
            XCTAssertEqual(path(Float.self, shape(3, 224, 224), .bilinear, .border, .backwardGrid), .gathered)
            XCTAssertEqual(path(Float.self, mnist, .bilinear, .zeros, .backwardElement), .narrow)
            XCTAssertEqual(path(Float.self, many, .bilinear, .zeros, .backwardElement), .oneSweep)
            XCTAssertEqual(path(Float.self, many, .bilinear, .border, .backwardElement), .twoPasses)
        } else {
            XCTAssertEqual(path(Float.self, mnist, .bilinear, .zeros, .forward), .blocks)
            XCTAssertEqual(path(Float.self, many, .bilinear, .zeros, .forward), .positionsOuter)
            XCTAssertEqual(path(Float.self, mnist, .bilinear, .zeros, .backwardGrid), .blocks)
            XCTAssertEqual(path(Float.self, mnist, .bilinear, .zeros, .backwardElement), .twoPasses)
        }
    }

    func testThreeDimensionalChoices() {
        let s = SamplingShape3D(
            batch: 1, channels: 8, inputDepth: 8, inputHeight: 16, inputWidth: 16, outputDepth: 8, outputHeight: 16,
            outputWidth: 16)
        func path3D(_ m: InterpolationMode, _ pass: SamplerPass) -> SamplerKernelPath {
            gridSample3DKernelPath(Float.self, s, mode: m, padding: .zeros, pass: pass)
        }
        XCTAssertEqual(path3D(.bilinear, .forward), simdGathers ? .rowWindow : .blocks)
        XCTAssertEqual(path3D(.bicubic, .forward), .scalar)
        XCTAssertEqual(path3D(.nearest, .forward), .scalar)
        XCTAssertEqual(path3D(.bilinear, .backwardGrid), .scalar)
        for m in InterpolationMode.allCases {
            for pass in [SamplerPass.forward, .backwardInput, .backwardGrid] {
                XCTAssert(gridSample3DKernelRules.contains { $0.pass == pass && $0.path == path3D(m, pass) })
            }
        }
    }
}
