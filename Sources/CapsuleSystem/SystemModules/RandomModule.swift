#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore
import CRandom

/// The `random` module: randomness from the kernel (`getrandom(2)`), gated by the `random`
/// capability (`--allow-random`): unpredictable values let a script behave differently on
/// each run, which a reproducible sandbox may want to forbid (docs/security.md#random).
///
/// ```
/// import "random"
/// print(random.int(1, 6))      // uniform, both ends included
/// print(random.float())        // uniform in [0, 1)
/// print(random.bytes(16))      // 16 random bytes
/// ```
package final class RandomModule {
    let enforcer: CapabilityEnforcer

    package init(enforcer: CapabilityEnforcer) { self.enforcer = enforcer }

    /// The largest `random.bytes` request: one getrandom loop, bounded memory.
    static let maximumBytes = 1 << 24

    package func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "random", functions: [
            NativeFunctionDefinition(name: "int", arity: 2) { [unowned self] call in
                guard let low = call.int(0), let high = call.int(1) else {
                    return call.raise("random.int: expected two ints (low, high), got \(call.typeName(0)) and \(call.typeName(1))")
                }
                guard low <= high else { return call.raise("random.int: low \(low) is greater than high \(high)") }
                if let denied = check(call) { return denied }
                // Uniform over [low, high] without modulo bias: reject draws past the last
                // whole multiple of the range's size.
                let span = UInt64(bitPattern: high &- low) &+ 1  // 0: the whole 64-bit range
                guard var draw = Self.word() else { return Self.failed(call) }
                if span != 0 {
                    let limit = UInt64.max - (UInt64.max % span + 1) % span
                    while draw > limit {
                        guard let next = Self.word() else { return Self.failed(call) }
                        draw = next
                    }
                    draw %= span
                }
                return call.intValue(low &+ Int64(bitPattern: draw))
            },
            NativeFunctionDefinition(name: "float", arity: 0) { [unowned self] call in
                if let denied = check(call) { return denied }
                // 53 random bits: every double in [0, 1) with that spacing equally likely.
                guard let draw = Self.word() else { return Self.failed(call) }
                return call.doubleValue(Double(draw >> 11) * 0x1p-53)
            },
            NativeFunctionDefinition(name: "bytes", arity: 1) { [unowned self] call in
                guard let n = call.int(0), n >= 0, n <= Int64(Self.maximumBytes) else {
                    return call.raise("random.bytes: argument 1: expected a count from 0 to \(Self.maximumBytes), got \(call.int(0).map { String($0) } ?? call.typeName(0))")
                }
                if let denied = check(call) { return denied }
                if let oom = call.heapShortfall(Int(n)) { return call.raise("random.bytes: \(oom) making \(n) bytes") }
                var buffer = [UInt8](repeating: 0, count: Int(n))
                guard buffer.withUnsafeMutableBytes({ Self.fill($0) }) else { return Self.failed(call) }
                return buffer.withUnsafeBufferPointer { call.bytesValue($0) }
            },
        ])
    }

    /// Raises and returns the failure when `random` is not granted.
    private func check(_ call: NativeCall) -> Value? {
        if case .failure(let d) = enforcer.check(Capability(.random), by: .script) { return call.raise(d.message) }
        return nil
    }

    /// Fills `buffer` from the kernel's generator (blocking only before it is seeded at
    /// boot); false when the kernel refuses (errno says why).
    static func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var done = 0
        while done < buffer.count {
            let got = getrandom(buffer.baseAddress! + done, buffer.count - done, 0)
            if got > 0 { done += got } else if got < 0 && errno != EINTR { return false }
        }
        return true
    }

    static func word() -> UInt64? {
        var value: UInt64 = 0
        return withUnsafeMutableBytes(of: &value) { fill($0) } ? value : nil
    }

    static func failed(_ call: NativeCall) -> Value {
        call.raise("random: the kernel's generator failed: \(String(cString: strerror(errno)))")
    }
}
