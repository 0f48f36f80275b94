import STNKernels
import Synchronization

/// `tps_grid`: validation, the solved-system cache, threading and the safe Swift API around the
/// thin-plate-spline grid generator (Sources/STNKernels/TPSGrid.swift).
///
/// displacements N×K×2 move K control points c_k (K×2) to c_k + d_k; for a 4-D `size`
/// (N, C, H, W) the grid N×H×W×2 is the thin-plate interpolant f (kernel U(r²) = r²·log r², plus
/// an affine part) with f(c_k) = c_k + d_k, evaluated at affine_grid's base coordinates:
/// grid = base + M·d, so zero displacements give exactly the identity grid. Without explicit
/// control points they form a regular √K×√K grid over [−1, 1]² (`regularControlPoints`).
///
/// M depends only on the control points and (H, W, align_corners): it is built in Double from a
/// partial-pivoting solve of the (K+3)×(K+3) system the first time and then served from a small
/// thread-safe LRU cache (`TPSGrid.cacheCapacity` entries, `cacheByteBudget` bytes).
public enum TPSGrid {
    /// At most this many control points: the system is dense, solved in O(K³), and M holds
    /// H·W·K doubles.
    public static let maxControlPoints = 4096
    /// Solved matrices kept, least recently used evicted first; a matrix larger than the byte
    /// budget is computed for its call and not kept.
    public static let cacheCapacity = 8
    public static let cacheByteBudget = 256 << 20
    /// A pivot of the thin-plate system at most this times its largest entry means "singular".
    public static let singularTolerance = 1e-11

    static let cache = ThinPlateCache(capacity: cacheCapacity, byteBudget: cacheByteBudget)

    /// Empties the cache of solved matrices.
    public static func clearCache() { cache.removeAll() }
    /// Solved matrices currently cached.
    public static var cachedMatrixCount: Int { cache.count }

    // MARK: shapes

    private static func checkSize(_ size: [Int], op: String) throws {
        guard size.count == 4 else {
            throw STNError.invalid("\(op): size must have 4 elements (N, C, H, W), got size \(describeShape(size))")
        }
        guard size.allSatisfy({ $0 > 0 }) else {
            throw STNError.invalid("\(op): expected a positive output size, got size \(describeShape(size))")
        }
        _ = try elementCount(size, name: "size")
    }

    /// The side of the default √K×√K grid, refusing K that is not a perfect square ≥ 4.
    private static func regularSide(_ k: Int, op: String, from what: String) throws -> Int {
        var side = 0
        while (side + 1) * (side + 1) <= k { side += 1 }
        guard k >= 4, side * side == k else {
            throw STNError.invalid(
                "\(op): the default control points form a √K×√K grid over [-1, 1]², so K must be a perfect square ≥ 4, got K = \(k) (\(what)); pass control_points (a K×2 array) for other layouts"
            )
        }
        return side
    }

    /// Validates a control-point shape (K, 2) and returns K.
    private static func controlPointCount(_ shape: [Int], op: String) throws -> Int {
        guard shape.count == 2, shape[1] == 2, shape[0] >= 3 else {
            throw STNError.invalid(
                "\(op): expected control_points of shape (K, 2) with K ≥ 3, got control_points of shape \(describeShape(shape))"
            )
        }
        guard shape[0] <= maxControlPoints else {
            throw STNError.invalid(
                "\(op): at most \(maxControlPoints) control points are supported, got control_points of shape \(describeShape(shape))"
            )
        }
        return shape[0]
    }

    /// Validates displacements (and control points, if `controlPointsShape` is given) against
    /// `size` and returns the grid's shape (N, H, W, 2). With `controlPointsShape` nil the
    /// control points are the default grid and K comes from displacements; `regular` says a
    /// given shape (K, 2) stands for the default grid of K points (K must be a perfect square).
    public static func outputShape(
        displacementsShape: [Int], controlPointsShape: [Int]?, size: [Int],
        regular: Bool = false
    ) throws -> [Int] {
        _ = try resolve(
            displacementsShape: displacementsShape, controlPointsShape: controlPointsShape,
            regular: regular || controlPointsShape == nil, size: size)
        let shape = [size[0], size[2], size[3], 2]
        _ = try elementCount(shape, name: "grid")
        return shape
    }

