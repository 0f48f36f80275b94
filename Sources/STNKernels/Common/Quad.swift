/// Four values held inline (no heap), indexable by 0...3: the taps of one cubic axis.
@usableFromInline
struct Quad<Element> {
    @usableFromInline var v0, v1, v2, v3: Element

    @inlinable @inline(__always)
    init(_ v0: Element, _ v1: Element, _ v2: Element, _ v3: Element) {
        self.v0 = v0; self.v1 = v1; self.v2 = v2; self.v3 = v3
    }

    @inlinable @inline(__always)
    init(_ t: (Element, Element, Element, Element)) { self.init(t.0, t.1, t.2, t.3) }

    @inlinable
    subscript(i: Int) -> Element {
        @inline(__always) get {
            switch i {
            case 0: return v0;
            case 1: return v1;
            case 2: return v2;
            default: return v3
            }
        }
    }
}
