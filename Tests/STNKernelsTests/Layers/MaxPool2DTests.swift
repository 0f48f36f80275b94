import STNTestSupport
import XCTest

@testable import STNKernels

/// Max pooling: PyTorch's tie and NaN rules, floor mode, overlapping windows, the backward
/// scatter by finite differences, and batch-split invariance.
final class MaxPool2DTests: XCTestCase {
    func pool(_ s: MaxPool2DShape, _ x: [Float]) -> ([Float], [Int32]) {
        let X = Buf(x), Y = Buf<Float>.poisoned(s.batch * s.channels * s.outputPlane)
        let I = Buf<Int32>(repeating: -7, count: Y.count)
        maxPool2DForward(s, input: X.cp, output: Y.p, indices: I.p, batches: 0..<s.batch)
        return (Y.array, I.array)
    }

    func testTiesPickTheFirstAndNaNWinsLikePyTorch() {
        let s = MaxPool2DShape(batch: 1, channels: 1, inputHeight: 2, inputWidth: 2, kernel: (2, 2))
        // Values and indices checked against torch 2.15 F.max_pool2d(return_indices=True).
        var (y, i) = pool(s, [3, 3, 3, 2]); XCTAssertEqual(y, [3]); XCTAssertEqual(i, [0])
        (y, i) = pool(s, [1, 5, 5, 2]); XCTAssertEqual(y, [5]); XCTAssertEqual(i, [1])
        (y, i) = pool(s, [1, .nan, .nan, 2]); XCTAssertTrue(y[0].isNaN); XCTAssertEqual(i, [2])
        (y, i) = pool(s, [.nan, 1, 5, 2]); XCTAssertTrue(y[0].isNaN); XCTAssertEqual(i, [0])
        (y, i) = pool(s, [1, 2, 9, .nan]); XCTAssertTrue(y[0].isNaN); XCTAssertEqual(i, [3])
        (y, i) = pool(s, [-.infinity, -.infinity, -.infinity, -.infinity]); XCTAssertEqual(y, [-.infinity]);
        XCTAssertEqual(i, [0])
        (y, i) = pool(s, [-.infinity, -.infinity, -5, -.infinity]); XCTAssertEqual(y, [-5]); XCTAssertEqual(i, [2])
        // The general (non-2×2) path follows the same rules.
        let g = MaxPool2DShape(batch: 1, channels: 1, inputHeight: 3, inputWidth: 3, kernel: (3, 3))
        (y, i) = pool(g, [0, 4, 1, 4, 2, 4, 0, 0, 0]); XCTAssertEqual(y, [4]); XCTAssertEqual(i, [1])
        (y, i) = pool(g, [0, .nan, 1, 4, .nan, 4, 0, 0, 0]); XCTAssertTrue(y[0].isNaN); XCTAssertEqual(i, [4])
        (y, i) = pool(g, [Float](repeating: -.infinity, count: 9)); XCTAssertEqual(i, [0])
    }

    func testFloorModeOddSizesAndOverlap() {
        var rng = SplitMix64(seed: 5)
        for (h, w, kh, kw, sh, sw) in [
            (7, 7, 2, 2, 2, 2), (11, 11, 2, 2, 2, 2), (9, 8, 3, 3, 2, 2), (6, 7, 3, 2, 1, 3), (5, 5, 1, 1, 1, 1),
        ] {
            let s = MaxPool2DShape(
                batch: 2, channels: 3, inputHeight: h, inputWidth: w, kernel: (kh, kw), stride: (sh, sw))
            XCTAssertEqual(s.outputHeight, (h - kh) / sh + 1)
            let x = toFloat(rng.array(2 * 3 * h * w))
            let (y, idx) = pool(s, x)
            for pl in 0..<6 {
                for oh in 0..<s.outputHeight {
                    for ow in 0..<s.outputWidth {
                        var m = -Float.infinity, best = oh * sh * w + ow * sw
                        for a in 0..<kh {
                            for b in 0..<kw {
                                let o = (oh * sh + a) * w + ow * sw + b
                                if x[pl * h * w + o] > m { m = x[pl * h * w + o]; best = o }
                            }
                        }
                        let q = pl * s.outputPlane + oh * s.outputWidth + ow
                        XCTAssertEqual(y[q], m); XCTAssertEqual(Int(idx[q]), best)
                    }
                }
            }
        }
    }

    func testBackwardByFiniteDifferences() {
        // Distinct values far apart (a shuffled ramp), so ±h never changes an argmax.
        for (kh, sh) in [(2, 2), (3, 2)] {
            let s = MaxPool2DShape(
                batch: 2, channels: 2, inputHeight: 7, inputWidth: 6, kernel: (kh, kh), stride: (sh, sh))
            var rng = SplitMix64(seed: 11)
            var ramp = (0..<(2 * 2 * 42)).map { Double($0) * 0.01 }
            for i in stride(from: ramp.count - 1, to: 0, by: -1) { ramp.swapAt(i, rng.int(i + 1)) }
            let x = Buf(ramp), g = rng.array(2 * 2 * s.outputPlane)
            let y = Buf<Double>.poisoned(g.count), idx = Buf<Int32>(repeating: 0, count: g.count)
            let loss: () -> Double = {
                maxPool2DForward(s, input: x.cp, output: y.p, indices: idx.p, batches: 0..<2)
                return dot(y.array, g)
            }
            _ = loss()
            let gx = Buf<Double>.poisoned(ramp.count), gB = Buf(g)
            maxPool2DBackward(s, gradOutput: gB.cp, indices: idx.cp, gradInput: gx.p, batches: 0..<2)
            checkGradient("maxpool k\(kh)", x: x, grad: gx.array, loss)
        }
    }

    func testBatchSplitIsBitwiseInvariant() {
        let s = MaxPool2DShape(batch: 5, channels: 3, inputHeight: 8, inputWidth: 9, kernel: (2, 2))
        var rng = SplitMix64(seed: 9)
        let x = Buf(toFloat(rng.array(5 * 3 * 72))), g = Buf(toFloat(rng.array(5 * 3 * s.outputPlane)))
        let y1 = Buf<Float>.poisoned(g.count), y2 = Buf<Float>.poisoned(g.count)
        let i1 = Buf<Int32>(repeating: 0, count: g.count), i2 = Buf<Int32>(repeating: 0, count: g.count)
        maxPool2DForward(s, input: x.cp, output: y1.p, indices: i1.p, batches: 0..<5)
        maxPool2DForward(s, input: x.cp, output: y2.p, indices: i2.p, batches: 0..<3)
        maxPool2DForward(s, input: x.cp, output: y2.p, indices: i2.p, batches: 3..<5)
        XCTAssertTrue(bitsEqual(y1.array, y2.array)); XCTAssertEqual(i1.array, i2.array)
        let d1 = Buf<Float>.poisoned(x.count), d2 = Buf<Float>.poisoned(x.count)
        maxPool2DBackward(s, gradOutput: g.cp, indices: i1.cp, gradInput: d1.p, batches: 0..<5)
        maxPool2DBackward(s, gradOutput: g.cp, indices: i1.cp, gradInput: d2.p, batches: 0..<3)
        maxPool2DBackward(s, gradOutput: g.cp, indices: i1.cp, gradInput: d2.p, batches: 3..<5)
        XCTAssertTrue(bitsEqual(d1.array, d2.array))
        XCTAssertFalse(d1.array.contains { $0.isNaN })
    }
}
