import STNTestSupport
import XCTest

@testable import STNKernels

/// The matrix multiply against a naive triple loop, for odd shapes around every tile boundary,
/// all four transpose combinations, padded leading dimensions, both scalar types and both
/// overwrite and accumulate.
final class GEMMTests: XCTestCase {
    /// Runs one product through `gemm` and compares with a Double reference.
    func check<T: STNFloat>(
        _: T.Type, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, accumulate: Bool,
        rng: inout SplitMix64, tol: Double
    ) {
        // Leading dimensions with a little slack, to catch any use of the minimal one.
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 1
        let aRows = transA ? k : m, bRows = transB ? n : k
        let a = rng.array(aRows * lda), b = rng.array(bRows * ldb), c0 = rng.array(m * ldc)
        let A = Buf(a.map { T($0) }), B = Buf(b.map { T($0) }), C = Buf(c0.map { T($0) })
        let ws = Buf<T>.poisoned(gemmWorkspaceCount(m: m, n: n, k: k))
        gemm(
            transA: transA, transB: transB, m: m, n: n, k: k, a: A.cp, lda: lda, b: B.cp, ldb: ldb,
            c: C.p, ldc: ldc, accumulate: accumulate, workspace: ws.p)
        let av = A.array.map { Double($0) }, bv = B.array.map { Double($0) }, cv = C0(c0, T.self)
        for i in 0..<m {
            for j in 0..<ldc {
                let got = Double(C[i * ldc + j])
                if j >= n {  // padding columns are untouched
                    XCTAssertEqual(got, cv[i * ldc + j]); continue
                }
                var s = 0.0, mag = 0.0
                for p in 0..<k {
                    let x = transA ? av[p * lda + i] : av[i * lda + p]
                    let y = transB ? bv[j * ldb + p] : bv[p * ldb + j]
                    s += x * y; mag += abs(x * y)
                }
                if accumulate { s += cv[i * ldc + j]; mag += abs(cv[i * ldc + j]) }
                if abs(got - s) > tol * (mag + 1) {
                    XCTFail(
                        "\(T.self) tA=\(transA) tB=\(transB) m=\(m) n=\(n) k=\(k) acc=\(accumulate) C[\(i),\(j)] = \(got), want \(s)"
                    )
                    return
                }
            }
        }
    }

    private func C0<T: STNFloat>(_ c: [Double], _: T.Type) -> [Double] { c.map { Double(T($0)) } }

    let sizes = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 64, 65, 70]

    func runAll<T: STNFloat>(_: T.Type, tol: Double) {
        var rng = SplitMix64(seed: 42)
        for transA in [false, true] {
            for transB in [false, true] {
                for _ in 0..<60 {
                    let m = sizes[rng.int(sizes.count)], n = sizes[rng.int(sizes.count)]
                    let k = sizes[rng.int(sizes.count)]
                    check(
                        T.self, transA: transA, transB: transB, m: m, n: n, k: k,
                        accumulate: rng.int(2) == 1, rng: &rng, tol: tol)
                }
                // Network shapes: conv forward, input grad, weight grad; linear layers.
                for (m, n, k) in [
                    (10, 576, 25), (20, 64, 250), (8, 484, 49), (10, 49, 200),
                    (250, 64, 20), (25, 576, 10), (20, 250, 512), (32, 50, 320),
                    (50, 320, 32), (64, 6, 32), (0, 5, 5), (5, 0, 5), (4, 5, 0),
                ] {
                    check(
                        T.self, transA: transA, transB: transB, m: m, n: n, k: k,
                        accumulate: false, rng: &rng, tol: tol)
                    check(
                        T.self, transA: transA, transB: transB, m: m, n: n, k: k,
                        accumulate: true, rng: &rng, tol: tol)
                }
            }
        }
    }

    func testFloatAgainstNaive() { runAll(Float.self, tol: 2e-6) }
    func testDoubleAgainstNaive() { runAll(Double.self, tol: 1e-14) }

    /// A row of C does not depend on which other rows are computed with it (tile position), in
    /// either path: the property that lets the layers split batches without changing any bit.
    func testRowsAreIndependentOfTiling() {
        var rng = SplitMix64(seed: 7)
        for transB in [false, true] {
            let m = 13, n = 70, k = 37
            let A = Buf(toFloat(rng.array(m * k))), B = Buf(toFloat(rng.array(n * k)))
            let ldb = transB ? k : n
            let whole = Buf<Float>.poisoned(m * n)
            let ws = Buf<Float>.poisoned(gemmWorkspaceCount(m: m, n: n, k: k))
            gemm(
                transA: false, transB: transB, m: m, n: n, k: k, a: A.cp, lda: k, b: B.cp, ldb: ldb,
                c: whole.p, ldc: n, accumulate: false, workspace: ws.p)
            for (lo, hi) in [(0, 3), (3, 4), (4, 11), (11, 13)] {
                let part = Buf<Float>.poisoned((hi - lo) * n)
                gemm(
                    transA: false, transB: transB, m: hi - lo, n: n, k: k, a: A.cp + lo * k, lda: k,
                    b: B.cp, ldb: ldb, c: part.p, ldc: n, accumulate: false, workspace: ws.p)
                XCTAssertTrue(
                    bitsEqual(part.array, Array(whole.array[lo * n..<hi * n])), "rows \(lo)..<\(hi) transB=\(transB)")
            }
        }
    }

    func testLaneSumMatchesFoldTree() {
        var rng = SplitMix64(seed: 3)
        var vs = [SIMD16<Float>]()
        for _ in 0..<16 {
            var v = SIMD16<Float>()
            for l in 0..<16 { v[l] = Float(rng.uniform() * 1000) }
            vs.append(v)
        }
        let folded = gemmFold16(
            vs[0], vs[1], vs[2], vs[3], vs[4], vs[5], vs[6], vs[7],
            vs[8], vs[9], vs[10], vs[11], vs[12], vs[13], vs[14], vs[15])
        for i in 0..<16 { XCTAssertEqual(folded[i], laneSum16(vs[i])) }
    }
}
