/// How `grid_sample` interpolates between input pixels. Raw values are the C ABI's codes.
public enum InterpolationMode: Int32, Sendable, CaseIterable {
    /// Bilinear on 4-D input, trilinear on 5-D input.
    case bilinear = 0
    /// The nearest pixel, rounding halves to even (`nearbyint`), as PyTorch does.
    case nearest = 1
    /// Keys' cubic convolution with A = −0.75 over a 4×4 neighbourhood (4-D input only).
    case bicubic = 2
}

/// What `grid_sample` reads outside the input. Raw values are the C ABI's codes.
public enum PaddingMode: Int32, Sendable, CaseIterable {
    /// Out-of-range taps read zero.
    case zeros = 0
    /// Coordinates are clamped to the border pixels.
    case border = 1
    /// Coordinates are reflected at the borders (at the pixel centres of the extreme pixels
    /// with `alignCorners`, at the pixel edges without), then clamped.
    case reflection = 2
}
