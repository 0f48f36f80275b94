// Where the 2-D sampler kernels get their grid points, and where the grid-gradient kernels put
// their results.
//
// The kernels walk output positions in blocks of at most `sampleBlock` and ask a `GridSource2D`
// for the (x, y) points of each block. A stored grid hands out a pointer into itself (nothing
// is copied, so `grid_sample` runs exactly as before); the fused warps (`warp_affine`,
// `warp_perspective`) compute the block's points into a small per-task scratch, with exactly
// `affineGrid2D`'s / `perspectiveGrid2D`'s arithmetic, so the whole grid is never materialised
// and every bit is the two-step path's. The grid-gradient kernels write each block through a
// `GridGradientSink2D`: into the stored grad_grid, or into scratch that the fused warps fold,
// position by position and row by row, into the per-row partial sums of the generator's
// backward (`affineGrid2DBackward`, `perspectiveGrid2DBackward`).

/// A supplier of grid points for blocks of output positions.
@usableFromInline
protocol GridSource2D {
    associatedtype Scalar: STNFloat
    /// The points (x, y), interleaved (2·n values), of the flat output positions q..<q+n, all of
    /// batch element `b`, n ≤ `sampleBlock`. `scratch` holds 2·`sampleBlock` values.
    func points(_ b: Int, _ q: Int, _ n: Int, _ scratch: UnsafeMutablePointer<Scalar>) -> UnsafePointer<Scalar>
}

/// A grid in memory, N×Ho×Wo×2: the points of a block are where they are stored.
@usableFromInline
struct StoredGrid2D<T: STNFloat>: GridSource2D {
    @usableFromInline let grid: UnsafePointer<T>
    @inlinable init(_ grid: UnsafePointer<T>) { self.grid = grid }

    @inlinable @inline(__always)
    func points(_ b: Int, _ q: Int, _ n: Int, _ scratch: UnsafeMutablePointer<T>) -> UnsafePointer<T> {
        grid + 2 * q
    }
}

/// Walks the flat positions q..<q+n of batch element `b` (output plane Ho×Wo) as row segments:
/// `body(i, h, w, count)` for the block offsets i..<i+count, which lie in row h from column w.
@inlinable @inline(__always)
func forEachRowSegment(
    _ b: Int, _ q: Int, _ n: Int, height: Int, width: Int,
    _ body: (_ i: Int, _ h: Int, _ w: Int, _ count: Int) -> Void
) {
    let local = q - b * height * width
    var h = local / width, w = local - h * width, i = 0
    while i < n {
        let count = Swift.min(n - i, width - w)
        body(i, h, w, count)
        i += count; h += 1; w = 0
    }
}

/// `affine_grid`'s points, generated per block: grid[n, h, w] = theta[n]·(x_w, y_h, 1) with
/// affineGrid2D's expressions (row terms y·t1, y·t4, then x·t0 + row + t2), so every point is
/// bit for bit the stored grid's. `baseX`/`baseY` hold `baseCoordinate` for every column/row.
@usableFromInline
struct AffineGridSource2D<T: STNFloat>: GridSource2D {
    @usableFromInline let theta: UnsafePointer<T>
    @usableFromInline let baseX: UnsafePointer<T>, baseY: UnsafePointer<T>
    @usableFromInline let height: Int, width: Int

    @inlinable
    init(theta: UnsafePointer<T>, baseX: UnsafePointer<T>, baseY: UnsafePointer<T>, height: Int, width: Int) {
        self.theta = theta; self.baseX = baseX; self.baseY = baseY; self.height = height; self.width = width
    }

