/// Splits a range of flattened (batch, position) indices into per-batch pieces, so a kernel can
/// be handed any contiguous slice of the work — a whole batch, part of one image, or a slice that
/// straddles two images — and still hoist its per-image base pointers.
@inlinable @inline(__always)
func forEachBatchSegment(_ flat: Range<Int>, plane: Int, _ body: (_ batch: Int, _ flat: Range<Int>) -> Void) {
    guard plane > 0 else { return }
    var start = flat.lowerBound
    while start < flat.upperBound {
        let b = start / plane
        let end = Swift.min(flat.upperBound, (b + 1) * plane)
        body(b, start..<end)
        start = end
    }
}
