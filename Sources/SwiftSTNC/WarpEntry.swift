import SwiftSTN

// The C ABI of the fused warps (warp_affine, warp_perspective). Glue only: read shapes and
// codes, pick the dtype, call the validated Swift API, report. Declarations and documentation:
// include/swiftstn.h ("fused warps" section).

private func warpShape(
    _ kind: Warp.Kind, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32, _ mShape: UnsafePointer<Int64>?,
    _ mNdim: Int32, _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?
) throws {
    let shape = try Warp.outputShape(
        kind: kind, inputShape: try readShape(inputShape, inputNdim, name: "input"),
        matrixShape: try readShape(mShape, mNdim, name: kind == .affine ? "theta" : "H"),
        outSize: try readShape(outSize, outSizeLen, name: "out_size"))
    try writeShape(shape, outShape, outNdim)
}

private func warp(
    _ kind: Warp.Kind, _ dtype: Int32, _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?,
    _ inputNdim: Int32,
    _ matrices: UnsafeRawPointer?, _ mShape: UnsafePointer<Int64>?, _ mNdim: Int32,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ mode: Int32, _ padding: Int32, _ alignCorners: Int32,
    _ fill: UnsafeRawPointer?, _ fillLen: Int64, _ output: UnsafeMutableRawPointer?
) throws {
    let name = kind == .affine ? "theta" : "H"
    let ins = try readShape(inputShape, inputNdim, name: "input")
    let ms = try readShape(mShape, mNdim, name: name)
    let os = try readShape(outSize, outSizeLen, name: "out_size")
    let m = try interpolation(mode)
    let (p, usesFill) = try paddingWithFill(padding)
    let outShape = try Warp.outputShape(kind: kind, inputShape: ins, matrixShape: ms, outSize: os)
    let dt = try DType(code: dtype)
    func run<T: STNFloat>(_: T.Type) throws {
        let f = try fillBuffer(fill, fillLen, usesFill: usesFill, as: T.self)
        if let f {
            _ = try GridSample.fillValues(
                f, inputShape: ins, padding: p, op: kind == .affine ? "warp_affine" : "warp_perspective")
        }
        if outShape.reduce(1, *) == 0 { return }
        let i = try require(input, "input"), t = try require(matrices, name), o = try requireMutable(output, "output")
        try Warp.run(
            kind: kind, input: i.assumingMemoryBound(to: T.self), inputShape: ins,
            matrices: t.assumingMemoryBound(to: T.self), matrixShape: ms, outSize: os, mode: m, padding: p,
            alignCorners: alignCorners != 0, fill: f, output: o.assumingMemoryBound(to: T.self))
    }
    switch dt {
    case .float32: try run(Float.self)
    case .float64: try run(Double.self)
    }
}

private func warpBackward(
    _ kind: Warp.Kind, _ dtype: Int32, _ gradOutput: UnsafeRawPointer?, _ gradOutputShape: UnsafePointer<Int64>?,
    _ gradOutputNdim: Int32, _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ matrices: UnsafeRawPointer?, _ mShape: UnsafePointer<Int64>?, _ mNdim: Int32,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ mode: Int32, _ padding: Int32, _ alignCorners: Int32,
    _ fill: UnsafeRawPointer?, _ fillLen: Int64, _ gradInput: UnsafeMutableRawPointer?,
    _ gradMatrices: UnsafeMutableRawPointer?
) throws {
    let name = kind == .affine ? "theta" : "H"
    let gos = try readShape(gradOutputShape, gradOutputNdim, name: "grad_output")
    let ins = try readShape(inputShape, inputNdim, name: "input")
    let ms = try readShape(mShape, mNdim, name: name)
    let os = try readShape(outSize, outSizeLen, name: "out_size")
    let m = try interpolation(mode)
    let (p, usesFill) = try paddingWithFill(padding)
    let op = kind == .affine ? "warp_affine_backward" : "warp_perspective_backward"
    _ = try Warp.outputShape(kind: kind, inputShape: ins, matrixShape: ms, outSize: os, op: op)
    let dt = try DType(code: dtype)
    // Empty tensors may come with NULL data; give the kernels a harmless address instead.
    var scratch = 0.0
    try withUnsafeMutablePointer(to: &scratch) { s in
        let dummy = UnsafeMutableRawPointer(s)
        let go = gos.reduce(1, *) == 0 ? UnsafeRawPointer(dummy) : try require(gradOutput, "grad_output")
        let i = ins.reduce(1, *) == 0 ? UnsafeRawPointer(dummy) : try require(input, "input")
        let t = ms.reduce(1, *) == 0 ? UnsafeRawPointer(dummy) : try require(matrices, name)
        let gm = ms.reduce(1, *) == 0 ? dummy : try requireMutable(gradMatrices, "grad_" + name)
        let gi: UnsafeMutableRawPointer? = ins.reduce(1, *) == 0 ? nil : gradInput
        func run<T: STNFloat>(_: T.Type) throws {
            try Warp.runBackward(
                kind: kind, gradOutput: go.assumingMemoryBound(to: T.self), gradOutputShape: gos,
                input: i.assumingMemoryBound(to: T.self), inputShape: ins, matrices: t.assumingMemoryBound(to: T.self),
                matrixShape: ms, outSize: os, mode: m, padding: p, alignCorners: alignCorners != 0,
                fill: try fillBuffer(fill, fillLen, usesFill: usesFill, as: T.self),
                gradInput: gi?.assumingMemoryBound(to: T.self), gradMatrices: gm.assumingMemoryBound(to: T.self))
        }
        switch dt {
        case .float32: try run(Float.self)
        case .float64: try run(Double.self)
        }
    }
}

