import SwiftSTN

// The C ABI's two structs (include/swiftstn.h), read from the caller's memory by offset: Swift
// cannot name a C struct in a `@_cdecl` signature without importing the header as a module.
//   stn_tensor   { void *data; int32_t dtype; int32_t ndim; int64_t shape[8]; }   (80 bytes)
//   stn_sampling { int32_t mode, padding, align_corners; const stn_tensor *fill;
//                  int32_t layout, float32_output; }                                (32 bytes)
// The header pins the same offsets with static assertions.

enum TensorLayout {
    static let data = 0, dtype = 8, ndim = 12, shape = 16, maxNdim = 8
}

enum SamplingLayout {
    static let mode = 0, padding = 4, alignCorners = 8, fill = 16, layout = 24, float32Output = 28
}

/// Harmless, aligned memory handed to kernels for tensors without elements (whose data may be
/// NULL); kernels never read or write through it then.
private let placeholder = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)

enum DType: Int32 {
    case float32 = 0, float64 = 1

    var name: String { self == .float32 ? "float32" : "float64" }

    init(code: Int32, of name: String) throws {
        guard let d = DType(rawValue: code) else {
            throw STNError(.invalidType, "\(name) has dtype code \(code); expected 0 (float32) or 1 (float64)")
        }
        self = d
    }
}

/// The element type of an image a sampler reads (or writes): a float type, or uint8 / float16
/// (computed in float32).
enum ImageDType: Int32 {
    case float32 = 0, float64 = 1, uint8 = 3, float16 = 4

    var name: String { ["float32", "float64", "", "uint8", "float16"][Int(rawValue)] }
    /// The type the image is computed in, which grids, matrices and fill values have.
    var compute: DType { self == .float64 ? .float64 : .float32 }

    init(code: Int32, of name: String, op: String) throws {
        guard let d = ImageDType(rawValue: code) else {
            throw STNError(
                .invalidType,
                "\(op): \(name) has dtype code \(code); expected 0 (float32), 1 (float64), 3 (uint8) or 4 (float16)")
        }
        self = d
    }
}

/// Runs a sampler on images: `run` with the input's element type, the output's and the compute
/// type (Swift closures cannot be generic, so the body is a type with a generic method).
protocol ImageBody {
    func run<E: PixelElement, O: PixelElement, T: STNFloat>(_: E.Type, _: O.Type, _: T.Type) throws
}

func withImageTypes(_ input: ImageDType, _ output: ImageDType, _ body: some ImageBody) throws {
    switch (input, output) {
    case (.float32, _): try body.run(Float.self, Float.self, Float.self)
    case (.float64, _): try body.run(Double.self, Double.self, Double.self)
    case (.uint8, .float32): try body.run(UInt8.self, Float.self, Float.self)
    case (.uint8, _): try body.run(UInt8.self, UInt8.self, Float.self)
    case (.float16, .float32): try body.run(Float16.self, Float.self, Float.self)
    case (.float16, _): try body.run(Float16.self, Float16.self, Float.self)
    }
}

/// The dtypes of a sampler call on `input` with `others` (grid or matrices) in the compute type,
/// and the output's (float32 if asked for with a uint8/float16 input).
func imageDTypes(_ input: TensorArg, _ others: TensorArg, float32Output: Bool, op: String) throws
    -> (input: ImageDType, output: ImageDType)
{
    let image = try ImageDType(code: input.dtypeCode, of: input.name, op: op)
    if image == .uint8 || image == .float16 {
        guard input.shape.count == 4 else {
            throw STNError(
                .invalidArgument,
                "\(op): \(image.name) input must be a 4-D image batch, got input of shape \(describeShape(input.shape))"
            )
        }
        guard others.dtypeCode == DType.float32.rawValue else {
            throw STNError(.invalidType, "\(op): \(others.name) must be float32 for \(image.name) input")
        }
    } else {
        _ = try callDType(input, others, op: op)
        guard !float32Output || image == .float32 else {
            throw STNError(.invalidArgument, "\(op): a float32 output is for uint8 or float16 input, got \(image.name)")
        }
    }
    return (image, float32Output ? .float32 : image)
}

/// A tensor argument: its descriptor, read once.
struct TensorArg {
    let name: String
    let data: UnsafeMutableRawPointer?
    let dtypeCode: Int32
    let shape: [Int]

