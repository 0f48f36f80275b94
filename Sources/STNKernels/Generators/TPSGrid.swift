// tps_grid: the thin-plate-spline grid generator. K control points c_k move to c_k + d_k; the
// grid is the thin-plate interpolant f of those moves evaluated at every output position's base
// coordinate p (affine_grid's coordinates):
//
//   f(p) = Σ_k w_k U(|p − c_k|²) + a_0 + a_1·x + a_2·y,   U(r²) = r²·log(r²)  (U(0) = 0),
//
// with f(c_j) = c_j + d_j and the side conditions Σ w_k = 0, Σ w_k c_k = 0 — the (K+3)×(K+3)
// system L·[w; a] = [c + d; 0], L = [[U(|c_i − c_j|²), P], [Pᵀ, 0]], P = [1, x_k, y_k].
// (U = r²·log r² is twice the textbook r²·log r; the interpolant is the same function.)
//
// f is linear in the targets and reproduces affine maps exactly, so f(p) = p + M(p)·d with
// M = Q·X: Q[p] = (U(|p − c_1|²), …, U(|p − c_K|²), 1, x, y) and X = L⁻¹'s first K columns.
// M (P×K, P = H·W) depends only on the control points and the output size, so the layer above
// solves the system and builds M once and caches it; the grid and its gradient are then the
// products base + M·d and Mᵀ·grad. Everything about M is computed in Double.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The thin-plate kernel as a function of the squared distance: U(r²) = r²·log r², U(0) = 0.
public func thinPlateKernel(_ r2: Double) -> Double {
    r2 > 0 ? r2 * log(r2) : 0
}

/// The default control points: a side×side grid over [−1, 1]², row-major with y outer, so
/// point k = i·side + j is (x_j, y_i); x_j and y_i are affine_grid's align_corners=True
/// coordinates (−1 and 1 exactly at the ends). points: K×2, K = side².
public func regularControlPoints(side: Int, points: UnsafeMutablePointer<Double>) {
    for i in 0..<side {
        let y: Double = baseCoordinate(i, steps: side, alignCorners: true)
        for j in 0..<side {
            let x: Double = baseCoordinate(j, steps: side, alignCorners: true)
            points[2 * (i * side + j)] = x
            points[2 * (i * side + j) + 1] = y
        }
    }
}

/// Fills the thin-plate system L ((K+3)×(K+3), row-major) for K control points (K×2).
public func thinPlateSystem(
    controlPoints c: UnsafePointer<Double>, count k: Int, system l: UnsafeMutablePointer<Double>
) {
    let n = k + 3
    for i in 0..<n * n { l[i] = 0 }
    for i in 0..<k {
        for j in 0..<k {
            let dx = c[2 * i] - c[2 * j], dy = c[2 * i + 1] - c[2 * j + 1]
            l[i * n + j] = thinPlateKernel(dx * dx + dy * dy)
        }
        l[i * n + k] = 1; l[i * n + k + 1] = c[2 * i]; l[i * n + k + 2] = c[2 * i + 1]
        l[k * n + i] = 1; l[(k + 1) * n + i] = c[2 * i]; l[(k + 2) * n + i] = c[2 * i + 1]
    }
}

/// Rows of M = Q·X for the output rows `rows` ⊂ [0, H): M[p, k] for p = h·W + w, h ∈ rows.
/// solution: X, the first K columns of L⁻¹ ((K+3)×K, row-major); matrix: (H·W)×K, row-major.
public func thinPlateMatrix(
    controlPoints c: UnsafePointer<Double>, count k: Int, solution x: UnsafePointer<Double>,
    height: Int, width: Int, alignCorners: Bool, matrix: UnsafeMutablePointer<Double>, rows: Range<Int>
) {
    for h in rows {
        let py: Double = baseCoordinate(h, steps: height, alignCorners: alignCorners)
        for w in 0..<width {
            let px: Double = baseCoordinate(w, steps: width, alignCorners: alignCorners)
            let m = matrix + (h * width + w) * k
            // The affine part: 1·X[K] + x·X[K+1] + y·X[K+2].
            let a0 = x + k * k, a1 = a0 + k, a2 = a1 + k
            for j in 0..<k { m[j] = a0[j] + px * a1[j] + py * a2[j] }
            // The kernel part: Σ_i U(|p − c_i|²)·X[i].
            for i in 0..<k {
                let dx = px - c[2 * i], dy = py - c[2 * i + 1]
                let u = thinPlateKernel(dx * dx + dy * dy)
                if u == 0 { continue }
                let xi = x + i * k
                for j in 0..<k { m[j] += u * xi[j] }
            }
        }
    }
}

