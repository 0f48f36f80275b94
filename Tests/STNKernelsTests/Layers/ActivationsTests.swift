import STNTestSupport
import XCTest

@testable import STNKernels

final class ActivationsTests: XCTestCase {
    func testForwardKeepsNaNAndNegativeZeroAndWorksInPlace() {
        let x: [Float] = [-2, -0.0, 0, 3, .nan, -.infinity, .infinity] + (0..<37).map { Float($0) - 18.5 }
        let b = Buf(x)
        reluForward(input: b.cp, output: b.p, range: 0..<x.count)
        for (i, v) in x.enumerated() {
            if v.isNaN { XCTAssertTrue(b[i].isNaN); continue }
            XCTAssertEqual(b[i], v < 0 ? 0 : v)
            XCTAssertEqual(b[i].sign, v < 0 ? .plus : v.sign)  // relu(−0.0) = −0.0, as torch.relu
        }
    }

    func testBackwardMasksWhereOutputIsNotPositive() {
        let y: [Float] = [0, -0.0, 1e-30, 2, .nan] + [Float](repeating: 1, count: 20)
        let g: [Float] = [5, 6, 7, 8, 9] + [Float](repeating: 3, count: 20)
        let Y = Buf(y), G = Buf(g), D = Buf<Float>.poisoned(y.count)
        reluBackward(gradOutput: G.cp, output: Y.cp, gradInput: D.p, range: 0..<y.count)
        XCTAssertEqual(Array(D.array[0..<5]), [0, 0, 7, 8, 9])
        XCTAssertEqual(Array(D.array[5...]), [Float](repeating: 3, count: 20))
    }

    func testGradientByFiniteDifferencesAndRanges() {
        var rng = SplitMix64(seed: 21)
        // Inputs kept at least 0.05 from the kink.
        let x = Buf(rng.array(53).map { $0 < 0 ? $0 - 0.05 : $0 + 0.05 }), g = rng.array(53)
        let y = Buf<Double>.poisoned(53)
        let loss: () -> Double = {
            reluForward(input: x.cp, output: y.p, range: 0..<53); return dot(y.array, g)
        }
        _ = loss()
        let d = Buf<Double>.poisoned(53), gB = Buf(g)
        reluBackward(gradOutput: gB.cp, output: y.cp, gradInput: d.p, range: 0..<20)
        reluBackward(gradOutput: gB.cp, output: y.cp, gradInput: d.p, range: 20..<53)
        checkGradient("relu", x: x, grad: d.array, loss)
    }
}
