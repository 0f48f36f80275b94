/// A dense, C-contiguous array with a shape: the value type of swiftstn's Swift API.
///
/// Kept deliberately small — the engine's kernels work on pointers; `Tensor` is how Swift code
/// hands them data without touching unsafe pointers.
public struct Tensor<Scalar: STNFloat>: Equatable, Sendable {
    public var shape: [Int]
    public var scalars: [Scalar]

    /// Wraps `scalars` with `shape`; the element counts must agree.
    public init(shape: [Int], scalars: [Scalar]) throws {
        let n = try elementCount(shape, name: "tensor")
        guard n == scalars.count else {
            throw STNError.invalid("tensor of shape \(describeShape(shape)) needs \(n) scalars, got \(scalars.count)")
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) throws {
        let n = try elementCount(shape, name: "tensor")
        self.shape = shape
        self.scalars = [Scalar](repeating: 0, count: n)
    }

    /// Internal: shape already validated.
    init(uncheckedShape shape: [Int], count: Int) {
        self.shape = shape
        self.scalars = [Scalar](repeating: 0, count: count)
    }

    public var count: Int { scalars.count }

    public subscript(_ index: Int...) -> Scalar {
        get { scalars[flatIndex(index)] }
        set { scalars[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }
}
