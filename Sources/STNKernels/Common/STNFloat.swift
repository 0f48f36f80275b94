/// The scalar types the kernels are written for: `Float` (what training uses) and `Double`
/// (what finite-difference gradient checks need).
///
/// Kernels are generic over `STNFloat` and specialised inside this module by the public
/// `Float`/`Double` entry points, so the generic code costs nothing at run time.
public protocol STNFloat: BinaryFloatingPoint, SIMDScalar, Codable, Sendable, PixelElement {
    /// `Int32.max - 1` and `Int32.min` in this type: the range PyTorch keeps source coordinates in
    /// (`safe_downgrade_to_int_range`), so that converting a coordinate to an index never traps.
    static var indexRangeUpper: Self { get }
    static var indexRangeLower: Self { get }
    /// `Int(self)` through the concrete conversion (one `cvttss2si`); the generic
    /// `Int(_: some BinaryFloatingPoint)` takes a slow bit-by-bit path even when specialised
    /// (perf showed it as 43% of a bilinear forward). Only call it on values already in range.
    var truncatedInt: Int { get }
}

extension Float: STNFloat {
    public static var indexRangeUpper: Float { Float(Int32.max - 1) }
    public static var indexRangeLower: Float { Float(Int32.min) }
    @inlinable public var truncatedInt: Int { Int(self) }
}

extension Double: STNFloat {
    public static var indexRangeUpper: Double { Double(Int32.max - 1) }
    public static var indexRangeLower: Double { Double(Int32.min) }
    @inlinable public var truncatedInt: Int { Int(self) }
}