// MARK: warp_affine

@_cdecl("stn_warp_affine_shape")
public func stn_warp_affine_shape(
    _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32, _ thetaShape: UnsafePointer<Int64>?, _ thetaNdim: Int32,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try warpShape(.affine, inputShape, inputNdim, thetaShape, thetaNdim, outSize, outSizeLen, outShape, outNdim)
    }
}

@_cdecl("stn_warp_affine")
public func stn_warp_affine(
    _ dtype: Int32, _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ theta: UnsafeRawPointer?, _ thetaShape: UnsafePointer<Int64>?, _ thetaNdim: Int32,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ mode: Int32, _ padding: Int32, _ alignCorners: Int32,
    _ fill: UnsafeRawPointer?, _ fillLen: Int64, _ output: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try warp(
            .affine, dtype, input, inputShape, inputNdim, theta, thetaShape, thetaNdim, outSize, outSizeLen,
            mode, padding, alignCorners, fill, fillLen, output)
    }
}

@_cdecl("stn_warp_affine_backward")
public func stn_warp_affine_backward(
    _ dtype: Int32, _ gradOutput: UnsafeRawPointer?, _ gradOutputShape: UnsafePointer<Int64>?, _ gradOutputNdim: Int32,
    _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ theta: UnsafeRawPointer?, _ thetaShape: UnsafePointer<Int64>?, _ thetaNdim: Int32,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ mode: Int32, _ padding: Int32, _ alignCorners: Int32,
    _ fill: UnsafeRawPointer?, _ fillLen: Int64,
    _ gradInput: UnsafeMutableRawPointer?, _ gradTheta: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try warpBackward(
            .affine, dtype, gradOutput, gradOutputShape, gradOutputNdim, input, inputShape, inputNdim,
            theta, thetaShape, thetaNdim, outSize, outSizeLen, mode, padding, alignCorners, fill, fillLen,
            gradInput, gradTheta)
    }
}

// MARK: warp_perspective

@_cdecl("stn_warp_perspective_shape")
public func stn_warp_perspective_shape(
    _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32, _ hShape: UnsafePointer<Int64>?, _ hNdim: Int32,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try warpShape(.perspective, inputShape, inputNdim, hShape, hNdim, outSize, outSizeLen, outShape, outNdim)
    }
}

@_cdecl("stn_warp_perspective")
public func stn_warp_perspective(
    _ dtype: Int32, _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ homography: UnsafeRawPointer?, _ hShape: UnsafePointer<Int64>?, _ hNdim: Int32,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ mode: Int32, _ padding: Int32, _ alignCorners: Int32,
    _ fill: UnsafeRawPointer?, _ fillLen: Int64, _ output: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try warp(
            .perspective, dtype, input, inputShape, inputNdim, homography, hShape, hNdim, outSize, outSizeLen,
            mode, padding, alignCorners, fill, fillLen, output)
    }
}

@_cdecl("stn_warp_perspective_backward")
public func stn_warp_perspective_backward(
    _ dtype: Int32, _ gradOutput: UnsafeRawPointer?, _ gradOutputShape: UnsafePointer<Int64>?, _ gradOutputNdim: Int32,
    _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ homography: UnsafeRawPointer?, _ hShape: UnsafePointer<Int64>?, _ hNdim: Int32,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ mode: Int32, _ padding: Int32, _ alignCorners: Int32,
    _ fill: UnsafeRawPointer?, _ fillLen: Int64,
    _ gradInput: UnsafeMutableRawPointer?, _ gradH: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try warpBackward(
            .perspective, dtype, gradOutput, gradOutputShape, gradOutputNdim, input, inputShape, inputNdim,
            homography, hShape, hNdim, outSize, outSizeLen, mode, padding, alignCorners, fill, fillLen,
            gradInput, gradH)
    }
}
