import XCTest

@testable import STNKernels

/// The gather helpers (`Gather.swift`, over `STNSIMD`) against plain indexing. A debug build
/// runs their portable bodies; `swift test -c release` with `SWIFTSTN_TARGET_CPU=native` on an
/// AVX-512 machine runs the gather instructions (scripts/test.sh does both).
final class GatherTests: XCTestCase {
    let values: [Float] = (0..<200).map { Float($0) * 0.5 - 17 }

    func testGatherAndMaskedGather() {
        let idx = SIMD16<Int32>(3, 0, 199, 42, 7, 7, 150, 1, 99, 100, 101, 5, 60, 61, 180, 2)
        var holes = idx
        holes[2] = -1; holes[9] = -1; holes[15] = -1
        values.withUnsafeBufferPointer { v in
            let p = v.baseAddress!
            let g = gatherTaps(p, idx)
            let m = gatherTaps(p, holes, or: SIMD16(repeating: 123.5))
            for i in 0..<16 {
                XCTAssertEqual(g[i], values[Int(idx[i])])
                XCTAssertEqual(m[i], holes[i] < 0 ? 123.5 : values[Int(holes[i])])
            }
        }
    }

    func testPairs() {
        let idx = SIMD16<Int32>(0, 198, 10, 11, 12, 50, 50, 3, 77, 150, 151, 9, 120, 64, 31, 100)
        values.withUnsafeBufferPointer { v in
            let (a, b) = gatherTapPairs(v.baseAddress!, idx)
            for i in 0..<16 {
                XCTAssertEqual(a[i], values[Int(idx[i])])
                XCTAssertEqual(b[i], values[Int(idx[i]) + 1])
            }
        }
        XCTAssertTrue(arePairs(idx, idx &+ 1))
        var second = idx &+ 1
        second[7] = idx[7] + 2
        XCTAssertFalse(arePairs(idx, second))
        var first = idx
        first[3] = -1
        second = first &+ 1  // −1, 0: "consecutive", but the first tap is outside
        XCTAssertFalse(arePairs(first, second))
    }

    func testAnyOutside() {
        XCTAssertFalse(anyOutside(SIMD16<Int32>(repeating: 0)))
        for lane in 0..<16 {
            var v = SIMD16<Int32>(repeating: 5)
            v[lane] = -1
            XCTAssertTrue(anyOutside(v), "lane \(lane)")
        }
    }

    func testPrefetchHintsCoverTheNextInputOnce() {
        values.withUnsafeBufferPointer { v in
            let base = UnsafeRawPointer(v.baseAddress!)
            var p = NextInputPrefetch(next: base, bytes: 800, steps: 4)  // 13 lines, 4 per step
            XCTAssertEqual(p.lines, 13)
            XCTAssertEqual(p.perStep, 4)
            for _ in 0..<10 { p.step() }
            XCTAssertEqual(p.done, 13)
            var none = NextInputPrefetch(next: nil, bytes: 800, steps: 4)
            none.step(3)
            XCTAssertEqual(none.done, 0)
            let big = NextInputPrefetch(next: base, bytes: NextInputPrefetch.maxBytes + 1, steps: 4)
            XCTAssertNil(big.base)
        }
    }
}
