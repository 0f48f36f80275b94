/// Sizes of a 2-D sampling problem: input N×C×H×W, grid N×Ho×Wo×2, output N×C×Ho×Wo.
/// All tensors are dense and C-contiguous; the validated layer above guarantees the sizes
/// are positive where the kernels index and that every element count fits in `Int`.
public struct SamplingShape2D: Sendable, Equatable {
    public var batch: Int
    public var channels: Int
    public var inputHeight: Int
    public var inputWidth: Int
    public var outputHeight: Int
    public var outputWidth: Int

    public init(
        batch: Int, channels: Int, inputHeight: Int, inputWidth: Int,
        outputHeight: Int, outputWidth: Int
    ) {
        self.batch = batch; self.channels = channels
        self.inputHeight = inputHeight; self.inputWidth = inputWidth
        self.outputHeight = outputHeight; self.outputWidth = outputWidth
    }

    /// Output positions per batch element.
    @inlinable public var outputPlane: Int { outputHeight * outputWidth }
    /// Input pixels per channel.
    @inlinable public var inputPlane: Int { inputHeight * inputWidth }
}

/// Sizes of a 3-D sampling problem: input N×C×D×H×W, grid N×Do×Ho×Wo×3, output N×C×Do×Ho×Wo.
public struct SamplingShape3D: Sendable, Equatable {
    public var batch: Int
    public var channels: Int
    public var inputDepth: Int
    public var inputHeight: Int
    public var inputWidth: Int
    public var outputDepth: Int
    public var outputHeight: Int
    public var outputWidth: Int

    public init(
        batch: Int, channels: Int, inputDepth: Int, inputHeight: Int, inputWidth: Int,
        outputDepth: Int, outputHeight: Int, outputWidth: Int
    ) {
        self.batch = batch; self.channels = channels
        self.inputDepth = inputDepth; self.inputHeight = inputHeight; self.inputWidth = inputWidth
        self.outputDepth = outputDepth; self.outputHeight = outputHeight; self.outputWidth = outputWidth
    }

    @inlinable public var outputPlane: Int { outputDepth * outputHeight * outputWidth }
    @inlinable public var inputPlane: Int { inputDepth * inputHeight * inputWidth }
}
