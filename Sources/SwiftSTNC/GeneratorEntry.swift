import SwiftSTN

// The C ABI of the projective and thin-plate-spline grid generators. Glue only: read shapes and
// codes, pick the dtype, call the validated Swift API, report. Declarations and documentation:
// include/swiftstn.h ("perspective_grid" and "tps_grid" sections).

// MARK: perspective_grid

@_cdecl("stn_perspective_grid_shape")
public func stn_perspective_grid_shape(
    _ hShape: UnsafePointer<Int64>?, _ hNdim: Int32, _ size: UnsafePointer<Int64>?, _ sizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let shape = try PerspectiveGrid.outputShape(
            homographyShape: try readShape(hShape, hNdim, name: "H"),
            size: try readShape(size, sizeLen, name: "size"))
        try writeShape(shape, outShape, outNdim)
    }
}

@_cdecl("stn_perspective_grid")
public func stn_perspective_grid(
    _ dtype: Int32, _ homography: UnsafeRawPointer?, _ hShape: UnsafePointer<Int64>?, _ hNdim: Int32,
    _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32, _ grid: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let hs = try readShape(hShape, hNdim, name: "H")
        let sz = try readShape(size, sizeLen, name: "size")
        _ = try PerspectiveGrid.outputShape(homographyShape: hs, size: sz)
        let m = try require(homography, "H"), g = try requireMutable(grid, "grid")
        func run<T: STNFloat>(_: T.Type) throws {
            try PerspectiveGrid.run(
                homography: m.assumingMemoryBound(to: T.self), homographyShape: hs, size: sz,
                alignCorners: alignCorners != 0, grid: g.assumingMemoryBound(to: T.self))
        }
        try withScalarType(dtype) { try run($0) }
    }
}

@_cdecl("stn_perspective_grid_backward_shape")
public func stn_perspective_grid_backward_shape(
    _ gradGridShape: UnsafePointer<Int64>?, _ gradGridNdim: Int32, _ hShape: UnsafePointer<Int64>?, _ hNdim: Int32,
    _ size: UnsafePointer<Int64>?, _ sizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let shape = try PerspectiveGrid.backwardShape(
            gradGridShape: try readShape(gradGridShape, gradGridNdim, name: "grad_grid"),
            homographyShape: try readShape(hShape, hNdim, name: "H"),
            size: try readShape(size, sizeLen, name: "size"))
        try writeShape(shape, outShape, outNdim)
    }
}

@_cdecl("stn_perspective_grid_backward")
public func stn_perspective_grid_backward(
    _ dtype: Int32, _ gradGrid: UnsafeRawPointer?, _ gradGridShape: UnsafePointer<Int64>?, _ gradGridNdim: Int32,
    _ homography: UnsafeRawPointer?, _ hShape: UnsafePointer<Int64>?, _ hNdim: Int32,
    _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32, _ gradH: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let gs = try readShape(gradGridShape, gradGridNdim, name: "grad_grid")
        let hs = try readShape(hShape, hNdim, name: "H")
        let sz = try readShape(size, sizeLen, name: "size")
        _ = try PerspectiveGrid.backwardShape(gradGridShape: gs, homographyShape: hs, size: sz)
        let g = try require(gradGrid, "grad_grid"), m = try require(homography, "H")
        let o = try requireMutable(gradH, "grad_H")
        func run<T: STNFloat>(_: T.Type) throws {
            try PerspectiveGrid.runBackward(
                gradGrid: g.assumingMemoryBound(to: T.self), gradGridShape: gs,
                homography: m.assumingMemoryBound(to: T.self), homographyShape: hs,
                size: sz, alignCorners: alignCorners != 0,
                gradHomography: o.assumingMemoryBound(to: T.self))
        }
        try withScalarType(dtype) { try run($0) }
    }
}

// MARK: tps_grid

/// The control-point shape of a call: NULL means "the default grid, K from displacements".
private func readControlPointsShape(_ shape: UnsafePointer<Int64>?, _ ndim: Int32) throws -> [Int]? {
    guard let shape else { return nil }
    return try readShape(shape, ndim, name: "control_points")
}

