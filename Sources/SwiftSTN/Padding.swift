import STNKernels

/// What a sampler reads outside its input: PyTorch's three padding modes, or fill padding.
///
/// Fill padding locates taps as zeros padding does, and every tap outside the input reads the
/// channel's fill value instead of zero. Its values are one for every channel or one per channel,
/// all finite; they are kept as `Double` and converted to the call's element type, which is
/// exact for values that came from that type. With every value 0 the results are zeros
/// padding's, bit for bit. The C ABI spells these as the codes 0-3 (`STN_PADDING_*`).
public enum Padding: Equatable, Hashable, Sendable {
    /// Out-of-range taps read zero.
    case zeros
    /// Coordinates are clamped to the border pixels.
    case border
    /// Coordinates are reflected at the borders, then clamped.
    case reflection
    /// Taps outside the input read `values[c]` (or `values[0]` for every channel).
    case fill([Double])

    /// The modes PyTorch has (every padding but fill).
    public static let pytorchModes: [Padding] = [.zeros, .border, .reflection]

    /// The C ABI's code: 0 zeros, 1 border, 2 reflection, 3 fill.
    public var code: Int32 {
        switch self {
        case .zeros: return 0
        case .border: return 1
        case .reflection: return 2
        case .fill: return 3
        }
    }

    /// The padding of PyTorch's mode `mode`.
    public init(_ mode: PaddingMode) {
        switch mode {
        case .zeros: self = .zeros
        case .border: self = .border
        case .reflection: self = .reflection
        }
    }

    /// How the kernels see it: where taps are located, and the fill values expanded to `channels`
    /// (nil unless fill padding). The one check of fill values, for every operator that pads.
    func resolve(channels: Int, inputShape: [Int], op: String) throws -> (mode: PaddingMode, fill: [Double]?) {
        switch self {
        case .zeros: return (.zeros, nil)
        case .border: return (.border, nil)
        case .reflection: return (.reflection, nil)
        case .fill(let values):
            guard values.count == 1 || values.count == channels else {
                throw STNError.invalid(
                    "\(op): expected fill to have 1 value or C = \(channels) values (one per channel) for input of shape \(describeShape(inputShape)), got \(values.count) values"
                )
            }
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw STNError.invalid("\(op): fill values must be finite, got \(values[i]) at index \(i)")
            }
            return (.zeros, values.count == channels ? values : [Double](repeating: values[0], count: channels))
        }
    }
}

/// `body` with a pointer to `values` converted to `T` (a harmless address when empty), or nil.
func withFill<T: STNFloat, R>(_ values: [Double]?, as _: T.Type, _ body: (UnsafePointer<T>?) throws -> R) rethrows
    -> R
{
    guard let values else { return try body(nil) }
    return try values.map { T($0) }.withBase { try body($0) }
}
