// 2-D sampling of images as image pipelines store them: uint8 or float16 elements (as well as
// float32/float64), channels-first (N×C×H×W) or channels-last (N×H×W×C), read in place.
//
// Each output value is computed in `T` (float32 for uint8/float16 images, float64 for float64)
// with the float kernels' own tap structs and operation order, so it is the float path's value
// on the same pixels, converted once when stored: uint8 rounds half to even and saturates to
// [0, 255] (NaN gives 0), float16 rounds to nearest even. docs/operators.md ("Pixel types and
// layouts") states the contract.

/// An element type of a pixel image.
public protocol PixelElement: Sendable {
    /// The value in the compute type (exact for every type used here).
    func value<T: STNFloat>(as _: T.Type) -> T
    /// `v` stored in this type.
    static func pixel<T: STNFloat>(from v: T) -> Self
}

extension UInt8: PixelElement {
    @inlinable @inline(__always)
    public func value<T: STNFloat>(as _: T.Type) -> T { T(Int(self)) }

    @inlinable @inline(__always)
    public static func pixel<T: STNFloat>(from v: T) -> UInt8 {
        // Rounded half to even, then saturated; NaN stores 0 (as OpenCV's saturate_cast does).
        let r = v.rounded(.toNearestOrEven)
        return r >= 255 ? 255 : r > 0 ? UInt8(r.truncatedInt) : 0
    }
}

extension Float16: PixelElement {
    @inlinable @inline(__always)
    public func value<T: STNFloat>(as _: T.Type) -> T { T(Float(self)) }

    @inlinable @inline(__always)
    public static func pixel<T: STNFloat>(from v: T) -> Float16 { Float16(Float(v)) }
}

extension Float: PixelElement {
    @inlinable @inline(__always)
    public func value<T: STNFloat>(as _: T.Type) -> T { T(self) }

    @inlinable @inline(__always)
    public static func pixel<T: STNFloat>(from v: T) -> Float { Float(v) }
}

extension Double: PixelElement {
    @inlinable @inline(__always)
    public func value<T: STNFloat>(as _: T.Type) -> T { T(self) }

    @inlinable @inline(__always)
    public static func pixel<T: STNFloat>(from v: T) -> Double { Double(v) }
}

/// Where an image's elements are, in elements: element (n, c, y, x) of an H×W image is at
/// n·batch + c·channel + (y·W + x)·pixel. Channels-first: (C·H·W, H·W, 1); channels-last:
/// (H·W·C, 1, C).
public struct PixelLayout2D: Sendable, Equatable {
    public var batch: Int
    public var channel: Int
    public var pixel: Int

    public init(channels: Int, height: Int, width: Int, channelsLast: Bool) {
        batch = channels * height * width
        channel = channelsLast ? 1 : height * width
        pixel = channelsLast ? channels : 1
    }
}

/// `gridSample2DForward` for pixel images: `input` of element type `E` laid out as `inputLayout`,
/// the grid (N×Ho×Wo×2) in the compute type `T`, `output` of element type `O` laid out as
/// `outputLayout`. `fill` holds C values of `T` (fill padding, with `.zeros`) or is nil.
@_specialize(where E == UInt8, O == UInt8, T == Float)
@_specialize(where E == Float16, O == Float16, T == Float)
@_specialize(where E == Float, O == Float, T == Float)
@_specialize(where E == Double, O == Double, T == Double)
public func gridSamplePixels2D<E: PixelElement, O: PixelElement, T: STNFloat>(
    _ s: SamplingShape2D, input: UnsafePointer<E>, inputLayout: PixelLayout2D, grid: UnsafePointer<T>,
    output: UnsafeMutablePointer<O>, outputLayout: PixelLayout2D, mode: InterpolationMode, padding: PaddingMode,
    alignCorners: Bool, positions: Range<Int>, fill: UnsafePointer<T>?
) {
    samplePixels2D(
        s, input, inputLayout, StoredGrid2D(grid), output, outputLayout, mode, padding, alignCorners, positions, fill)
}

