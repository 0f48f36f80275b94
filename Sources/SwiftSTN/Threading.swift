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
    ///
    /// The chunk boundaries depend only on `count`, `grain` and `threadCount`, never on which
    /// thread runs a chunk.
    public static func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let threads = threadCount
        let chunks = min(threads, max(1, count / max(1, grain)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let chunk: (Int) -> Void = { i in
                let lo = count * i / chunks, hi = count * (i + 1) / chunks
                if lo < hi { body(lo..<hi) }
            }
            #if canImport(Glibc)
                if let pool = WorkerPool.shared, pool.run(chunks: chunks, chunk) { return }
            #endif
            DispatchQueue.concurrentPerform(iterations: chunks, execute: chunk)
        }
    }
}

#if canImport(Glibc)
    /// A small persistent pool of `availableCores − 1` helper threads for `parallelFor`.
    ///
    /// `DispatchQueue.concurrentPerform` costs tens of microseconds per call (waking pool threads),
    /// which dominated small sampling calls (a 64×1×28×28 forward is ~50 µs of work). Helpers here
    /// spin (yielding) for a short while after each job, so back-to-back calls start in about a
    /// microsecond, then sleep on a condition variable. One job runs at a time; a call that finds
    /// the pool busy (a concurrent or nested `parallelFor`) falls back to `concurrentPerform`.
    final class WorkerPool: @unchecked Sendable {
        static let shared: WorkerPool? =
            Threading.availableCores > 1 ? WorkerPool(helpers: Threading.availableCores - 1) : nil

        /// How long an idle helper keeps polling before it sleeps.
        private static let spinNanoseconds: UInt64 = 200_000

        /// Helper threads actually running (pthread_create can fail); the caller waits for this many
        /// acknowledgements per job, so it must never count a thread that does not exist.
        private var helpers = 0
        private let busy = Atomic<Bool>(false)
        private let generation = Atomic<Int>(0)
        private let nextChunk = Atomic<Int>(0)
        private let acknowledged = Atomic<Int>(0)
        private let sleepers = Atomic<Int>(0)
        /// The current job; written by the caller before `generation` is bumped (release), read by
        /// helpers after they observe the bump (acquire).
        private var chunks = 0
        private var job: UnsafePointer<(Int) -> Void>?
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>
        private let cond: UnsafeMutablePointer<pthread_cond_t>

        static let forked = Atomic<Bool>(false)

        private init(helpers wanted: Int) {
            pthread_atfork(nil, nil, { WorkerPool.forked.store(true, ordering: .relaxed) })
            mutex = .allocate(capacity: 1)
            cond = .allocate(capacity: 1)
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(cond, nil)
            var started = 0
            for _ in 0..<wanted {
                let unmanaged = Unmanaged.passRetained(self)
                var thread = pthread_t()
                let rc = pthread_create(
                    &thread, nil,
                    { arg in
                        let pool = Unmanaged<WorkerPool>.fromOpaque(arg!).takeRetainedValue()
                        pool.helperLoop()
                        return nil
                    }, unmanaged.toOpaque())
                if rc == 0 { pthread_detach(thread); started += 1 } else { unmanaged.release() }
            }
            // No job can be posted before `shared` finishes initialising, so this is seen by every run.
            helpers = started
        }

        /// Runs `chunk(0..<chunks)` on the caller and the helpers; false (nothing run) when busy.
        func run(chunks: Int, _ chunk: (Int) -> Void) -> Bool {
            // A forked child has none of the parent's helper threads.
            guard !WorkerPool.forked.load(ordering: .relaxed), helpers > 0 else { return false }
            guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
                return false
            }
            withoutActuallyEscaping(chunk) { chunk in
                withUnsafePointer(to: chunk) { job in
                    self.chunks = chunks
                    self.job = job
                    nextChunk.store(0, ordering: .relaxed)
                    acknowledged.store(0, ordering: .relaxed)
                    generation.add(1, ordering: .sequentiallyConsistent)
                    if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                        pthread_mutex_lock(mutex)
                        pthread_cond_broadcast(cond)
                        pthread_mutex_unlock(mutex)
                    }
                    drain()
                    // Every helper acknowledges every job, so none can still be looking at `job`
                    // (or hold a reference to the closure) once this returns.
                    while acknowledged.load(ordering: .acquiring) < helpers { sched_yield() }
                    self.job = nil
                }
            }
            busy.store(false, ordering: .releasing)
            return true
        }

        /// Takes chunks until none are left. Not inlined, so that any reference it takes to the job's
        /// closure is released before the caller acknowledges.
        @inline(never)
        private func drain() {
            guard let job else { return }
            let n = chunks
            while true {
                let i = nextChunk.add(1, ordering: .relaxed).oldValue
                if i >= n { break }
                job.pointee(i)
            }
        }

        private func helperLoop() {
            // Generation 0 is "no job yet": a helper that starts after the first job was posted
            // must still take part in (and acknowledge) it.
            var seen = 0
            while true {
                var g = generation.load(ordering: .acquiring)
                if g == seen {
                    let start = DispatchTime.now().uptimeNanoseconds
                    var polls = 0
                    while g == seen {
                        polls += 1
                        if polls & 63 == 0 {
                            if DispatchTime.now().uptimeNanoseconds - start > WorkerPool.spinNanoseconds {
                                pthread_mutex_lock(mutex)
                                sleepers.add(1, ordering: .sequentiallyConsistent)
                                while generation.load(ordering: .sequentiallyConsistent) == seen {
                                    pthread_cond_wait(cond, mutex)
                                }
                                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                                pthread_mutex_unlock(mutex)
                            } else {
                                sched_yield()
                            }
                        }
                        g = generation.load(ordering: .acquiring)
                    }
                }
                seen = g
                drain()
                acknowledged.add(1, ordering: .releasing)
            }
        }
    }
#endif

/// Sets `count` elements at `p` to zero with one `memset`. The generic
/// `initialize(repeating: 0, count:)` in these unspecialised generic ops copied element by
/// element through the type's value witness: 23 % of an 8×64×56×56 grid_sample_backward.
@inline(__always)
func zeroElements<T: STNFloat>(_ p: UnsafeMutablePointer<T>, count: Int) {
    UnsafeMutableRawPointer(p).initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<T>.stride)
}
