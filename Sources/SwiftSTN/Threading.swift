import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The engine's thread count and its parallel loop.
///
/// Results never depend on the thread count: work is split so that each output element is
/// computed by one task in one fixed order (see the kernels' comments), so 1 thread and N threads
/// give the same bits.
public enum Threading {
    private static let configured = Atomic<Int>(0)

    /// Logical CPUs online, at least 1.
    public static let availableCores: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()

    /// Threads used by every parallel kernel; defaults to `availableCores`. Safe to change
    /// between (and during) calls from any thread: each call reads it once.
    public static var threadCount: Int {
        get {
            let n = configured.load(ordering: .relaxed)
            return n > 0 ? n : availableCores
        }
        set { configured.store(max(1, newValue), ordering: .relaxed) }
    }

    /// Runs `body` over `[0, count)` split into contiguous chunks of at least `grain` items,
    /// on up to `threadCount` threads. Small loops run inline on the calling thread.
    public static func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let threads = threadCount
        let chunks = min(threads, max(1, count / max(1, grain)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { i in
                let lo = count * i / chunks, hi = count * (i + 1) / chunks
                if lo < hi { body(lo..<hi) }
            }
        }
    }
}
