// General matrix multiply C (+)= op(A)·op(B), row-major, over raw pointers: the workhorse of the
// convolution (im2col) and linear layers.
//
// Two code paths, chosen by the transpose flags:
//
// * "NT" (A not transposed, B transposed): every output is a dot product of two rows that are
//   contiguous along k, so the kernel vectorises along k, holds a 2×8 tile of SIMD16 partial sums
//   in registers and folds the 16 accumulators into one vector with a shuffle tree at the end
//   (15 shuffles+adds instead of 16 horizontal sums). No packing, no workspace. This is the
//   convolution weight gradient (dY·colᵀ, reduction over output positions) and the linear
//   forward pass (x·Wᵀ).
// * everything else: A is packed into zero-padded panels of `GEMMTile.mr` rows (k-major), and the
//   micro-kernel keeps an MR×(4 vectors) tile of C in registers, broadcasting one A value per row
//   and loading four B vectors per k. B is read in place when it is not transposed (its rows are
//   already contiguous along n); only a transposed B or the ragged last column panel is copied
//   into a zero-padded panel.
//
// MR = 5 because the layer widths of the STN tutorial net (10, 20 output channels; 25, 200, 250
// im2col rows) are multiples of 5, so no FLOPs are wasted on padding rows, and 5×4 accumulators
// plus four B vectors and a broadcast fit AVX-512's 32 registers.
//
// Rounding does not depend on where an element falls in the tiling: every element of C is the
// same chain of fused multiply-adds along k (then the same reduction tree in the NT path)
// whether it sits in a full tile or an edge tile. So a layer may split its batch into row ranges
// without changing a single bit of the result.

/// Register-tile sizes of the packed micro-kernel.
@usableFromInline
enum GEMMTile {
    /// Rows of C per micro-tile (and rows per packed A panel).
    @usableFromInline static let mr = 5
    /// SIMD vectors of C per micro-tile row.
    @usableFromInline static let vectors = 4
    /// Widest column panel over both scalar types (Float: 4 × 16 lanes; Double uses 4 × 8).
    @usableFromInline static let nrMax = 64
}

/// Scratch elements (of the scalar type) that `gemm` needs for an m×n×k product, whatever the
/// transpose flags: packed A, one packed B panel and one edge tile of C.
@inlinable
public func gemmWorkspaceCount(m: Int, n: Int, k: Int) -> Int {
    gemmPackedACount(m: m, k: k) + gemmPanelWorkspaceCount(k: k)
}

/// Elements of a packed A (m rows rounded up to whole panels).
@inlinable
func gemmPackedACount(m: Int, k: Int) -> Int {
    (m + GEMMTile.mr - 1) / GEMMTile.mr * GEMMTile.mr * k
}

/// Elements the panel driver needs besides packed A: one B panel and one C edge tile.
@inlinable
func gemmPanelWorkspaceCount(k: Int) -> Int {
    GEMMTile.nrMax * k + GEMMTile.mr * GEMMTile.nrMax
}

/// C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`, with op(A) m×k and op(B) k×n.
///
/// Row-major with leading dimensions: A[i, p] is `a[i*lda + p]`, or `a[p*lda + i]` when
/// `transA`; likewise B (k×n, or n×k stored when `transB`); C[i, j] is `c[i*ldc + j]`.
/// `workspace` must hold `gemmWorkspaceCount(m:n:k:)` elements and must not alias A, B or C.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gemm<T: STNFloat>(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
    c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool,
    workspace: UnsafeMutablePointer<T>
) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).initialize(repeating: 0, count: n) } }
        return
    }
    if !transA && transB {
        gemmNT(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        return
    }
    gemmPackA(transA: transA, m: m, k: k, a: a, lda: lda, into: workspace)
    gemmPackedA(
        m: m, n: n, k: k, packedA: workspace, b: b, ldb: ldb, transB: transB,
        bPaddedToVectors: false, cPaddedToVectors: false, c: c, ldc: ldc, accumulate: accumulate,
        workspace: workspace + gemmPackedACount(m: m, k: k))
}

// MARK: - Packed path

