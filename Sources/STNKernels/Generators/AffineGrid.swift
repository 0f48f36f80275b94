// affine_grid: the grid generator of a spatial transformer. Each output position's normalised
// base coordinate (x, y[, z], 1) is multiplied by theta. Base coordinates follow PyTorch's
// `linspace_from_neg_one`, including its two-ended linspace and the align_corners=False rescale,
// so the generated grids agree with PyTorch's to the last bit or two.

/// The i-th of `steps` base coordinates spanning [−1, 1] (pixel centres at ±1 with
/// `alignCorners`, pixel edges at ±1 without).
///
/// PyTorch's CPU linspace fills the first half as `start + step·i` and the second half as
/// `end − step·(steps − 1 − i)`, each a fused multiply-add in its AVX2/AVX-512 builds; doing the
/// same (`addingProduct`) reproduces its coordinates bit for bit (checked against torch 2.15 for
/// every length up to 400, float32 and float64).
@inlinable @inline(__always)
public func baseCoordinate<T: STNFloat>(_ i: Int, steps: Int, alignCorners: Bool) -> T {
    if steps <= 1 { return 0 }
    let step = T(2) / T(steps - 1)
    let v: T = i < steps / 2 ? T(-1).addingProduct(step, T(i)) : T(1).addingProduct(-step, T(steps - i - 1))
    return alignCorners ? v : v * T(steps - 1) / T(steps)
}

/// Writes grid[n, h, w] = theta[n] · (x_w, y_h, 1) for the flattened rows `rows` ⊂ [0, N·H).
/// theta: N×2×3, grid: N×H×W×2, both C-contiguous.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func affineGrid2D<T: STNFloat>(
    theta: UnsafePointer<T>, grid: UnsafeMutablePointer<T>, height: Int, width: Int,
    alignCorners: Bool, rows: Range<Int>
) {
    for r in rows {
        let n = r / height, h = r - n * height
        let t = theta + 6 * n
        var out = grid + r * width * 2
        let y: T = baseCoordinate(h, steps: height, alignCorners: alignCorners)
        // Row terms are shared by the whole row.
        let ry0 = y * t[1], ry1 = y * t[4]
        for w in 0..<width {
            let x: T = baseCoordinate(w, steps: width, alignCorners: alignCorners)
            out[0] = x * t[0] + ry0 + t[2]
            out[1] = x * t[3] + ry1 + t[5]
            out += 2
        }
    }
}

/// grad_theta[n] = Σ_positions grad_grid[n, p] ⊗ (x, y, 1) for batch elements `batches`.
/// gradGrid: N×H×W×2, gradTheta: N×2×3 (overwritten).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func affineGrid2DBackward<T: STNFloat>(
    gradGrid: UnsafePointer<T>, gradTheta: UnsafeMutablePointer<T>, height: Int, width: Int,
    alignCorners: Bool, batches: Range<Int>
) {
    for n in batches {
        var g = gradGrid + n * height * width * 2
        var a00: T = 0, a01: T = 0, a02: T = 0, a10: T = 0, a11: T = 0, a12: T = 0
        for h in 0..<height {
            let y: T = baseCoordinate(h, steps: height, alignCorners: alignCorners)
            var sx0: T = 0, sx1: T = 0, s0: T = 0, s1: T = 0
            for w in 0..<width {
                let x: T = baseCoordinate(w, steps: width, alignCorners: alignCorners)
                sx0 += g[0] * x; sx1 += g[1] * x
                s0 += g[0]; s1 += g[1]
                g += 2
            }
            a00 += sx0; a10 += sx1
            a01 += s0 * y; a11 += s1 * y
            a02 += s0; a12 += s1
        }
        let o = gradTheta + 6 * n
        o[0] = a00; o[1] = a01; o[2] = a02
        o[3] = a10; o[4] = a11; o[5] = a12
    }
}

/// Writes grid[n, d, h, w] = theta[n] · (x_w, y_h, z_d, 1) for the flattened rows `rows`
/// ⊂ [0, N·D·H). theta: N×3×4, grid: N×D×H×W×3.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func affineGrid3D<T: STNFloat>(
    theta: UnsafePointer<T>, grid: UnsafeMutablePointer<T>, depth: Int, height: Int, width: Int,
    alignCorners: Bool, rows: Range<Int>
) {
    for r in rows {
        let n = r / (depth * height), dh = r - n * depth * height
        let d = dh / height, h = dh - d * height
        let t = theta + 12 * n
        var out = grid + r * width * 3
        let z: T = baseCoordinate(d, steps: depth, alignCorners: alignCorners)
        let y: T = baseCoordinate(h, steps: height, alignCorners: alignCorners)
        for w in 0..<width {
            let x: T = baseCoordinate(w, steps: width, alignCorners: alignCorners)
            out[0] = x * t[0] + y * t[1] + z * t[2] + t[3]
            out[1] = x * t[4] + y * t[5] + z * t[6] + t[7]
            out[2] = x * t[8] + y * t[9] + z * t[10] + t[11]
            out += 3
        }
    }
}

/// grad_theta[n] = Σ_p grad_grid[n, p] ⊗ (x, y, z, 1). gradGrid: N×D×H×W×3, gradTheta: N×3×4.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func affineGrid3DBackward<T: STNFloat>(
    gradGrid: UnsafePointer<T>, gradTheta: UnsafeMutablePointer<T>, depth: Int, height: Int,
    width: Int, alignCorners: Bool, batches: Range<Int>
) {
    for n in batches {
        var g = gradGrid + n * depth * height * width * 3
        // acc[r][k]: row r of theta, column k of (x, y, z, 1).
        var acc = SIMD16<T>()
        for d in 0..<depth {
            let z: T = baseCoordinate(d, steps: depth, alignCorners: alignCorners)
            for h in 0..<height {
                let y: T = baseCoordinate(h, steps: height, alignCorners: alignCorners)
                for w in 0..<width {
                    let x: T = baseCoordinate(w, steps: width, alignCorners: alignCorners)
                    for r in 0..<3 {
                        let gr = g[r]
                        acc[4 * r] += gr * x; acc[4 * r + 1] += gr * y
                        acc[4 * r + 2] += gr * z; acc[4 * r + 3] += gr
                    }
                    g += 3
                }
            }
        }
        let o = gradTheta + 12 * n
        for i in 0..<12 { o[i] = acc[i] }
    }
}