/// grid[n, h, w] = base(x_w, y_h) + M[p]·d[n] for every batch element n and the output rows
/// `rows` ⊂ [0, H): each row of M is read once for the whole batch. The product is accumulated
/// in Double and rounded once; a non-finite result (non-finite displacements) becomes
/// `ProjectiveGuard.sentinel` in both coordinates.
/// matrix: (H·W)×K; displacements: N×K×2; grid: N×H×W×2.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func thinPlateGrid2D<T: STNFloat>(
    matrix: UnsafePointer<Double>, displacements: UnsafePointer<T>, grid: UnsafeMutablePointer<T>,
    batch: Int, count k: Int, height: Int, width: Int, alignCorners: Bool, rows: Range<Int>
) {
    let sentinel = T(ProjectiveGuard.sentinel)
    let plane = height * width * 2
    for h in rows {
        let y: T = baseCoordinate(h, steps: height, alignCorners: alignCorners)
        for w in 0..<width {
            let x: T = baseCoordinate(w, steps: width, alignCorners: alignCorners)
            let p = h * width + w
            let m = matrix + p * k
            for n in 0..<batch {
                let d = displacements + n * k * 2
                var sx = 0.0, sy = 0.0
                for j in 0..<k {
                    sx += m[j] * Double(d[2 * j])
                    sy += m[j] * Double(d[2 * j + 1])
                }
                let gx = x + T(sx), gy = y + T(sy)
                let out = grid + n * plane + 2 * p
                if gx.isFinite && gy.isFinite {
                    out[0] = gx
                    out[1] = gy
                } else {
                    out[0] = sentinel
                    out[1] = sentinel
                }
            }
        }
    }
}

/// Output positions per partial sum of the thin-plate gradient. Fixed (not derived from the
/// thread count), so the summation order — and every bit of the result — is the same for any
/// number of threads.
public let thinPlateBackwardChunk = 2048

/// Partial sums of grad_d = Mᵀ·grad_grid for the chunks `tasks` ⊂ [0, C), C = ⌈H·W / chunk⌉:
/// chunk c sums M[p, :]·grad_grid[n, p, :] in Double over its positions p, for every batch
/// element n, into partials[(n·C + c)·2K ..< +K] (x components) and the next K (y components).
/// Each row of M is read once for the whole batch. matrix: (H·W)×K; gradGrid: N×H×W×2;
/// partials: N·C·2K.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func thinPlateGrid2DBackwardPartials<T: STNFloat>(
    matrix: UnsafePointer<Double>, gradGrid: UnsafePointer<T>, partials: UnsafeMutablePointer<Double>,
    batch: Int, count k: Int, points: Int, tasks: Range<Int>
) {
    let chunks = (points + thinPlateBackwardChunk - 1) / thinPlateBackwardChunk
    for c in tasks {
        let p0 = c * thinPlateBackwardChunk, p1 = min(points, p0 + thinPlateBackwardChunk)
        for n in 0..<batch {
            let ax = partials + (n * chunks + c) * 2 * k
            for j in 0..<(2 * k) { ax[j] = 0 }
        }
        for p in p0..<p1 {
            let m = matrix + p * k
            for n in 0..<batch {
                let ax = partials + (n * chunks + c) * 2 * k, ay = ax + k
                let g = gradGrid + (n * points + p) * 2
                let gx = Double(g[0]), gy = Double(g[1])
                for j in 0..<k {
                    ax[j] += m[j] * gx
                    ay[j] += m[j] * gy
                }
            }
        }
    }
}

/// grad_d[n, j, :] = Σ_c partials[n·C + c] in the order c = 0, 1, …, C − 1, rounded once, for
/// batch elements `batches`. gradDisplacements: N×K×2.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func thinPlateGrid2DBackwardReduce<T: STNFloat>(
    partials: UnsafePointer<Double>, gradDisplacements: UnsafeMutablePointer<T>, count k: Int, points: Int,
    batches: Range<Int>
) {
    let chunks = (points + thinPlateBackwardChunk - 1) / thinPlateBackwardChunk
    for n in batches {
        let o = gradDisplacements + n * k * 2
        for j in 0..<k {
            var sx = 0.0, sy = 0.0
            for c in 0..<chunks {
                let part = partials + (n * chunks + c) * 2 * k
                sx += part[j]
                sy += part[k + j]
            }
            o[2 * j] = T(sx)
            o[2 * j + 1] = T(sy)
        }
    }
}
