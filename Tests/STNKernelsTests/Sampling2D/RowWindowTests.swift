import STNSIMD
import XCTest

@testable import STNKernels

/// The row-window helpers (`RowWindow.swift`, over `STNSIMD`) against plain indexing. A debug
/// build runs the portable bodies of the C helpers; `swift test -c release` with
/// `SWIFTSTN_TARGET_CPU=native` on an AVX-512 machine runs the permutes and masked instructions.
final class RowWindowTests: XCTestCase {
    let width = 23
    lazy var plane: [Float] = (0..<(23 * 12 + 16)).map { Float($0) * 0.25 - 9 }

    /// Top-left offsets of 16 lanes at rows `rows[i]`, columns `columns[i]`.
    func offsets(_ rows: [Int], _ columns: [Int]) -> SIMD16<Int32> {
        var o = SIMD16<Int32>()
        for i in 0..<16 { o[i] = Int32(rows[i] * width + columns[i]) }
        return o
    }

    func testWindowFindsRowsColumnsAndMasks() {
        // An affine-like chunk: columns rising by about 0.9, rows by about 0.15 per lane.
        let rows = (0..<16).map { 3 + ($0 >= 6 ? 1 : 0) + ($0 >= 12 ? 1 : 0) }
        let cols = (0..<16).map { 4 + ($0 * 9) / 10 }
        let top = offsets(rows, cols)
        let win = RowWindow(
            top, width: width, maxColumn: 14, extraRows: 1,
            readable: plane.count)
        XCTAssertNotNil(win)
        guard let win else { return }
        XCTAssertEqual(win.base, rows.min()! * width + cols.min()!)
        XCTAssertEqual(win.rows, rows.max()! - rows.min()! + 1)
        for i in 0..<16 {
            let r = rows[i] - rows.min()!
            XCTAssertEqual(Int(win.column[i]), cols[i] - cols.min()!, "lane \(i)")
            for k in 1...3 { XCTAssertEqual(win.lanes(inRow: k) >> i & 1 == 1, r == k, "lane \(i) row \(k)") }
        }
        // The taps read through the window are the plane's.
        plane.withUnsafeBufferPointer { p in
            let (v00, v01, v10, v11) = withRowCount(win) {
                bilinearWindowTaps(p.baseAddress!, width: width, win, rows: $0)
            }
            for i in 0..<16 {
                let o = Int(top[i])
                XCTAssertEqual(v00[i], plane[o]); XCTAssertEqual(v01[i], plane[o + 1])
                XCTAssertEqual(v10[i], plane[o + width]); XCTAssertEqual(v11[i], plane[o + width + 1])
            }
            let near = withRowCount(win) { nearestWindowTap(p.baseAddress!, width: width, win, rows: $0) }
            for i in 0..<16 { XCTAssertEqual(near[i], plane[Int(top[i])]) }
        }
    }

    func testWindowRefusesWhatDoesNotFit() {
        let base = (0..<16).map { _ in 2 }
        // Columns spanning 16 (the right taps would leave the 16 loaded floats).
        XCTAssertNil(
            RowWindow(
                offsets(base, Array(0..<16)), width: width, maxColumn: 14,
                extraRows: 1, readable: plane.count))
        // Five rows.
        XCTAssertNil(
            RowWindow(
                offsets((0..<16).map { $0 / 4 + ($0 == 15 ? 1 : 0) }, (0..<16).map { $0 / 2 }),
                width: width, maxColumn: 14, extraRows: 1, readable: plane.count))
        // A lane left of the first and last lanes' least column (not monotonic).
        var cols = (0..<16).map { 5 + $0 / 2 }
        cols[8] = 3
        XCTAssertNil(
            RowWindow(
                offsets(base, cols), width: width, maxColumn: 14, extraRows: 1,
                readable: plane.count))
        // Rows read past `readable`.
        let rows = (0..<16).map { _ in 10 }
        XCTAssertNil(
            RowWindow(
                offsets(rows, (0..<16).map { $0 / 2 }), width: width, maxColumn: 14,
                extraRows: 1, readable: 11 * width))
        XCTAssertNotNil(
            RowWindow(
                offsets(rows, (0..<16).map { $0 / 2 }), width: width, maxColumn: 14,
                extraRows: 1, readable: 11 * width + 16))
    }

