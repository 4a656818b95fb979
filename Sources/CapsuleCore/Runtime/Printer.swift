#if canImport(Glibc)
import Glibc
#endif
import CapsuleSyntax

/// Turning values into text: `str()`, `print`, interpolation and error messages.
extension Runtime {
    func typeName(_ v: Value) -> String {
        if v.isDouble { return "float" }
        if v.isInlineInt { return "int" }
        if v.isNil { return "nil" }
        if v.isBool { return "bool" }
        guard v.isObject else { return "nil" }
        switch v.header.pointee.kind {
        case .string: return "string"
        case .int: return "int"
        case .list: return "list"
        case .map: return "map"
        case .bytes: return "bytes"
        case .function, .closure, .native, .boundMethod: return "function"
        case .upvalue: return "upvalue"
        case .klass: return "class"
        case .instance: return "instance"
        case .module: return "module"
        case .error: return "error"
        case .handle: return "handle"
        case .fiber: return "fiber"
        case .channel: return "channel"
        case .mutex: return "mutex"
        case .waitGroup: return "waitgroup"
        }
    }

    /// How a value is named in "has no field" messages.
    func describeForError(_ v: Value) -> String {
        if v.isObject(.instance) { return "\(v.obj(ObjInstance.self).pointee.klass.pointee.name.obj(ObjString.self).string) instance" }
        if v.isObject(.klass) { return "class \(v.obj(ObjClass.self).pointee.name.obj(ObjString.self).string)" }
        if v.isObject(.module) { return "module '\(v.obj(ObjModule.self).pointee.name.obj(ObjString.self).string)'" }
        return typeName(v)
    }

    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        return d.description
    }

    /// The text of a value without calling script code. Strings are quoted when `quoted`
    /// (inside containers); instances with a `str` method are shown generically here.
    /// For messages: the text is not bounded by the heap limit (`describeWithinHeap` is).
    func describe(_ v: Value, quoted: Bool, depth: Int = 0) -> String {
        let out = TextBuffer(limit: Int.max)
        describe(v, quoted: quoted, depth: depth, into: out)
        return out.failed ? "<out of memory>" : out.string
    }

    /// Appends the text of `v` to `out`; stops early once `out` has failed.
    func describe(_ v: Value, quoted: Bool, depth: Int, into out: TextBuffer) {
        if out.failed { return }
        if v.isDouble { out.append(Runtime.formatDouble(v.asDouble)); return }
        if v.isInlineInt { out.append(String(v.asInlineInt)); return }
        if v.bits == Value.nil.bits { out.append("nil"); return }
        if v.bits == Value.true.bits { out.append("true"); return }
        if v.bits == Value.false.bits { out.append("false"); return }
        guard v.isObject else { out.append("<?>"); return }
        if depth > 32 { out.append("..."); return }
        switch v.header.pointee.kind {
        case .string:
            let s = v.obj(ObjString.self)
            if quoted { out.appendQuoted(s.bytes, count: s.pointee.count) } else { out.append(s.bytes, count: s.pointee.count) }
        case .int: out.append(String(v.obj(ObjInt.self).pointee.value))
        case .list:
            let l = v.obj(ObjList.self)
            out.append(UInt8(ascii: "["))
            var j = 0
            // NOTE: the count is read on every step: a list cannot change here (no script
            // code runs), but this never reads past it either way.
            while j < l.pointee.count && !out.failed {
                if j > 0 { out.append(", ") }
                describe(l.pointee.items.unsafelyUnwrapped[j], quoted: true, depth: depth + 1, into: out)
                j += 1
            }
            out.append(UInt8(ascii: "]"))
        case .map:
            let m = v.obj(ObjMap.self)
            out.append(UInt8(ascii: "{"))
            var first = true
            forEachEntry(m) { key, value in
                if out.failed { return }
                if !first { out.append(", ") }
                first = false
                describe(key, quoted: true, depth: depth + 1, into: out)
                out.append(": ")
                describe(value, quoted: true, depth: depth + 1, into: out)
            }
            out.append(UInt8(ascii: "}"))
        case .bytes:
            let b = v.obj(ObjBytes.self)
            out.append("b\"")
            var j = 0
            while j < b.pointee.count && !out.failed {
                let c = b.pointee.data.unsafelyUnwrapped[j]
                if c >= 0x20 && c < 0x7F && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { out.append(c) }
                else { out.append("\\x" + (c < 16 ? "0" : "") + String(c, radix: 16)) }
                j += 1
            }
            out.append(UInt8(ascii: "\""))
        case .function:
            out.append("<fn \(v.obj(ObjFunction.self).pointee.name.obj(ObjString.self).string)>")
        case .closure:
            let name = v.obj(ObjClosure.self).pointee.function.pointee.name.obj(ObjString.self).string
            out.append(name == "<fn>" ? "<fn>" : "<fn \(name)>")
        case .native:
            out.append("<native fn \(v.obj(ObjNative.self).pointee.name.obj(ObjString.self).string)>")
        case .boundMethod:
            describe(v.obj(ObjBoundMethod.self).pointee.method, quoted: false, depth: depth + 1, into: out)
        case .upvalue: out.append("<upvalue>")
        case .klass: out.append("<class \(v.obj(ObjClass.self).pointee.name.obj(ObjString.self).string)>")
        case .instance: out.append("<\(v.obj(ObjInstance.self).pointee.klass.pointee.name.obj(ObjString.self).string) instance>")
        case .module: out.append("<module \(v.obj(ObjModule.self).pointee.name.obj(ObjString.self).string)>")
        case .error:
            describe(v.obj(ObjError.self).pointee.message, quoted: false, depth: depth + 1, into: out)
        case .handle:
            out.append("<handle ")
            describe(v.obj(ObjHandle.self).pointee.typeName, quoted: false, depth: 0, into: out)
            out.append(">")
        case .fiber: out.append("<fiber \(v.obj(ObjFiber.self).pointee.id)>")
        case .channel:
            let c = v.obj(ObjChannel.self)
            out.append("<channel \(c.pointee.id)\(c.pointee.capacity > 0 ? " cap \(c.pointee.capacity)" : "")\(c.pointee.closed ? " closed" : "")>")
        case .mutex: out.append("<mutex \(v.obj(ObjChannel.self).pointee.id)>")
        case .waitGroup: out.append("<waitgroup \(v.obj(ObjChannel.self).pointee.id)>")
        }
    }

    /// The bytes the heap can still take: what text built for the script may use.
    var heapRoom: Int {
        heapLimit == Int.max ? Int.max : max(0, heapLimit - bytesAllocated - MemoryLayout<ObjString>.stride - 1)
    }

    /// A buffer for text built for the script: it may hold what is left under the heap limit,
    /// collecting garbage once when it needs more. Values the caller holds must be rooted.
    func textBuffer() -> TextBuffer {
        guard heapLimit != Int.max else { return TextBuffer(limit: Int.max) }
        return TextBuffer(limit: heapRoom) { [unowned self] in
            if gcPauseCount == 0 { collectGarbage() }
            return heapRoom
        }
    }

    /// The text of `v` as `describe` gives it, built in a `textBuffer`. Nil after raising
    /// `out of memory`. `v` must be rooted (this may collect).
    func describeWithinHeap(_ v: Value, quoted: Bool = false) -> TextBuffer? {
        let out = textBuffer()
        describe(v, quoted: quoted, depth: 0, into: out)
        if out.failed { raiseTextOutOfMemory(); return nil }
        return out
    }

    static func quote(_ s: String) -> String { quoted(s) }

    /// `str(v)`: strings as themselves, instances through their `str` method if they have
    /// one, everything else as `describe` shows it. Nil after raising.
    func toStringValue(_ v: Value) -> Value? {
        if v.isString { return v }
        if v.isInlineInt { return Value(intToString(v.asInlineInt)) }
        if let r = instanceText(v) { return r.isNil ? nil : r }
        guard let text = describeWithinHeap(v) else { return nil }
        return Value(makeString(text.bytes))
    }

    /// The decimal digits of `n` written straight into a new string object (no Swift String).
    func intToString(_ n: Int64) -> UnsafeMutablePointer<ObjString> {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch: enough for 20 digits and a sign
        return withUnsafeMutableBytes(of: &digits) { buffer in
            let b = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var m = n.magnitude
            var i = 24
            repeat {
                i -= 1
                b[i] = UInt8(truncatingIfNeeded: m % 10) &+ 48
                m /= 10
            } while m > 0
            if n < 0 { i -= 1; b[i] = 45 }
            let count = 24 - i
            let s = allocateString(count: count)
            memcpy(s.bytes, b + i, count)
            finishString(s, scalarCount: count, ascii: true)
            return s
        }
    }

    /// Like `toStringValue` but returns Swift text (for `print`, `join`, `format`).
    func toText(_ v: Value) -> String? {
        if v.isString { return v.obj(ObjString.self).string }
        if let r = instanceText(v) { return r.isNil ? nil : r.obj(ObjString.self).string }
        return describeWithinHeap(v)?.string
    }

    /// For an instance with a `str` method: the string it returns, or nil (the value) after
    /// raising. Swift nil when `v` has no such method.
    private func instanceText(_ v: Value) -> Value? {
        guard v.isObject(.instance) else { return nil }
        let inst = v.obj(ObjInstance.self)
        guard let m = inst.pointee.klass.pointee.methods.get(nameStr) else { return nil }
        guard let r = call(newBoundMethod(receiver: v, method: m), []) else { return Value.nil }
        if r.isString { return r }
        raise("str() method must return a string, got \(typeName(r))")
        return Value.nil
    }
}