/// Copies op(A) (m×k) into panels of `GEMMTile.mr` rows: panel t holds, for each p, the values
/// A[t·MR + r, p] for r in 0..<MR, zero past row m. Callers that multiply many B by the same A
/// (a convolution over a batch) pack once and call `gemmPackedA` per B.
@inlinable
func gemmPackA<T: STNFloat>(
    transA: Bool, m: Int, k: Int, a: UnsafePointer<T>, lda: Int, into dst: UnsafeMutablePointer<T>
) {
    let mr = GEMMTile.mr
    let panels = (m + mr - 1) / mr
    for t in 0..<panels {
        let panel = dst + t * mr * k
        for r in 0..<mr {
            let i = t * mr + r
            if i >= m {
                for p in 0..<k { panel[p * mr + r] = 0 }
            } else if transA {
                for p in 0..<k { panel[p * mr + r] = a[p * lda + i] }
            } else {
                let row = a + i * lda
                for p in 0..<k { panel[p * mr + r] = row[p] }
            }
        }
    }
}

/// C (+)= A·op(B) with A already packed by `gemmPackA`. `workspace` holds
/// `gemmPanelWorkspaceCount(k:)` elements.
///
/// `bPaddedToVectors` promises that an untransposed B may be read (and holds zeros) up to n
/// rounded up to a multiple of 16 in every row, so the ragged last panel is read in place too.
/// `cPaddedToVectors` promises that every row of C may be written up to n rounded up to a
/// multiple of 16 (scratch that is read back only up to n), so ragged tiles are stored directly
/// instead of through the edge tile; it is honoured only when overwriting.
@inlinable
func gemmPackedA<T: STNFloat>(
    m: Int, n: Int, k: Int, packedA: UnsafePointer<T>, b: UnsafePointer<T>, ldb: Int, transB: Bool,
    bPaddedToVectors: Bool = false, cPaddedToVectors: Bool = false,
    c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool, workspace: UnsafeMutablePointer<T>
) {
    let padded = bPaddedToVectors && !transB
    let cPadded = cPaddedToVectors && !accumulate
    // Float: 16-lane vectors (one AVX-512 register); Double: 8 lanes.
    if MemoryLayout<T>.size == 4 {
        gemmPanels(m, n, k, packedA, b, ldb, transB, padded, c, ldc, cPadded, accumulate, workspace, SIMD16<T>.self)
    } else {
        gemmPanels(m, n, k, packedA, b, ldb, transB, padded, c, ldc, cPadded, accumulate, workspace, SIMD8<T>.self)
    }
}

@inlinable @inline(__always)
func simdLoad<V: SIMD>(_ p: UnsafePointer<V.Scalar>, _: V.Type = V.self) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

@inlinable @inline(__always)
func simdStore<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}