    /// K after validating every shape of a forward call.
    private static func resolve(displacementsShape ds: [Int], controlPointsShape: [Int]?, regular: Bool, size: [Int])
        throws -> Int
    {
        let op = "tps_grid"
        try checkSize(size, op: op)
        let k: Int
        if let cs = controlPointsShape {
            k = try controlPointCount(cs, op: op)
            guard ds == [size[0], k, 2] else {
                throw STNError.invalid(
                    "\(op): expected displacements of shape (N, K, 2) = \(describeShape([size[0], k, 2])) for size \(describeShape(size)) and control_points of shape \(describeShape(cs)), got displacements of shape \(describeShape(ds))"
                )
            }
            if regular { _ = try regularSide(k, op: op, from: "control_points of shape \(describeShape(cs))") }
        } else {
            guard ds.count == 3, ds[0] == size[0], ds[2] == 2 else {
                throw STNError.invalid(
                    "\(op): expected displacements of shape (N, K, 2) with N = \(size[0]) for size \(describeShape(size)), got displacements of shape \(describeShape(ds))"
                )
            }
            k = ds[1]
            guard k <= maxControlPoints else {
                throw STNError.invalid(
                    "\(op): at most \(maxControlPoints) control points are supported, got displacements of shape \(describeShape(ds))"
                )
            }
            _ = try regularSide(k, op: op, from: "displacements of shape \(describeShape(ds))")
        }
        return k
    }

    /// Validates grad_grid and the control-point shape (K, 2) against `size` and returns
    /// grad_displacements' shape (N, K, 2). `regular` says the points are the default grid.
    public static func backwardShape(
        gradGridShape: [Int], controlPointsShape: [Int], size: [Int], regular: Bool = false
    ) throws -> [Int] {
        let op = "tps_grid_backward"
        try checkSize(size, op: op)
        let k = try controlPointCount(controlPointsShape, op: op)
        if regular {
            _ = try regularSide(k, op: op, from: "control_points of shape \(describeShape(controlPointsShape))")
        }
        let expected = [size[0], size[2], size[3], 2]
        guard gradGridShape == expected else {
            throw STNError.invalid(
                "\(op): expected grad_grid of shape \(describeShape(expected)) for size \(describeShape(size)), got grad_grid of shape \(describeShape(gradGridShape))"
            )
        }
        return [size[0], k, 2]
    }

    // MARK: the solved system

    /// The default control points: K = side² points, row-major with y outer, flat K×2.
    public static func defaultControlPoints(count k: Int) throws -> [Double] {
        let side = try regularSide(k, op: "tps_grid", from: "the requested count")
        var points = [Double](repeating: 0, count: 2 * k)
        points.withMutableBase { regularControlPoints(side: side, points: $0) }
        return points
    }

    /// M for `controlPoints` (flat K×2) and an H×W output, from the cache or solved now.
    /// Throws if the points are non-finite or do not determine a thin-plate spline (two equal,
    /// all on one line, or a numerically singular system).
    public static func interpolationMatrix(
        controlPoints: [Double], height: Int, width: Int, alignCorners: Bool, op: String = "tps_grid"
    ) throws -> ThinPlateMatrix {
        let key = ThinPlateCache.Key(
            points: controlPoints.map(\.bitPattern), height: height, width: width,
            alignCorners: alignCorners)
        if let hit = cache.lookup(key) { return hit }
        let matrix = try solve(
            controlPoints: controlPoints, height: height, width: width,
            alignCorners: alignCorners, op: op)
        return cache.insert(key, matrix)
    }