    init(_ descriptor: UnsafeRawPointer?, _ name: String) throws {
        guard let descriptor else { throw STNError(.invalidArgument, "\(name) descriptor is NULL") }
        self.name = name
        data = descriptor.load(fromByteOffset: TensorLayout.data, as: UnsafeMutableRawPointer?.self)
        dtypeCode = descriptor.load(fromByteOffset: TensorLayout.dtype, as: Int32.self)
        let ndim = descriptor.load(fromByteOffset: TensorLayout.ndim, as: Int32.self)
        guard ndim >= 0 && ndim <= TensorLayout.maxNdim else {
            throw STNError(
                .invalidArgument, "\(name) has \(ndim) dimensions; between 0 and \(TensorLayout.maxNdim) are supported")
        }
        shape = (0..<Int(ndim)).map {
            Int(descriptor.load(fromByteOffset: TensorLayout.shape + 8 * $0, as: Int64.self))
        }
        if let i = shape.firstIndex(where: { $0 < 0 }) {
            throw STNError(.invalidArgument, "\(name) has a negative size \(shape[i]) in dimension \(i)")
        }
    }

    var isEmpty: Bool { shape.contains(0) }

    /// The data as `T` elements: NULL is refused unless the tensor is empty.
    func pointer<T>(_: T.Type) throws -> UnsafeMutablePointer<T> {
        if isEmpty { return placeholder.assumingMemoryBound(to: T.self) }
        guard let data else { throw STNError(.invalidArgument, "\(name) data pointer is NULL") }
        return data.assumingMemoryBound(to: T.self)
    }
}

/// The one dtype of a call's floating-point tensors (the first one's), every other one checked.
func callDType(_ first: TensorArg, _ others: TensorArg?..., op: String) throws -> DType {
    let d = try DType(code: first.dtypeCode, of: first.name)
    for case let t? in others where t.dtypeCode != d.rawValue {
        let other = try DType(code: t.dtypeCode, of: t.name)
        throw STNError(
            .invalidType,
            "\(op): expected \(first.name) and \(t.name) to have the same dtype, got \(d.name) and \(other.name)")
    }
    return d
}

/// An output descriptor the call writes: its dtype and shape always, its data on a computing call.
struct OutputArg {
    let name: String
    let descriptor: UnsafeMutableRawPointer

    init(_ descriptor: UnsafeMutableRawPointer?, _ name: String) throws {
        guard let descriptor else { throw STNError(.invalidArgument, "\(name) descriptor is NULL") }
        self.name = name
        self.descriptor = descriptor
    }

    /// An optional output (NULL: not computed).
    static func optional(_ descriptor: UnsafeMutableRawPointer?, _ name: String) -> OutputArg? {
        descriptor.map { OutputArg(unchecked: $0, name) }
    }

    private init(unchecked descriptor: UnsafeMutableRawPointer, _ name: String) {
        self.name = name
        self.descriptor = descriptor
    }

    var data: UnsafeMutableRawPointer? {
        descriptor.load(fromByteOffset: TensorLayout.data, as: UnsafeMutableRawPointer?.self)
    }

    func pointer<T>(_: T.Type, empty: Bool) -> UnsafeMutablePointer<T> {
        (empty ? placeholder : data ?? placeholder).assumingMemoryBound(to: T.self)
    }

    fileprivate func describe(_ dtype: Int32, _ shape: [Int]) {
        descriptor.storeBytes(of: dtype, toByteOffset: TensorLayout.dtype, as: Int32.self)
        descriptor.storeBytes(of: Int32(shape.count), toByteOffset: TensorLayout.ndim, as: Int32.self)
        for (i, d) in shape.enumerated() {
            descriptor.storeBytes(of: Int64(d), toByteOffset: TensorLayout.shape + 8 * i, as: Int64.self)
        }
    }
}

/// Writes every output's descriptor; returns false for a shape query (an output with elements
/// and no data), true when the call should compute.
func describeOutputs(_ outputs: [(OutputArg?, [Int])], dtype: DType) -> Bool {
    describeOutputs(outputs, dtypeCode: dtype.rawValue)
}

func describeOutputs(_ outputs: [(OutputArg?, [Int])], dtypeCode: Int32) -> Bool {
    var compute = true
    for case let (out?, shape) in outputs {
        out.describe(dtypeCode, shape)
        if out.data == nil && !shape.contains(0) { compute = false }
    }
    return compute
}

