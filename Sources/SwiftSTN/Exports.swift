// The Swift API re-exports the kernel module's vocabulary (modes, shapes, STNFloat), so
// `import SwiftSTN` is all a Swift user writes.
@_exported import STNKernels
