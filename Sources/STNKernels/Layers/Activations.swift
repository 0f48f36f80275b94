// ReLU, forward and backward, over a flat range of elements (any tensor shape).
//
// Semantics are PyTorch's: relu keeps NaN and −0.0 (it only replaces values below zero), and the
// gradient is masked where the forward *output* is ≤ 0 (threshold_backward), so the gradient at
// exactly zero is zero.

/// output[i] = max(input[i], 0) for i in `range`. `output` may be `input` (in place).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func reluForward<T: STNFloat>(
    input: UnsafePointer<T>, output: UnsafeMutablePointer<T>, range: Range<Int>
) {
    var i = range.lowerBound
    while i + 16 <= range.upperBound {
        let v: SIMD16<T> = simdLoad(input + i)
        simdStore(v.replacing(with: 0, where: v .< 0), output + i)
        i += 16
    }
    while i < range.upperBound {
        let v = input[i]
        output[i] = v < 0 ? 0 : v
        i += 1
    }
}

/// gradInput[i] = output[i] > 0 ? gradOutput[i] : 0 for i in `range`, where `output` is the
/// forward result (NaN outputs pass the gradient, as in PyTorch). `gradInput` may be `gradOutput`.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func reluBackward<T: STNFloat>(
    gradOutput: UnsafePointer<T>, output: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
    range: Range<Int>
) {
    var i = range.lowerBound
    while i + 16 <= range.upperBound {
        let g: SIMD16<T> = simdLoad(gradOutput + i), y: SIMD16<T> = simdLoad(output + i)
        simdStore(g.replacing(with: 0, where: y .<= 0), gradInput + i)
        i += 16
    }
    while i < range.upperBound {
        gradInput[i] = output[i] <= 0 ? 0 : gradOutput[i]
        i += 1
    }
}