/// Calls `body` with the element type of `dtype`, so one generic body serves both:
/// `func run<T: STNFloat>(_: T.Type) throws { … }; try withScalarType(dtype) { try run($0) }`.
func withScalarType(_ dtype: DType, _ body: (any STNFloat.Type) throws -> Void) throws {
    switch dtype {
    case .float32: try body(Float.self)
    case .float64: try body(Double.self)
    }
}

/// A size argument such as (N, C, H, W): `count` int64 values.
func readSize(_ pointer: UnsafePointer<Int64>?, _ count: Int32, name: String) throws -> [Int] {
    guard count >= 0 && count <= 16 else {
        throw STNError(.invalidArgument, "\(name) has \(count) entries; between 0 and 16 are supported")
    }
    if count == 0 { return [] }
    guard let pointer else { throw STNError(.invalidArgument, "\(name) pointer is NULL") }
    return (0..<Int(count)).map { Int(pointer[$0]) }
}

/// A sampler's settings (`stn_sampling`), with fill padding's values read in the call's dtype.
struct SamplingArgs {
    let mode: InterpolationMode
    let padding: Padding
    let alignCorners: Bool
    let layout: ImageLayout
    let float32Output: Bool

    /// The layout and output flags only (read before the dtype is known).
    static func outputFlags(_ sampling: UnsafeRawPointer?) -> (layoutCode: Int32, float32Output: Bool) {
        guard let sampling else { return (0, false) }
        return (
            sampling.load(fromByteOffset: SamplingLayout.layout, as: Int32.self),
            sampling.load(fromByteOffset: SamplingLayout.float32Output, as: Int32.self) != 0
        )
    }

    init(_ sampling: UnsafeRawPointer?, dtype: DType, op: String) throws {
        guard let sampling else { throw STNError(.invalidArgument, "\(op): sampling is NULL") }
        let modeCode = sampling.load(fromByteOffset: SamplingLayout.mode, as: Int32.self)
        guard let m = InterpolationMode(rawValue: modeCode) else {
            throw STNError(
                .invalidArgument, "\(op): mode code \(modeCode) is not 0 (bilinear), 1 (nearest) or 2 (bicubic)")
        }
        mode = m
        alignCorners = sampling.load(fromByteOffset: SamplingLayout.alignCorners, as: Int32.self) != 0
        let (layoutCode, f32) = SamplingArgs.outputFlags(sampling)
        guard let l = ImageLayout(rawValue: layoutCode) else {
            throw STNError(
                .invalidArgument,
                "\(op): layout code \(layoutCode) is not 0 (channels-first, NCHW) or 1 (channels-last, NHWC)")
        }
        layout = l
        float32Output = f32
        let code = sampling.load(fromByteOffset: SamplingLayout.padding, as: Int32.self)
        let fillDescriptor = sampling.load(fromByteOffset: SamplingLayout.fill, as: UnsafeRawPointer?.self)
        switch code {
        case 0...2:
            guard fillDescriptor == nil else {
                throw STNError(
                    .invalidArgument, "\(op): fill values are only used with padding code 3 (fill); pass fill = NULL")
            }
            padding = Padding(PaddingMode(rawValue: code)!)
        case 3:
            let f = try TensorArg(fillDescriptor, "fill")
            guard f.dtypeCode == dtype.rawValue else {
                throw STNError(.invalidType, "\(op): fill must have the call's dtype \(dtype.name)")
            }
            guard f.shape.count == 1 && f.shape[0] >= 1 else {
                throw STNError(
                    .invalidArgument,
                    "\(op): fill must be 1-D with 1 value or one per channel, got shape \(describeShape(f.shape))")
            }
            let count = f.shape[0]
            switch dtype {
            case .float32:
                let p = try f.pointer(Float.self)
                padding = .fill((0..<count).map { Double(p[$0]) })
            case .float64:
                let p = try f.pointer(Double.self)
                padding = .fill(Array(UnsafeBufferPointer(start: p, count: count)))
            }
        default:
            throw STNError(
                .invalidArgument,
                "\(op): padding code \(code) is not 0 (zeros), 1 (border), 2 (reflection) or 3 (fill)")
        }
    }
}
