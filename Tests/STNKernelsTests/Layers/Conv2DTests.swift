import STNTestSupport
import XCTest

@testable import STNKernels

/// Convolution forward against a naive direct convolution (the blog's four layers and stride /
/// padding variants), both backward passes by finite differences in Double and against naive
/// adjoints, accumulation, and batch-split invariance.
final class Conv2DTests: XCTestCase {
    // MARK: naive references (Double)

    func naiveForward(_ s: Conv2DShape, _ x: [Double], _ w: [Double], _ b: [Double]?) -> [Double] {
        let Ho = s.outputHeight, Wo = s.outputWidth, H = s.inputHeight, W = s.inputWidth
        let KH = s.kernelHeight, KW = s.kernelWidth
        var y = [Double](repeating: 0, count: s.batch * s.outChannels * Ho * Wo)
        for n in 0..<s.batch {
            for co in 0..<s.outChannels {
                for oh in 0..<Ho {
                    for ow in 0..<Wo {
                        var acc = b?[co] ?? 0
                        for ci in 0..<s.inChannels {
                            for kh in 0..<KH {
                                for kw in 0..<KW {
                                    let ih = oh * s.strideHeight - s.paddingHeight + kh
                                    let iw = ow * s.strideWidth - s.paddingWidth + kw
                                    if ih < 0 || ih >= H || iw < 0 || iw >= W { continue }
                                    acc +=
                                        x[((n * s.inChannels + ci) * H + ih) * W + iw]
                                        * w[((co * s.inChannels + ci) * KH + kh) * KW + kw]
                                }
                            }
                        }
                        y[((n * s.outChannels + co) * Ho + oh) * Wo + ow] = acc
                    }
                }
            }
        }
        return y
    }

