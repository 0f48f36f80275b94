/// A network description: what the Python `swiftstn.nn` modules (or a Swift user) declare and the
/// engine builds. Parameters are laid out in declaration order, depth first: each Conv2d and
/// Linear contributes its weight then its bias.
public indirect enum LayerSpec: Equatable, Sendable {
    case conv2d(
        inChannels: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), bias: Bool)
    case maxPool2d(kernel: (Int, Int), stride: (Int, Int))
    case relu
    case dropout(p: Double)
    case dropout2d(p: Double)
    case linear(inFeatures: Int, outFeatures: Int, bias: Bool)
    case flatten
    case logSoftmax
    case sequential([LayerSpec])
    /// A spatial transformer: `localization` maps the input to features, `regressor` maps the
    /// flattened features to the 6 affine parameters; the input is then resampled (bilinear,
    /// zero padding) on the grid of those transforms.
    case spatialTransformer(
        localization: LayerSpec, regressor: LayerSpec, alignCorners: Bool,
        transform: TransformKind = .affine)

    public static func == (a: LayerSpec, b: LayerSpec) -> Bool { a.text == b.text }

    /// The textual form, also the C ABI's and Python's exchange format, e.g.
    /// `seq(conv(1,10,5,5,1,1,0,0,1),maxpool(2,2,2,2),relu)`.
    public var text: String {
        switch self {
        case let .conv2d(i, o, k, s, p, b):
            return "conv(\(i),\(o),\(k.0),\(k.1),\(s.0),\(s.1),\(p.0),\(p.1),\(b ? 1 : 0))"
        case let .maxPool2d(k, s): return "maxpool(\(k.0),\(k.1),\(s.0),\(s.1))"
        case .relu: return "relu"
        case let .dropout(p): return "dropout(\(p))"
        case let .dropout2d(p): return "dropout2d(\(p))"
        case let .linear(i, o, b): return "linear(\(i),\(o),\(b ? 1 : 0))"
        case .flatten: return "flatten"
        case .logSoftmax: return "logsoftmax"
        case let .sequential(layers): return "seq(" + layers.map(\.text).joined(separator: ",") + ")"
        case let .spatialTransformer(l, r, ac, kind):
            return kind == .affine
                ? "stn(\(l.text),\(r.text),\(ac ? 1 : 0))"
                : "stn(\(l.text),\(r.text),\(ac ? 1 : 0),\(kind.rawValue))"
        }
    }

    /// Parses the textual form; errors say where and what was expected.
    public init(parsing text: String) throws {
        var parser = SpecParser(Array(text.utf8))
        self = try parser.layer()
        parser.skipSpaces()
        guard parser.atEnd else { throw parser.error("unexpected trailing text") }
    }
}

/// How a spatial transformer's regressor output parametrises its transform.
public enum TransformKind: Int, Sendable, CaseIterable {
    /// theta (2×3), 6 parameters.
    case affine = 0
    /// Isotropic scale and translation (s, tx, ty): theta = [[s, 0, tx], [0, s, ty]], 3 parameters.
    case attention = 1
    /// Rotation, isotropic scale and translation (a, b, tx, ty): theta = [[a, −b, tx], [b, a, ty]]
    /// with a = s·cos φ, b = s·sin φ; 4 parameters, linear in theta.
    case similarity = 2
    /// A homography on normalised coordinates, H = [[h0, h1, h2], [h3, h4, h5], [h6, h7, 1]]:
    /// 8 parameters (`perspective_grid`).
    case projective = 3
    /// A thin-plate spline moving K control points on a regular √K×√K grid: 2K parameters, the
    /// displacements (`tps_grid`); K is the regressor's output count / 2.
    case tps = 4

    /// Whether `count` regressor outputs fit this parametrisation.
    public func accepts(_ count: Int) -> Bool {
        switch self {
        case .affine: return count == 6
        case .attention: return count == 3
        case .similarity: return count == 4
        case .projective: return count == 8
        case .tps:
            let k = count / 2
            let side = Int(Double(k).squareRoot().rounded())
            return count % 2 == 0 && k >= 4 && side * side == k
        }
    }

    var expected: String {
        switch self {
        case .affine: return "6"
        case .attention: return "3"
        case .similarity: return "4"
        case .projective: return "8"
        case .tps: return "2K (K = 4, 9, 16, … control points)"
        }
    }

    /// The identity transform's parameters (the regressor's initial bias) for `count` outputs.
    public func identity(count: Int) -> [Float] {
        switch self {
        case .affine: return [1, 0, 0, 0, 1, 0]
        case .attention: return [1, 0, 0]
        case .similarity: return [1, 0, 0, 0]
        case .projective: return [1, 0, 0, 0, 1, 0, 0, 0]
        case .tps: return [Float](repeating: 0, count: count)
        }
    }

    public var name: String { ["affine", "attention", "similarity", "projective", "tps"][rawValue] }

