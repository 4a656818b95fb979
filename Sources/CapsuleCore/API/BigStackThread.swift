#if canImport(Glibc)
import Glibc
#endif

/// Runs work synchronously on a fresh thread with a large stack, so deep native recursion
/// (the parser, the compiler, re-entrant calls) hits Capsule's own depth limits long before
/// the native stack runs out.
enum BigStackThread {
    private final class Work {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func run(stackSize: Int, _ body: @escaping () -> Void) {
        let work = Unmanaged.passRetained(Work(body))
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, max(stackSize, 1 << 20))
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, { arg in
            let w = Unmanaged<Work>.fromOpaque(arg!).takeRetainedValue()
            w.body()
            return nil
        }, work.toOpaque())
        if rc != 0 {
            // Could not start a thread (resource limits): run here instead.
            work.takeRetainedValue().body()
            return
        }
        pthread_join(thread, nil)
    }
}