/// `warp2DForward` for pixel images (element types and layouts as in `gridSamplePixels2D`).
@_specialize(where E == UInt8, O == UInt8, T == Float)
@_specialize(where E == Float16, O == Float16, T == Float)
@_specialize(where E == Float, O == Float, T == Float)
@_specialize(where E == Double, O == Double, T == Double)
public func warpPixels2D<E: PixelElement, O: PixelElement, T: STNFloat>(
    _ s: SamplingShape2D, input: UnsafePointer<E>, inputLayout: PixelLayout2D, geometry: WarpGeometry2D<T>,
    output: UnsafeMutablePointer<O>, outputLayout: PixelLayout2D, mode: InterpolationMode, padding: PaddingMode,
    alignCorners: Bool, positions: Range<Int>, fill: UnsafePointer<T>?
) {
    switch geometry.kind {
    case .affine:
        samplePixels2D(
            s, input, inputLayout, geometry.affine(s), output, outputLayout, mode, padding, alignCorners, positions,
            fill)
    case .perspective:
        samplePixels2D(
            s, input, inputLayout, geometry.perspective(s), output, outputLayout, mode, padding, alignCorners,
            positions, fill)
    }
}

@inlinable
func samplePixels2D<E: PixelElement, O: PixelElement, T: STNFloat, G: GridSource2D>(
    _ s: SamplingShape2D, _ input: UnsafePointer<E>, _ inL: PixelLayout2D, _ source: G,
    _ output: UnsafeMutablePointer<O>, _ outL: PixelLayout2D, _ mode: InterpolationMode, _ padding: PaddingMode,
    _ alignCorners: Bool, _ positions: Range<Int>, _ fill: UnsafePointer<T>?
) where G.Scalar == T {
    // Mode, padding and align_corners become constants of the loops (no per-pixel switch).
    let k = PixelKernel2D(
        s: s, input: input, inL: inL, source: source, output: output, outL: outL, mode: mode,
        positions: positions, fill: fill)
    dispatchPolicy(k, padding, alignCorners)
}

