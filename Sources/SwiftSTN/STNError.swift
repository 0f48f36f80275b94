/// Why a swiftstn call refused its arguments. Every error carries a message that names the
/// argument and the shapes involved; the C ABI turns `kind` into its status code and the Python
/// binding into an exception type (see include/swiftstn.h).
public struct STNError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Int32, Sendable {
        /// A value or shape is wrong (Python: ValueError).
        case invalidArgument = 1
        /// A dtype or mode is of the wrong kind (Python: TypeError).
        case invalidType = 2
        /// An element count or byte size does not fit in 64 bits (Python: ValueError).
        case sizeOverflow = 3
        /// An allocation failed (Python: MemoryError).
        case outOfMemory = 4
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func invalid(_ message: String) -> STNError { STNError(.invalidArgument, message) }
}

/// "(2, 3, 4)": shapes in messages are written like Python tuples, since that is what users pass.
public func describeShape(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}

/// The number of elements of `shape`, refusing negative sizes and products that overflow, and
/// making sure the byte size of `elementSize`-byte elements fits as well.
public func elementCount(_ shape: [Int], name: String, elementSize: Int = 8) throws -> Int {
    // The product of the non-zero sizes must fit as well: an empty batch does not make a
    // (0, 1, 2^40, 2^40) tensor's per-sample size computable.
    var nonZero = 1
    var hasZero = false
    for d in shape {
        if d < 0 {
            throw STNError.invalid("\(name) has a negative size in shape \(describeShape(shape))")
        }
        if d == 0 { hasZero = true; continue }
        let (p, overflow) = nonZero.multipliedReportingOverflow(by: d)
        if overflow {
            throw STNError(
                .sizeOverflow, "\(name) of shape \(describeShape(shape)) has more elements than fit in 64 bits")
        }
        nonZero = p
    }
    let (_, bytesOverflow) = nonZero.multipliedReportingOverflow(by: elementSize)
    if bytesOverflow {
        throw STNError(.sizeOverflow, "\(name) of shape \(describeShape(shape)) is larger than the address space")
    }
    return hasZero ? 0 : nonZero
}
