import XCTest

@testable import STNKernels

/// The coordinate helpers on their own: unnormalisation, clipping, reflection and the safe
/// integer range, including the values PyTorch documents for NaN and ±Inf.
final class SourceIndexTests: XCTestCase {
    func testUnnormalizeMapsTheEndsToCentresOrEdges() {
        XCTAssertEqual(unnormalize(-1.0, size: 5, alignCorners: true), 0)
        XCTAssertEqual(unnormalize(1.0, size: 5, alignCorners: true), 4)
        XCTAssertEqual(unnormalize(-1.0, size: 5, alignCorners: false), -0.5)
        XCTAssertEqual(unnormalize(1.0, size: 5, alignCorners: false), 4.5)
        XCTAssertEqual(unnormalizeVector(1.0, size: 5, alignCorners: false), 4.5)
        XCTAssertEqual(unnormalizeGradient(size: 5, alignCorners: true) as Double, 2)
        XCTAssertEqual(unnormalizeGradient(size: 5, alignCorners: false) as Double, 2.5)
    }

    func testReflectionFamiliesAgreeOnFiniteValues() {
        for size in [1, 2, 5] {
            for i in -400...400 {
                let x = Double(i) * 0.037
                for ac in [false, true] {
                    let scalar = padScalar(x, size: size, padding: .reflection, alignCorners: ac)
                    let vector = padVector(x, size: size, padding: .reflection, alignCorners: ac)
                    XCTAssertEqual(scalar, vector, accuracy: 1e-12, "x=\(x) size=\(size) ac=\(ac)")
                    XCTAssertGreaterThanOrEqual(vector, 0)
                    XCTAssertLessThanOrEqual(vector, Double(size - 1))
                }
            }
        }
    }

    func testReflectionOfKnownPoints() {
        // align_corners: reflect about pixel centres 0 and size − 1.
        XCTAssertEqual(padScalar(-1.5, size: 4, padding: .reflection, alignCorners: true), 1.5)
        XCTAssertEqual(padScalar(4.0, size: 4, padding: .reflection, alignCorners: true), 2.0)
        // otherwise about the edges −0.5 and size − 0.5, then clipped.
        XCTAssertEqual(padScalar(-1.0, size: 4, padding: .reflection, alignCorners: false), 0.0)
        XCTAssertEqual(padScalar(4.0, size: 4, padding: .reflection, alignCorners: false), 3.0)
    }

    func testNonFiniteCoordinatesNeverBecomeIndices() {
        for x in [Double.nan, .infinity, -.infinity, 1e30, -1e30, 3e9] {
            XCTAssertEqual(safeIndexRange(x), -100)
            for p in PaddingMode.allCases {
                for ac in [false, true] {
                    let s = padScalar(x, size: 7, padding: p, alignCorners: ac)
                    XCTAssertTrue(s == -100 || (s >= 0 && s <= 6), "scalar \(x) \(p) -> \(s)")
                    let v = safeIndexRange(padVector(x, size: 7, padding: p, alignCorners: ac))
                    XCTAssertTrue(v == -100 || (v >= 0 && v <= 6), "vector \(x) \(p) -> \(v)")
                }
            }
        }
        // PyTorch's 2-D kernel clamps NaN to 0 for border padding; its 3-D kernel to size − 1.
        XCTAssertEqual(padVector(Double.nan, size: 7, padding: .border, alignCorners: true), 0)
        XCTAssertEqual(padScalar(Double.nan, size: 7, padding: .border, alignCorners: true), 6)
    }

    func testCubicCoefficientsAreAPartitionOfUnity() {
        for i in 0..<50 {
            let t = Double(i) / 50
            let c = cubicCoefficients(t)
            XCTAssertEqual(c.0 + c.1 + c.2 + c.3, 1, accuracy: 1e-14)
            let g = cubicCoefficientGradients(t)
            XCTAssertEqual(g.0 + g.1 + g.2 + g.3, 0, accuracy: 1e-12)
        }
        XCTAssertEqual(cubicCoefficients(0.0).1, 1)
    }

    func testLinspaceMatchesBothEnds() {
        for steps in 2...50 {
            XCTAssertEqual(baseCoordinate(0, steps: steps, alignCorners: true) as Double, -1)
            XCTAssertEqual(baseCoordinate(steps - 1, steps: steps, alignCorners: true) as Double, 1)
            for i in 0..<steps {
                let v: Double = baseCoordinate(i, steps: steps, alignCorners: true)
                XCTAssertEqual(v, -1 + 2 * Double(i) / Double(steps - 1), accuracy: 1e-15)
            }
        }
        XCTAssertEqual(baseCoordinate(0, steps: 1, alignCorners: true) as Float, 0)
    }
}
