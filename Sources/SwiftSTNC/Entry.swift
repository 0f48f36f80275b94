import SwiftSTN

// The exported C functions. Each one is glue: read shapes and codes, pick the dtype, call the
// validated Swift API, report. Declarations and documentation: include/swiftstn.h.

private let versionString: StaticString = "0.1.0"

@_cdecl("stn_version")
public func stn_version() -> UnsafePointer<CChar> {
    UnsafeRawPointer(versionString.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("stn_set_num_threads")
public func stn_set_num_threads(_ n: Int32, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int) -> Int32 {
    reporting(err, errLen) {
        guard n >= 1 else { throw STNError(.invalidArgument, "num_threads must be at least 1, got \(n)") }
        Threading.threadCount = Int(n)
    }
}

@_cdecl("stn_get_num_threads")
public func stn_get_num_threads() -> Int32 { Int32(clamping: Threading.threadCount) }

// MARK: affine_grid

@_cdecl("stn_affine_grid_shape")
public func stn_affine_grid_shape(
    _ thetaShape: UnsafePointer<Int64>?, _ thetaNdim: Int32, _ size: UnsafePointer<Int64>?, _ sizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let shape = try AffineGrid.outputShape(
            thetaShape: try readShape(thetaShape, thetaNdim, name: "theta"),
            size: try readShape(size, sizeLen, name: "size"))
        try writeShape(shape, outShape, outNdim)
    }
}

@_cdecl("stn_affine_grid")
public func stn_affine_grid(
    _ dtype: Int32, _ theta: UnsafeRawPointer?, _ thetaShape: UnsafePointer<Int64>?, _ thetaNdim: Int32,
    _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32, _ grid: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let ts = try readShape(thetaShape, thetaNdim, name: "theta")
        let sz = try readShape(size, sizeLen, name: "size")
        _ = try AffineGrid.outputShape(thetaShape: ts, size: sz)
        let t = try require(theta, "theta"), g = try requireMutable(grid, "grid")
        func run<T: STNFloat>(_: T.Type) throws {
            try AffineGrid.run(
                theta: t.assumingMemoryBound(to: T.self), thetaShape: ts, size: sz,
                alignCorners: alignCorners != 0, grid: g.assumingMemoryBound(to: T.self))
        }
        try withScalarType(dtype) { try run($0) }
    }
}

@_cdecl("stn_affine_grid_backward_shape")
public func stn_affine_grid_backward_shape(
    _ gradGridShape: UnsafePointer<Int64>?, _ gradGridNdim: Int32, _ size: UnsafePointer<Int64>?, _ sizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let shape = try AffineGrid.backwardShape(
            gradGridShape: try readShape(gradGridShape, gradGridNdim, name: "grad_grid"),
            size: try readShape(size, sizeLen, name: "size"))
        try writeShape(shape, outShape, outNdim)
    }
}

@_cdecl("stn_affine_grid_backward")
public func stn_affine_grid_backward(
    _ dtype: Int32, _ gradGrid: UnsafeRawPointer?, _ gradGridShape: UnsafePointer<Int64>?, _ gradGridNdim: Int32,
    _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32, _ gradTheta: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let gs = try readShape(gradGridShape, gradGridNdim, name: "grad_grid")
        let sz = try readShape(size, sizeLen, name: "size")
        _ = try AffineGrid.backwardShape(gradGridShape: gs, size: sz)
        let g = try require(gradGrid, "grad_grid"), t = try requireMutable(gradTheta, "grad_theta")
        func run<T: STNFloat>(_: T.Type) throws {
            try AffineGrid.runBackward(
                gradGrid: g.assumingMemoryBound(to: T.self), gradGridShape: gs, size: sz,
                alignCorners: alignCorners != 0, gradTheta: t.assumingMemoryBound(to: T.self))
        }
        try withScalarType(dtype) { try run($0) }
    }
}

// MARK: grid_sample

