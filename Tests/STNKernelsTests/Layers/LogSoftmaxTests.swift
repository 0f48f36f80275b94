import STNTestSupport
import XCTest

@testable import STNKernels

final class LogSoftmaxTests: XCTestCase {
    func testForwardIsStableAndNormalised() {
        var rng = SplitMix64(seed: 41)
        let rows = 6, K = 10
        var x = rng.array(rows * K, scale: 5)
        for j in 0..<K { x[K + j] += 1000; x[2 * K + j] -= 1000 }  // huge offsets must not overflow
        let X = Buf(x), Y = Buf<Double>.poisoned(x.count)
        logSoftmaxForward(input: X.cp, output: Y.p, classes: K, rows: 0..<rows)
        for r in 0..<rows {
            let m = x[(r * K)..<(r * K + K)].max()!
            var s = 0.0
            for j in 0..<K { s += _exp(x[r * K + j] - m) }
            var total = 0.0
            for j in 0..<K {
                XCTAssertEqual(Y[r * K + j], x[r * K + j] - m - _log(s), accuracy: 1e-12)
                total += _exp(Y[r * K + j])
            }
            XCTAssertEqual(total, 1, accuracy: 1e-12)
        }
        // Float agrees with Double.
        let XF = Buf(toFloat(x)), YF = Buf<Float>.poisoned(x.count)
        logSoftmaxForward(input: XF.cp, output: YF.p, classes: K, rows: 0..<rows)
        for i in 0..<x.count { XCTAssertEqual(Double(YF[i]), Y[i], accuracy: 1e-4 * max(1, abs(Y[i]))) }
    }

    func testGeneralBackwardByFiniteDifferences() {
        var rng = SplitMix64(seed: 42)
        let rows = 3, K = 7
        let x = Buf(rng.array(rows * K, scale: 3)), g = rng.array(rows * K)
        let y = Buf<Double>.poisoned(rows * K)
        let loss: () -> Double = {
            logSoftmaxForward(input: x.cp, output: y.p, classes: K, rows: 0..<rows); return dot(y.array, g)
        }
        _ = loss()
        let d = Buf<Double>.poisoned(rows * K), gB = Buf(g)
        logSoftmaxBackward(gradOutput: gB.cp, output: y.cp, gradInput: d.p, classes: K, rows: 0..<rows)
        checkGradient("log_softmax", x: x, grad: d.array, loss)
    }

    /// d(mean NLL)/d(logits) with the batch split over two calls, as two threads would.
    func testFusedNLLGradientByFiniteDifferences() {
        var rng = SplitMix64(seed: 43)
        let rows = 5, K = 10
        let x = Buf(rng.array(rows * K, scale: 4))
        let labels64 = Buf((0..<rows).map { _ in Int64(rng.int(K)) })
        let labels = Buf(labels64.array.map { Int($0) })
        let logp = Buf<Double>.poisoned(rows * K), losses = Buf<Double>.poisoned(rows)
        let grad = Buf<Double>.poisoned(rows * K)
        let meanLoss: () -> Double = {
            logSoftmaxForward(input: x.cp, output: logp.p, classes: K, rows: 0..<rows)
            var s = 0.0
            for r in 0..<rows { s -= logp[r * K + Int(labels64[r])] }
            return s / Double(rows)
        }
        let L = meanLoss()
        nllLossLogSoftmaxBackward(
            logProbs: logp.cp, labels: labels64.cp, classes: K, totalCount: rows,
            losses: losses.p, gradLogits: grad.p, rows: 0..<2)
        nllLossLogSoftmaxBackward(
            logProbs: logp.cp, labels: labels64.cp, classes: K, totalCount: rows,
            losses: losses.p, gradLogits: grad.p, rows: 2..<rows)
        XCTAssertEqual(losses.array.reduce(0, +) / Double(rows), L, accuracy: 1e-14)
        checkGradient("nll", x: x, grad: grad.array, meanLoss)
        // Int labels give the same result as Int64 labels (log-probs recomputed at x first:
        // the finite differences left them at a perturbed point).
        XCTAssertEqual(meanLoss(), L)
        let grad2 = Buf<Double>.poisoned(rows * K), losses2 = Buf<Double>.poisoned(rows)
        nllLossLogSoftmaxBackward(
            logProbs: logp.cp, labels: labels.cp, classes: K, totalCount: rows,
            losses: losses2.p, gradLogits: grad2.p, rows: 0..<rows)
        XCTAssertEqual(grad2.array, grad.array); XCTAssertEqual(losses2.array, losses.array)
    }

    private func _exp(_ x: Double) -> Double { stnExp(x) }
    private func _log(_ x: Double) -> Double { stnLog(x) }
}