    func testTopLeftFromFourTaps() {
        let W = Int32(width)
        var o00 = SIMD16<Int32>(repeating: 0), o01 = o00, o10 = o00, o11 = o00
        for i in 0..<16 {
            let t = Int32(2 * Int(W) + i)
            o00[i] = t; o01[i] = t + 1; o10[i] = t + W; o11[i] = t + W + 1
        }
        // Lane 0: top row outside; lane 1: left column outside; lane 2: only the bottom-right
        // inside; lane 3: nothing inside (takes the first lane with a tap inside: lane 0).
        o00[0] = -1; o01[0] = -1
        o00[1] = -1; o10[1] = -1
        o00[2] = -1; o01[2] = -1; o10[2] = -1
        o00[3] = -1; o01[3] = -1; o10[3] = -1; o11[3] = -1
        let t = stn_top_left_i32x16(o00, o01, o10, o11, W)
        for i in 0..<16 where i != 3 { XCTAssertEqual(t[i], Int32(2 * Int(W) + i), "lane \(i)") }
        XCTAssertEqual(t[3], t[0])
        let none = SIMD16<Int32>(repeating: -1)
        XCTAssertEqual(stn_top_left_i32x16(none, none, none, none, W), none)
        XCTAssertEqual(stn_nonnegative_mask_i32x16(o00), 0xFFF0)
    }

    func testFirstLanesMaskedLoadsAndStores() {
        let v = SIMD16<Int32>(0..<16)
        for m in 1...16 {
            let f = stn_first_i32x16(v, Int32(m))
            for i in 0..<16 { XCTAssertEqual(f[i], i < m ? Int32(i) : 0) }
        }
        var buffer = [Float](repeating: 7, count: 20)
        plane.withUnsafeBufferPointer { p in
            let x = firstLanes(p.baseAddress!, 5)
            for i in 0..<16 { XCTAssertEqual(x[i], i < 5 ? plane[i] : 0) }
            buffer.withUnsafeMutableBufferPointer { b in storeFirstLanes(lanes16(p.baseAddress!), b.baseAddress! + 2, 9)
            }
        }
        for i in 0..<20 { XCTAssertEqual(buffer[i], (2..<11).contains(i) ? plane[i - 2] : 7, "\(i)") }
    }

    func testPermutesAndSelect() {
        let table = SIMD16<Float>((0..<16).map { Float($0) * 1.5 })
        let idx = SIMD16<Int32>(15, 0, 3, 3, 7, 8, 1, 14, 2, 9, 10, 11, 4, 5, 6, 12)
        let p = stn_permute_f32x16(table, idx)
        let other = SIMD16<Float>(repeating: -4)
        let q = stn_permute_into_f32x16(other, 0b1010_0000_1100_0101, table, idx)
        let s = stn_select_f32x16(0b0000_1111_0000_1111, table, other)
        for i in 0..<16 {
            XCTAssertEqual(p[i], table[Int(idx[i])])
            XCTAssertEqual(q[i], 0b1010_0000_1100_0101 >> i & 1 == 1 ? table[Int(idx[i])] : -4)
            XCTAssertEqual(s[i], (i % 8) < 4 ? table[i] : -4)
        }
    }

    func testRowChunksEndAtRowEnds() {
        var spans: [(Int, Int)] = []
        forEachRowChunk(64, at: 30, outputWidth: 28) { i, m in spans.append((i, m)) }  // rows of 28
        // Positions 30..<94: column 2 of a row first, so 16, 10 | 16, 12 | 10.
        XCTAssertEqual(spans.map { $0.1 }, [16, 10, 16, 12, 10])
        XCTAssertEqual(spans.map { $0.0 }, [0, 16, 26, 42, 54])
        spans = []
        forEachRowChunk(40, at: 3, outputWidth: 9) { i, m in spans.append((i, m)) }  // narrow rows: plain 16s
        XCTAssertEqual(spans.map { $0.1 }, [16, 16, 8])
    }

    /// The 16×16 tile transpose of the channel-vector scatter, written and added, strides wider
    /// than a row (the portable body in the debug build, the shuffles in the AVX-512 build).
    func testTransposeTile() {
        let src = (0..<(16 * 21)).map { Float($0) * 0.5 - 7 }
        var dst = [Float](repeating: 1, count: 16 * 19)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                stn_transpose_16x16(s.baseAddress! + 2, 21, d.baseAddress! + 1, 19, 0)
            }
        }
        for j in 0..<16 { for i in 0..<16 { XCTAssertEqual(dst[j * 19 + 1 + i], src[i * 21 + 2 + j]) } }
        XCTAssertEqual(dst[0], 1)  // outside the tile: untouched
        XCTAssertEqual(dst[17], 1)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                stn_transpose_16x16(s.baseAddress! + 2, 21, d.baseAddress! + 1, 19, 1)
            }
        }
        for j in 0..<16 { for i in 0..<16 { XCTAssertEqual(dst[j * 19 + 1 + i], 2 * src[i * 21 + 2 + j]) } }
    }

    /// One channel of 16 pixels stored four channels per pixel (the few-channel scatter's copy).
    func testChannelOfQuads() {
        let p = (0..<64).map { Float($0) * 0.25 - 3 }
        for c in 0..<4 {
            let v = p.withUnsafeBufferPointer { stn_channel_of_quads_f32x16($0.baseAddress!, Int32(c)) }
            for j in 0..<16 { XCTAssertEqual(v[j], p[4 * j + c]) }
        }
    }
}