/// The macro-kernel: column panels of NR = 4 vectors outermost (so one B panel stays in L1 while
/// every A panel passes over it), row panels inside.
@inlinable
func gemmPanels<T: STNFloat, V: SIMD>(
    _ m: Int, _ n: Int, _ k: Int, _ packedA: UnsafePointer<T>, _ b: UnsafePointer<T>, _ ldb: Int,
    _ transB: Bool, _ bPadded: Bool, _ c: UnsafeMutablePointer<T>, _ ldc: Int, _ cPadded: Bool,
    _ accumulate: Bool,
    _ workspace: UnsafeMutablePointer<T>, _: V.Type
) where V.Scalar == T {
    let mr = GEMMTile.mr, vl = V.scalarCount, nr = GEMMTile.vectors * vl
    let panel = workspace, tile = workspace + GEMMTile.nrMax * k
    let rowPanels = (m + mr - 1) / mr
    var j0 = 0
    while j0 < n {
        let nb = Swift.min(nr, n - j0)
        let nv = (nb + vl - 1) / vl
        let bp: UnsafePointer<T>, ldbp: Int
        if !transB && (nb == nr || bPadded) {
            bp = b + j0; ldbp = ldb
        } else {
            // Copy (and for a transposed B, transpose) the panel, zero-padding to whole vectors.
            let width = nv * vl
            for p in 0..<k {
                let dst = panel + p * nr
                if transB {
                    for jj in 0..<nb { dst[jj] = b[(j0 + jj) * ldb + p] }
                } else {
                    let src = b + p * ldb + j0
                    for jj in 0..<nb { dst[jj] = src[jj] }
                }
                for jj in nb..<width { dst[jj] = 0 }
            }
            bp = UnsafePointer(panel); ldbp = nr
        }
        for t in 0..<rowPanels {
            let i0 = t * mr, mb = Swift.min(mr, m - i0)
            let ap = packedA + t * mr * k
            if mb == mr && nb == nr {
                gemmMicro5x4(k, ap, bp, ldbp, c + i0 * ldc + j0, ldc, accumulate, V.self)
                continue
            }
            if cPadded && mb == mr {
                // Ragged columns only, into a C with room: store whole vectors in place.
                let cp = c + i0 * ldc + j0
                if nv == GEMMTile.vectors {
                    gemmMicro5x4(k, ap, bp, ldbp, cp, ldc, false, V.self)
                } else {
                    for v in 0..<nv { gemmMicro5x1(k, ap, bp + v * vl, ldbp, cp + v * vl, ldc, V.self) }
                }
                continue
            }
            // Edge tile: compute into the scratch tile, then add/copy the valid part.
            if nv == GEMMTile.vectors {
                gemmMicro5x4(k, ap, bp, ldbp, tile, nr, false, V.self)
            } else {
                for v in 0..<nv { gemmMicro5x1(k, ap, bp + v * vl, ldbp, tile + v * vl, nr, V.self) }
            }
            for r in 0..<mb {
                let dst = c + (i0 + r) * ldc + j0, src = tile + r * nr
                if accumulate {
                    for jj in 0..<nb { dst[jj] += src[jj] }
                } else {
                    for jj in 0..<nb { dst[jj] = src[jj] }
                }
            }
        }
        j0 += nr
    }
}

/// 5 rows × 4 vectors of C: per k, four B loads, five broadcasts, twenty FMAs.
@inlinable @inline(__always)
func gemmMicro5x4<T: STNFloat, V: SIMD>(
    _ k: Int, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ ldb: Int,
    _ c: UnsafeMutablePointer<T>, _ ldc: Int, _ accumulate: Bool, _: V.Type
) where V.Scalar == T {
    let vl = V.scalarCount
    var c00 = V(), c01 = V(), c02 = V(), c03 = V()
    var c10 = V(), c11 = V(), c12 = V(), c13 = V()
    var c20 = V(), c21 = V(), c22 = V(), c23 = V()
    var c30 = V(), c31 = V(), c32 = V(), c33 = V()
    var c40 = V(), c41 = V(), c42 = V(), c43 = V()
    var ap = a, bp = b
    for _ in 0..<k {
        let b0: V = simdLoad(bp), b1: V = simdLoad(bp + vl)
        let b2: V = simdLoad(bp + 2 * vl), b3: V = simdLoad(bp + 3 * vl)
        var x = V(repeating: ap[0])
        c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
        c02 = c02.addingProduct(x, b2); c03 = c03.addingProduct(x, b3)
        x = V(repeating: ap[1])
        c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
        c12 = c12.addingProduct(x, b2); c13 = c13.addingProduct(x, b3)
        x = V(repeating: ap[2])
        c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
        c22 = c22.addingProduct(x, b2); c23 = c23.addingProduct(x, b3)
        x = V(repeating: ap[3])
        c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
        c32 = c32.addingProduct(x, b2); c33 = c33.addingProduct(x, b3)
        x = V(repeating: ap[4])
        c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
        c42 = c42.addingProduct(x, b2); c43 = c43.addingProduct(x, b3)
        ap += GEMMTile.mr; bp += ldb
    }
    @inline(__always) func put(_ v: V, _ p: UnsafeMutablePointer<T>) {
        simdStore(accumulate ? simdLoad(p) + v : v, p)
    }
    var cp = c
    put(c00, cp); put(c01, cp + vl); put(c02, cp + 2 * vl); put(c03, cp + 3 * vl); cp += ldc
    put(c10, cp); put(c11, cp + vl); put(c12, cp + 2 * vl); put(c13, cp + 3 * vl); cp += ldc
    put(c20, cp); put(c21, cp + vl); put(c22, cp + 2 * vl); put(c23, cp + 3 * vl); cp += ldc
    put(c30, cp); put(c31, cp + vl); put(c32, cp + 2 * vl); put(c33, cp + 3 * vl); cp += ldc
    put(c40, cp); put(c41, cp + vl); put(c42, cp + 2 * vl); put(c43, cp + 3 * vl)
}

