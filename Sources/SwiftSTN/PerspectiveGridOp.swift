import STNKernels

/// `perspective_grid`: validation, threading and the safe Swift API around the projective grid
/// generator (Sources/STNKernels/PerspectiveGrid.swift).
///
/// H is N×3×3 for a 4-D `size` (N, C, H, W), acting on the normalised homogeneous coordinates
/// (x, y, 1) of the output grid (affine_grid's base coordinates); the grid N×H×W×2 holds
/// (u/w, v/w), (u, v, w) = H·(x, y, 1). Points where w ≤ 1e-6·max(|u|, |v|, 1) (behind the
/// projection, through infinity, or non-finite) get the sentinel (−1e4, −1e4), which every
/// padding mode treats as outside the image: see `ProjectiveGuard`.
public enum PerspectiveGrid {
    /// Checks `size` and returns the shape H must have, (N, 3, 3).
    public static func homographyShape(size: [Int], op: String = "perspective_grid") throws -> [Int] {
        guard size.count == 4 else {
            throw STNError.invalid("\(op): size must have 4 elements (N, C, H, W), got size \(describeShape(size))")
        }
        guard size.allSatisfy({ $0 > 0 }) else {
            throw STNError.invalid("\(op): expected a positive output size, got size \(describeShape(size))")
        }
        _ = try elementCount(size, name: "size")
        return [size[0], 3, 3]
    }

    /// The grid shape for `size`: (N, H, W, 2).
    public static func gridShape(size: [Int]) -> [Int] {
        [size[0], size[2], size[3], 2]
    }

    private static func checkHomography(_ homographyShape: [Int], size: [Int], op: String) throws {
        let expected = try self.homographyShape(size: size, op: op)
        guard homographyShape == expected else {
            throw STNError.invalid(
                "\(op): expected H of shape (N, 3, 3) = \(describeShape(expected)) for size \(describeShape(size)), got H of shape \(describeShape(homographyShape))"
            )
        }
    }

    /// Validates H against `size` and returns the grid's shape.
    public static func outputShape(homographyShape: [Int], size: [Int]) throws -> [Int] {
        try checkHomography(homographyShape, size: size, op: "perspective_grid")
        let shape = gridShape(size: size)
        _ = try elementCount(shape, name: "grid")
        return shape
    }

    /// Fills `grid` from `homography`; the shapes must be ones `outputShape` accepted (not checked again).
    public static func run<T: STNFloat>(
        homography: UnsafePointer<T>, homographyShape: [Int], size: [Int], alignCorners: Bool,
        grid: UnsafeMutablePointer<T>
    ) throws {
        let (n, h, w) = (size[0], size[2], size[3])
        Threading.parallelFor(n * h, grain: max(1, 4096 / w)) { rows in
            perspectiveGrid2D(
                homography: homography, grid: grid, height: h, width: w,
                alignCorners: alignCorners, rows: rows)
        }
    }

    /// Validates grad_grid and H against `size` and returns grad_H's shape (N, 3, 3).
    public static func backwardShape(gradGridShape: [Int], homographyShape: [Int], size: [Int]) throws -> [Int] {
        let op = "perspective_grid_backward"
        try checkHomography(homographyShape, size: size, op: op)
        let expected = gridShape(size: size)
        guard gradGridShape == expected else {
            throw STNError.invalid(
                "\(op): expected grad_grid of shape \(describeShape(expected)) for size \(describeShape(size)), got grad_grid of shape \(describeShape(gradGridShape))"
            )
        }
        return homographyShape
    }

    /// Writes d(loss)/d(H) into `gradHomography`; the shapes must be ones `backwardShape` accepted.
    /// Guarded points contribute nothing.
    public static func runBackward<T: STNFloat>(
        gradGrid: UnsafePointer<T>, gradGridShape: [Int], homography: UnsafePointer<T>, homographyShape: [Int],
        size: [Int], alignCorners: Bool, gradHomography: UnsafeMutablePointer<T>
    ) throws {
        Threading.parallelFor(size[0]) { batches in
            perspectiveGrid2DBackward(
                gradGrid: gradGrid, homography: homography, gradHomography: gradHomography,
                height: size[2], width: size[3], alignCorners: alignCorners, batches: batches)
        }
    }
}

/// The sampling grid of the homographies `homography` (N×3×3) for an output of `size`
/// (N, C, H, W): (u/w, v/w) with (u, v, w) = H·(x, y, 1), guarded points at (−1e4, −1e4).
public func perspectiveGrid<T: STNFloat>(_ homography: Tensor<T>, size: [Int], alignCorners: Bool = false) throws
    -> Tensor<T>
{
    let shape = try PerspectiveGrid.outputShape(homographyShape: homography.shape, size: size)
    var grid = Tensor<T>(uncheckedShape: shape, count: try elementCount(shape, name: "grid"))
    try homography.scalars.withBase { m in
        try grid.scalars.withMutableBase { g in
            try PerspectiveGrid.run(
                homography: m, homographyShape: homography.shape, size: size,
                alignCorners: alignCorners, grid: g)
        }
    }
    return grid
}

/// d(loss)/d(H) given d(loss)/d(grid) and the homographies the grid was made from.
public func perspectiveGridBackward<T: STNFloat>(
    _ gradGrid: Tensor<T>, homography: Tensor<T>, size: [Int], alignCorners: Bool = false
) throws -> Tensor<T> {
    let shape = try PerspectiveGrid.backwardShape(
        gradGridShape: gradGrid.shape, homographyShape: homography.shape, size: size)
    var gradH = Tensor<T>(uncheckedShape: shape, count: try elementCount(shape, name: "grad_H"))
    try gradGrid.scalars.withBase { g in
        try homography.scalars.withBase { m in
            try gradH.scalars.withMutableBase { o in
                try PerspectiveGrid.runBackward(
                    gradGrid: g, gradGridShape: gradGrid.shape, homography: m,
                    homographyShape: homography.shape, size: size,
                    alignCorners: alignCorners, gradHomography: o)
            }
        }
    }
    return gradH
}