    @inlinable @inline(__always)
    func points(_ b: Int, _ q: Int, _ n: Int, _ scratch: UnsafeMutablePointer<T>) -> UnsafePointer<T> {
        let t = theta + 6 * b
        let t0 = t[0], t2 = t[2], t3 = t[3], t5 = t[5]
        forEachRowSegment(b, q, n, height: height, width: width) { i, h, w, count in
            let y = baseY[h]
            let ry0 = y * t[1], ry1 = y * t[4]
            let out = scratch + 2 * i, xs = baseX + w
            for k in 0..<count {
                let x = xs[k]
                out[2 * k] = x * t0 + ry0 + t2
                out[2 * k + 1] = x * t3 + ry1 + t5
            }
        }
        return UnsafePointer(scratch)
    }
}

/// `perspective_grid`'s points, generated per block with perspectiveGrid2D's expressions and
/// guard (refused points get the sentinel).
@usableFromInline
struct PerspectiveGridSource2D<T: STNFloat>: GridSource2D {
    @usableFromInline let homography: UnsafePointer<T>
    @usableFromInline let baseX: UnsafePointer<T>, baseY: UnsafePointer<T>
    @usableFromInline let height: Int, width: Int

    @inlinable
    init(homography: UnsafePointer<T>, baseX: UnsafePointer<T>, baseY: UnsafePointer<T>, height: Int, width: Int) {
        self.homography = homography; self.baseX = baseX; self.baseY = baseY; self.height = height; self.width = width
    }

    @inlinable @inline(__always)
    func points(_ b: Int, _ q: Int, _ n: Int, _ scratch: UnsafeMutablePointer<T>) -> UnsafePointer<T> {
        let m = homography + 9 * b
        let sentinel = T(ProjectiveGuard.sentinel), eps = T(ProjectiveGuard.relativeEpsilon)
        forEachRowSegment(b, q, n, height: height, width: width) { i, h, w, count in
            let y = baseY[h]
            let ry0 = y * m[1], ry1 = y * m[4], ry2 = y * m[7]
            let out = scratch + 2 * i, xs = baseX + w
            for k in 0..<count {
                let x = xs[k]
                let u = x * m[0] + ry0 + m[2]
                let v = x * m[3] + ry1 + m[5]
                let s = x * m[6] + ry2 + m[8]
                if ProjectiveGuard.accepts(u, v, s, epsilon: eps) {
                    out[2 * k] = u / s
                    out[2 * k + 1] = v / s
                } else {
                    out[2 * k] = sentinel
                    out[2 * k + 1] = sentinel
                }
            }
        }
        return UnsafePointer(scratch)
    }
}

// MARK: - Grid-gradient sinks

/// Where the grid-gradient kernels put the gradients of a block of positions.
@usableFromInline
protocol GridGradientSink2D {
    associatedtype Scalar: STNFloat
    /// Where to write the gradients (x, y interleaved) of positions q..<q+n: the stored
    /// grad_grid, or `scratch` (2·`sampleBlock` values).
    func destination(_ q: Int, _ scratch: UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Scalar>
    /// Called once the block's gradients are in `destination(q, scratch)`, blocks in position order.
    func commit(_ b: Int, _ q: Int, _ n: Int, _ gradients: UnsafePointer<Scalar>)
}

/// grad_grid in memory.
@usableFromInline
struct StoredGridGradient2D<T: STNFloat>: GridGradientSink2D {
    @usableFromInline let gradGrid: UnsafeMutablePointer<T>
    @inlinable init(_ gradGrid: UnsafeMutablePointer<T>) { self.gradGrid = gradGrid }

    @inlinable @inline(__always)
    func destination(_ q: Int, _ scratch: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> { gradGrid + 2 * q }

    @inlinable @inline(__always)
    func commit(_ b: Int, _ q: Int, _ n: Int, _ gradients: UnsafePointer<T>) {}
}

/// Folds grid gradients into affineGrid2DBackward's per-row sums: for row (b, h), the four
/// values Σ g_x·x, Σ g_y·x, Σ g_x, Σ g_y over the row's columns in order, at
/// rowSums[4·(b·Ho + h) ..< +4] (zeroed by the caller). Rows must be whole within one task.
@usableFromInline
struct AffineRowSums2D<T: STNFloat>: GridGradientSink2D {
    @usableFromInline let rowSums: UnsafeMutablePointer<T>
    @usableFromInline let baseX: UnsafePointer<T>
    @usableFromInline let height: Int, width: Int