@_cdecl("stn_grid_sample_shape")
public func stn_grid_sample_shape(
    _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32, _ gridShape: UnsafePointer<Int64>?, _ gridNdim: Int32,
    _ mode: Int32, _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let shape = try GridSample.outputShape(
            inputShape: try readShape(inputShape, inputNdim, name: "input"),
            gridShape: try readShape(gridShape, gridNdim, name: "grid"),
            mode: try interpolation(mode))
        try writeShape(shape, outShape, outNdim)
    }
}

@_cdecl("stn_grid_sample")
public func stn_grid_sample(
    _ dtype: Int32, _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ grid: UnsafeRawPointer?, _ gridShape: UnsafePointer<Int64>?, _ gridNdim: Int32,
    _ mode: Int32, _ padding: Int32, _ alignCorners: Int32, _ output: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try gridSample(
            dtype, input, inputShape, inputNdim, grid, gridShape, gridNdim, mode, try paddingMode(padding), false,
            alignCorners, nil, 0, output)
    }
}

@_cdecl("stn_grid_sample_fill")
public func stn_grid_sample_fill(
    _ dtype: Int32, _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ grid: UnsafeRawPointer?, _ gridShape: UnsafePointer<Int64>?, _ gridNdim: Int32,
    _ mode: Int32, _ padding: Int32, _ alignCorners: Int32, _ fill: UnsafeRawPointer?, _ fillLen: Int64,
    _ output: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let (p, usesFill) = try paddingWithFill(padding)
        try gridSample(
            dtype, input, inputShape, inputNdim, grid, gridShape, gridNdim, mode, p, usesFill,
            alignCorners, fill, fillLen, output)
    }
}

private func gridSample(
    _ dtype: Int32, _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ grid: UnsafeRawPointer?, _ gridShape: UnsafePointer<Int64>?, _ gridNdim: Int32,
    _ mode: Int32, _ p: PaddingMode, _ usesFill: Bool, _ alignCorners: Int32, _ fill: UnsafeRawPointer?,
    _ fillLen: Int64,
    _ output: UnsafeMutableRawPointer?
) throws {
    let ins = try readShape(inputShape, inputNdim, name: "input")
    let gs = try readShape(gridShape, gridNdim, name: "grid")
    let m = try interpolation(mode)
    let outShape = try GridSample.outputShape(inputShape: ins, gridShape: gs, mode: m)
    let dt = try DType(code: dtype)
    func run<T: STNFloat>(_: T.Type) throws {
        let f = try fillBuffer(fill, fillLen, usesFill: usesFill, as: T.self)
        if let f { _ = try GridSample.fillValues(f, inputShape: ins, padding: p) }
        if outShape.reduce(1, *) == 0 { return }
        let i = try require(input, "input"), g = try require(grid, "grid"), o = try requireMutable(output, "output")
        try GridSample.run(
            input: i.assumingMemoryBound(to: T.self), inputShape: ins,
            grid: g.assumingMemoryBound(to: T.self), gridShape: gs, mode: m, padding: p,
            alignCorners: alignCorners != 0, fill: f, output: o.assumingMemoryBound(to: T.self))
    }
    switch dt {
    case .float32: try run(Float.self)
    case .float64: try run(Double.self)
    }
}

@_cdecl("stn_grid_sample_backward")
public func stn_grid_sample_backward(
    _ dtype: Int32, _ gradOutput: UnsafeRawPointer?, _ gradOutputShape: UnsafePointer<Int64>?, _ gradOutputNdim: Int32,
    _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ grid: UnsafeRawPointer?, _ gridShape: UnsafePointer<Int64>?, _ gridNdim: Int32,
    _ mode: Int32, _ padding: Int32, _ alignCorners: Int32,
    _ gradInput: UnsafeMutableRawPointer?, _ gradGrid: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try gridSampleBackward(
            dtype, gradOutput, gradOutputShape, gradOutputNdim, input, inputShape, inputNdim, grid, gridShape,
            gridNdim, mode, try paddingMode(padding), false, alignCorners, nil, 0, gradInput, gradGrid)
    }
}

