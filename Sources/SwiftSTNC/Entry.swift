import SwiftSTN

// The exported C functions. Each one is glue: read the descriptors, validate the call once into a
// plan (which also answers a shape query), pick the dtype, run the plan, report. Declarations and
// documentation: include/swiftstn.h; the descriptors: Descriptors.swift.

private let versionString: StaticString = "0.1.0"

@_cdecl("stn_version")
public func stn_version() -> UnsafePointer<CChar> {
    UnsafeRawPointer(versionString.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("stn_set_num_threads")
public func stn_set_num_threads(_ n: Int32, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int) -> Int32 {
    reporting(err, errLen) {
        guard n >= 1 else { throw STNError(.invalidArgument, "num_threads must be at least 1, got \(n)") }
        Threading.threadCount = Int(n)
    }
}

@_cdecl("stn_get_num_threads")
public func stn_get_num_threads() -> Int32 { Int32(clamping: Threading.threadCount) }

// MARK: grid_sample

@_cdecl("stn_grid_sample")
public func stn_grid_sample(
    _ input: UnsafeRawPointer?, _ grid: UnsafeRawPointer?, _ sampling: UnsafeRawPointer?,
    _ output: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let op = "grid_sample"
        let i = try TensorArg(input, "input"), g = try TensorArg(grid, "grid")
        let out = try OutputArg(output, "output")
        let types = try imageDTypes(i, g, float32Output: SamplingArgs.outputFlags(sampling).float32Output, op: op)
        let s = try SamplingArgs(sampling, dtype: types.input.compute, op: op)
        let plan = try GridSample.plan(
            inputShape: i.shape, gridShape: g.shape, mode: s.mode, padding: s.padding, alignCorners: s.alignCorners,
            layout: s.layout)
        guard describeOutputs([(out, plan.outputShape)], dtypeCode: types.output.rawValue) else { return }
        if plan.outputShape.contains(0) { return }
        struct Body: ImageBody {
            let plan: GridSamplePlan, input: TensorArg, grid: TensorArg, output: OutputArg
            func run<E: PixelElement, O: PixelElement, T: STNFloat>(_: E.Type, _: O.Type, _: T.Type) throws {
                let (i, g, o) = (
                    try input.pointer(E.self), try grid.pointer(T.self), output.pointer(O.self, empty: false)
                )
                if E.self == T.self && O.self == T.self {
                    plan.forward(
                        input: UnsafeRawPointer(i).assumingMemoryBound(to: T.self), grid: g,
                        output: UnsafeMutableRawPointer(o).assumingMemoryBound(to: T.self))
                } else {
                    plan.forwardPixels(input: i, grid: g, output: o)
                }
            }
        }
        try withImageTypes(types.input, types.output, Body(plan: plan, input: i, grid: g, output: out))
    }
}

@_cdecl("stn_grid_sample_backward")
public func stn_grid_sample_backward(
    _ gradOutput: UnsafeRawPointer?, _ input: UnsafeRawPointer?, _ grid: UnsafeRawPointer?,
    _ sampling: UnsafeRawPointer?, _ gradInput: UnsafeMutableRawPointer?, _ gradGrid: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        let op = "grid_sample_backward"
        let go = try TensorArg(gradOutput, "grad_output"), i = try TensorArg(input, "input")
        let g = try TensorArg(grid, "grid")
        let gi = OutputArg.optional(gradInput, "grad_input"), gg = try OutputArg(gradGrid, "grad_grid")
        let dt = try callDType(go, i, g, op: op)
        let s = try SamplingArgs(sampling, dtype: dt, op: op)
        let plan = try GridSample.plan(
            inputShape: i.shape, gridShape: g.shape, mode: s.mode, padding: s.padding, alignCorners: s.alignCorners,
            layout: s.layout, gradOutputShape: go.shape)
        guard describeOutputs([(gi, i.shape), (gg, g.shape)], dtype: dt) else { return }
        func run<T: STNFloat>(_: T.Type) throws {
            plan.backward(
                gradOutput: try go.pointer(T.self), input: try i.pointer(T.self), grid: try g.pointer(T.self),
                gradInput: gi?.pointer(T.self, empty: i.isEmpty), gradGrid: gg.pointer(T.self, empty: g.isEmpty))
        }
        try withScalarType(dt) { try run($0) }
    }
}