    @inlinable
    init(rowSums: UnsafeMutablePointer<T>, baseX: UnsafePointer<T>, height: Int, width: Int) {
        self.rowSums = rowSums; self.baseX = baseX; self.height = height; self.width = width
    }

    @inlinable @inline(__always)
    func destination(_ q: Int, _ scratch: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> { scratch }

    @inlinable @inline(__always)
    func commit(_ b: Int, _ q: Int, _ n: Int, _ gradients: UnsafePointer<T>) {
        forEachRowSegment(b, q, n, height: height, width: width) { i, h, w, count in
            let r = rowSums + 4 * (b * height + h)
            // affineGrid2DBackward's sums, continued from where the previous block left them.
            var sx0 = r[0], sx1 = r[1], s0 = r[2], s1 = r[3]
            let g = gradients + 2 * i, xs = baseX + w
            for k in 0..<count {
                let x = xs[k]
                sx0 += g[2 * k] * x; sx1 += g[2 * k + 1] * x
                s0 += g[2 * k]; s1 += g[2 * k + 1]
            }
            r[0] = sx0; r[1] = sx1; r[2] = s0; r[3] = s1
        }
    }
}

/// Folds grid gradients into perspectiveGrid2DBackward's per-row sums (Σ a·x, Σ a, Σ b·x, Σ b,
/// Σ c·x, Σ c over accepted points, in column order) at rowSums[6·(b·Ho + h) ..< +6].
@usableFromInline
struct PerspectiveRowSums2D<T: STNFloat>: GridGradientSink2D {
    @usableFromInline let rowSums: UnsafeMutablePointer<T>
    @usableFromInline let homography: UnsafePointer<T>
    @usableFromInline let baseX: UnsafePointer<T>, baseY: UnsafePointer<T>
    @usableFromInline let height: Int, width: Int

    @inlinable
    init(
        rowSums: UnsafeMutablePointer<T>, homography: UnsafePointer<T>, baseX: UnsafePointer<T>,
        baseY: UnsafePointer<T>, height: Int, width: Int
    ) {
        self.rowSums = rowSums; self.homography = homography; self.baseX = baseX; self.baseY = baseY
        self.height = height; self.width = width
    }

    @inlinable @inline(__always)
    func destination(_ q: Int, _ scratch: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> { scratch }

    @inlinable @inline(__always)
    func commit(_ b: Int, _ q: Int, _ n: Int, _ gradients: UnsafePointer<T>) {
        let m = homography + 9 * b
        let eps = T(ProjectiveGuard.relativeEpsilon)
        forEachRowSegment(b, q, n, height: height, width: width) { i, h, w, count in
            let r = rowSums + 6 * (b * height + h)
            let y = baseY[h]
            let ry0 = y * m[1], ry1 = y * m[4], ry2 = y * m[7]
            var sax = r[0], sa = r[1], sbx = r[2], sb = r[3], scx = r[4], sc = r[5]
            let g = gradients + 2 * i, xs = baseX + w
            for k in 0..<count {
                let x = xs[k]
                let u = x * m[0] + ry0 + m[2]
                let v = x * m[3] + ry1 + m[5]
                let s = x * m[6] + ry2 + m[8]
                if ProjectiveGuard.accepts(u, v, s, epsilon: eps) {
                    let a = g[2 * k] / s, bb = g[2 * k + 1] / s
                    let c = -(a * (u / s) + bb * (v / s))
                    sax += a * x; sa += a
                    sbx += bb * x; sb += bb
                    scx += c * x; sc += c
                }
            }
            r[0] = sax; r[1] = sa; r[2] = sbx; r[3] = sb; r[4] = scx; r[5] = sc
        }
    }
}
