import STNTestSupport
import XCTest

@testable import STNKernels

final class DropoutTests: XCTestCase {
    func testElementwiseMatchesMaskTimesScale() {
        var rng = SplitMix64(seed: 31)
        let n = 45, scale = Float(1) / Float(1 - 0.5)
        let x = toFloat(rng.array(n)), m = (0..<n).map { _ in Float(rng.int(2)) }
        let X = Buf(x), M = Buf(m), Y = Buf<Float>.poisoned(n)
        dropoutForward(input: X.cp, mask: M.cp, scale: scale, output: Y.p, range: 0..<17)
        dropoutForward(input: X.cp, mask: M.cp, scale: scale, output: Y.p, range: 17..<n)
        for i in 0..<n { XCTAssertEqual(Y[i], x[i] * (m[i] * scale)) }
        let D = Buf<Float>.poisoned(n)
        dropoutBackward(gradOutput: X.cp, mask: M.cp, scale: scale, gradInput: D.p, range: 0..<n)
        XCTAssertEqual(D.array, Y.array)
    }

    func testChannelwiseGradientByFiniteDifferences() {
        var rng = SplitMix64(seed: 32)
        let N = 3, C = 4, plane = 5 * 7, scale = 1 / (1 - 0.2)
        let x = Buf(rng.array(N * C * plane)), g = rng.array(N * C * plane)
        let mask = Buf((0..<(N * C)).map { _ in Double(rng.int(2)) })
        let y = Buf<Double>.poisoned(g.count)
        let loss: () -> Double = {
            dropout2DForward(
                input: x.cp, mask: mask.cp, scale: scale, output: y.p, channels: C, plane: plane, batches: 0..<N)
            return dot(y.array, g)
        }
        _ = loss()
        for pl in 0..<(N * C) {
            for i in 0..<plane {
                XCTAssertEqual(y[pl * plane + i], x[pl * plane + i] * (mask[pl] * scale))
            }
        }
        let d = Buf<Double>.poisoned(g.count), gB = Buf(g)
        dropout2DBackward(
            gradOutput: gB.cp, mask: mask.cp, scale: scale, gradInput: d.p, channels: C, plane: plane, batches: 0..<1)
        dropout2DBackward(
            gradOutput: gB.cp, mask: mask.cp, scale: scale, gradInput: d.p, channels: C, plane: plane, batches: 1..<N)
        checkGradient("dropout2d", x: x, grad: d.array, loss)
    }
}