    private static func solve(
        controlPoints c: [Double], height: Int, width: Int, alignCorners: Bool, op: String
    ) throws -> ThinPlateMatrix {
        let k = c.count / 2
        let shape = describeShape([k, 2])
        guard c.allSatisfy(\.isFinite) else {
            throw STNError.invalid(
                "\(op): control_points must be finite, got NaN or infinity in control_points of shape \(shape)")
        }
        // The two common ways to make the system singular, named precisely.
        for i in 0..<k {
            for j in (i + 1)..<max(i + 1, k) where c[2 * i] == c[2 * j] && c[2 * i + 1] == c[2 * j + 1] {
                throw STNError.invalid(
                    "\(op): control points \(i) and \(j) are both (\(c[2 * i]), \(c[2 * i + 1])): the thin-plate system of control_points of shape \(shape) is singular; control points must be distinct"
                )
            }
        }
        var mx = 0.0, my = 0.0
        for i in 0..<k { mx += c[2 * i]; my += c[2 * i + 1] }
        mx /= Double(k); my /= Double(k)
        var sxx = 0.0, syy = 0.0, sxy = 0.0
        for i in 0..<k {
            let dx = c[2 * i] - mx, dy = c[2 * i + 1] - my
            sxx += dx * dx; syy += dy * dy; sxy += dx * dy
        }
        if sxx * syy - sxy * sxy <= 1e-12 * (sxx + syy) * (sxx + syy) {
            throw STNError.invalid(
                "\(op): all control points lie on one line: the thin-plate system of control_points of shape \(shape) is singular (its affine part is undetermined)"
            )
        }
        let n = k + 3
        _ = try elementCount([n, n], name: "the thin-plate system")
        let count = try elementCount(
            [height * width, k], name: "the thin-plate matrix of an output of \(height)×\(width)")
        var system = [Double](repeating: 0, count: n * n)
        var solution = [Double](repeating: 0, count: n * k)  // [I_K; 0] becomes L⁻¹'s first K columns
        for i in 0..<k { solution[i * k + i] = 1 }
        let solved = c.withBase { cp in
            system.withMutableBase { l in
                solution.withMutableBase { x in
                    thinPlateSystem(controlPoints: cp, count: k, system: l)
                    return solveLinearSystemInPlace(a: l, b: x, n: n, nrhs: k, relativeTolerance: singularTolerance)
                }
            }
        }
        guard solved, solution.allSatisfy(\.isFinite) else {
            throw STNError.invalid(
                "\(op): the thin-plate system of control_points of shape \(shape) is singular or too ill-conditioned to solve (are some control points nearly equal, or nearly on one line?)"
            )
        }
        var values = [Double](repeating: 0, count: count)
        c.withBase { cp in
            solution.withBase { x in
                values.withMutableBase { m in
                    Threading.parallelFor(height, grain: max(1, 65536 / max(1, width * k * k))) { rows in
                        thinPlateMatrix(
                            controlPoints: cp, count: k, solution: x, height: height, width: width,
                            alignCorners: alignCorners, matrix: m, rows: rows)
                    }
                }
            }
        }
        return ThinPlateMatrix(
            controlPoints: c, height: height, width: width, alignCorners: alignCorners, values: values)
    }

    /// The control points of a call: the caller's K×2, or the default grid of K points.
    private static func points(_ p: UnsafePointer<Double>?, count k: Int) throws -> [Double] {
        if let p { return Array(UnsafeBufferPointer(start: p, count: 2 * k)) }
        return try defaultControlPoints(count: k)
    }

    // MARK: running

    /// Validates and fills `grid` (of `outputShape(...)`) from `displacements`.
    ///
    /// Control points: `controlPointsShape` nil — the default grid, K from displacements
    /// (`controlPoints` must then be nil); `controlPoints` nil with a shape (K, 2) — the default
    /// grid of K points; both given — the caller's K×2 points (float64, C-contiguous).
    public static func run<T: STNFloat>(
        displacements: UnsafePointer<T>, displacementsShape: [Int], controlPoints: UnsafePointer<Double>?,
        controlPointsShape: [Int]?, size: [Int], alignCorners: Bool, grid: UnsafeMutablePointer<T>
    ) throws {
        if controlPoints != nil && controlPointsShape == nil {
            throw STNError.invalid("tps_grid: control_points were given without their shape")
        }
        let k = try resolve(
            displacementsShape: displacementsShape, controlPointsShape: controlPointsShape,
            regular: controlPoints == nil, size: size)
        _ = try elementCount([size[0], size[2], size[3], 2], name: "grid")
        let (n, h, w) = (size[0], size[2], size[3])
        let m = try interpolationMatrix(
            controlPoints: try points(controlPoints, count: k), height: h, width: w,
            alignCorners: alignCorners)
        m.values.withBase { mp in
            Threading.parallelFor(h, grain: max(1, 16384 / (n * w * k))) { rows in
                thinPlateGrid2D(
                    matrix: mp, displacements: displacements, grid: grid, batch: n, count: k, height: h,
                    width: w, alignCorners: alignCorners, rows: rows)
            }
        }
    }

