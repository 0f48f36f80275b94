// Keys' cubic convolution kernel with A = −0.75 (what PyTorch's bicubic grid_sample and
// upsampling use), written in PyTorch's operation order so float32 results round alike.

/// The four tap weights for a fractional offset `t` ∈ [0, 1): taps at −1, 0, 1, 2.
@inlinable @inline(__always)
public func cubicCoefficients<T: STNFloat>(_ t: T) -> (T, T, T, T) {
    let a: T = -0.75
    var x = t + 1
    let c0 = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    x = t
    let c1 = ((a + 2) * x - (a + 3)) * x * x + 1
    x = 1 - t
    let c2 = ((a + 2) * x - (a + 3)) * x * x + 1
    x = 2 - t
    let c3 = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return (c0, c1, c2, c3)
}

/// The derivatives of the tap weights, with the sign convention of PyTorch's
/// `get_cubic_coefficients_grad` (the grid gradient subtracts them).
@inlinable @inline(__always)
public func cubicCoefficientGradients<T: STNFloat>(_ t: T) -> (T, T, T, T) {
    let a: T = -0.75
    var x = -1 - t
    let g0 = (-3 * a * x - 10 * a) * x - 8 * a
    x = 0 - t
    let g1 = (-3 * (a + 2) * x - 2 * (a + 3)) * x
    x = 1 - t
    let g2 = (3 * (a + 2) * x - 2 * (a + 3)) * x
    x = 2 - t
    let g3 = (3 * a * x - 10 * a) * x + 8 * a
    return (g0, g1, g2, g3)
}
