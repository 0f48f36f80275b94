// A dense linear solve, Gaussian elimination with partial pivoting, in Double: what the
// thin-plate spline needs for its (K+3)×(K+3) system (K control points, tens to a few hundred),
// once per control-point set. Textbook row-oriented elimination; no allocation.

/// Solves A·X = B in place. `a` (n×n, row-major) is destroyed; `b` (n×nrhs, row-major) becomes
/// X. Returns false — and leaves `b` partially overwritten — if some pivot's magnitude is at
/// most `relativeTolerance` · max|A_ij| (A singular, or too close to it for X to mean
/// anything), or if A holds a non-finite entry.
public func solveLinearSystemInPlace(
    a: UnsafeMutablePointer<Double>, b: UnsafeMutablePointer<Double>, n: Int, nrhs: Int,
    relativeTolerance: Double
) -> Bool {
    var scale = 0.0
    for i in 0..<(n * n) {
        guard a[i].isFinite else { return false }
        scale = max(scale, abs(a[i]))
    }
    let tiny = relativeTolerance * scale
    for col in 0..<n {
        // Partial pivoting: the largest remaining entry of the column.
        var pivotRow = col
        var best = abs(a[col * n + col])
        for r in (col + 1)..<max(col + 1, n) where abs(a[r * n + col]) > best {
            best = abs(a[r * n + col])
            pivotRow = r
        }
        guard best > tiny else { return false }
        if pivotRow != col {
            for k in 0..<n { swap(&a[col * n + k], &a[pivotRow * n + k]) }
            for k in 0..<nrhs { swap(&b[col * nrhs + k], &b[pivotRow * nrhs + k]) }
        }
        let pivot = a[col * n + col]
        for r in (col + 1)..<max(col + 1, n) {
            let f = a[r * n + col] / pivot
            if f == 0 { continue }
            a[r * n + col] = 0
            for k in (col + 1)..<n { a[r * n + k] -= f * a[col * n + k] }
            for k in 0..<nrhs { b[r * nrhs + k] -= f * b[col * nrhs + k] }
        }
    }
    // Back substitution.
    for row in stride(from: n - 1, through: 0, by: -1) {
        let pivot = a[row * n + row]
        for k in 0..<nrhs {
            var s = b[row * nrhs + k]
            for j in (row + 1)..<max(row + 1, n) { s -= a[row * n + j] * b[j * nrhs + k] }
            b[row * nrhs + k] = s / pivot
        }
    }
    return true
}
