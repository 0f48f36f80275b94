// Taps of a 16-lane chunk read from whole input rows instead of gathered (the `.rowWindow`
// paths): fewer gathered elements when a window serves many channels.
// docs/performance.md#how-rowwindowswift-works

import STNSIMD

/// Where a chunk's top-left taps lie relative to a window of up to four rows of 16 floats:
/// row `r` starts `base + r·width` into the plane; lane i's tap is at column `column[i]` of row 0,
/// 1, 2 or 3 (`row1`, `row2`, `row3` mark the lanes in rows 1–3; the rest are in row 0).
@usableFromInline
struct RowWindow {
    @usableFromInline let base: Int
    @usableFromInline let column: SIMD16<Int32>
    /// Rows spanned by the top-left taps (1…4).
    @usableFromInline let rows: Int
    @usableFromInline let row1: UInt16
    @usableFromInline let row2: UInt16
    @usableFromInline let row3: UInt16

    /// The window of the top-left tap offsets `top` (into a plane `width` wide), with every lane's
    /// column at most `maxColumn` (15 − the columns right of the top-left tap the kernel reads);
    /// nil when they do not fit, or when reading `extraRows` more rows than they span would go
    /// past `readable` floats.
    ///
    /// The window starts at the row and column of the first or the last lane, whichever is less
    /// (the least of all lanes when the grid is monotonic along the chunk, as an affine grid is),
    /// or else at the first or last lane's offset, whichever is less (where the chunk starts left
    /// of the input: an offset "left of column 0" reads as the end of the row above).
    @inlinable @inline(__always)
    init?(_ top: SIMD16<Int32>, width: Int, maxColumn: Int32, extraRows: Int, readable: Int) {
        let reciprocal = 1 / Double(width)  // loop-invariant for the callers: hoisted out of their chunk loops
        @inline(__always) func rowAndColumn(_ o: Int32) -> (Int, Int) {
            // Exact for offsets in [0, 2³¹): (o + ½)/width is at least ½/width from an integer.
            let y = Int((Double(o) + 0.5) * reciprocal)
            return (y, Int(o) - y * width)
        }
        let (ya, xa) = rowAndColumn(top[0]), (yb, xb) = rowAndColumn(top[15])
        var base = Swift.min(ya, yb) * width + Swift.min(xa, xb)
        var packed: UInt64 = 0
        var column = stn_row_window_i32x16(
            top &- Int32(truncatingIfNeeded: base), Int32(truncatingIfNeeded: width),
            maxColumn, &packed)
        if packed == 0 {
            base = Int(Swift.min(top[0], top[15]))
            column = stn_row_window_i32x16(
                top &- Int32(truncatingIfNeeded: base), Int32(truncatingIfNeeded: width),
                maxColumn, &packed)
        }
        let rows = Int(packed & 0xFFFF)
        guard rows > 0, base >= 0, base + (rows - 1 + extraRows) * width + 16 <= readable else { return nil }
        self.base = base
        self.column = column
        self.rows = rows
        row1 = UInt16(truncatingIfNeeded: packed >> 16)
        row2 = UInt16(truncatingIfNeeded: packed >> 32)
        row3 = UInt16(truncatingIfNeeded: packed >> 48)
    }

    /// Lanes whose top-left tap is in row `r` (r = 1, 2, 3).
    @inlinable @inline(__always)
    func lanes(inRow r: Int) -> UInt16 { r == 1 ? row1 : r == 2 ? row2 : row3 }
}

/// Runs `body(rows)` with the window's row count as a literal, so that loops over the rows in
/// `body` unroll and their masks fold (docs/performance.md#rowwindowswift).
@inlinable @inline(__always)
func withRowCount<R>(_ win: RowWindow, _ body: (_ rows: Int) -> R) -> R {
    switch win.rows {
    case 1: return body(1)
    case 2: return body(2)
    case 3: return body(3)
    default: return body(4)
    }
}

/// Which lanes of a bilinear chunk read each of their four taps from the input (top-left,
/// top-right, bottom-left, bottom-right); the others read the padding value.
@usableFromInline
struct InsideLanes {
    @usableFromInline let k00: UInt16, k01: UInt16, k10: UInt16, k11: UInt16

    @inlinable
    init(k00: UInt16, k01: UInt16, k10: UInt16, k11: UInt16) {
        self.k00 = k00; self.k01 = k01; self.k10 = k10; self.k11 = k11
    }

    /// `taps` with each tap outside replaced by `outside`.
    @inlinable @inline(__always)
    func masking(_ t: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), outside z: SIMD16<Float>)
        -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
    {
        (
            stn_select_f32x16(k00, t.0, z), stn_select_f32x16(k01, t.1, z), stn_select_f32x16(k10, t.2, z),
            stn_select_f32x16(k11, t.3, z)
        )
    }
}

