// 2-D max pooling (PyTorch's MaxPool2d with padding 0, dilation 1, ceil_mode False) with the
// argmax kept for the backward pass.
//
// The scan order and comparison are those of PyTorch's CPU kernel (`cpu_max_pool`): windows are
// read in row-major order and a value replaces the current maximum when it is greater or NaN.
// So among equal maxima the first wins, and a NaN always wins (among several NaNs, the last).

/// Sizes of a max-pooling problem: input N×C×H×W, output N×C×Ho×Wo (floor mode, no padding).
public struct MaxPool2DShape: Sendable, Equatable {
    public var batch: Int
    public var channels: Int
    public var inputHeight: Int
    public var inputWidth: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int

    /// `stride` defaults to the kernel size, as in PyTorch.
    public init(
        batch: Int, channels: Int, inputHeight: Int, inputWidth: Int,
        kernel: (Int, Int), stride: (Int, Int)? = nil
    ) {
        self.batch = batch; self.channels = channels
        self.inputHeight = inputHeight; self.inputWidth = inputWidth
        self.kernelHeight = kernel.0; self.kernelWidth = kernel.1
        self.strideHeight = stride?.0 ?? kernel.0; self.strideWidth = stride?.1 ?? kernel.1
    }

    @inlinable public var outputHeight: Int { (inputHeight - kernelHeight) / strideHeight + 1 }
    @inlinable public var outputWidth: Int { (inputWidth - kernelWidth) / strideWidth + 1 }
    @inlinable public var outputPlane: Int { outputHeight * outputWidth }
    @inlinable public var inputPlane: Int { inputHeight * inputWidth }
}

/// output[n, c, oh, ow] = max of the window, indices[n, c, oh, ow] = its offset ih·W + iw within
/// the input plane, for n in `batches`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func maxPool2DForward<T: STNFloat>(
    _ s: MaxPool2DShape, input: UnsafePointer<T>, output: UnsafeMutablePointer<T>,
    indices: UnsafeMutablePointer<Int32>, batches: Range<Int>
) {
    let W = s.inputWidth, Ho = s.outputHeight, Wo = s.outputWidth
    let KH = s.kernelHeight, KW = s.kernelWidth, sh = s.strideHeight, sw = s.strideWidth
    let planes = batches.lowerBound * s.channels..<batches.upperBound * s.channels
    for pl in planes {
        let src = input + pl * s.inputPlane
        var out = output + pl * s.outputPlane
        var idx = indices + pl * s.outputPlane
        for oh in 0..<Ho {
            let ih0 = oh * sh
            if KH == 2 && KW == 2 && sw == 2 {
                // The tutorial's 2×2/2 pooling: a branch-free loop over the output row that
                // LLVM vectorises (random activations make branchy compares mispredict half
                // the time and cost 20× more).
                let r0 = src + ih0 * W, r1 = r0 + W
                let base = Int32(truncatingIfNeeded: ih0 * W)
                let w32 = Int32(truncatingIfNeeded: W)
                for ow in 0..<Wo {
                    let o = 2 * ow, o32 = base + Int32(truncatingIfNeeded: o)
                    // The first tap wins unless −∞ (then it is still the index PyTorch reports).
                    var m = r0[o], best = o32
                    let v1 = r0[o + 1], v2 = r1[o], v3 = r1[o + 1]
                    let t1 = v1 > m || v1.isNaN
                    m = t1 ? v1 : m; best = t1 ? o32 + 1 : best
                    let t2 = v2 > m || v2.isNaN
                    m = t2 ? v2 : m; best = t2 ? o32 + w32 : best
                    let t3 = v3 > m || v3.isNaN
                    m = t3 ? v3 : m; best = t3 ? o32 + w32 + 1 : best
                    out[ow] = m
                    idx[ow] = best
                }
            } else {
                for ow in 0..<Wo {
                    let iw0 = ow * sw
                    var best = ih0 * W + iw0
                    var maxValue = -T.infinity
                    for kh in 0..<KH {
                        let rowStart = (ih0 + kh) * W + iw0
                        for kw in 0..<KW {
                            let v = src[rowStart + kw]
                            let take = v > maxValue || v.isNaN
                            maxValue = take ? v : maxValue
                            best = take ? rowStart + kw : best
                        }
                    }
                    out[ow] = maxValue
                    idx[ow] = Int32(truncatingIfNeeded: best)
                }
            }
            out += Wo; idx += Wo
        }
    }
}

/// gradInput[n] = grad_output[n] scattered to the argmax positions, for n in `batches`
/// (overwritten: those images are zeroed first; overlapping windows add up in output order).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func maxPool2DBackward<T: STNFloat>(
    _ s: MaxPool2DShape, gradOutput: UnsafePointer<T>, indices: UnsafePointer<Int32>,
    gradInput: UnsafeMutablePointer<T>, batches: Range<Int>
) {
    let planes = batches.lowerBound * s.channels..<batches.upperBound * s.channels
    let inPlane = s.inputPlane, outPlane = s.outputPlane
    (gradInput + planes.lowerBound * inPlane).update(repeating: 0, count: planes.count * inPlane)
    for pl in planes {
        let dst = gradInput + pl * inPlane
        let g = gradOutput + pl * outPlane, idx = indices + pl * outPlane
        for o in 0..<outPlane { dst[Int(idx[o])] += g[o] }
    }
}
