#if canImport(Glibc)
import Glibc
#endif

/// `import "json"`: `json.parse(text)` and `json.stringify(value)` /
/// `json.stringify(value, {indent: 2})` (docs/stdlib.md#json).
extension Runtime {
    /// Containers nested deeper than this are an error in both directions.
    static let jsonMaxDepth = 512

    func makeJSONModule() -> Value {
        let m = newModule(name: "json", sourceName: "<json>", directory: nil)
        let mv = Value(m)
        pushRoot(mv)
        defer { popRoot() }
        func define(_ name: String, arity: Int, _ body: @escaping NativeBody) {
            setModuleVariable(m, name, newNative(name: "json." + name, arity: arity, body))
        }
        define("parse", arity: 1) { rt, a, _ in
            guard let text = rt.expectString(a[0], "json.parse argument") else { return Runtime.failure }
            return rt.parseJSON(text.buffer)
        }
        define("stringify", arity: -1) { rt, a, argc in
            guard argc == 1 || argc == 2 else { return rt.fail("json.stringify expects 1 or 2 arguments, got \(argc)") }
            var indent = -1
            if argc == 2 && !a[1].isNil {
                guard a[1].isObject(.map) else {
                    return rt.fail("json.stringify options must be a map like {indent: 2}, got \(rt.typeName(a[1]))")
                }
                var bad: String? = nil
                rt.forEachEntry(a[1].obj(ObjMap.self)) { k, v in
                    guard bad == nil else { return }
                    guard k.isString, k.obj(ObjString.self).string == "indent" else {
                        bad = "json.stringify: unknown option \(rt.describe(k, quoted: true)) (known: indent)"
                        return
                    }
                    if v.isNil { return }
                    guard v.isInt, v.intValue >= 0, v.intValue <= 16 else {
                        bad = "json.stringify: indent must be an int from 0 to 16, got \(rt.describe(v, quoted: true))"
                        return
                    }
                    indent = Int(v.intValue)
                }
                if let bad { return rt.fail(bad) }
            }
            var writer = JSONWriter(rt: rt, indent: indent)
            guard writer.write(a[0], depth: 0) else { return Runtime.failure }
            guard rt.reserveHeap(MemoryLayout<ObjString>.stride + writer.out.count + 1) else { return Runtime.failure }
            return writer.out.withUnsafeBufferPointer { Value(rt.makeString($0)) }
        }
        return mv
    }

    /// `json.parse`: VM values straight from the text. Nil-free: returns the value or the
    /// failure marker after raising.
    func parseJSON(_ text: UnsafeBufferPointer<UInt8>) -> Value {
        let rootBase = tempRoots.count
        var scanner = JSONScanner(text, maxDepth: Runtime.jsonMaxDepth, builder: VMJSONBuilder(rt: self))
        do throws(JSONScanError) {
            return try scanner.document()
        } catch {
            popRoot(tempRoots.count - rootBase)
            if error.offset < 0 {
                raiseOutOfMemory()
                return Runtime.failure
            }
            let (line, column) = jsonPosition(of: error.offset, in: text)
            return fail("json.parse: \(line):\(column): \(error.message)")
        }
    }
}

/// Builds VM values for `json.parse`. Each container is rooted from its start to its end,
/// and a key from its creation until its value is stored, so a collection at any allocation
/// sees every partial result. An offset of -1 in the error means the heap limit was passed.
struct VMJSONBuilder: JSONBuilder {
    unowned(unsafe) let rt: Runtime

    @inline(__always) func checkHeap() throws(JSONScanError) {
        if rt.memoryErrorPending { throw JSONScanError(message: "out of memory", offset: -1) }
    }
    func null(at offset: Int) -> Value { .nil }
    func bool(_ b: Bool, at offset: Int) -> Value { Value(bool: b) }
    func int(_ i: Int64, at offset: Int) throws(JSONScanError) -> Value {
        if Value.fitsInline(i) { return Value(inlineInt: i) }
        let v = rt.boxInt(i)
        try checkHeap()
        return v
    }
    func double(_ d: Double, at offset: Int) -> Value { Value(d) }
    func string(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONScanError) -> Value {
        let v = Value(rt.makeString(bytes))
        try checkHeap()
        return v
    }
    func beginArray(at offset: Int) throws(JSONScanError) -> UnsafeMutablePointer<ObjList> {
        let l = rt.newList()
        rt.pushRoot(Value(l))
        try checkHeap()
        return l
    }
    func append(_ array: inout UnsafeMutablePointer<ObjList>, _ value: Value) { rt.append(array, value) }
    func endArray(_ array: UnsafeMutablePointer<ObjList>) -> Value {
        rt.popRoot()
        return Value(array)
    }
    func beginObject(at offset: Int) throws(JSONScanError) -> UnsafeMutablePointer<ObjMap> {
        let m = rt.newMap()
        rt.pushRoot(Value(m))
        try checkHeap()
        return m
    }
    func key(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONScanError) -> Value {
        // Interned: the keys of a list of records are shared, not copied per record.
        let k = Value(rt.intern(bytes))
        rt.pushRoot(k)
        try checkHeap()
        return k
    }
    func set(_ object: inout UnsafeMutablePointer<ObjMap>, _ key: Value, _ value: Value) {
        // A duplicate key keeps its first position and takes the last value.
        rt.mapSet(object, key, value)
        rt.popRoot()
    }
    func endObject(_ object: UnsafeMutablePointer<ObjMap>) -> Value {
        rt.popRoot()
        return Value(object)
    }
}

