// Padding mode and align_corners as types, so that a block kernel is compiled once per
// combination with both folded to constants (no per-element switch), and its coordinate loop
// vectorises.

/// A (padding, alignCorners) pair known at compile time.
@usableFromInline
protocol SamplingPolicy {
    static var padding: PaddingMode { get }
    static var alignCorners: Bool { get }
}

@usableFromInline enum ZerosUnaligned: SamplingPolicy {
    @inlinable static var padding: PaddingMode { .zeros }
    @inlinable static var alignCorners: Bool { false }
}
@usableFromInline enum ZerosAligned: SamplingPolicy {
    @inlinable static var padding: PaddingMode { .zeros }
    @inlinable static var alignCorners: Bool { true }
}
@usableFromInline enum BorderUnaligned: SamplingPolicy {
    @inlinable static var padding: PaddingMode { .border }
    @inlinable static var alignCorners: Bool { false }
}
@usableFromInline enum BorderAligned: SamplingPolicy {
    @inlinable static var padding: PaddingMode { .border }
    @inlinable static var alignCorners: Bool { true }
}
@usableFromInline enum ReflectionUnaligned: SamplingPolicy {
    @inlinable static var padding: PaddingMode { .reflection }
    @inlinable static var alignCorners: Bool { false }
}
@usableFromInline enum ReflectionAligned: SamplingPolicy {
    @inlinable static var padding: PaddingMode { .reflection }
    @inlinable static var alignCorners: Bool { true }
}

/// Positions handled together by the block kernels: per-position offsets and weights are
/// computed for a whole block in vectorised loops, then reused across channels.
@inlinable @inline(__always) var sampleBlock: Int { 64 }

/// A kernel to run specialised for the (padding, alignCorners) pair.
@usableFromInline
protocol PolicyKernel {
    func run<P: SamplingPolicy>(_ p: P.Type)
}

/// Runs `k` with the policy type of (padding, alignCorners).
@inlinable @inline(__always)
func dispatchPolicy<K: PolicyKernel>(_ k: K, _ padding: PaddingMode, _ alignCorners: Bool) {
    switch padding {
    case .zeros: alignCorners ? k.run(ZerosAligned.self) : k.run(ZerosUnaligned.self)
    case .border: alignCorners ? k.run(BorderAligned.self) : k.run(BorderUnaligned.self)
    case .reflection: alignCorners ? k.run(ReflectionAligned.self) : k.run(ReflectionUnaligned.self)
    }
}
