#if canImport(Glibc)
import Glibc
#endif

/// Memory from the system for the heap, when the system refuses it (`ulimit -v`, a
/// container's limit, address space running out). Without `--max-heap` that must still be
/// the catchable `out of memory`, never a trap (docs/limits.md, "Running out of memory"):
///
/// - allocations whose size a script chooses are checked by `reserveHeap` first, which, with
///   no heap limit, asks the system for the block and gives it back, so a refusal becomes
///   `out of memory` before anything is built;
/// - a container that grows (list items, bytes, a map's order, module variables) asks for
///   its usual doubling, then for just what the element being added needs (the kernel grows
///   a large block in place or moves it, asking only for the difference), and a map whose
///   table cannot grow keeps inserting into the free slots it has; the `out of memory` is
///   then raised at the interpreter's next check, like a passed heap limit;
/// - small allocations fall back on an emergency reserve the VM holds (address space only:
///   its pages are never touched), released the first time the system refuses.
///
/// Only if the system refuses even then does the VM end the process: it flushes standard
/// output, writes `error: out of memory` and exits with code 70 (`fatalOutOfMemory`).
extension Runtime {
    /// Address space set aside for the allocations that come after the system first refuses.
    static let emergencyReserveBytes = 32 << 20

    /// Size from which `reserveHeap` asks the system before a script-sized allocation.
    static let systemProbeBytes = 1 << 20

    /// Takes the emergency reserve (again) if it is not held.
    func holdEmergencyReserve() {
        if emergencyReserve == nil { emergencyReserve = malloc(Runtime.emergencyReserveBytes) }
    }

    /// The system refused memory: release the reserve and make the next check raise
    /// `out of memory`. Returns whether there was a reserve to release.
    @inline(never)
    func systemRefusedMemory() -> Bool {
        systemMemoryExhausted = true
        if raisingOutOfMemory == 0 {
            memoryErrorPending = true
            tripLimitCheck()
        }
        guard let reserve = emergencyReserve else { return false }
        free(reserve)
        emergencyReserve = nil
        return true
    }

    /// After `malloc(size)` failed: releases the reserve and tries again; ends the process
    /// only when even that fails.
    @inline(never)
    func allocateAfterRefusal(_ size: Int) -> UnsafeMutableRawPointer {
        if systemRefusedMemory(), let p = malloc(size) { return p }
        fatalOutOfMemory(size)
    }

    /// Grows `p` to `wanted` bytes, or at least to `minimum` bytes when the system refuses
    /// `wanted` (the refusal is raised at the next check). Returns the block and its size.
    /// Ends the process only when not even `minimum` bytes can be had.
    func systemGrow(_ p: UnsafeMutableRawPointer?, wanted: Int, minimum: Int) -> (UnsafeMutableRawPointer, Int) {
        if let q = realloc(p, wanted) { return (q, wanted) }
        let released = systemRefusedMemory()
        if released, let q = realloc(p, wanted) { return (q, wanted) }
        // Less than doubling, more than one element: a loop that keeps adding does not pay
        // a reallocation per element before the error is raised.
        let step = minimum + (wanted - minimum) / 8
        if step > minimum && step < wanted, let q = realloc(p, step) { return (q, step) }
        if minimum < wanted, let q = realloc(p, minimum) { return (q, minimum) }
        fatalOutOfMemory(minimum)
    }

    /// Whether the system would give `bytes` now (asked for blocks of `systemProbeBytes` or
    /// more, with no heap limit set): the block is allocated and freed at once, so the
    /// allocation that follows gets the same address space.
    func systemHasRoom(_ bytes: Int) -> Bool {
        guard bytes >= Runtime.systemProbeBytes else { return true }
        if let p = malloc(bytes) { free(p); return true }
        if systemRefusedMemory(), let p = malloc(bytes) { free(p); return true }
        return false
    }

    /// A `TextBuffer` stopped: past the heap limit, or (with none) the system refused it.
    /// Raises `out of memory`.
    func raiseTextOutOfMemory() {
        if heapLimit == Int.max { systemMemoryExhausted = true }
        raiseOutOfMemory()
    }

    /// The system refused even the least the VM needs to go on: no error object can be
    /// built. Flush what the script printed, say why, and exit like an uncaught error.
    func fatalOutOfMemory(_ size: Int) -> Never {
        fflush(stdout)
        // NOTE: a static string: building one could need the memory that just ran out.
        let text: StaticString = "error: out of memory (the system refused the VM's allocation)\n"
        _ = write(2, text.utf8Start, text.utf8CodeUnitCount)
        _exit(70)
    }
}