/// One pixel-sampling call: a tap loop per mode, specialised for the padding policy `P`.
@usableFromInline
struct PixelKernel2D<E: PixelElement, O: PixelElement, T: STNFloat, G: GridSource2D>: PolicyKernel
where G.Scalar == T {
    @usableFromInline let s: SamplingShape2D
    @usableFromInline let input: UnsafePointer<E>
    @usableFromInline let inL: PixelLayout2D
    @usableFromInline let source: G
    @usableFromInline let output: UnsafeMutablePointer<O>
    @usableFromInline let outL: PixelLayout2D
    @usableFromInline let mode: InterpolationMode
    @usableFromInline let positions: Range<Int>
    @usableFromInline let fill: UnsafePointer<T>?

    @inlinable
    init(
        s: SamplingShape2D, input: UnsafePointer<E>, inL: PixelLayout2D, source: G, output: UnsafeMutablePointer<O>,
        outL: PixelLayout2D, mode: InterpolationMode, positions: Range<Int>, fill: UnsafePointer<T>?
    ) {
        self.s = s; self.input = input; self.inL = inL; self.source = source; self.output = output
        self.outL = outL; self.mode = mode; self.positions = positions; self.fill = fill
    }

    @inlinable
    func run<P: SamplingPolicy>(_: P.Type) {
        switch mode {
        case .bilinear: bilinear(P.self)
        case .nearest: nearest(P.self)
        case .bicubic: bicubic(P.self)
        }
    }

    /// `body(src, out, gx, gy)` for every position: the batch element's input, the position's
    /// output pixel, its grid point.
    @inlinable @inline(__always)
    func forEachPosition(_ body: (UnsafePointer<E>, UnsafeMutablePointer<O>, T, T) -> Void) {
        let plane = s.outputPlane
        forEachSourceBlock(source, positions, plane: plane) { b, q0, n, grid in
            let src = input + b * inL.batch
            let dst = output + b * outL.batch + (q0 - b * plane) * outL.pixel
            for i in 0..<n { body(src, dst + i * outL.pixel, grid[2 * i], grid[2 * i + 1]) }
        }
    }

    /// `body(src, out, x, y)` for every position, (x, y) its source coordinate after padding
    /// (what the bilinear and nearest taps start from).
    @inlinable @inline(__always)
    func forEachSourcePoint<P: SamplingPolicy>(
        _: P.Type, _ body: (UnsafePointer<E>, UnsafeMutablePointer<O>, T, T) -> Void
    ) {
        let (W, H) = (s.inputWidth, s.inputHeight)
        forEachPosition { src, out, gx, gy in
            body(
                src, out, sourceIndexVector(gx, size: W, padding: P.padding, alignCorners: P.alignCorners),
                sourceIndexVector(gy, size: H, padding: P.padding, alignCorners: P.alignCorners))
        }
    }

    /// The value of tap `o` (an offset into the H×W plane, −1 outside) of channel c.
    @inlinable @inline(__always)
    func tap(_ src: UnsafePointer<E>, _ c: Int, _ o: Int) -> T {
        o >= 0 ? src[c * inL.channel + o * inL.pixel].value(as: T.self) : (fill?[c] ?? 0)
    }

    @inlinable
    func bilinear<P: SamplingPolicy>(_: P.Type) {
        let (W, H, C, ch) = (s.inputWidth, s.inputHeight, s.channels, outL.channel)
        forEachSourcePoint(P.self) { src, out, x, y in
            let t = BilinearTaps2D(x: x, y: y, width: W, height: H)
            for c in 0..<C {
                // BilinearTaps2D.sample's expression, on converted pixels.
                let v = (tap(src, c, t.o00) * t.w00).addingProduct(tap(src, c, t.o01), t.w01)
                    .addingProduct(tap(src, c, t.o10), t.w10).addingProduct(tap(src, c, t.o11), t.w11)
                out[c * ch] = O.pixel(from: v)
            }
        }
    }

    @inlinable
    func nearest<P: SamplingPolicy>(_: P.Type) {
        let (W, H, C, ch) = (s.inputWidth, s.inputHeight, s.channels, outL.channel)
        forEachSourcePoint(P.self) { src, out, x, y in
            let o = nearestOffset2D(x: x, y: y, width: W, height: H)
            for c in 0..<C { out[c * ch] = O.pixel(from: tap(src, c, o)) }
        }
    }

    @inlinable
    func bicubic<P: SamplingPolicy>(_: P.Type) {
        let (W, H, C, ch) = (s.inputWidth, s.inputHeight, s.channels, outL.channel)
        forEachPosition { src, out, gx, gy in
            let t = BicubicTaps2D(
                ix: unnormalizeVector(gx, size: W, alignCorners: P.alignCorners),
                iy: unnormalizeVector(gy, size: H, alignCorners: P.alignCorners),
                width: W, height: H, padding: P.padding, alignCorners: P.alignCorners)
            for c in 0..<C {
                // BicubicTaps2D.sample's expression: rows x0..x3 weighted by cx, then by cy.
                @inline(__always) func row(_ j: Int) -> T {
                    let y = t.ys[j]
                    @inline(__always) func at(_ i: Int) -> T {
                        let x = t.xs[i]
                        return tap(src, c, x >= 0 && y >= 0 ? y * W + x : -1)
                    }
                    return (t.cx.v0 * at(0)).addingProduct(t.cx.v1, at(1)).addingProduct(t.cx.v2, at(2))
                        .addingProduct(t.cx.v3, at(3))
                }
                let v = (t.cy.v0 * row(0)).addingProduct(t.cy.v1, row(1)).addingProduct(t.cy.v2, row(2))
                    .addingProduct(t.cy.v3, row(3))
                out[c * ch] = O.pixel(from: v)
            }
        }
    }
}