    /// Validates and writes d(loss)/d(displacements) = Mᵀ·grad_grid into `gradDisplacements`
    /// (of `backwardShape(...)`). The control points are the caller's K×2 (`controlPoints`) or,
    /// with `controlPoints` nil, the default grid of K = controlPointsShape[0] points.
    public static func runBackward<T: STNFloat>(
        gradGrid: UnsafePointer<T>, gradGridShape: [Int], controlPoints: UnsafePointer<Double>?,
        controlPointsShape: [Int], size: [Int], alignCorners: Bool, gradDisplacements: UnsafeMutablePointer<T>
    ) throws {
        _ = try backwardShape(
            gradGridShape: gradGridShape, controlPointsShape: controlPointsShape, size: size,
            regular: controlPoints == nil)
        let (n, h, w, k) = (size[0], size[2], size[3], controlPointsShape[0])
        let m = try interpolationMatrix(
            controlPoints: try points(controlPoints, count: k), height: h, width: w,
            alignCorners: alignCorners, op: "tps_grid_backward")
        // Fixed chunks of positions, each summed into its own partial, then reduced in order:
        // M is streamed row by row, and the result does not depend on the thread count.
        let points = h * w
        let chunks = (points + thinPlateBackwardChunk - 1) / thinPlateBackwardChunk
        var partials = [Double](
            repeating: 0, count: try elementCount([n, chunks, 2 * k], name: "the thin-plate gradient's partial sums"))
        m.values.withBase { mp in
            partials.withMutableBase { part in
                Threading.parallelFor(chunks) { tasks in
                    thinPlateGrid2DBackwardPartials(
                        matrix: mp, gradGrid: gradGrid, partials: part, batch: n, count: k,
                        points: points, tasks: tasks)
                }
            }
        }
        partials.withBase { part in
            thinPlateGrid2DBackwardReduce(
                partials: part, gradDisplacements: gradDisplacements, count: k, points: points,
                batches: 0..<n)
        }
    }
}

/// The solved thin-plate spline of one control-point set and output size: M ((H·W)×K,
/// row-major), so that grid = base + M·d. Immutable and shared by the cache's users.
public final class ThinPlateMatrix: Sendable {
    /// The control points, flat K×2.
    public let controlPoints: [Double]
    public let count: Int
    public let height: Int
    public let width: Int
    public let alignCorners: Bool
    /// M[p, k] at index p·K + k, p = h·W + w.
    public let values: [Double]

    init(controlPoints: [Double], height: Int, width: Int, alignCorners: Bool, values: [Double]) {
        self.controlPoints = controlPoints
        self.count = controlPoints.count / 2
        self.height = height
        self.width = width
        self.alignCorners = alignCorners
        self.values = values
    }

    var byteCount: Int { values.count * MemoryLayout<Double>.size }
}

/// A small thread-safe LRU cache of solved thin-plate matrices, keyed by the control points'
/// bits, the output's height and width, and align_corners. Lookups and insertions take a lock;
/// solving happens outside it (two threads missing at once both solve, and the first insert
/// wins — the results are identical).
final class ThinPlateCache: Sendable {
    struct Key: Hashable, Sendable {
        var points: [UInt64]
        var height: Int
        var width: Int
        var alignCorners: Bool
    }

    private struct Entry: Sendable {
        var key: Key
        var matrix: ThinPlateMatrix
    }

    /// Most recently used last.
    private let entries = Mutex<[Entry]>([])
    let capacity: Int
    let byteBudget: Int

    init(capacity: Int, byteBudget: Int) {
        self.capacity = capacity
        self.byteBudget = byteBudget
    }

    func lookup(_ key: Key) -> ThinPlateMatrix? {
        entries.withLock { entries -> ThinPlateMatrix? in
            guard let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
            let hit = entries.remove(at: i)
            entries.append(hit)
            return hit.matrix
        }
    }

