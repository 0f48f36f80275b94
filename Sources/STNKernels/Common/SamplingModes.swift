/// How `grid_sample` interpolates between input pixels. Raw values are the C ABI's codes.
public enum InterpolationMode: Int32, Sendable, CaseIterable {
    /// Bilinear on 4-D input, trilinear on 5-D input.
    case bilinear = 0
    /// The nearest pixel, rounding halves to even (`nearbyint`), as PyTorch does.
    case nearest = 1
    /// Keys' cubic convolution with A = −0.75 over a 4×4 neighbourhood on 4-D input, and over a
    /// 4×4×4 neighbourhood (tricubic, separable) on 5-D input.
    case bicubic = 2
}

/// What `grid_sample` reads outside the input. Raw values are the C ABI's codes.
///
/// Fill padding (C code 3, `STN_PADDING_FILL`) is not a case: it is `.zeros` coordinates plus
/// per-channel fill values, passed to the kernels as their `fill` argument (and to the Swift API
/// as `fill:`), which taps outside the input read instead of zero.
public enum PaddingMode: Int32, Sendable, CaseIterable {
    /// Out-of-range taps read zero.
    case zeros = 0
    /// Coordinates are clamped to the border pixels.
    case border = 1
    /// Coordinates are reflected at the borders (at the pixel centres of the extreme pixels
    /// with `alignCorners`, at the pixel edges without), then clamped.
    case reflection = 2
}
