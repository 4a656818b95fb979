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
    func describe(_ v: Value, quoted: Bool, depth: Int = 0) -> String {
        if v.isDouble { return Runtime.formatDouble(v.asDouble) }
        if v.isInlineInt { return String(v.asInlineInt) }
        if v.bits == Value.nil.bits { return "nil" }
        if v.bits == Value.true.bits { return "true" }
        if v.bits == Value.false.bits { return "false" }
        guard v.isObject else { return "<?>" }
        if depth > 32 { return "..." }
        switch v.header.pointee.kind {
        case .string:
            let s = v.obj(ObjString.self).string
            return quoted ? Runtime.quote(s) : s
        case .int: return String(v.obj(ObjInt.self).pointee.value)
        case .list:
            let l = v.obj(ObjList.self)
            var parts: [String] = []
            for j in 0..<l.pointee.count { parts.append(describe(l.pointee.items![j], quoted: true, depth: depth + 1)) }
            return "[" + parts.joined(separator: ", ") + "]"
        case .map:
            let m = v.obj(ObjMap.self)
            var parts: [String] = []
            forEachEntry(m) { key, value in
                parts.append(describe(key, quoted: true, depth: depth + 1) + ": " + describe(value, quoted: true, depth: depth + 1))
            }
            return "{" + parts.joined(separator: ", ") + "}"
        case .bytes:
            let b = v.obj(ObjBytes.self)
            var s = "b\""
            for j in 0..<b.pointee.count {
                let c = b.pointee.data![j]
                if c >= 0x20 && c < 0x7F && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { s.append(Character(Unicode.Scalar(c))) }
                else { s += "\\x" + (c < 16 ? "0" : "") + String(c, radix: 16) }
            }
            return s + "\""
        case .function:
            return "<fn \(v.obj(ObjFunction.self).pointee.name.obj(ObjString.self).string)>"
        case .closure:
            let name = v.obj(ObjClosure.self).pointee.function.pointee.name.obj(ObjString.self).string
            return name == "<fn>" ? "<fn>" : "<fn \(name)>"
        case .native:
            return "<native fn \(v.obj(ObjNative.self).pointee.name.obj(ObjString.self).string)>"
        case .boundMethod:
            return describe(v.obj(ObjBoundMethod.self).pointee.method, quoted: false, depth: depth + 1)
        case .upvalue: return "<upvalue>"
        case .klass: return "<class \(v.obj(ObjClass.self).pointee.name.obj(ObjString.self).string)>"
        case .instance: return "<\(v.obj(ObjInstance.self).pointee.klass.pointee.name.obj(ObjString.self).string) instance>"
        case .module: return "<module \(v.obj(ObjModule.self).pointee.name.obj(ObjString.self).string)>"
        case .error:
            let m = v.obj(ObjError.self).pointee.message
            return describe(m, quoted: false, depth: depth + 1)
        case .handle:
            return "<handle \(describe(v.obj(ObjHandle.self).pointee.typeName, quoted: false))>"
        }
    }

    static func quote(_ s: String) -> String { quoted(s) }

    /// `str(v)`: strings as themselves, instances through their `str` method if they have
    /// one, everything else as `describe` shows it. Nil after raising.
    func toStringValue(_ v: Value) -> Value? {
        if v.isString { return v }
        if v.isInlineInt { return Value(intToString(v.asInlineInt)) }
        guard let text = toText(v) else { return nil }
        return Value(makeString(text))
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

    /// Like `toStringValue` but returns Swift text (for `print`).
    func toText(_ v: Value) -> String? {
        if v.isString { return v.obj(ObjString.self).string }
        if v.isObject(.instance) {
            let inst = v.obj(ObjInstance.self)
            if let m = inst.pointee.klass.pointee.methods.get(nameStr) {
                guard let bound = Optional(newBoundMethod(receiver: v, method: m)) else { return nil }
                guard let r = call(bound, []) else { return nil }
                if r.isString { return r.obj(ObjString.self).string }
                raise("str() method must return a string, got \(typeName(r))")
                return nil
            }
        }
        return describe(v, quoted: false)
    }
}