    /// Caches `matrix` under `key` (unless an equal entry arrived first) and returns the cached one.
    func insert(_ key: Key, _ matrix: ThinPlateMatrix) -> ThinPlateMatrix {
        entries.withLock { entries -> ThinPlateMatrix in
            if let i = entries.firstIndex(where: { $0.key == key }) { return entries[i].matrix }
            entries.append(Entry(key: key, matrix: matrix))
            var bytes = entries.reduce(0) { $0 + $1.matrix.byteCount }
            while !entries.isEmpty && (entries.count > capacity || bytes > byteBudget) {
                bytes -= entries.removeFirst().matrix.byteCount
            }
            return matrix
        }
    }

    var count: Int { entries.withLock { $0.count } }

    func removeAll() { entries.withLock { $0.removeAll() } }
}

/// The thin-plate-spline sampling grid for an output of `size` (N, C, H, W): the control points
/// (`controlPoints` K×2, or the default √K×√K grid over [−1, 1]²) moved by `displacements`
/// (N×K×2).
public func tpsGrid<T: STNFloat>(
    _ displacements: Tensor<T>, size: [Int], controlPoints: Tensor<Double>? = nil, alignCorners: Bool = false
) throws -> Tensor<T> {
    let shape = try TPSGrid.outputShape(
        displacementsShape: displacements.shape, controlPointsShape: controlPoints?.shape, size: size)
    var grid = Tensor<T>(uncheckedShape: shape, count: try elementCount(shape, name: "grid"))
    try displacements.scalars.withBase { d in
        try grid.scalars.withMutableBase { g in
            if let controlPoints {
                try controlPoints.scalars.withBase { c in
                    try TPSGrid.run(
                        displacements: d, displacementsShape: displacements.shape, controlPoints: c,
                        controlPointsShape: controlPoints.shape, size: size, alignCorners: alignCorners, grid: g)
                }
            } else {
                try TPSGrid.run(
                    displacements: d, displacementsShape: displacements.shape, controlPoints: nil,
                    controlPointsShape: nil, size: size, alignCorners: alignCorners, grid: g)
            }
        }
    }
    return grid
}

/// d(loss)/d(displacements) given d(loss)/d(grid), for the caller's control points (K×2).
public func tpsGridBackward<T: STNFloat>(
    _ gradGrid: Tensor<T>, size: [Int], controlPoints: Tensor<Double>, alignCorners: Bool = false
) throws -> Tensor<T> {
    try tpsGridBackward(
        gradGrid, size: size, points: controlPoints, shape: controlPoints.shape, alignCorners: alignCorners)
}

/// d(loss)/d(displacements) given d(loss)/d(grid), for the default grid of `controlPointCount`
/// control points.
public func tpsGridBackward<T: STNFloat>(
    _ gradGrid: Tensor<T>, size: [Int], controlPointCount: Int, alignCorners: Bool = false
) throws -> Tensor<T> {
    try tpsGridBackward(gradGrid, size: size, points: nil, shape: [controlPointCount, 2], alignCorners: alignCorners)
}

private func tpsGridBackward<T: STNFloat>(
    _ gradGrid: Tensor<T>, size: [Int], points: Tensor<Double>?, shape cs: [Int], alignCorners: Bool
) throws -> Tensor<T> {
    let shape = try TPSGrid.backwardShape(
        gradGridShape: gradGrid.shape, controlPointsShape: cs, size: size,
        regular: points == nil)
    var gradD = Tensor<T>(uncheckedShape: shape, count: try elementCount(shape, name: "grad_displacements"))
    try gradGrid.scalars.withBase { g in
        try gradD.scalars.withMutableBase { o in
            if let points {
                try points.scalars.withBase { c in
                    try TPSGrid.runBackward(
                        gradGrid: g, gradGridShape: gradGrid.shape, controlPoints: c, controlPointsShape: cs,
                        size: size, alignCorners: alignCorners, gradDisplacements: o)
                }
            } else {
                try TPSGrid.runBackward(
                    gradGrid: g, gradGridShape: gradGrid.shape, controlPoints: nil, controlPointsShape: cs,
                    size: size, alignCorners: alignCorners, gradDisplacements: o)
            }
        }
    }
    return gradD
}
