// 2-D convolution (PyTorch's Conv2d: cross-correlation, zero padding, dilation 1, groups 1) as
// im2col + GEMM.
//
// Why im2col: the layers this engine trains are narrow (1–10 input channels, 8–20 output
// channels) with small outputs (7×7 to 24×24 — row lengths that do not fill 16-lane vectors), so a
// direct kernel vectorised along output columns would waste much of each vector at row ends;
// im2col turns every layer into one GEMM whose 5×64 register tile runs at the FMA peak (the
// micro-kernel measures ~260 GF/s single-thread here). Measured cost of that choice (Float,
// AVX-512, one thread, batch 64, `perf`): im2col is 30% of the forward time of 10×1×5×5 on
// 28×28, 39% of 20×10×5×5 on 12×12, 38% of 8×1×7×7 on 28×28 and 51% of 10×8×5×5 on 11×11 —
// short row segments (7–24 values) make the copy, not the multiply, the limit on the small
// layers. (A direct convolution was not built for comparison; the obvious next step is an
// implicit im2col over whole input rows — output columns computed over the full input width and
// the extra ones discarded — which trades the copy for 17–57% extra FMAs.)
//
// * forward:          out_n[Cout × P] = W[Cout × K] · col_n[K × P]   (packed path, W packed once)
// * backward, input:  dcol_n[K × P] = Wᵀ · dY_n, then col2im (scatter-add) into dX_n
// * backward, weight: dW[Cout × K] += dY[Cout × P·g] · col[K × P·g]ᵀ over groups of g images
//                     laid side by side (NT path: dot products along output positions)
//
// with K = Cin·KH·KW and P = Ho·Wo. Forward and input gradient are computed image by image, so
// any split of the batch gives bit-identical results.

/// Sizes of a 2-D convolution: input N×Cin×H×W, weight Cout×Cin×KH×KW, output N×Cout×Ho×Wo,
/// all dense and C-contiguous.
public struct Conv2DShape: Sendable, Equatable {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inputHeight: Int
    public var inputWidth: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int

    public init(
        batch: Int, inChannels: Int, outChannels: Int, inputHeight: Int, inputWidth: Int,
        kernelHeight: Int, kernelWidth: Int, stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0)
    ) {
        self.batch = batch; self.inChannels = inChannels; self.outChannels = outChannels
        self.inputHeight = inputHeight; self.inputWidth = inputWidth
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideHeight = stride.0; self.strideWidth = stride.1
        self.paddingHeight = padding.0; self.paddingWidth = padding.1
    }

    @inlinable public var outputHeight: Int { (inputHeight + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
    @inlinable public var outputWidth: Int { (inputWidth + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }
    /// Output positions per channel (P).
    @inlinable public var outputPlane: Int { outputHeight * outputWidth }
    /// Input pixels per channel.
    @inlinable public var inputPlane: Int { inputHeight * inputWidth }
    /// Rows of the im2col matrix (K = Cin·KH·KW): the length of one filter.
    @inlinable public var filterVolume: Int { inChannels * kernelHeight * kernelWidth }

    /// P rounded up to whole 16-lane vectors: the row pitch of the weight-gradient buffers.
    @inlinable var paddedOutputPlane: Int { (outputPlane + 15) / 16 * 16 }

    /// Images whose columns the weight gradient lays side by side (about 512 positions), so
    /// the dot products are long enough to amortise the reduction of their 16 lanes.
    @inlinable var weightGradientGroup: Int { Swift.max(1, Swift.min(batch, 512 / paddedOutputPlane)) }
}

/// Per-thread scratch elements needed by any one conv2D call on any batch range of `s`.
@inlinable
public func conv2DWorkspaceCount(_ s: Conv2DShape) -> Int {
    let K = s.filterVolume, Cout = s.outChannels
    let forward = gemmPackedACount(m: Cout, k: K) + K * s.paddedOutputPlane + gemmPanelWorkspaceCount(k: K)
    let backwardInput = gemmPackedACount(m: K, k: Cout) + K * s.paddedOutputPlane + gemmPanelWorkspaceCount(k: Cout)
    let backwardWeight = s.weightGradientGroup * s.paddedOutputPlane * (K + Cout)
    return Swift.max(forward, backwardInput, backwardWeight)
}

/// output[n] = weight ⋆ input[n] + bias for n in `batches`.
///
/// - Parameters:
///   - input: N×Cin×H×W.
///   - weight: Cout×Cin×KH×KW.
///   - bias: Cout, or nil for none.
///   - output: N×Cout×Ho×Wo; images in `batches` are overwritten.
///   - workspace: `conv2DWorkspaceCount(s)` elements, private to the caller's thread.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func conv2DForward<T: STNFloat>(
    _ s: Conv2DShape, input: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?,
    output: UnsafeMutablePointer<T>, batches: Range<Int>, workspace: UnsafeMutablePointer<T>
) {
    let K = s.filterVolume, P = s.outputPlane, Cout = s.outChannels
    let packedW = workspace
    let col = packedW + gemmPackedACount(m: Cout, k: K)
    let Pp = s.paddedOutputPlane
    let scratch = col + K * Pp
    gemmPackA(transA: false, m: Cout, k: K, a: weight, lda: K, into: packedW)
    for n in batches {
        // Rows padded with zeros to whole vectors, so the GEMM reads even the last panel in place.
        im2col(s, input + n * s.inChannels * s.inputPlane, col, pitch: Pp, paddedTo: Pp)
        let out = output + n * Cout * P
        if let bias {
            for co in 0..<Cout { (out + co * P).update(repeating: bias[co], count: P) }
        }
        gemmPackedA(
            m: Cout, n: P, k: K, packedA: packedW, b: col, ldb: Pp, transB: false,
            bPaddedToVectors: true, c: out, ldc: P, accumulate: bias != nil, workspace: scratch)
    }
}

/// gradInput[n] = d(loss)/d(input[n]) for n in `batches` (overwritten).
///
/// - Parameters:
///   - gradOutput: N×Cout×Ho×Wo.
///   - weight: Cout×Cin×KH×KW.
///   - gradInput: N×Cin×H×W.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func conv2DBackwardInput<T: STNFloat>(
    _ s: Conv2DShape, gradOutput: UnsafePointer<T>, weight: UnsafePointer<T>,
    gradInput: UnsafeMutablePointer<T>, batches: Range<Int>, workspace: UnsafeMutablePointer<T>
) {
    let K = s.filterVolume, P = s.outputPlane, Cout = s.outChannels
    let packedWT = workspace
    let Pp = s.paddedOutputPlane
    let dcol = packedWT + gemmPackedACount(m: K, k: Cout)
    let scratch = dcol + K * Pp
    // A = Wᵀ (K × Cout): W is stored Cout × K, so A[i, p] = W[p·K + i].
    gemmPackA(transA: true, m: K, k: Cout, a: weight, lda: K, into: packedWT)
    for n in batches {
        // dcol rows have a padded pitch, so ragged tiles are stored in place (columns ≥ P are
        // scratch that col2im never reads).
        gemmPackedA(
            m: K, n: P, k: Cout, packedA: packedWT, b: gradOutput + n * Cout * P, ldb: P,
            transB: false, cPaddedToVectors: true, c: dcol, ldc: Pp, accumulate: false,
            workspace: scratch)
        col2im(s, dcol, pitch: Pp, gradInput + n * s.inChannels * s.inputPlane)
    }
}

