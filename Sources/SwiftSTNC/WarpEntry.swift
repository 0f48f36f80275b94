import SwiftSTN

// The C ABI of the fused warps (warp_affine, warp_perspective): read the descriptors, validate
// once into a plan, run it. Declarations and documentation: include/swiftstn.h ("fused warps").

private func warp(
    _ kind: Warp.Kind, _ input: UnsafeRawPointer?, _ matrices: UnsafeRawPointer?, _ outSize: UnsafePointer<Int64>?,
    _ outSizeLen: Int32, _ sampling: UnsafeRawPointer?, _ output: UnsafeMutableRawPointer?
) throws {
    let (op, name) = kind == .affine ? ("warp_affine", "theta") : ("warp_perspective", "H")
    let i = try TensorArg(input, "input"), m = try TensorArg(matrices, name)
    let os = try readSize(outSize, outSizeLen, name: "out_size")
    let out = try OutputArg(output, "output")
    let types = try imageDTypes(i, m, float32Output: SamplingArgs.outputFlags(sampling).float32Output, op: op)
    let s = try SamplingArgs(sampling, dtype: types.input.compute, op: op)
    let plan = try Warp.plan(
        kind: kind, inputShape: i.shape, matrixShape: m.shape, outSize: os, mode: s.mode, padding: s.padding,
        alignCorners: s.alignCorners, layout: s.layout)
    guard describeOutputs([(out, plan.outputShape)], dtypeCode: types.output.rawValue) else { return }
    if plan.outputShape.contains(0) { return }
    struct Body: ImageBody {
        let plan: WarpPlan, input: TensorArg, matrices: TensorArg, output: OutputArg
        func run<E: PixelElement, O: PixelElement, T: STNFloat>(_: E.Type, _: O.Type, _: T.Type) throws {
            let (i, m, o) = (
                try input.pointer(E.self), try matrices.pointer(T.self), output.pointer(O.self, empty: false)
            )
            if E.self == T.self && O.self == T.self {
                plan.forward(
                    input: UnsafeRawPointer(i).assumingMemoryBound(to: T.self), matrices: m,
                    output: UnsafeMutableRawPointer(o).assumingMemoryBound(to: T.self))
            } else {
                plan.forwardPixels(input: i, matrices: m, output: o)
            }
        }
    }
    try withImageTypes(types.input, types.output, Body(plan: plan, input: i, matrices: m, output: out))
}

private func warpBackward(
    _ kind: Warp.Kind, _ gradOutput: UnsafeRawPointer?, _ input: UnsafeRawPointer?, _ matrices: UnsafeRawPointer?,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ sampling: UnsafeRawPointer?,
    _ gradInput: UnsafeMutableRawPointer?, _ gradMatrices: UnsafeMutableRawPointer?
) throws {
    let (op, name) = kind == .affine ? ("warp_affine_backward", "theta") : ("warp_perspective_backward", "H")
    let go = try TensorArg(gradOutput, "grad_output"), i = try TensorArg(input, "input")
    let m = try TensorArg(matrices, name)
    let os = try readSize(outSize, outSizeLen, name: "out_size")
    let gi = OutputArg.optional(gradInput, "grad_input"), gm = try OutputArg(gradMatrices, "grad_" + name)
    let dt = try callDType(go, i, m, op: op)
    let s = try SamplingArgs(sampling, dtype: dt, op: op)
    let plan = try Warp.plan(
        kind: kind, inputShape: i.shape, matrixShape: m.shape, outSize: os, mode: s.mode, padding: s.padding,
        alignCorners: s.alignCorners, layout: s.layout, gradOutputShape: go.shape)
    guard describeOutputs([(gi, i.shape), (gm, m.shape)], dtype: dt) else { return }
    func run<T: STNFloat>(_: T.Type) throws {
        plan.backward(
            gradOutput: try go.pointer(T.self), input: try i.pointer(T.self), matrices: try m.pointer(T.self),
            gradInput: gi?.pointer(T.self, empty: i.isEmpty), gradMatrices: gm.pointer(T.self, empty: m.isEmpty))
    }
    try withScalarType(dt) { try run($0) }
}

@_cdecl("stn_warp_affine")
public func stn_warp_affine(
    _ input: UnsafeRawPointer?, _ theta: UnsafeRawPointer?, _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32,
    _ sampling: UnsafeRawPointer?, _ output: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) { try warp(.affine, input, theta, outSize, outSizeLen, sampling, output) }
}

@_cdecl("stn_warp_affine_backward")
public func stn_warp_affine_backward(
    _ gradOutput: UnsafeRawPointer?, _ input: UnsafeRawPointer?, _ theta: UnsafeRawPointer?,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ sampling: UnsafeRawPointer?,
    _ gradInput: UnsafeMutableRawPointer?, _ gradTheta: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try warpBackward(.affine, gradOutput, input, theta, outSize, outSizeLen, sampling, gradInput, gradTheta)
    }
}

@_cdecl("stn_warp_perspective")
public func stn_warp_perspective(
    _ input: UnsafeRawPointer?, _ homography: UnsafeRawPointer?, _ outSize: UnsafePointer<Int64>?,
    _ outSizeLen: Int32, _ sampling: UnsafeRawPointer?, _ output: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) { try warp(.perspective, input, homography, outSize, outSizeLen, sampling, output) }
}

@_cdecl("stn_warp_perspective_backward")
public func stn_warp_perspective_backward(
    _ gradOutput: UnsafeRawPointer?, _ input: UnsafeRawPointer?, _ homography: UnsafeRawPointer?,
    _ outSize: UnsafePointer<Int64>?, _ outSizeLen: Int32, _ sampling: UnsafeRawPointer?,
    _ gradInput: UnsafeMutableRawPointer?, _ gradH: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<CChar>?, _ errLen: Int
) -> Int32 {
    reporting(err, errLen) {
        try warpBackward(.perspective, gradOutput, input, homography, outSize, outSizeLen, sampling, gradInput, gradH)
    }
}
