// log_softmax over the last dimension and the negative log-likelihood loss fused with its
// gradient, for rows of K class scores.
//
// Numerically stable as PyTorch's CPU kernel: out = (x − max) − log Σ exp(x − max). The fused
// NLL gradient goes straight to the logits, (softmax − onehot)/N, which is what
// log_softmax_backward(nll_loss_backward(mean)) produces, without materialising the
// intermediate gradient.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@inlinable @inline(__always)
func stnExp<T: STNFloat>(_ x: T) -> T {
    MemoryLayout<T>.size == 4 ? T(expf(Float(x))) : T(exp(Double(x)))
}

@inlinable @inline(__always)
func stnLog<T: STNFloat>(_ x: T) -> T {
    MemoryLayout<T>.size == 4 ? T(logf(Float(x))) : T(log(Double(x)))
}

/// output[r, :] = log_softmax(input[r, :]) for rows r in `rows`; rows have `classes` elements.
/// `output` may be `input`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func logSoftmaxForward<T: STNFloat>(
    input: UnsafePointer<T>, output: UnsafeMutablePointer<T>, classes: Int, rows: Range<Int>
) {
    for r in rows {
        let x = input + r * classes, y = output + r * classes
        var m = -T.infinity
        for j in 0..<classes where x[j] > m || x[j].isNaN { m = x[j] }
        var sum: T = 0
        for j in 0..<classes { sum += stnExp(x[j] - m) }
        let logSum = stnLog(sum)
        for j in 0..<classes { y[j] = (x[j] - m) - logSum }
    }
}

/// gradInput[r, :] = gradOutput[r, :] − exp(output[r, :])·Σ gradOutput[r, :] (the general
/// log_softmax backward), for rows in `rows`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func logSoftmaxBackward<T: STNFloat>(
    gradOutput: UnsafePointer<T>, output: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
    classes: Int, rows: Range<Int>
) {
    for r in rows {
        let g = gradOutput + r * classes, y = output + r * classes, d = gradInput + r * classes
        var sum: T = 0
        for j in 0..<classes { sum += g[j] }
        for j in 0..<classes { d[j] = g[j] - stnExp(y[j]) * sum }
    }
}

/// Mean NLL loss over log-probabilities, fused with log_softmax's backward, for rows in `rows`:
///
///   losses[r] = −logProbs[r, labels[r]]
///   gradLogits[r, j] = (exp(logProbs[r, j]) − [j = labels[r]]) / totalCount
///
/// `totalCount` is the size of the whole batch (the mean's N), not of `rows`, because the
/// engine splits one batch across threads. The caller sums `losses` and divides by N for the
/// mean loss. Labels must lie in 0..<classes.
@_specialize(where T == Float, Label == Int64)
@_specialize(where T == Float, Label == Int)
@_specialize(where T == Double, Label == Int64)
@_specialize(where T == Double, Label == Int)
public func nllLossLogSoftmaxBackward<T: STNFloat, Label: BinaryInteger>(
    logProbs: UnsafePointer<T>, labels: UnsafePointer<Label>, classes: Int, totalCount: Int,
    losses: UnsafeMutablePointer<T>, gradLogits: UnsafeMutablePointer<T>, rows: Range<Int>
) {
    let inv = 1 / T(totalCount)
    for r in rows {
        let y = logProbs + r * classes, d = gradLogits + r * classes
        let label = Int(labels[r])
        losses[r] = -y[label]
        for j in 0..<classes { d[j] = stnExp(y[j]) * inv }
        d[label] -= inv
    }
}