/// gradWeight += d(loss)/d(weight) and gradBias += d(loss)/d(bias) summed over `batches`.
///
/// Accumulates so that the caller can give each thread its own partial buffers and add them in a
/// fixed order; the sum over one call's images has a fixed order too (groups of
/// `weightGradientGroup` consecutive images starting at `batches.lowerBound`).
///
/// - Parameters:
///   - gradOutput: N×Cout×Ho×Wo.
///   - input: N×Cin×H×W (the forward input).
///   - gradWeight: Cout×Cin×KH×KW, accumulated.
///   - gradBias: Cout, accumulated, or nil.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func conv2DBackwardWeight<T: STNFloat>(
    _ s: Conv2DShape, gradOutput: UnsafePointer<T>, input: UnsafePointer<T>,
    gradWeight: UnsafeMutablePointer<T>, gradBias: UnsafeMutablePointer<T>?,
    batches: Range<Int>, workspace: UnsafeMutablePointer<T>
) {
    let K = s.filterVolume, P = s.outputPlane, Pp = s.paddedOutputPlane, Cout = s.outChannels
    let group = s.weightGradientGroup
    var n = batches.lowerBound
    while n < batches.upperBound {
        let g = Swift.min(group, batches.upperBound - n)
        let pitch = g * Pp
        let col = workspace, dy = workspace + K * pitch
        for i in 0..<g {
            im2col(s, input + (n + i) * s.inChannels * s.inputPlane, col + i * Pp, pitch: pitch, paddedTo: Pp)
            let src = gradOutput + (n + i) * Cout * P
            for co in 0..<Cout {
                let dst = dy + co * pitch + i * Pp
                dst.update(from: src + co * P, count: P)
                (dst + P).update(repeating: 0, count: Pp - P)
            }
        }
        gemmNT(
            m: Cout, n: K, k: pitch, a: dy, lda: pitch, b: col, ldb: pitch,
            c: gradWeight, ldc: K, accumulate: true)
        if let gradBias {
            for co in 0..<Cout {
                let row = dy + co * pitch
                var acc = SIMD16<T>()
                var p = 0
                while p < pitch { acc += simdLoad(row + p); p += 16 }
                gradBias[co] += laneSum16(acc)
            }
        }
        n += g
    }
}

