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
