import SwiftSTN

// The C ABI of the grid generators (affine, projective, thin-plate spline): read the
// descriptors, validate once, answer the shape query or run. Declarations and documentation:
// include/swiftstn.h ("affine_grid", "perspective_grid" and "tps_grid" sections).

// MARK: affine_grid, perspective_grid

/// The matrix generators: affine_grid (theta) and perspective_grid (H).
private enum MatrixGenerator {
    case affine, perspective
}

/// One matrix-generator call, forward (matrices -> grid) or backward (grad_grid [and H] ->
/// gradient of the matrices).
private func generate(
    _ g: MatrixGenerator, backward: Bool, _ first: UnsafeRawPointer?, _ homography: UnsafeRawPointer?,
    _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32, _ output: UnsafeMutableRawPointer?
) throws {
    let matrix = g == .affine ? "theta" : "H"
    let op = (g == .affine ? "affine_grid" : "perspective_grid") + (backward ? "_backward" : "")
    let a = try TensorArg(first, backward ? "grad_grid" : matrix)
    let h = g == .perspective && backward ? try TensorArg(homography, "H") : nil
    let sz = try readSize(size, sizeLen, name: "size")
    let out = try OutputArg(output, backward ? "grad_" + matrix : "grid")
    let dt = try callDType(a, h, op: op)
    let shape: [Int]
    switch (g, h) {
    case (.affine, _) where backward: shape = try AffineGrid.backwardShape(gradGridShape: a.shape, size: sz)
    case (.affine, _): shape = try AffineGrid.outputShape(thetaShape: a.shape, size: sz)
    case (.perspective, let h?):
        shape = try PerspectiveGrid.backwardShape(gradGridShape: a.shape, homographyShape: h.shape, size: sz)
    case (.perspective, nil): shape = try PerspectiveGrid.outputShape(homographyShape: a.shape, size: sz)
    }
    guard describeOutputs([(out, shape)], dtype: dt) else { return }
    let ac = alignCorners != 0
    func run<T: STNFloat>(_: T.Type) throws {
        let x = try a.pointer(T.self), o = out.pointer(T.self, empty: false)
        switch (g, h) {
        case (.affine, _) where backward:
            try AffineGrid.runBackward(gradGrid: x, gradGridShape: a.shape, size: sz, alignCorners: ac, gradTheta: o)
        case (.affine, _):
            try AffineGrid.run(theta: x, thetaShape: a.shape, size: sz, alignCorners: ac, grid: o)
        case (.perspective, let h?):
            try PerspectiveGrid.runBackward(
                gradGrid: x, gradGridShape: a.shape, homography: try h.pointer(T.self), homographyShape: h.shape,
                size: sz, alignCorners: ac, gradHomography: o)
        case (.perspective, nil):
            try PerspectiveGrid.run(homography: x, homographyShape: a.shape, size: sz, alignCorners: ac, grid: o)
        }
    }
    try withScalarType(dt) { try run($0) }
}

@_cdecl("stn_affine_grid")
public func stn_affine_grid(
    _ theta: UnsafeRawPointer?, _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32,
    _ grid: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) { try generate(.affine, backward: false, theta, nil, size, sizeLen, alignCorners, grid) }
}

@_cdecl("stn_affine_grid_backward")
public func stn_affine_grid_backward(
    _ gradGrid: UnsafeRawPointer?, _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32,
    _ gradTheta: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try generate(.affine, backward: true, gradGrid, nil, size, sizeLen, alignCorners, gradTheta)
    }
}

@_cdecl("stn_perspective_grid")
public func stn_perspective_grid(
    _ homography: UnsafeRawPointer?, _ size: UnsafePointer<Int64>?, _ sizeLen: Int32, _ alignCorners: Int32,
    _ grid: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try generate(.perspective, backward: false, homography, nil, size, sizeLen, alignCorners, grid)
    }
}