/// Output columns `ow` whose input column `ow·sw + offset` lies in [0, W): `lo..<hi`.
@inlinable @inline(__always)
func validOutputColumns(offset: Int, stride sw: Int, width W: Int, outputWidth Wo: Int) -> (Int, Int) {
    let lo = offset >= 0 ? 0 : Swift.min(Wo, (-offset + sw - 1) / sw)
    let end = W - offset  // need ow·sw < end
    let hi = end <= 0 ? 0 : Swift.min(Wo, (end + sw - 1) / sw)
    return (lo, Swift.max(lo, hi))
}

/// Writes one image's im2col matrix: row k = (ci, kh, kw) at `dst + k·pitch` holds, for each
/// output position p = (oh, ow), input[ci, oh·sh − ph + kh, ow·sw − pw + kw] (zero outside),
/// followed by zeros up to `paddedTo` columns.
@inlinable
func im2col<T: STNFloat>(
    _ s: Conv2DShape, _ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, pitch: Int, paddedTo: Int
) {
    let H = s.inputHeight, W = s.inputWidth, Ho = s.outputHeight, Wo = s.outputWidth
    let sh = s.strideHeight, sw = s.strideWidth, P = Ho * Wo
    var row = dst
    if sh == 1 && sw == 1 && s.paddingHeight == 0 && s.paddingWidth == 0 {
        // The tutorial's layers: every row is Ho unclipped segments of Wo input values.
        for ci in 0..<s.inChannels {
            let plane = src + ci * H * W
            for kh in 0..<s.kernelHeight {
                for kw in 0..<s.kernelWidth {
                    copyRows(row, dstStride: Wo, plane + kh * W + kw, srcStride: W, rows: Ho, width: Wo)
                    if paddedTo > P { zeroSegment(row + P, paddedTo - P) }
                    row += pitch
                }
            }
        }
        return
    }
    for ci in 0..<s.inChannels {
        let plane = src + ci * H * W
        for kh in 0..<s.kernelHeight {
            for kw in 0..<s.kernelWidth {
                let offset = kw - s.paddingWidth
                let (lo, hi) = validOutputColumns(offset: offset, stride: sw, width: W, outputWidth: Wo)
                for oh in 0..<Ho {
                    let ih = oh * sh - s.paddingHeight + kh
                    let out = row + oh * Wo
                    if ih < 0 || ih >= H {
                        zeroSegment(out, Wo)
                        continue
                    }
                    let line = plane + ih * W + offset
                    zeroSegment(out, lo)
                    if sw == 1 {
                        copySegment(out + lo, line + lo, hi - lo)
                    } else {
                        for ow in lo..<hi { out[ow] = line[ow * sw] }
                    }
                    zeroSegment(out + hi, Wo - hi)
                }
                if paddedTo > P { zeroSegment(row + P, paddedTo - P) }
                row += pitch
            }
        }
    }
}

/// The adjoint of `im2col`: dst (one image, Cin×H×W) = Σ over im2col rows scattered back.
/// Overwrites `dst`; each input pixel sums its contributions in (ci, kh, kw, oh) order.
@inlinable
func col2im<T: STNFloat>(
    _ s: Conv2DShape, _ src: UnsafePointer<T>, pitch: Int, _ dst: UnsafeMutablePointer<T>
) {
    let H = s.inputHeight, W = s.inputWidth, Ho = s.outputHeight, Wo = s.outputWidth
    let sh = s.strideHeight, sw = s.strideWidth
    dst.update(repeating: 0, count: s.inChannels * H * W)
    var row = src
    if sh == 1 && sw == 1 && s.paddingHeight == 0 && s.paddingWidth == 0 {
        for ci in 0..<s.inChannels {
            let plane = dst + ci * H * W
            for kh in 0..<s.kernelHeight {
                for kw in 0..<s.kernelWidth {
                    addRows(plane + kh * W + kw, dstStride: W, row, srcStride: Wo, rows: Ho, width: Wo)
                    row += pitch
                }
            }
        }
        return
    }
    for ci in 0..<s.inChannels {
        let plane = dst + ci * H * W
        for kh in 0..<s.kernelHeight {
            for kw in 0..<s.kernelWidth {
                let offset = kw - s.paddingWidth
                let (lo, hi) = validOutputColumns(offset: offset, stride: sw, width: W, outputWidth: Wo)
                for oh in 0..<Ho {
                    let ih = oh * sh - s.paddingHeight + kh
                    if ih < 0 || ih >= H { continue }
                    let g = row + oh * Wo
                    let line = plane + ih * W + offset
                    if sw == 1 {
                        addSegment(line + lo, g + lo, hi - lo)
                    } else {
                        for ow in lo..<hi { line[ow * sw] += g[ow] }
                    }
                }
                row += pitch
            }
        }
    }
}