    /// (dX, dW, db) for upstream gradient g, by the same loops.
    func naiveBackward(_ s: Conv2DShape, _ x: [Double], _ w: [Double], _ g: [Double]) -> ([Double], [Double], [Double])
    {
        let Ho = s.outputHeight, Wo = s.outputWidth, H = s.inputHeight, W = s.inputWidth
        let KH = s.kernelHeight, KW = s.kernelWidth
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
        var db = [Double](repeating: 0, count: s.outChannels)
        for n in 0..<s.batch {
            for co in 0..<s.outChannels {
                for oh in 0..<Ho {
                    for ow in 0..<Wo {
                        let go = g[((n * s.outChannels + co) * Ho + oh) * Wo + ow]
                        db[co] += go
                        for ci in 0..<s.inChannels {
                            for kh in 0..<KH {
                                for kw in 0..<KW {
                                    let ih = oh * s.strideHeight - s.paddingHeight + kh
                                    let iw = ow * s.strideWidth - s.paddingWidth + kw
                                    if ih < 0 || ih >= H || iw < 0 || iw >= W { continue }
                                    let xi = ((n * s.inChannels + ci) * H + ih) * W + iw,
                                        wi = ((co * s.inChannels + ci) * KH + kh) * KW + kw
                                    dx[xi] += go * w[wi]; dw[wi] += go * x[xi]
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    static let blogShapes = [
        Conv2DShape(
            batch: 3, inChannels: 1, outChannels: 10, inputHeight: 28, inputWidth: 28, kernelHeight: 5, kernelWidth: 5),
        Conv2DShape(
            batch: 3, inChannels: 10, outChannels: 20, inputHeight: 12, inputWidth: 12, kernelHeight: 5, kernelWidth: 5),
        Conv2DShape(
            batch: 3, inChannels: 1, outChannels: 8, inputHeight: 28, inputWidth: 28, kernelHeight: 7, kernelWidth: 7),
        Conv2DShape(
            batch: 3, inChannels: 8, outChannels: 10, inputHeight: 11, inputWidth: 11, kernelHeight: 5, kernelWidth: 5),
    ]
    static let variantShapes = [
        Conv2DShape(
            batch: 2, inChannels: 3, outChannels: 4, inputHeight: 9, inputWidth: 11, kernelHeight: 3, kernelWidth: 3,
            stride: (2, 2), padding: (1, 1)),
        Conv2DShape(
            batch: 2, inChannels: 2, outChannels: 7, inputHeight: 8, inputWidth: 7, kernelHeight: 3, kernelWidth: 4,
            stride: (1, 2), padding: (2, 1)),
        Conv2DShape(
            batch: 2, inChannels: 2, outChannels: 3, inputHeight: 5, inputWidth: 6, kernelHeight: 2, kernelWidth: 3,
            stride: (3, 1), padding: (0, 3)),
        Conv2DShape(
            batch: 2, inChannels: 1, outChannels: 6, inputHeight: 3, inputWidth: 3, kernelHeight: 5, kernelWidth: 5,
            padding: (2, 2)),
        Conv2DShape(
            batch: 3, inChannels: 5, outChannels: 11, inputHeight: 6, inputWidth: 6, kernelHeight: 1, kernelWidth: 1),
        Conv2DShape(
            batch: 1, inChannels: 2, outChannels: 2, inputHeight: 7, inputWidth: 7, kernelHeight: 3, kernelWidth: 3,
            stride: (3, 3), padding: (3, 3)),
    ]

    struct Problem {
        var x: [Double], w: [Double], b: [Double], g: [Double]
    }

    func problem(_ s: Conv2DShape, seed: UInt64) -> Problem {
        var rng = SplitMix64(seed: seed)
        return Problem(
            x: rng.array(s.batch * s.inChannels * s.inputPlane),
            w: rng.array(s.outChannels * s.filterVolume, scale: 0.5),
            b: rng.array(s.outChannels), g: rng.array(s.batch * s.outChannels * s.outputPlane))
    }

    func forward<T: STNFloat>(
        _ s: Conv2DShape, _ x: Buf<T>, _ w: Buf<T>, _ b: Buf<T>?, batches: Range<Int>? = nil, into y: Buf<T>? = nil
    ) -> Buf<T> {
        let y = y ?? Buf<T>.poisoned(s.batch * s.outChannels * s.outputPlane)
        let ws = Buf<T>.poisoned(conv2DWorkspaceCount(s))
        conv2DForward(
            s, input: x.cp, weight: w.cp, bias: b?.cp, output: y.p, batches: batches ?? 0..<s.batch, workspace: ws.p)
        return y
    }

    func testForwardMatchesNaive() {
        for (i, s) in (Self.blogShapes + Self.variantShapes).enumerated() {
            let pr = problem(s, seed: UInt64(i))
            for withBias in [false, true] {
                let want = naiveForward(s, pr.x, pr.w, withBias ? pr.b : nil)
                let yd = forward(s, Buf(pr.x), Buf(pr.w), withBias ? Buf(pr.b) : nil).array
                for j in want.indices where abs(yd[j] - want[j]) > 1e-12 * (1 + abs(want[j])) {
                    XCTFail("Double shape \(i) bias \(withBias) [\(j)]: \(yd[j]) vs \(want[j])"); break
                }
                let yf = forward(s, Buf(toFloat(pr.x)), Buf(toFloat(pr.w)), withBias ? Buf(toFloat(pr.b)) : nil).array
                let wantF = naiveForward(
                    s, toFloat(pr.x).map(Double.init), toFloat(pr.w).map(Double.init),
                    withBias ? toFloat(pr.b).map(Double.init) : nil)
                for j in wantF.indices where abs(Double(yf[j]) - wantF[j]) > 1e-5 * (1 + abs(wantF[j])) {
                    XCTFail("Float shape \(i) bias \(withBias) [\(j)]: \(yf[j]) vs \(wantF[j])"); break
                }
            }
        }
    }

    func testBackwardMatchesNaive() {
        for (i, s) in (Self.blogShapes + Self.variantShapes).enumerated() {
            let pr = problem(s, seed: 100 + UInt64(i))
            let (dx, dw, db) = naiveBackward(s, pr.x, pr.w, pr.g)
            let ws = Buf<Double>.poisoned(conv2DWorkspaceCount(s))
            let gx = Buf<Double>.poisoned(pr.x.count)
            let gB = Buf(pr.g), wB = Buf(pr.w), xB = Buf(pr.x)
            conv2DBackwardInput(
                s, gradOutput: gB.cp, weight: wB.cp, gradInput: gx.p, batches: 0..<s.batch, workspace: ws.p)
            let gw = Buf<Double>(repeating: 0, count: pr.w.count), gb = Buf<Double>(repeating: 0, count: s.outChannels)
            conv2DBackwardWeight(
                s, gradOutput: gB.cp, input: xB.cp, gradWeight: gw.p, gradBias: gb.p, batches: 0..<s.batch,
                workspace: ws.p)
            for (name, got, want) in [("dx", gx.array, dx), ("dw", gw.array, dw), ("db", gb.array, db)] {
                for j in want.indices where abs(got[j] - want[j]) > 1e-12 * (1 + abs(want[j])) {
                    XCTFail("shape \(i) \(name)[\(j)]: \(got[j]) vs \(want[j])"); break
                }
            }
        }
    }

    /// Finite differences of L = Σ g ⊙ conv(x, w, b) in Double.
    func testGradientsByFiniteDifferences() {
        let shapes = [
            Conv2DShape(
                batch: 2, inChannels: 2, outChannels: 3, inputHeight: 8, inputWidth: 7, kernelHeight: 3, kernelWidth: 3),
            Conv2DShape(
                batch: 2, inChannels: 1, outChannels: 4, inputHeight: 9, inputWidth: 9, kernelHeight: 5, kernelWidth: 5),
            Conv2DShape(
                batch: 1, inChannels: 3, outChannels: 2, inputHeight: 7, inputWidth: 8, kernelHeight: 3, kernelWidth: 2,
                stride: (2, 1), padding: (1, 2)),
        ]
        for (i, s) in shapes.enumerated() {
            let pr = problem(s, seed: 200 + UInt64(i))
            let x = Buf(pr.x), w = Buf(pr.w), b = Buf(pr.b), g = Buf(pr.g)
            let ws = Buf<Double>.poisoned(conv2DWorkspaceCount(s))
            let y = Buf<Double>.poisoned(pr.g.count)
            let loss: () -> Double = {
                conv2DForward(
                    s, input: x.cp, weight: w.cp, bias: b.cp, output: y.p, batches: 0..<s.batch, workspace: ws.p)
                return dot(y.array, pr.g)
            }
            let gx = Buf<Double>.poisoned(pr.x.count)
            conv2DBackwardInput(
                s, gradOutput: g.cp, weight: w.cp, gradInput: gx.p, batches: 0..<s.batch, workspace: ws.p)
            let gw = Buf<Double>(repeating: 0, count: pr.w.count), gb = Buf<Double>(repeating: 0, count: s.outChannels)
            conv2DBackwardWeight(
                s, gradOutput: g.cp, input: x.cp, gradWeight: gw.p, gradBias: gb.p, batches: 0..<s.batch,
                workspace: ws.p)
            checkGradient("conv\(i) dx", x: x, grad: gx.array, loss)
            checkGradient("conv\(i) dw", x: w, grad: gw.array, loss)
            checkGradient("conv\(i) db", x: b, grad: gb.array, loss)
        }
    }

    /// The weight gradient adds to what is there, including over several image groups
    /// (P = 64 gives groups of 8 images, so 19 images make three groups).
    func testWeightGradientAccumulatesOverGroups() {
        let s = Conv2DShape(
            batch: 19, inChannels: 10, outChannels: 20, inputHeight: 12, inputWidth: 12, kernelHeight: 5, kernelWidth: 5
        )
        XCTAssertEqual(s.weightGradientGroup, 8)
        let pr = problem(s, seed: 300)
        let (_, dw, db) = naiveBackward(s, pr.x, pr.w, pr.g)
        var rng = SplitMix64(seed: 301)
        let w0 = rng.array(dw.count), b0 = rng.array(db.count)
        let gw = Buf(w0), gb = Buf(b0)
        let ws = Buf<Double>.poisoned(conv2DWorkspaceCount(s))
        // Split in two calls: 0..<11 then 11..<19.
        let gB = Buf(pr.g), xB = Buf(pr.x)
        conv2DBackwardWeight(
            s, gradOutput: gB.cp, input: xB.cp, gradWeight: gw.p, gradBias: gb.p, batches: 0..<11, workspace: ws.p)
        conv2DBackwardWeight(
            s, gradOutput: gB.cp, input: xB.cp, gradWeight: gw.p, gradBias: gb.p, batches: 11..<19, workspace: ws.p)
        for j in dw.indices where abs(gw[j] - (w0[j] + dw[j])) > 1e-11 * (1 + abs(dw[j])) { XCTFail("dw[\(j)]"); break }
        for j in db.indices where abs(gb[j] - (b0[j] + db[j])) > 1e-11 * (1 + abs(db[j])) { XCTFail("db[\(j)]"); break }
        // Float, same call twice from zero: bit-identical (fixed summation order).
        let xf = Buf(toFloat(pr.x)), gf = Buf(toFloat(pr.g))
        let wsf = Buf<Float>.poisoned(conv2DWorkspaceCount(s))
        var runs = [[Float]]()
        for _ in 0..<2 {
            let a = Buf<Float>(repeating: 0, count: dw.count)
            conv2DBackwardWeight(
                s, gradOutput: gf.cp, input: xf.cp, gradWeight: a.p, gradBias: nil, batches: 0..<19, workspace: wsf.p)
            runs.append(a.array)
            for j in dw.indices where abs(Double(a[j]) - dw[j]) > 1e-4 * (1 + abs(dw[j])) {
                XCTFail("float dw[\(j)] \(a[j]) vs \(dw[j])"); break
            }
        }
        XCTAssertTrue(bitsEqual(runs[0], runs[1]))
    }

    /// Forward and input gradient on 0..<3 then 3..<5 equal one call on 0..<5, bit for bit.
    func testBatchSplitIsBitwiseInvariant() {
        for base in Self.blogShapes + Self.variantShapes {
            var s = base; s.batch = 5
            let pr = problem(s, seed: 400)
            let x = Buf(toFloat(pr.x)), w = Buf(toFloat(pr.w)), b = Buf(toFloat(pr.b)), g = Buf(toFloat(pr.g))
            let whole = forward(s, x, w, b)
            let split = forward(s, x, w, b, batches: 0..<3)
            _ = forward(s, x, w, b, batches: 3..<5, into: split)
            XCTAssertTrue(bitsEqual(whole.array, split.array), "forward \(s)")
            let ws = Buf<Float>.poisoned(conv2DWorkspaceCount(s))
            let gx1 = Buf<Float>.poisoned(pr.x.count), gx2 = Buf<Float>.poisoned(pr.x.count)
            conv2DBackwardInput(s, gradOutput: g.cp, weight: w.cp, gradInput: gx1.p, batches: 0..<5, workspace: ws.p)
            conv2DBackwardInput(s, gradOutput: g.cp, weight: w.cp, gradInput: gx2.p, batches: 0..<3, workspace: ws.p)
            conv2DBackwardInput(s, gradOutput: g.cp, weight: w.cp, gradInput: gx2.p, batches: 3..<5, workspace: ws.p)
            XCTAssertTrue(bitsEqual(gx1.array, gx2.array), "backward input \(s)")
        }
    }

    func testShapeArithmetic() {
        let s = Conv2DShape(
            batch: 1, inChannels: 1, outChannels: 1, inputHeight: 28, inputWidth: 27, kernelHeight: 5, kernelWidth: 4,
            stride: (2, 3), padding: (1, 2))
        XCTAssertEqual(s.outputHeight, 13)  // (28 + 2 − 5)/2 + 1
        XCTAssertEqual(s.outputWidth, 10)  // (27 + 4 − 4)/3 + 1
        XCTAssertEqual(s.filterVolume, 20)
    }
}
