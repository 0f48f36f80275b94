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
    // A plain select loop: LLVM turns it into vmaxps, whereas generic SIMD comparisons
    // (`.<`, `replacing(with:where:)`) are lowered lane by lane.
    for i in range {
        let v = input[i]
        output[i] = v < 0 ? 0 : v
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
    for i in range {
        let g = gradOutput[i]
        gradInput[i] = output[i] <= 0 ? 0 : g
    }
}