@_cdecl("stn_perspective_grid_backward")
public func stn_perspective_grid_backward(
    _ gradGrid: UnsafeRawPointer?, _ homography: UnsafeRawPointer?, _ size: UnsafePointer<Int64>?,
    _ sizeLen: Int32, _ alignCorners: Int32, _ gradH: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try generate(.perspective, backward: true, gradGrid, homography, size, sizeLen, alignCorners, gradH)
    }
}

// MARK: tps_grid

/// The control points of a call: nil (the default grid, K from displacements), the default grid
/// of the descriptor's K (data NULL), or the caller's float64 points.
private struct ControlPoints {
    let shape: [Int]?
    let points: UnsafePointer<Double>?
    var regular: Bool { points == nil }

    init(_ descriptor: UnsafeRawPointer?) throws {
        guard let descriptor else {
            (shape, points) = (nil, nil)
            return
        }
        let c = try TensorArg(descriptor, "control_points")
        shape = c.shape
        guard let data = c.data else {
            points = nil
            return
        }
        guard c.dtypeCode == DType.float64.rawValue else {
            throw STNError(.invalidType, "control_points must be float64 (dtype code 1), got dtype code \(c.dtypeCode)")
        }
        points = UnsafePointer(data.assumingMemoryBound(to: Double.self))
    }
}

@_cdecl("stn_tps_grid")
public func stn_tps_grid(
    _ displacements: UnsafeRawPointer?, _ controlPoints: UnsafeRawPointer?, _ size: UnsafePointer<Int64>?,
    _ sizeLen: Int32, _ alignCorners: Int32, _ grid: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let d = try TensorArg(displacements, "displacements"), c = try ControlPoints(controlPoints)
        let sz = try readSize(size, sizeLen, name: "size")
        let out = try OutputArg(grid, "grid")
        let dt = try callDType(d, op: "tps_grid")
        let shape = try TPSGrid.outputShape(
            displacementsShape: d.shape, controlPointsShape: c.shape, size: sz, regular: c.regular)
        guard describeOutputs([(out, shape)], dtype: dt) else { return }
        func run<T: STNFloat>(_: T.Type) throws {
            try TPSGrid.run(
                displacements: try d.pointer(T.self), displacementsShape: d.shape, controlPoints: c.points,
                controlPointsShape: c.shape, size: sz, alignCorners: alignCorners != 0,
                grid: out.pointer(T.self, empty: false))
        }
        try withScalarType(dt) { try run($0) }
    }
}

@_cdecl("stn_tps_grid_backward")
public func stn_tps_grid_backward(
    _ gradGrid: UnsafeRawPointer?, _ controlPoints: UnsafeRawPointer?, _ size: UnsafePointer<Int64>?,
    _ sizeLen: Int32, _ alignCorners: Int32, _ gradDisplacements: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let g = try TensorArg(gradGrid, "grad_grid"), c = try ControlPoints(controlPoints)
        guard let cs = c.shape else {
            throw STNError(.invalidArgument, "tps_grid_backward: control_points is required (its shape gives K)")
        }
        let sz = try readSize(size, sizeLen, name: "size")
        let out = try OutputArg(gradDisplacements, "grad_displacements")
        let dt = try callDType(g, op: "tps_grid_backward")
        let shape = try TPSGrid.backwardShape(
            gradGridShape: g.shape, controlPointsShape: cs, size: sz, regular: c.regular)
        guard describeOutputs([(out, shape)], dtype: dt) else { return }
        func run<T: STNFloat>(_: T.Type) throws {
            try TPSGrid.runBackward(
                gradGrid: try g.pointer(T.self), gradGridShape: g.shape, controlPoints: c.points,
                controlPointsShape: cs, size: sz, alignCorners: alignCorners != 0,
                gradDisplacements: out.pointer(T.self, empty: false))
        }
        try withScalarType(dt) { try run($0) }
    }
}
