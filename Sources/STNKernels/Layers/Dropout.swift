// Dropout and Dropout2d with a mask the engine drew: these kernels only apply it.
//
// PyTorch's CPU dropout multiplies by a noise tensor that holds mask/(1 − p), i.e. 0 or
// 1/(1 − p); computing x·(mask·scale) with scale = 1/(1 − p) multiplies by exactly that value,
// so results match PyTorch bit for bit given the same mask. The backward pass is the same
// multiplication applied to the gradient.

/// output[i] = input[i]·(mask[i]·scale) for i in `range` (mask values 0 or 1). `output` may be
/// `input`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func dropoutForward<T: STNFloat>(
    input: UnsafePointer<T>, mask: UnsafePointer<T>, scale: T, output: UnsafeMutablePointer<T>,
    range: Range<Int>
) {
    for i in range { output[i] = input[i] * (mask[i] * scale) }
}

/// gradInput[i] = gradOutput[i]·(mask[i]·scale) for i in `range`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func dropoutBackward<T: STNFloat>(
    gradOutput: UnsafePointer<T>, mask: UnsafePointer<T>, scale: T,
    gradInput: UnsafeMutablePointer<T>, range: Range<Int>
) {
    dropoutForward(input: gradOutput, mask: mask, scale: scale, output: gradInput, range: range)
}

/// Dropout2d: output[n, c, :] = input[n, c, :]·(mask[n·C + c]·scale) for n in `batches`, where a
/// (n, c) plane holds `plane` elements. `output` may be `input`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func dropout2DForward<T: STNFloat>(
    input: UnsafePointer<T>, mask: UnsafePointer<T>, scale: T, output: UnsafeMutablePointer<T>,
    channels: Int, plane: Int, batches: Range<Int>
) {
    for pl in batches.lowerBound * channels..<batches.upperBound * channels {
        let f = mask[pl] * scale
        let src = input + pl * plane, dst = output + pl * plane
        for i in 0..<plane { dst[i] = src[i] * f }
    }
}

/// Dropout2d backward: gradInput[n, c, :] = gradOutput[n, c, :]·(mask[n·C + c]·scale).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func dropout2DBackward<T: STNFloat>(
    gradOutput: UnsafePointer<T>, mask: UnsafePointer<T>, scale: T,
    gradInput: UnsafeMutablePointer<T>, channels: Int, plane: Int, batches: Range<Int>
) {
    dropout2DForward(
        input: gradOutput, mask: mask, scale: scale, output: gradInput,
        channels: channels, plane: plane, batches: batches)
}
