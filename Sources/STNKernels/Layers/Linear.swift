// Fully connected layer (PyTorch's Linear): y = x·Wᵀ + b with x N×in, W out×in, b out.
//
// All three products go through `gemm`: the forward pass is the NT case (rows of x against rows
// of W, both contiguous along `in`), the input gradient dy·W and the weight gradient dyᵀ·x take
// the packed path. Rows are batch elements and every output row is computed independently, so
// the forward and input-gradient results do not depend on how the batch is split.

/// Sizes of a linear layer over a batch.
public struct LinearShape: Sendable, Equatable {
    public var batch: Int
    public var inFeatures: Int
    public var outFeatures: Int

    public init(batch: Int, inFeatures: Int, outFeatures: Int) {
        self.batch = batch; self.inFeatures = inFeatures; self.outFeatures = outFeatures
    }
}

/// Per-thread scratch elements needed by any one linear call on any batch range of `s`.
@inlinable
public func linearWorkspaceCount(_ s: LinearShape) -> Int {
    Swift.max(
        gemmWorkspaceCount(m: s.batch, n: s.inFeatures, k: s.outFeatures),
        gemmWorkspaceCount(m: s.outFeatures, n: s.inFeatures, k: s.batch))
}

/// output[n, :] = weight · input[n, :] + bias for n in `batches`.
/// input: N×in, weight: out×in, bias: out or nil, output: N×out.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func linearForward<T: STNFloat>(
    _ s: LinearShape, input: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?,
    output: UnsafeMutablePointer<T>, batches: Range<Int>, workspace: UnsafeMutablePointer<T>
) {
    let nIn = s.inFeatures, nOut = s.outFeatures, lo = batches.lowerBound
    let y = output + lo * nOut
    if let bias {
        for r in 0..<batches.count { (y + r * nOut).update(from: bias, count: nOut) }
    }
    gemm(
        transA: false, transB: true, m: batches.count, n: nOut, k: nIn,
        a: input + lo * nIn, lda: nIn, b: weight, ldb: nIn, c: y, ldc: nOut,
        accumulate: bias != nil, workspace: workspace)
}

/// gradInput[n, :] = gradOutput[n, :] · weight for n in `batches` (overwritten).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func linearBackwardInput<T: STNFloat>(
    _ s: LinearShape, gradOutput: UnsafePointer<T>, weight: UnsafePointer<T>,
    gradInput: UnsafeMutablePointer<T>, batches: Range<Int>, workspace: UnsafeMutablePointer<T>
) {
    let nIn = s.inFeatures, nOut = s.outFeatures, lo = batches.lowerBound
    gemm(
        transA: false, transB: false, m: batches.count, n: nIn, k: nOut,
        a: gradOutput + lo * nOut, lda: nOut, b: weight, ldb: nIn, c: gradInput + lo * nIn, ldc: nIn,
        accumulate: false, workspace: workspace)
}

/// gradWeight += Σ_n gradOutput[n, :]ᵀ·input[n, :] and gradBias += Σ_n gradOutput[n, :] over
/// `batches` (accumulated, so per-thread partials can be summed in a fixed order).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func linearBackwardWeight<T: STNFloat>(
    _ s: LinearShape, gradOutput: UnsafePointer<T>, input: UnsafePointer<T>,
    gradWeight: UnsafeMutablePointer<T>, gradBias: UnsafeMutablePointer<T>?,
    batches: Range<Int>, workspace: UnsafeMutablePointer<T>
) {
    let nIn = s.inFeatures, nOut = s.outFeatures, lo = batches.lowerBound
    let dy = gradOutput + lo * nOut
    gemm(
        transA: true, transB: false, m: nOut, n: nIn, k: batches.count,
        a: dy, lda: nOut, b: input + lo * nIn, ldb: nIn, c: gradWeight, ldc: nIn,
        accumulate: true, workspace: workspace)
    if let gradBias {
        for r in 0..<batches.count {
            let row = dy + r * nOut
            for j in 0..<nOut { gradBias[j] += row[j] }
        }
    }
}