    /// Whether the transform is an affine theta (affine_grid) rather than a homography or a spline.
    var isAffineFamily: Bool { rawValue <= 2 }

    /// theta (2×3) from the parameters p (affine family).
    func theta(_ p: UnsafePointer<Float>, _ t: UnsafeMutablePointer<Float>) {
        switch self {
        case .affine: t.update(from: p, count: 6)
        case .attention: t[0] = p[0]; t[1] = 0; t[2] = p[1]; t[3] = 0; t[4] = p[0]; t[5] = p[2]
        case .similarity: t[0] = p[0]; t[1] = -p[1]; t[2] = p[2]; t[3] = p[1]; t[4] = p[0]; t[5] = p[3]
        case .projective, .tps: break
        }
    }

    /// d(loss)/d(parameters) from d(loss)/d(theta) (affine family).
    func parameterGradient(_ g: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        switch self {
        case .affine: out.update(from: g, count: 6)
        case .attention: out[0] = g[0] + g[4]; out[1] = g[2]; out[2] = g[5]
        case .similarity: out[0] = g[0] + g[4]; out[1] = g[3] - g[1]; out[2] = g[2]; out[3] = g[5]
        case .projective, .tps: break
        }
    }
}

/// A recursive-descent parser for `name` / `name(arg, ...)` where an argument is a number or a
/// nested layer.
struct SpecParser {
    let bytes: [UInt8]
    var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }

    func error(_ what: String) -> STNError {
        STNError(
            .invalidArgument, "network spec: \(what) at offset \(i) of \"\(String(decoding: bytes, as: UTF8.self))\"")
    }

    mutating func skipSpaces() {
        while i < bytes.count && (bytes[i] == 32 || bytes[i] == 10 || bytes[i] == 9) { i += 1 }
    }

    mutating func name() -> String {
        skipSpaces()
        let start = i
        while i < bytes.count, (bytes[i] >= 97 && bytes[i] <= 122) || (bytes[i] >= 48 && bytes[i] <= 57 && i > start) {
            i += 1
        }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    mutating func expect(_ c: UInt8) throws {
        skipSpaces()
        guard i < bytes.count && bytes[i] == c else { throw error("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    mutating func peek(_ c: UInt8) -> Bool { skipSpaces(); return i < bytes.count && bytes[i] == c }

    mutating func number() throws -> Double {
        skipSpaces()
        let start = i
        while i < bytes.count, let ch = Optional(bytes[i]),
            (ch >= 48 && ch <= 57) || ch == 46 || ch == 45 || ch == 43 || ch == 101 || ch == 69
        { i += 1 }
        guard let v = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else {
            throw error("expected a number")
        }
        return v
    }

    mutating func integers(_ count: Int, _ what: String) throws -> [Int] {
        try expect(40)
        var out: [Int] = []
        for k in 0..<count {
            if k > 0 { try expect(44) }
            let v = try number()
            guard v == v.rounded(), abs(v) < 1e15 else { throw error("\(what) takes integers") }
            out.append(Int(v))
        }
        try expect(41)
        return out
    }

    mutating func layer() throws -> LayerSpec {
        let start = i
        let n = name()
        switch n {
        case "conv":
            let a = try integers(9, "conv")
            return .conv2d(
                inChannels: a[0], outChannels: a[1], kernel: (a[2], a[3]), stride: (a[4], a[5]), padding: (a[6], a[7]),
                bias: a[8] != 0)
        case "maxpool":
            let a = try integers(4, "maxpool")
            return .maxPool2d(kernel: (a[0], a[1]), stride: (a[2], a[3]))
        case "relu": return .relu
        case "flatten": return .flatten
        case "logsoftmax": return .logSoftmax
        case "dropout", "dropout2d":
            try expect(40); let p = try number(); try expect(41)
            return n == "dropout" ? .dropout(p: p) : .dropout2d(p: p)
        case "linear":
            let a = try integers(3, "linear")
            return .linear(inFeatures: a[0], outFeatures: a[1], bias: a[2] != 0)
        case "seq":
            try expect(40)
            var layers: [LayerSpec] = []
            if !peek(41) {
                layers.append(try layer())
                while peek(44) { i += 1; layers.append(try layer()) }
            }
            try expect(41)
            return .sequential(layers)
        case "stn":
            try expect(40)
            let loc = try layer(); try expect(44)
            let reg = try layer(); try expect(44)
            let ac = try number()
            var kind = TransformKind.affine
            if peek(44) {
                i += 1
                let code = try number()
                guard let k = TransformKind(rawValue: Int(code)), Double(k.rawValue) == code else {
                    throw error("unknown transform code \(code)")
                }
                kind = k
            }
            try expect(41)
            return .spatialTransformer(localization: loc, regressor: reg, alignCorners: ac != 0, transform: kind)
        default:
            i = start
            throw error(n.isEmpty ? "expected a layer name" : "unknown layer '\(n)'")
        }
    }
}
