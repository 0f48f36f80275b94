import STNKernels

/// `affine_grid`: validation, threading and the safe Swift API around the grid-generator kernels.
///
/// theta is N×2×3 for a 4-D `size` (N, C, H, W), giving a grid N×H×W×2, or N×3×4 for a 5-D size
/// (N, C, D, H, W), giving N×D×H×W×3 — `torch.nn.functional.affine_grid`'s contract.
public enum AffineGrid {
    /// Checks `size` and returns the shape theta must have.
    public static func thetaShape(size: [Int], op: String = "affine_grid") throws -> [Int] {
        guard size.count == 4 || size.count == 5 else {
            throw STNError.invalid(
                "\(op): size must have 4 elements (N, C, H, W) for a 2-D transform or 5 (N, C, D, H, W) for a 3-D one, got size \(describeShape(size))"
            )
        }
        guard size.allSatisfy({ $0 > 0 }) else {
            throw STNError.invalid("\(op): expected a positive output size, got size \(describeShape(size))")
        }
        _ = try elementCount(size, name: "size")
        return size.count == 4 ? [size[0], 2, 3] : [size[0], 3, 4]
    }

    /// The grid shape for `size`: (N, H, W, 2) or (N, D, H, W, 3).
    public static func gridShape(size: [Int]) -> [Int] {
        [size[0]] + Array(size.dropFirst(2)) + [size.count - 2]
    }

    /// Validates theta against `size` and returns the grid's shape.
    public static func outputShape(thetaShape: [Int], size: [Int]) throws -> [Int] {
        let expected = try self.thetaShape(size: size)
        guard thetaShape == expected else {
            let d = size.count - 2
            throw STNError.invalid(
                "affine_grid: expected theta of shape (N, \(d), \(d + 1)) = \(describeShape(expected)) for size \(describeShape(size)), got theta of shape \(describeShape(thetaShape))"
            )
        }
        let shape = gridShape(size: size)
        _ = try elementCount(shape, name: "grid")
        return shape
    }

    /// Fills `grid` from `theta`; the shapes must be ones `outputShape` accepted (not checked again).
    public static func run<T: STNFloat>(
        theta: UnsafePointer<T>, thetaShape: [Int], size: [Int], alignCorners: Bool,
        grid: UnsafeMutablePointer<T>
    ) throws {
        let n = size[0]
        if size.count == 4 {
            let (h, w) = (size[2], size[3])
            Threading.parallelFor(n * h, grain: max(1, 8192 / w)) { rows in
                affineGrid2D(theta: theta, grid: grid, height: h, width: w, alignCorners: alignCorners, rows: rows)
            }
        } else {
            let (d, h, w) = (size[2], size[3], size[4])
            Threading.parallelFor(n * d * h, grain: max(1, 8192 / w)) { rows in
                affineGrid3D(
                    theta: theta, grid: grid, depth: d, height: h, width: w, alignCorners: alignCorners, rows: rows)
            }
        }
    }

    /// Validates grad_grid against `size` and returns grad_theta's shape.
    public static func backwardShape(gradGridShape: [Int], size: [Int]) throws -> [Int] {
        let thetaShape = try self.thetaShape(size: size, op: "affine_grid_backward")
        let expected = gridShape(size: size)
        guard gradGridShape == expected else {
            throw STNError.invalid(
                "affine_grid_backward: expected grad_grid of shape \(describeShape(expected)) for size \(describeShape(size)), got grad_grid of shape \(describeShape(gradGridShape))"
            )
        }
        return thetaShape
    }

    /// Writes d(loss)/d(theta) into `gradTheta`; the shapes must be ones `backwardShape` accepted.
    public static func runBackward<T: STNFloat>(
        gradGrid: UnsafePointer<T>, gradGridShape: [Int], size: [Int], alignCorners: Bool,
        gradTheta: UnsafeMutablePointer<T>
    ) throws {
        let n = size[0]
        if size.count == 4 {
            Threading.parallelFor(n) { batches in
                affineGrid2DBackward(
                    gradGrid: gradGrid, gradTheta: gradTheta, height: size[2], width: size[3],
                    alignCorners: alignCorners, batches: batches)
            }
        } else {
            Threading.parallelFor(n) { batches in
                affineGrid3DBackward(
                    gradGrid: gradGrid, gradTheta: gradTheta, depth: size[2], height: size[3],
                    width: size[4], alignCorners: alignCorners, batches: batches)
            }
        }
    }
}

/// The sampling grid of the affine transforms `theta` for an output of `size`
/// (`torch.nn.functional.affine_grid`).
public func affineGrid<T: STNFloat>(_ theta: Tensor<T>, size: [Int], alignCorners: Bool = false) throws -> Tensor<T> {
    let shape = try AffineGrid.outputShape(thetaShape: theta.shape, size: size)
    var grid = Tensor<T>(uncheckedShape: shape, count: try elementCount(shape, name: "grid"))
    try theta.scalars.withBase { t in
        try grid.scalars.withMutableBase { g in
            try AffineGrid.run(
                theta: t, thetaShape: theta.shape, size: size,
                alignCorners: alignCorners, grid: g)
        }
    }
    return grid
}

/// d(loss)/d(theta) given d(loss)/d(grid).
public func affineGridBackward<T: STNFloat>(_ gradGrid: Tensor<T>, size: [Int], alignCorners: Bool = false) throws
    -> Tensor<T>
{
    let shape = try AffineGrid.backwardShape(gradGridShape: gradGrid.shape, size: size)
    var gradTheta = Tensor<T>(uncheckedShape: shape, count: try elementCount(shape, name: "grad_theta"))
    try gradGrid.scalars.withBase { g in
        try gradTheta.scalars.withMutableBase { t in
            try AffineGrid.runBackward(
                gradGrid: g, gradGridShape: gradGrid.shape, size: size,
                alignCorners: alignCorners, gradTheta: t)
        }
    }
    return gradTheta
}