@_cdecl("stn_tps_grid_shape")
public func stn_tps_grid_shape(
    _ dShape: UnsafePointer<Int64>?, _ dNdim: Int32, _ cpShape: UnsafePointer<Int64>?, _ cpNdim: Int32,
    _ regular: Int32, _ size: UnsafePointer<Int64>?, _ sizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let shape = try TPSGrid.outputShape(
            displacementsShape: try readShape(dShape, dNdim, name: "displacements"),
            controlPointsShape: try readControlPointsShape(cpShape, cpNdim),
            size: try readShape(size, sizeLen, name: "size"), regular: regular != 0)
        try writeShape(shape, outShape, outNdim)
    }
}

@_cdecl("stn_tps_grid")
public func stn_tps_grid(
    _ dtype: Int32, _ displacements: UnsafeRawPointer?, _ dShape: UnsafePointer<Int64>?, _ dNdim: Int32,
    _ controlPoints: UnsafePointer<Double>?, _ cpShape: UnsafePointer<Int64>?, _ cpNdim: Int32,
    _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32, _ grid: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let ds = try readShape(dShape, dNdim, name: "displacements")
        let cs = try readControlPointsShape(cpShape, cpNdim)
        let sz = try readShape(size, sizeLen, name: "size")
        _ = try TPSGrid.outputShape(
            displacementsShape: ds, controlPointsShape: cs, size: sz, regular: controlPoints == nil)
        let d = try require(displacements, "displacements"), g = try requireMutable(grid, "grid")
        func run<T: STNFloat>(_: T.Type) throws {
            try TPSGrid.run(
                displacements: d.assumingMemoryBound(to: T.self), displacementsShape: ds,
                controlPoints: controlPoints, controlPointsShape: cs, size: sz,
                alignCorners: alignCorners != 0, grid: g.assumingMemoryBound(to: T.self))
        }
        try withScalarType(dtype) { try run($0) }
    }
}

@_cdecl("stn_tps_grid_backward_shape")
public func stn_tps_grid_backward_shape(
    _ gradGridShape: UnsafePointer<Int64>?, _ gradGridNdim: Int32, _ cpShape: UnsafePointer<Int64>?, _ cpNdim: Int32,
    _ regular: Int32, _ size: UnsafePointer<Int64>?, _ sizeLen: Int32,
    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let shape = try TPSGrid.backwardShape(
            gradGridShape: try readShape(gradGridShape, gradGridNdim, name: "grad_grid"),
            controlPointsShape: try readShape(cpShape, cpNdim, name: "control_points"),
            size: try readShape(size, sizeLen, name: "size"), regular: regular != 0)
        try writeShape(shape, outShape, outNdim)
    }
}

@_cdecl("stn_tps_grid_backward")
public func stn_tps_grid_backward(
    _ dtype: Int32, _ gradGrid: UnsafeRawPointer?, _ gradGridShape: UnsafePointer<Int64>?, _ gradGridNdim: Int32,
    _ controlPoints: UnsafePointer<Double>?, _ cpShape: UnsafePointer<Int64>?, _ cpNdim: Int32,
    _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32,
    _ gradDisplacements: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let gs = try readShape(gradGridShape, gradGridNdim, name: "grad_grid")
        let cs = try readShape(cpShape, cpNdim, name: "control_points")
        let sz = try readShape(size, sizeLen, name: "size")
        _ = try TPSGrid.backwardShape(
            gradGridShape: gs, controlPointsShape: cs, size: sz, regular: controlPoints == nil)
        let g = try require(gradGrid, "grad_grid"), o = try requireMutable(gradDisplacements, "grad_displacements")
        func run<T: STNFloat>(_: T.Type) throws {
            try TPSGrid.runBackward(
                gradGrid: g.assumingMemoryBound(to: T.self), gradGridShape: gs,
                controlPoints: controlPoints, controlPointsShape: cs, size: sz,
                alignCorners: alignCorners != 0,
                gradDisplacements: o.assumingMemoryBound(to: T.self))
        }
        try withScalarType(dtype) { try run($0) }
    }
}