/// 5 rows × 1 vector, for the ragged last column panel; overwrites C.
@inlinable @inline(__always)
func gemmMicro5x1<T: STNFloat, V: SIMD>(
    _ k: Int, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ ldb: Int,
    _ c: UnsafeMutablePointer<T>, _ ldc: Int, _: V.Type
) where V.Scalar == T {
    var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V()
    var ap = a, bp = b
    for _ in 0..<k {
        let b0: V = simdLoad(bp)
        c0 = c0.addingProduct(V(repeating: ap[0]), b0)
        c1 = c1.addingProduct(V(repeating: ap[1]), b0)
        c2 = c2.addingProduct(V(repeating: ap[2]), b0)
        c3 = c3.addingProduct(V(repeating: ap[3]), b0)
        c4 = c4.addingProduct(V(repeating: ap[4]), b0)
        ap += GEMMTile.mr; bp += ldb
    }
    simdStore(c0, c); simdStore(c1, c + ldc); simdStore(c2, c + 2 * ldc)
    simdStore(c3, c + 3 * ldc); simdStore(c4, c + 4 * ldc)
}

// MARK: - NT path (dot products along k)

/// Sum of the 16 lanes in the fixed order of `gemmFold16`'s shuffle tree (halves, then adjacent
/// pairs twice, then the last pair), so edge elements round exactly like tile elements.
@inlinable @inline(__always)
func laneSum16<T: STNFloat>(_ x: SIMD16<T>) -> T {
    let h = x.lowHalf + x.highHalf
    let q = h.evenHalf + h.oddHalf
    let e = q.evenHalf + q.oddHalf
    return e[0] + e[1]
}

/// Folds 16 accumulators into one vector whose lane i is `laneSum16` of accumulator i.
@inlinable @inline(__always)
func gemmFold16<T: STNFloat>(
    _ a: SIMD16<T>, _ b: SIMD16<T>, _ c: SIMD16<T>, _ d: SIMD16<T>,
    _ e: SIMD16<T>, _ f: SIMD16<T>, _ g: SIMD16<T>, _ h: SIMD16<T>,
    _ i: SIMD16<T>, _ j: SIMD16<T>, _ k: SIMD16<T>, _ l: SIMD16<T>,
    _ m: SIMD16<T>, _ n: SIMD16<T>, _ o: SIMD16<T>, _ p: SIMD16<T>
) -> SIMD16<T> {
    @inline(__always) func halves(_ x: SIMD16<T>, _ y: SIMD16<T>) -> SIMD16<T> {
        SIMD16(lowHalf: x.lowHalf + x.highHalf, highHalf: y.lowHalf + y.highHalf)
    }
    @inline(__always) func pairs(_ x: SIMD16<T>, _ y: SIMD16<T>) -> SIMD16<T> {
        SIMD16(lowHalf: x.evenHalf + x.oddHalf, highHalf: y.evenHalf + y.oddHalf)
    }
    let ab = halves(a, b), cd = halves(c, d), ef = halves(e, f), gh = halves(g, h)
    let ij = halves(i, j), kl = halves(k, l), mn = halves(m, n), op = halves(o, p)
    let abcd = pairs(ab, cd), efgh = pairs(ef, gh), ijkl = pairs(ij, kl), mnop = pairs(mn, op)
    let a_h = pairs(abcd, efgh), i_p = pairs(ijkl, mnop)
    return pairs(a_h, i_p)
}

/// C[m×n] (+)= A[m×k]·B[n×k]ᵀ with unit stride along k in both operands.
@inlinable
func gemmNT<T: STNFloat>(
    m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
    c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool
) {
    let kv = k / 16 * 16
    var i = 0
    while i + 2 <= m {
        var j = 0
        while j + 8 <= n {
            gemmNTTile2x8(kv, k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, accumulate)
            j += 8
        }
        for r in i..<(i + 2) {
            for jj in j..<n { gemmNTDot(kv, k, a + r * lda, b + jj * ldb, c + r * ldc + jj, accumulate) }
        }
        i += 2
    }
    for r in i..<m {
        for jj in 0..<n { gemmNTDot(kv, k, a + r * lda, b + jj * ldb, c + r * ldc + jj, accumulate) }
    }
}

