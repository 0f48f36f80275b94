import STNKernels

/// How a 4-D image tensor orders its axes: channels-first N×C×H×W (PyTorch's) or channels-last
/// N×H×W×C (NumPy image pipelines', OpenCV's, TensorFlow's). The samplers read and write either
/// in place. Raw values are the C ABI's codes (`STN_LAYOUT_*`).
public enum ImageLayout: Int32, Sendable, CaseIterable {
    case channelsFirst = 0
    case channelsLast = 1

    /// The N×C×H×W shape of `shape` (checked to be 4-D when channels-last).
    func logicalShape(_ shape: [Int], name: String, op: String) throws -> [Int] {
        guard self == .channelsLast else { return shape }
        guard shape.count == 4 else {
            throw STNError.invalid(
                "\(op): expected channels-last \(name) to be 4-D (N, H, W, C), got \(name) of shape \(describeShape(shape))"
            )
        }
        return [shape[0], shape[3], shape[1], shape[2]]
    }

    /// The shape in this layout of an N×C×H×W `logical` shape.
    func physicalShape(_ logical: [Int]) -> [Int] {
        self == .channelsLast ? [logical[0], logical[2], logical[3], logical[1]] : logical
    }

    /// Where the elements of an N×C×H×W `logical` image are, in this layout.
    func pixelLayout(_ logical: [Int]) -> PixelLayout2D {
        PixelLayout2D(channels: logical[1], height: logical[2], width: logical[3], channelsLast: self == .channelsLast)
    }

    /// Refuses a backward pass of channels-last images.
    func requireChannelsFirst(op: String) throws {
        guard self == .channelsFirst else {
            throw STNError.invalid(
                "\(op): the backward pass takes channels-first (N, C, H, W) tensors only; transpose channels-last ones"
            )
        }
    }
}