@_cdecl("stn_grid_sample_backward_fill")
public func stn_grid_sample_backward_fill(
    _ dtype: Int32, _ gradOutput: UnsafeRawPointer?, _ gradOutputShape: UnsafePointer<Int64>?, _ gradOutputNdim: Int32,
    _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ grid: UnsafeRawPointer?, _ gridShape: UnsafePointer<Int64>?, _ gridNdim: Int32,
    _ mode: Int32, _ padding: Int32, _ alignCorners: Int32, _ fill: UnsafeRawPointer?, _ fillLen: Int64,
    _ gradInput: UnsafeMutableRawPointer?, _ gradGrid: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let (p, usesFill) = try paddingWithFill(padding)
        try gridSampleBackward(
            dtype, gradOutput, gradOutputShape, gradOutputNdim, input, inputShape, inputNdim, grid, gridShape,
            gridNdim, mode, p, usesFill, alignCorners, fill, fillLen, gradInput, gradGrid)
    }
}

private func gridSampleBackward(
    _ dtype: Int32, _ gradOutput: UnsafeRawPointer?, _ gradOutputShape: UnsafePointer<Int64>?, _ gradOutputNdim: Int32,
    _ input: UnsafeRawPointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNdim: Int32,
    _ grid: UnsafeRawPointer?, _ gridShape: UnsafePointer<Int64>?, _ gridNdim: Int32,
    _ mode: Int32, _ p: PaddingMode, _ usesFill: Bool, _ alignCorners: Int32, _ fill: UnsafeRawPointer?,
    _ fillLen: Int64,
    _ gradInput: UnsafeMutableRawPointer?, _ gradGrid: UnsafeMutableRawPointer?
) throws {
    let gos = try readShape(gradOutputShape, gradOutputNdim, name: "grad_output")
    let ins = try readShape(inputShape, inputNdim, name: "input")
    let gs = try readShape(gridShape, gridNdim, name: "grid")
    let m = try interpolation(mode)
    _ = try GridSample.outputShape(inputShape: ins, gridShape: gs, mode: m, op: "grid_sample_backward")
    let dt = try DType(code: dtype)
    // Empty tensors may come with NULL data; give the kernels a harmless address instead.
    var scratch = 0.0
    try withUnsafeMutablePointer(to: &scratch) { s in
        let dummy = UnsafeMutableRawPointer(s)
        let go = gos.reduce(1, *) == 0 ? UnsafeRawPointer(dummy) : try require(gradOutput, "grad_output")
        let i = ins.reduce(1, *) == 0 ? UnsafeRawPointer(dummy) : try require(input, "input")
        let g = gs.reduce(1, *) == 0 ? UnsafeRawPointer(dummy) : try require(grid, "grid")
        let gg = gs.reduce(1, *) == 0 ? dummy : try requireMutable(gradGrid, "grad_grid")
        let gi: UnsafeMutableRawPointer? = ins.reduce(1, *) == 0 ? nil : gradInput
        func run<T: STNFloat>(_: T.Type) throws {
            try GridSample.runBackward(
                gradOutput: go.assumingMemoryBound(to: T.self), gradOutputShape: gos,
                input: i.assumingMemoryBound(to: T.self), inputShape: ins,
                grid: g.assumingMemoryBound(to: T.self), gridShape: gs, mode: m, padding: p,
                alignCorners: alignCorners != 0, fill: try fillBuffer(fill, fillLen, usesFill: usesFill, as: T.self),
                gradInput: gi?.assumingMemoryBound(to: T.self), gradGrid: gg.assumingMemoryBound(to: T.self))
        }
        switch dt {
        case .float32: try run(Float.self)
        case .float64: try run(Double.self)
        }
    }
}
