// perspective_grid: the projective grid generator. Each output position's normalised base
// coordinate (x, y, 1) — affine_grid's coordinates, `baseCoordinate` — is multiplied by a 3×3
// homography H, and the grid point is the dehomogenised (u/w, v/w), (u, v, w) = H·(x, y, 1).
//
// The division is guarded (`ProjectiveGuard`): a point whose w is not safely positive has no
// position in front of the projection, and gets a finite sentinel far outside [−1, 1] instead,
// so that grid_sample pads there (zeros padding reads 0) and nothing downstream is ever NaN.
// The expressions for u and v are affineGrid2D's, operation for operation, so an H whose last
// row is (0, 0, 1) gives affine_grid's grid bit for bit.

/// The guard of the projective division, shared by the forward and backward kernels.
public enum ProjectiveGuard {
    /// A point is valid iff u, v and w are finite and w > `relativeEpsilon` · max(|u|, |v|, 1).
    /// That refuses w ≤ 0 (the point is behind the projection centre, or was mapped through the
    /// line at infinity) and |w| tiny relative to the numerator (a position beyond 1e6 in
    /// normalised units, i.e. an image a million times away); accepted points have |u/w|,
    /// |v/w| < 1e6.
    public static let relativeEpsilon = 1e-6
    /// Written to both coordinates of a refused point (and of a non-finite thin-plate-spline
    /// point): −1e4, exactly representable in Float and Double, far outside [−1, 1].
    public static let sentinel = -1e4

    /// Whether (u, v, w) passes the guard. NaN fails every comparison, so NaN is refused too.
    @inlinable @inline(__always)
    public static func accepts<T: STNFloat>(_ u: T, _ v: T, _ w: T, epsilon: T) -> Bool {
        u.isFinite && v.isFinite && w.isFinite && w > epsilon * max(abs(u), abs(v), 1)
    }
}

/// Writes grid[n, h, w] = (u/w, v/w), (u, v, w) = H[n]·(x_w, y_h, 1), for the flattened rows
/// `rows` ⊂ [0, N·H); refused points get `ProjectiveGuard.sentinel` in both coordinates.
/// homography: N×3×3, grid: N×H×W×2, both C-contiguous.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func perspectiveGrid2D<T: STNFloat>(
    homography: UnsafePointer<T>, grid: UnsafeMutablePointer<T>, height: Int, width: Int,
    alignCorners: Bool, rows: Range<Int>
) {
    let sentinel = T(ProjectiveGuard.sentinel), eps = T(ProjectiveGuard.relativeEpsilon)
    for r in rows {
        let n = r / height, h = r - n * height
        let m = homography + 9 * n
        var out = grid + r * width * 2
        let y: T = baseCoordinate(h, steps: height, alignCorners: alignCorners)
        // Row terms are shared by the whole row (as in affineGrid2D).
        let ry0 = y * m[1], ry1 = y * m[4], ry2 = y * m[7]
        for w in 0..<width {
            let x: T = baseCoordinate(w, steps: width, alignCorners: alignCorners)
            let u = x * m[0] + ry0 + m[2]
            let v = x * m[3] + ry1 + m[5]
            let s = x * m[6] + ry2 + m[8]
            if ProjectiveGuard.accepts(u, v, s, epsilon: eps) {
                out[0] = u / s
                out[1] = v / s
            } else {
                out[0] = sentinel
                out[1] = sentinel
            }
            out += 2
        }
    }
}

/// grad_H[n] by the quotient rule, for batch elements `batches`. With a = g_x/w, b = g_y/w and
/// c = −(a·u/w + b·v/w) at each accepted point, row 0 of grad_H gains a·(x, y, 1), row 1
/// b·(x, y, 1) and row 2 c·(x, y, 1); refused points (constant sentinels) contribute nothing.
/// gradGrid: N×H×W×2, homography: N×3×3, gradHomography: N×3×3 (overwritten).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func perspectiveGrid2DBackward<T: STNFloat>(
    gradGrid: UnsafePointer<T>, homography: UnsafePointer<T>, gradHomography: UnsafeMutablePointer<T>,
    height: Int, width: Int, alignCorners: Bool, batches: Range<Int>
) {
    let eps = T(ProjectiveGuard.relativeEpsilon)
    for n in batches {
        let m = homography + 9 * n
        var g = gradGrid + n * height * width * 2
        // acc[3·r + k]: row r of H, column k of (x, y, 1).
        var acc = SIMD16<T>()
        for h in 0..<height {
            let y: T = baseCoordinate(h, steps: height, alignCorners: alignCorners)
            let ry0 = y * m[1], ry1 = y * m[4], ry2 = y * m[7]
            // Per-row sums of a·x, a, b·x, b, c·x, c; y multiplies the row's sums once.
            var sax: T = 0, sa: T = 0, sbx: T = 0, sb: T = 0, scx: T = 0, sc: T = 0
            for w in 0..<width {
                let x: T = baseCoordinate(w, steps: width, alignCorners: alignCorners)
                let u = x * m[0] + ry0 + m[2]
                let v = x * m[3] + ry1 + m[5]
                let s = x * m[6] + ry2 + m[8]
                if ProjectiveGuard.accepts(u, v, s, epsilon: eps) {
                    let a = g[0] / s, b = g[1] / s
                    let c = -(a * (u / s) + b * (v / s))
                    sax += a * x; sa += a
                    sbx += b * x; sb += b
                    scx += c * x; sc += c
                }
                g += 2
            }
            acc[0] += sax; acc[1] += sa * y; acc[2] += sa
            acc[3] += sbx; acc[4] += sb * y; acc[5] += sb
            acc[6] += scx; acc[7] += sc * y; acc[8] += sc
        }
        let o = gradHomography + 9 * n
        for i in 0..<9 { o[i] = acc[i] }
    }
}
