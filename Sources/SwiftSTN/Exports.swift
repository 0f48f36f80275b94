// The Swift API's vocabulary comes from the kernel module: these names are all a Swift user needs
// besides SwiftSTN's own. The kernels themselves (unchecked: they validate nothing) are not
// re-exported; code that really wants them imports STNKernels explicitly.
import STNKernels

public typealias STNFloat = STNKernels.STNFloat
public typealias InterpolationMode = STNKernels.InterpolationMode
public typealias PaddingMode = STNKernels.PaddingMode
public typealias PixelElement = STNKernels.PixelElement