/// One element of the NT product, rounded exactly like a tile element.
@inlinable @inline(__always)
func gemmNTDot<T: STNFloat>(
    _ kv: Int, _ k: Int, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
    _ c: UnsafeMutablePointer<T>, _ accumulate: Bool
) {
    var acc = SIMD16<T>()
    var p = 0
    while p < kv {
        acc = acc.addingProduct(simdLoad(a + p), simdLoad(b + p))
        p += 16
    }
    var s = laneSum16(acc)
    for q in kv..<k { s = s.addingProduct(a[q], b[q]) }
    c.pointee = accumulate ? c.pointee + s : s
}

/// Two rows of A against eight rows of B: per 16 values of k, ten loads and sixteen FMAs.
@inlinable @inline(__always)
func gemmNTTile2x8<T: STNFloat>(
    _ kv: Int, _ k: Int, _ a: UnsafePointer<T>, _ lda: Int, _ b: UnsafePointer<T>, _ ldb: Int,
    _ c: UnsafeMutablePointer<T>, _ ldc: Int, _ accumulate: Bool
) {
    typealias V = SIMD16<T>
    var s00 = V(), s01 = V(), s02 = V(), s03 = V(), s04 = V(), s05 = V(), s06 = V(), s07 = V()
    var s10 = V(), s11 = V(), s12 = V(), s13 = V(), s14 = V(), s15 = V(), s16 = V(), s17 = V()
    let a0 = a, a1 = a + lda
    let b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb
    let b4 = b + 4 * ldb, b5 = b + 5 * ldb, b6 = b + 6 * ldb, b7 = b + 7 * ldb
    var p = 0
    while p < kv {
        let x0: V = simdLoad(a0 + p), x1: V = simdLoad(a1 + p)
        var y: V = simdLoad(b0 + p)
        s00 = s00.addingProduct(x0, y); s10 = s10.addingProduct(x1, y)
        y = simdLoad(b1 + p)
        s01 = s01.addingProduct(x0, y); s11 = s11.addingProduct(x1, y)
        y = simdLoad(b2 + p)
        s02 = s02.addingProduct(x0, y); s12 = s12.addingProduct(x1, y)
        y = simdLoad(b3 + p)
        s03 = s03.addingProduct(x0, y); s13 = s13.addingProduct(x1, y)
        y = simdLoad(b4 + p)
        s04 = s04.addingProduct(x0, y); s14 = s14.addingProduct(x1, y)
        y = simdLoad(b5 + p)
        s05 = s05.addingProduct(x0, y); s15 = s15.addingProduct(x1, y)
        y = simdLoad(b6 + p)
        s06 = s06.addingProduct(x0, y); s16 = s16.addingProduct(x1, y)
        y = simdLoad(b7 + p)
        s07 = s07.addingProduct(x0, y); s17 = s17.addingProduct(x1, y)
        p += 16
    }
    var r = gemmFold16(
        s00, s01, s02, s03, s04, s05, s06, s07,
        s10, s11, s12, s13, s14, s15, s16, s17)
    if kv < k {
        // Scalar tail of k, added after the tree exactly as `gemmNTDot` does.
        for jj in 0..<8 {
            let bj = b + jj * ldb
            var t0 = r[jj], t1 = r[8 + jj]
            for q in kv..<k { t0 = t0.addingProduct(a0[q], bj[q]); t1 = t1.addingProduct(a1[q], bj[q]) }
            r[jj] = t0; r[8 + jj] = t1
        }
    }
    let c0 = c, c1 = c + ldc
    if accumulate {
        simdStore(simdLoad(c0) + r.lowHalf, c0)
        simdStore(simdLoad(c1) + r.highHalf, c1)
    } else {
        simdStore(r.lowHalf, c0)
        simdStore(r.highHalf, c1)
    }
}