// Row segments in im2col/col2im are short (7 to 24 elements for the tutorial net), too short for
// the auto-vectoriser's 16-wide loops, so they go through a 16/8/4/1 cascade of SIMD moves.

@inlinable @inline(__always)
func copySegment<T: STNFloat>(_ dst: UnsafeMutablePointer<T>, _ src: UnsafePointer<T>, _ n: Int) {
    var i = 0
    while i + 16 <= n { simdStore(simdLoad(src + i, SIMD16<T>.self), dst + i); i += 16 }
    if i + 8 <= n { simdStore(simdLoad(src + i, SIMD8<T>.self), dst + i); i += 8 }
    if i + 4 <= n { simdStore(simdLoad(src + i, SIMD4<T>.self), dst + i); i += 4 }
    while i < n { dst[i] = src[i]; i += 1 }
}

/// `rows` segments of `width` elements, strided in both source and destination. Each segment is
/// whole vectors plus one last vector that overlaps the previous one and ends exactly at
/// `width` (a copy may write an element twice), so no segment needs a scalar tail.
@inlinable @inline(__always)
func copyRows<T: STNFloat>(
    _ dst: UnsafeMutablePointer<T>, dstStride: Int, _ src: UnsafePointer<T>, srcStride: Int,
    rows: Int, width: Int
) {
    var d = dst, s = src
    @inline(__always) func run<V: SIMD>(_: V.Type) where V.Scalar == T {
        let vl = V.scalarCount, full = width / vl, last = width - vl
        for _ in 0..<rows {
            for v in 0..<full { simdStore(simdLoad(s + vl * v, V.self), d + vl * v) }
            if full * vl != width { simdStore(simdLoad(s + last, V.self), d + last) }
            d += dstStride; s += srcStride
        }
    }
    if width >= 16 {
        run(SIMD16<T>.self)
    } else if width >= 8 {
        run(SIMD8<T>.self)
    } else if width >= 4 {
        run(SIMD4<T>.self)
    } else {
        for _ in 0..<rows {
            for j in 0..<width { d[j] = s[j] }
            d += dstStride; s += srcStride
        }
    }
}

/// dst[r, :] += src[r, :] for `rows` strided segments of `width` elements.
@inlinable @inline(__always)
func addRows<T: STNFloat>(
    _ dst: UnsafeMutablePointer<T>, dstStride: Int, _ src: UnsafePointer<T>, srcStride: Int,
    rows: Int, width: Int
) {
    let n16 = width / 16, rest = width - n16 * 16
    let has8 = rest >= 8, has4 = rest - (has8 ? 8 : 0) >= 4
    let tail = n16 * 16 + (has8 ? 8 : 0) + (has4 ? 4 : 0)
    var d = dst, s = src
    for _ in 0..<rows {
        for v in 0..<n16 {
            simdStore(simdLoad(d + 16 * v, SIMD16<T>.self) + simdLoad(s + 16 * v), d + 16 * v)
        }
        var i = n16 * 16
        if has8 { simdStore(simdLoad(d + i, SIMD8<T>.self) + simdLoad(s + i), d + i); i += 8 }
        if has4 { simdStore(simdLoad(d + i, SIMD4<T>.self) + simdLoad(s + i), d + i) }
        for j in tail..<width { d[j] += s[j] }
        d += dstStride; s += srcStride
    }
}

@inlinable @inline(__always)
func addSegment<T: STNFloat>(_ dst: UnsafeMutablePointer<T>, _ src: UnsafePointer<T>, _ n: Int) {
    var i = 0
    while i + 16 <= n { simdStore(simdLoad(dst + i, SIMD16<T>.self) + simdLoad(src + i), dst + i); i += 16 }
    if i + 8 <= n { simdStore(simdLoad(dst + i, SIMD8<T>.self) + simdLoad(src + i), dst + i); i += 8 }
    if i + 4 <= n { simdStore(simdLoad(dst + i, SIMD4<T>.self) + simdLoad(src + i), dst + i); i += 4 }
    while i < n { dst[i] += src[i]; i += 1 }
}

@inlinable @inline(__always)
func zeroSegment<T: STNFloat>(_ dst: UnsafeMutablePointer<T>, _ n: Int) {
    var i = 0
    while i + 16 <= n { simdStore(SIMD16<T>(), dst + i); i += 16 }
    if i + 8 <= n { simdStore(SIMD8<T>(), dst + i); i += 8 }
    if i + 4 <= n { simdStore(SIMD4<T>(), dst + i); i += 4 }
    while i < n { dst[i] = 0; i += 1 }
}
