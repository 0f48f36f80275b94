import STNTestSupport
import XCTest

@testable import STNKernels

final class LinearTests: XCTestCase {
    func testForwardMatchesNaive() {
        var rng = SplitMix64(seed: 51)
        for (inF, outF) in [(320, 50), (50, 10), (90, 32), (32, 6), (7, 3)] {
            let s = LinearShape(batch: 9, inFeatures: inF, outFeatures: outF)
            let x = rng.array(9 * inF), w = rng.array(outF * inF), b = rng.array(outF)
            let X = Buf(toFloat(x)), W = Buf(toFloat(w)), B = Buf(toFloat(b)), Y = Buf<Float>.poisoned(9 * outF)
            let ws = Buf<Float>.poisoned(linearWorkspaceCount(s))
            linearForward(s, input: X.cp, weight: W.cp, bias: B.cp, output: Y.p, batches: 0..<9, workspace: ws.p)
            for n in 0..<9 {
                for j in 0..<outF {
                    var acc = Double(B[j])
                    for i in 0..<inF { acc += Double(X[n * inF + i]) * Double(W[j * inF + i]) }
                    XCTAssertEqual(Double(Y[n * outF + j]), acc, accuracy: 1e-5 * (1 + abs(acc)), "\(inF)->\(outF)")
                }
            }
        }
    }

    func testGradientsByFiniteDifferences() {
        var rng = SplitMix64(seed: 52)
        for (inF, outF) in [(19, 5), (32, 6), (9, 17)] {
            let N = 5
            let s = LinearShape(batch: N, inFeatures: inF, outFeatures: outF)
            let x = Buf(rng.array(N * inF)), w = Buf(rng.array(outF * inF)), b = Buf(rng.array(outF))
            let g = rng.array(N * outF), gB = Buf(g)
            let y = Buf<Double>.poisoned(N * outF), ws = Buf<Double>.poisoned(linearWorkspaceCount(s))
            let loss: () -> Double = {
                linearForward(s, input: x.cp, weight: w.cp, bias: b.cp, output: y.p, batches: 0..<N, workspace: ws.p)
                return dot(y.array, g)
            }
            let dx = Buf<Double>.poisoned(N * inF)
            linearBackwardInput(s, gradOutput: gB.cp, weight: w.cp, gradInput: dx.p, batches: 0..<N, workspace: ws.p)
            let dw = Buf<Double>(repeating: 0, count: outF * inF), db = Buf<Double>(repeating: 0, count: outF)
            // Accumulating over two ranges sums to the whole-batch gradient.
            linearBackwardWeight(
                s, gradOutput: gB.cp, input: x.cp, gradWeight: dw.p, gradBias: db.p, batches: 0..<2, workspace: ws.p)
            linearBackwardWeight(
                s, gradOutput: gB.cp, input: x.cp, gradWeight: dw.p, gradBias: db.p, batches: 2..<N, workspace: ws.p)
            checkGradient("linear dx", x: x, grad: dx.array, loss)
            checkGradient("linear dw", x: w, grad: dw.array, loss)
            checkGradient("linear db", x: b, grad: db.array, loss)
        }
    }

    func testBatchSplitIsBitwiseInvariant() {
        var rng = SplitMix64(seed: 53)
        for (inF, outF) in [(320, 50), (90, 32), (50, 10)] {
            let N = 5
            let s = LinearShape(batch: N, inFeatures: inF, outFeatures: outF)
            let x = Buf(toFloat(rng.array(N * inF))), w = Buf(toFloat(rng.array(outF * inF)))
            let b = Buf(toFloat(rng.array(outF))), g = Buf(toFloat(rng.array(N * outF)))
            let ws = Buf<Float>.poisoned(linearWorkspaceCount(s))
            let y1 = Buf<Float>.poisoned(N * outF), y2 = Buf<Float>.poisoned(N * outF)
            linearForward(s, input: x.cp, weight: w.cp, bias: b.cp, output: y1.p, batches: 0..<N, workspace: ws.p)
            linearForward(s, input: x.cp, weight: w.cp, bias: b.cp, output: y2.p, batches: 0..<3, workspace: ws.p)
            linearForward(s, input: x.cp, weight: w.cp, bias: b.cp, output: y2.p, batches: 3..<N, workspace: ws.p)
            XCTAssertTrue(bitsEqual(y1.array, y2.array), "forward \(inF)->\(outF)")
            let d1 = Buf<Float>.poisoned(N * inF), d2 = Buf<Float>.poisoned(N * inF)
            linearBackwardInput(s, gradOutput: g.cp, weight: w.cp, gradInput: d1.p, batches: 0..<N, workspace: ws.p)
            linearBackwardInput(s, gradOutput: g.cp, weight: w.cp, gradInput: d2.p, batches: 0..<3, workspace: ws.p)
            linearBackwardInput(s, gradOutput: g.cp, weight: w.cp, gradInput: d2.p, batches: 3..<N, workspace: ws.p)
            XCTAssertTrue(bitsEqual(d1.array, d2.array), "backward input \(inF)->\(outF)")
        }
    }
}
