import XCTest

@testable import STNKernels

/// A heap buffer with a stable address for handing to the kernels.
final class Buf<T> {
    let p: UnsafeMutablePointer<T>
    let count: Int
    init(_ values: [T]) {
        count = values.count
        p = .allocate(capacity: Swift.max(1, count))
        p.initialize(from: values, count: count)
    }
    init(repeating v: T, count: Int) {
        self.count = count
        p = .allocate(capacity: Swift.max(1, count))
        p.initialize(repeating: v, count: count)
    }
    deinit { p.deinitialize(count: count); p.deallocate() }
    var array: [T] { Array(UnsafeBufferPointer(start: p, count: count)) }
    subscript(i: Int) -> T {
        get { p[i] }
        set { p[i] = newValue }
    }
    var cp: UnsafePointer<T> { UnsafePointer(p) }
}

extension Buf where T: BinaryFloatingPoint {
    /// A buffer filled with a poison value so that unwritten elements show up.
    static func poisoned(_ count: Int) -> Buf<T> { Buf(repeating: T.nan, count: count) }
}

func toFloat(_ a: [Double]) -> [Float] { a.map { Float($0) } }

func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { s += a[i] * b[i] }
    return s
}

/// Central-difference check of an analytic gradient: for each i, perturbs x[i] by ±h and compares
/// (f(x+h) − f(x−h))/2h with grad[i] within `tol`·max(1, |grad[i]|).
func checkGradient(
    _ name: String, x: Buf<Double>, grad: [Double], h: Double = 1e-6, tol: Double = 1e-7,
    file: StaticString = #filePath, line: UInt = #line, _ f: () -> Double
) {
    XCTAssertEqual(grad.count, x.count, name, file: file, line: line)
    var worst = 0.0
    for i in 0..<x.count {
        let saved = x[i]
        x[i] = saved + h; let fp = f()
        x[i] = saved - h; let fm = f()
        x[i] = saved
        let fd = (fp - fm) / (2 * h)
        let err = abs(fd - grad[i]) / Swift.max(1, abs(grad[i]))
        worst = Swift.max(worst, err)
        if err > tol {
            XCTFail("\(name)[\(i)]: finite difference \(fd) vs analytic \(grad[i])", file: file, line: line)
            return
        }
    }
    XCTAssertLessThanOrEqual(worst, tol, name, file: file, line: line)
}

func bitsEqual<T: BinaryFloatingPoint>(_ a: [T], _ b: [T]) -> Bool {
    guard a.count == b.count else { return false }
    for i in a.indices {
        if a[i].isNaN && b[i].isNaN { continue }
        if a[i] != b[i] || a[i].sign != b[i].sign { return false }
    }
    return true
}
