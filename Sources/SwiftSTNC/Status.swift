import SwiftSTN

// Error plumbing of the C ABI: every entry point returns an `int32_t` status (0 = success, else
// an `STNError.Kind` raw value, or STN_INTERNAL) and writes a NUL-terminated message into the
// caller's buffer. The buffer belongs to the caller, so reporting is thread-safe by construction.

let statusOK: Int32 = 0
let statusInternal: Int32 = 5

/// Runs `body`, translating a thrown error into a status code and a message in `buffer`.
@inline(__always)
func reporting(_ buffer: UnsafeMutablePointer<CChar>?, _ length: Int, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        if let buffer, length > 0 { buffer[0] = 0 }
        return statusOK
    } catch let error as STNError {
        write(error.message, to: buffer, length: length)
        return error.kind.rawValue
    } catch {
        write("internal error: \(error)", to: buffer, length: length)
        return statusInternal
    }
}

/// Copies `message` (UTF-8, truncated on a character boundary) with a terminating NUL.
func write(_ message: String, to buffer: UnsafeMutablePointer<CChar>?, length: Int) {
    guard let buffer, length > 0 else { return }
    var bytes = Array(message.utf8.prefix(length - 1))
    // Do not cut a multi-byte character in half.
    while let last = bytes.last, last & 0xC0 == 0x80 || (last & 0x80 != 0 && bytes.count == length - 1) {
        bytes.removeLast()
        if last & 0xC0 != 0x80 { break }
    }
    for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
    buffer[bytes.count] = 0
}

/// Reads a shape of `count` int64 sizes named `name`.
func readShape(_ pointer: UnsafePointer<Int64>?, _ count: Int32, name: String) throws -> [Int] {
    guard count >= 0 && count <= 16 else {
        throw STNError(.invalidArgument, "\(name) has \(count) dimensions; between 0 and 16 are supported")
    }
    if count == 0 { return [] }
    guard let pointer else { throw STNError(.invalidArgument, "\(name) shape pointer is NULL") }
    return (0..<Int(count)).map { Int(pointer[$0]) }
}

/// Writes `shape` into a caller array of `capacity` (at least 5) and its length into `ndim`.
func writeShape(_ shape: [Int], _ out: UnsafeMutablePointer<Int64>?, _ ndim: UnsafeMutablePointer<Int32>?) throws {
    guard let out, let ndim else { throw STNError(.invalidArgument, "out_shape and out_ndim must not be NULL") }
    for (i, d) in shape.enumerated() { out[i] = Int64(d) }
    ndim.pointee = Int32(shape.count)
}

/// A data pointer that must be non-NULL unless the tensor is empty.
func require(_ p: UnsafeRawPointer?, _ name: String) throws -> UnsafeRawPointer {
    guard let p else { throw STNError(.invalidArgument, "\(name) data pointer is NULL") }
    return p
}

func requireMutable(_ p: UnsafeMutableRawPointer?, _ name: String) throws -> UnsafeMutableRawPointer {
    guard let p else { throw STNError(.invalidArgument, "\(name) data pointer is NULL") }
    return p
}

enum DType {
    case float32, float64

    init(code: Int32) throws {
        switch code {
        case 0: self = .float32
        case 1: self = .float64
        default: throw STNError(.invalidType, "dtype code \(code) is not 0 (float32) or 1 (float64)")
        }
    }
}

/// Calls `body` with the element type `code` names, so one generic body serves both dtypes:
/// `func run<T: STNFloat>(_: T.Type) throws { … }; try withScalarType(dtype) { try run($0) }`.
func withScalarType(_ code: Int32, _ body: (any STNFloat.Type) throws -> Void) throws {
    switch try DType(code: code) {
    case .float32: try body(Float.self)
    case .float64: try body(Double.self)
    }
}

func interpolation(_ code: Int32) throws -> InterpolationMode {
    guard let m = InterpolationMode(rawValue: code) else {
        throw STNError(.invalidArgument, "mode code \(code) is not 0 (bilinear), 1 (nearest) or 2 (bicubic)")
    }
    return m
}

/// The padding code of fill padding (STN_PADDING_FILL), taken only by the functions with a
/// `fill` argument.
let fillPaddingCode: Int32 = 3

func paddingMode(_ code: Int32) throws -> PaddingMode {
    if code == fillPaddingCode {
        throw STNError(
            .invalidArgument,
            "padding_mode code 3 (fill) needs fill values, which this function does not take: use its *_fill variant")
    }
    guard let p = PaddingMode(rawValue: code) else {
        throw STNError(.invalidArgument, "padding_mode code \(code) is not 0 (zeros), 1 (border) or 2 (reflection)")
    }
    return p
}

/// A padding code of the functions with fill values: 0–2, or 3 (fill padding, which locates taps
/// as zeros padding does). Returns the coordinate padding and whether fill values are used.
func paddingWithFill(_ code: Int32) throws -> (PaddingMode, Bool) {
    if code == fillPaddingCode { return (.zeros, true) }
    guard let p = PaddingMode(rawValue: code) else {
        throw STNError(
            .invalidArgument, "padding_mode code \(code) is not 0 (zeros), 1 (border), 2 (reflection) or 3 (fill)")
    }
    return (p, false)
}

/// The fill values of a call: required (non-NULL, at least one) with fill padding, refused
/// otherwise. The values have the call's dtype.
func fillBuffer<T>(_ fill: UnsafeRawPointer?, _ length: Int64, usesFill: Bool, as _: T.Type) throws
    -> UnsafeBufferPointer<T>?
{
    guard usesFill else {
        guard fill == nil && length == 0 else {
            throw STNError(
                .invalidArgument, "fill values are only used with padding_mode 3 (fill); pass NULL and 0 otherwise")
        }
        return nil
    }
    guard let fill, length >= 1 else {
        throw STNError(
            .invalidArgument,
            "padding_mode 3 (fill) needs fill values: a non-NULL fill with fill_len >= 1, got fill_len \(length)")
    }
    return UnsafeBufferPointer(start: fill.assumingMemoryBound(to: T.self), count: Int(length))
}