/// `json.stringify`: writes UTF-8 into a Swift buffer (no heap objects until the result),
/// watching the heap limit as the text grows. Containers on the current path are kept to
/// detect cycles; the path (`$.a[2]`) is rebuilt only for an error.
struct JSONWriter {
    unowned(unsafe) let rt: Runtime
    let indent: Int
    var out: [UInt8] = []
    /// Containers being written, outermost first, and the key or index inside each.
    var path: [(container: UnsafeMutableRawPointer, step: Value)] = []

    init(rt: Runtime, indent: Int) {
        self.rt = rt
        self.indent = indent
        out.reserveCapacity(256)
    }

    mutating func append(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
    mutating func append(_ s: String) { out.append(contentsOf: s.utf8) }

    /// `$`, `$.name`, `$["odd key"]`, `$[2]` for the current path.
    func pathText() -> String {
        var text = "$"
        for (n, (_, step)) in path.enumerated() {
            // Deep paths show their first and last 8 steps.
            if path.count > 20 && n >= 8 && n < path.count - 8 {
                if n == 8 { text += "…(\(path.count - 16) more)…" }
                continue
            }
            if step.isInt { text += "[\(step.intValue)]"; continue }
            guard step.isString else { continue }
            let k = step.obj(ObjString.self).string
            let plain = !k.isEmpty && k.utf8.allSatisfy { ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) }
                && !(k.utf8.first.map { $0 >= 0x30 && $0 <= 0x39 } ?? false)
            text += plain ? ".\(k)" : "[\(Runtime.quote(k))]"
        }
        return text
    }

    func fail(_ message: String) -> Bool {
        rt.raise("json.stringify: \(message) at \(pathText())")
        return false
    }

    mutating func newline(_ depth: Int) {
        guard indent >= 0 else { return }
        out.append(0x0A)
        for _ in 0..<(depth * indent) { out.append(0x20) }
    }

    /// Appends `v`; false after raising.
    mutating func write(_ v: Value, depth: Int) -> Bool {
        if v.isDouble {
            let d = v.asDouble
            guard d.isFinite else { return fail("cannot encode \(Runtime.formatDouble(d)) (JSON has no NaN or infinity)") }
            append(d.description)
            return true
        }
        if v.isInlineInt { append(String(v.asInlineInt)); return true }
        if v.isNil { append("null"); return true }
        if v == .true { append("true"); return true }
        if v == .false { append("false"); return true }
        guard v.isObject else { return fail("cannot encode \(rt.typeName(v))") }
        switch v.header.pointee.kind {
        case .string:
            writeString(v.obj(ObjString.self).buffer)
        case .int:
            append(String(v.obj(ObjInt.self).pointee.value))
        case .list:
            let l = v.obj(ObjList.self)
            guard enter(v, depth) else { return false }
            out.append(UInt8(ascii: "["))
            var j = 0
            // NOTE: re-read the count each step: nothing here runs script code, but the
            // list pointer is the only thing kept.
            while j < l.pointee.count {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                path[path.count - 1].step = Value(inlineInt: Int64(j))
                guard write(l.pointee.items.unsafelyUnwrapped[j], depth: depth + 1) else { return false }
                j += 1
            }
            if j > 0 { newline(depth) }
            out.append(UInt8(ascii: "]"))
            path.removeLast()
        case .map:
            let m = v.obj(ObjMap.self)
            guard enter(v, depth) else { return false }
            out.append(UInt8(ascii: "{"))
            var first = true
            var ok = true
            rt.forEachEntry(m) { k, item in
                guard ok else { return }
                path[path.count - 1].step = k
                guard k.isString else {
                    ok = fail("map key \(rt.describe(k, quoted: true)) is not a string (JSON object keys are strings)")
                    return
                }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                newline(depth + 1)
                writeString(k.obj(ObjString.self).buffer)
                out.append(UInt8(ascii: ":"))
                if indent >= 0 { out.append(0x20) }
                ok = write(item, depth: depth + 1)
            }
            guard ok else { return false }
            if !first { newline(depth) }
            out.append(UInt8(ascii: "}"))
            path.removeLast()
        default:
            return fail("cannot encode \(rt.describeForError(v))")
        }
        // The text lives outside the heap until it becomes the result: refuse it once it
        // could not fit.
        if rt.bytesAllocated &+ out.count > rt.heapLimit {
            rt.raiseOutOfMemory()
            return false
        }
        return true
    }

    /// Starts a container: false after raising for a cycle or too much nesting.
    mutating func enter(_ v: Value, _ depth: Int) -> Bool {
        let p = v.asObject
        if path.contains(where: { $0.container == p }) {
            return fail("cannot encode a \(rt.typeName(v)) that contains itself")
        }
        guard depth < Runtime.jsonMaxDepth else { return fail("nested too deeply (limit \(Runtime.jsonMaxDepth))") }
        path.append((p, .nil))
        return true
    }

    mutating func writeString(_ bytes: UnsafeBufferPointer<UInt8>) {
        out.append(UInt8(ascii: "\""))
        let hex: StaticString = "0123456789abcdef"
        for b in bytes {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
            case 0..<0x20:
                append("\\u00")
                out.append(hex.utf8Start[Int(b >> 4)])
                out.append(hex.utf8Start[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