/// The window of a bilinear chunk from its tap offsets (−1 for a tap outside the input), and,
/// when some tap is outside, which lanes read each tap (nil: all of them). A chunk at the border
/// is read through the window of its taps' positions, the rows' neighbouring memory standing in
/// for what lies outside and masked away; nil when even that does not fit (`RowWindow`).
@inlinable @inline(__always)
func bilinearWindow(
    _ o00: SIMD16<Int32>, _ o01: SIMD16<Int32>, _ o10: SIMD16<Int32>, _ o11: SIMD16<Int32>,
    width: Int, readable: Int
) -> (RowWindow, InsideLanes?)? {
    if !anyOutside(o00 | o01 | o10 | o11) {
        guard
            let win = RowWindow(
                o00, width: width, maxColumn: 14, extraRows: 1,
                readable: readable)
        else { return nil }
        return (win, nil)
    }
    let top = stn_top_left_i32x16(o00, o01, o10, o11, Int32(truncatingIfNeeded: width))
    guard
        let win = RowWindow(
            top, width: width, maxColumn: 14, extraRows: 1,
            readable: readable)
    else { return nil }
    return (
        win,
        InsideLanes(
            k00: stn_nonnegative_mask_i32x16(o00), k01: stn_nonnegative_mask_i32x16(o01),
            k10: stn_nonnegative_mask_i32x16(o10), k11: stn_nonnegative_mask_i32x16(o11))
    )
}

/// The four bilinear taps of a chunk (top-left, top-right, bottom-left, bottom-right) from the
/// window `win` of plane `p` (rows `width` apart): the top taps from rows 0..<rows, the bottom
/// taps from rows 1...rows, each row one load and up to four masked permutes. `rows`: `win.rows`
/// (from `withRowCount`).
@inlinable @inline(__always)
func bilinearWindowTaps(
    _ p: UnsafePointer<Float>, width: Int, _ win: RowWindow, rows: Int
) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let c0 = win.column, c1 = win.column &+ 1
    let q = p + win.base
    var row = stn_row_f32x16(q)
    var v00 = stn_permute_f32x16(row, c0), v01 = stn_permute_f32x16(row, c1)
    row = stn_row_f32x16(q + width)
    var v10 = stn_permute_f32x16(row, c0), v11 = stn_permute_f32x16(row, c1)
    for r in 1..<rows {
        // Row r holds the top taps of the lanes in row r and the bottom taps of those in r − 1.
        let lanes = win.lanes(inRow: r)
        v00 = stn_permute_into_f32x16(v00, lanes, row, c0)
        v01 = stn_permute_into_f32x16(v01, lanes, row, c1)
        row = stn_row_f32x16(q + (r + 1) * width)
        v10 = stn_permute_into_f32x16(v10, lanes, row, c0)
        v11 = stn_permute_into_f32x16(v11, lanes, row, c1)
    }
    return (v00, v01, v10, v11)
}

/// Walks lanes 0..<n of a block (positions q..<q + n, output rows `outputWidth` wide) in chunks
/// of at most 16 that end where output rows end, when rows are at least 16 wide (a chunk across
/// the end of a row jumps back across the input and fits no window): `body(i, m)` for lanes
/// i..<i + m.
@inlinable @inline(__always)
func forEachRowChunk(_ n: Int, at q: Int, outputWidth Wo: Int, _ body: (_ i: Int, _ m: Int) -> Void) {
    var i = 0, column = q % Wo  // the output column of position q + i
    while i < n {
        let m = Wo >= 16 ? Swift.min(16, n - i, Wo - column) : Swift.min(16, n - i)
        body(i, m)
        i += m
        column += m
        if column >= Wo { column -= Wo }
    }
}

/// Lanes 0..<m of 16 consecutive Int32 (m ≥ 1), lane 0 again in the others.
@inlinable @inline(__always)
func firstLanes(_ p: UnsafePointer<Int32>, _ m: Int) -> SIMD16<Int32> {
    stn_first_i32x16(lanes16(p), Int32(truncatingIfNeeded: m))
}

/// Lanes 0..<m from `p` (m ≥ 1), zero in the others: reads nothing after lane m − 1.
@inlinable @inline(__always)
func firstLanes(_ p: UnsafePointer<Float>, _ m: Int) -> SIMD16<Float> {
    m == 16 ? lanes16(p) : stn_load_first_f32x16(p, Int32(truncatingIfNeeded: m))
}

/// Stores lanes 0..<m of `v` at `p`.
@inlinable @inline(__always)
func storeFirstLanes(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ m: Int) {
    if m == 16 { storeLanes16(v, p) } else { stn_store_first_f32x16(p, v, Int32(truncatingIfNeeded: m)) }
}

/// The nearest tap of a chunk from the window `win` of plane `p` (rows `width` apart): each row
/// one load and one masked permute. `rows`: `win.rows` (from `withRowCount`).
@inlinable @inline(__always)
func nearestWindowTap(_ p: UnsafePointer<Float>, width: Int, _ win: RowWindow, rows: Int) -> SIMD16<Float> {
    let q = p + win.base
    var v = stn_permute_f32x16(stn_row_f32x16(q), win.column)
    for r in 1..<rows {
        v = stn_permute_into_f32x16(v, win.lanes(inRow: r), stn_row_f32x16(q + r * width), win.column)
    }
    return v
}
