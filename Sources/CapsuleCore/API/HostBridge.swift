/// What the plugin host (CapsuleHost) needs from the core, at `package` visibility: native
/// modules that `import` can find, fast access to call arguments, results, errors and
/// handles. The core itself knows nothing of dlopen or libffi; the host brings those.
#if canImport(Glibc)
import Glibc
#endif

/// Finds a native module for `import "name"` after built-in and script modules were looked
/// for. `directory` is the importing script's directory (nil for the REPL).
package typealias NativeModuleResolver = (_ name: String, _ directory: String?) -> NativeModuleLookup

package enum NativeModuleLookup {
    /// No such module; `tried` lists the places looked in (for the error message).
    case notFound(tried: [String])
    /// The module was found but could not be loaded (the message says why).
    case failed(String)
    case found(NativeModuleDefinition)
}

/// A native module: a name and functions. The host keeps whatever state its bodies need.
package struct NativeModuleDefinition {
    package var name: String
    package var functions: [NativeFunctionDefinition]
    package init(name: String, functions: [NativeFunctionDefinition]) { self.name = name; self.functions = functions }
}

/// A native function. `arity` is checked by the VM before `body` (or `entry`) runs (-1: any).
package struct NativeFunctionDefinition {
    package var name: String
    package var arity: Int
    /// Returns the result, or `NativeCall.failure` after `call.raise(...)`.
    package var body: (NativeCall) -> Value
    /// When set, the VM calls `entry(target, call)` instead of `body`: a plain function and a
    /// pointer, so a call costs no closure context and no reference counting. `target` is not
    /// retained; `body` must keep what it points to alive (the function value owns `body`).
    package var entry: NativeEntry?
    package var target: UnsafeMutableRawPointer?
    package init(name: String, arity: Int, entry: NativeEntry? = nil, target: UnsafeMutableRawPointer? = nil,
                 body: @escaping (NativeCall) -> Value) {
        self.name = name; self.arity = arity; self.body = body
        self.entry = entry; self.target = target
    }
}

/// A host native's direct entry: called with the `target` its definition gave and the call.
/// NOTE: `@convention(thin)`: a bare function pointer with the Swift calling convention, no
/// context to retain; a host stores its per-function state behind `target` (a slot it may
/// repoint, e.g. for hot reload), so one load reaches the current C function.
package typealias NativeEntry = @convention(thin) (_ target: UnsafeMutableRawPointer, _ call: NativeCall) -> Value

/// One call of a native function: its arguments, and the ways to build results and errors.
/// Valid only during the call.
/// NOTE: `@usableFromInline`: without it the `@inlinable` fast forms below are not inlined
/// into the host (Swift 6.3 does not inline them into another module for a plain `package` type).
@usableFromInline package struct NativeCall {
    @usableFromInline unowned(unsafe) let rt: Runtime
    @usableFromInline let args: UnsafeMutablePointer<Value>
    package let count: Int

    /// Returned by a body after `raise`.
    package static var failure: Value { Runtime.failure }

    // MARK: arguments
    package func value(_ i: Int) -> Value { args[i] }
    package func typeName(_ i: Int) -> String { rt.typeName(args[i]) }
    package func isNil(_ i: Int) -> Bool { args[i].isNil }
    package func bool(_ i: Int) -> Bool? { args[i].isBool ? args[i] == .true : nil }
    /// An int argument (inline or boxed); nil for anything else, including floats.
    @inline(__always) package func int(_ i: Int) -> Int64? {
        let v = args[i]
        if v.isInlineInt { return v.asInlineInt }
        return v.isObject(.int) ? v.obj(ObjInt.self).pointee.value : nil
    }
    /// A float argument; ints are converted. Nil for anything else.
    @inline(__always) package func double(_ i: Int) -> Double? {
        let v = args[i]
        if v.isDouble { return v.asDouble }
        return v.isInt ? Double(v.intValue) : nil
    }
    package func isFloat(_ i: Int) -> Bool { args[i].isDouble }
    /// The UTF-8 bytes of a string argument, NUL-terminated after `count` bytes.
    package func string(_ i: Int) -> UnsafeBufferPointer<UInt8>? {
        args[i].isString ? args[i].obj(ObjString.self).buffer : nil
    }
    /// The bytes of a `bytes` argument (mutable: the buffer is the script's).
    package func bytes(_ i: Int) -> UnsafeMutableBufferPointer<UInt8>? {
        guard args[i].isObject(.bytes) else { return nil }
        let b = args[i].obj(ObjBytes.self)
        return UnsafeMutableBufferPointer(start: b.pointee.data, count: b.pointee.count)
    }
    /// A handle argument: its type name, pointer (nil once closed) and closed state.
    package func handle(_ i: Int) -> (typeName: String, pointer: UnsafeMutableRawPointer?)? {
        guard args[i].isObject(.handle) else { return nil }
        let h = args[i].obj(ObjHandle.self)
        return (rt.describe(h.pointee.typeName, quoted: false), h.pointee.pointer)
    }
    /// The destructor a handle argument was made with (which plugin version made it).
    package func handleDestructor(_ i: Int) -> (@convention(c) (UnsafeMutableRawPointer?) -> Void)? {
        guard args[i].isObject(.handle) else { return nil }
        return args[i].obj(ObjHandle.self).pointee.destructor
    }
    /// Runs a handle's destructor now (at most once) and marks it closed.
    package func closeHandle(_ i: Int) {
        guard args[i].isObject(.handle) else { return }
        let h = args[i].obj(ObjHandle.self)
        if let p = h.pointee.pointer {
            h.pointee.pointer = nil
            h.pointee.companion = .nil
            h.pointee.destructor?(p)
            if let owner = h.pointee.owner {
                h.pointee.owner = nil
                h.pointee.releaseOwner?(owner)
            }
        }
    }
    /// The owner a handle argument was made with (`handleValue(_:typeName:destructor:owner:releaseOwner:)`),
    /// nil when it has none or is closed.
    package func handleOwner(_ i: Int) -> UnsafeMutableRawPointer? {
        guard args[i].isObject(.handle) else { return nil }
        return args[i].obj(ObjHandle.self).pointee.owner
    }
    /// The value a handle argument keeps alive (`handleValue(_:typeName:destructor:keeping:)`),
    /// nil when it keeps none or is closed.
    package func handleCompanion(_ i: Int) -> Value? {
        guard args[i].isObject(.handle) else { return nil }
        let c = args[i].obj(ObjHandle.self).pointee.companion
        return c.isNil ? nil : c
    }
    /// True for values a script can call: functions, natives, bound methods and classes.
    package func isCallable(_ i: Int) -> Bool {
        guard args[i].isObject else { return false }
        switch args[i].header.pointee.kind {
        case .closure, .native, .boundMethod, .klass: return true
        default: return false
        }
    }
    /// The fields of a map argument as (key, value) pairs, in insertion order; nil when it
    /// is not a map. Keys that are strings come back as Swift strings, others as nil.
    package func mapEntries(_ i: Int) -> [(key: String?, value: Value)]? {
        guard args[i].isObject(.map) else { return nil }
        var entries: [(key: String?, value: Value)] = []
        rt.forEachEntry(args[i].obj(ObjMap.self)) { k, v in
            entries.append((k.isString ? k.obj(ObjString.self).string : nil, v))
        }
        return entries
    }

    // MARK: fast forms, for typed entries
    // NOTE: `@inlinable` with the tag layout of `Value` spelled out, so a host's entry reads
    // and builds values without a call into the core. Each returns nil where the general
    // accessor has more to check; the entry then takes its general path.

    /// An inline int argument (a boxed int or anything else: nil).
    @inlinable @inline(__always) package func inlineInt(_ i: Int) -> Int64? {
        let b = args[i].bits
        return b >> 48 == 0xFFFE ? Int64(bitPattern: b << 16) >> 16 : nil
    }
    /// A float argument, or an inline int as a float (a boxed int or anything else: nil).
    @inlinable @inline(__always) package func inlineDouble(_ i: Int) -> Double? {
        let b = args[i].bits
        if b < 0xFFF9_0000_0000_0000 { return Double(bitPattern: b) }
        return b >> 48 == 0xFFFE ? Double(Int64(bitPattern: b << 16) >> 16) : nil
    }
    /// `intValue(i)`, with the inline case inlined.
    @inlinable @inline(__always) package func fastIntValue(_ i: Int64) -> Value {
        if i == (i << 16) >> 16 { return Value(bits: 0xFFFE_0000_0000_0000 | (UInt64(bitPattern: i) & 0x0000_FFFF_FFFF_FFFF)) }
        return boxedIntValue(i)
    }
    @usableFromInline @inline(never) func boxedIntValue(_ i: Int64) -> Value { rt.intValue(i) }
    /// `doubleValue(d)`, inlined.
    @inlinable @inline(__always) package func fastDoubleValue(_ d: Double) -> Value {
        // NaNs are made canonical, as `Value(_: Double)` does.
        Value(bits: d.isNaN ? Double.nan.bitPattern : d.bitPattern)
    }
    /// A string argument as a C string, when it has no NUL byte (checked once per string);
    /// nil for anything else.
    package func cString(_ i: Int) -> UnsafePointer<CChar>? {
        guard args[i].isString else { return nil }
        let s = args[i].obj(ObjString.self)
        if s.pointee.header.flags & ObjString.checkedNoNULFlag == 0 {
            if s.pointee.count > 0 && memchr(s.bytes, 0, s.pointee.count) != nil { return nil }
            s.pointee.header.flags |= ObjString.checkedNoNULFlag
        }
        return UnsafeRawPointer(s.bytes).assumingMemoryBound(to: CChar.self)
    }

    // MARK: results
    package var nilValue: Value { .nil }
    package func boolValue(_ b: Bool) -> Value { Value(bool: b) }
    @inline(__always) package func intValue(_ i: Int64) -> Value { rt.intValue(i) }
    @inline(__always) package func doubleValue(_ d: Double) -> Value { Value(d) }
    package func stringValue(_ bytes: UnsafeBufferPointer<UInt8>) -> Value { Value(rt.makeString(bytes)) }
    package func stringValue(_ s: String) -> Value { rt.stringValue(s) }
    package func bytesValue(_ bytes: UnsafeBufferPointer<UInt8>) -> Value {
        let b = rt.newBytes(count: bytes.count)
        if bytes.count > 0 { b.pointee.data!.update(from: bytes.baseAddress!, count: bytes.count) }
        return Value(b)
    }
    /// A list of values (for functions with out-parameters).
    package func listValue(_ values: [Value]) -> Value {
        for v in values { rt.pushRoot(v) }
        defer { rt.popRoot(values.count) }
        return rt.newListValue(values)
    }
    /// A field of `recordValue`.
    package enum Field {
        case string(String), int(Int64), double(Double), bool(Bool)
    }

    /// A map from string keys to plain values, in the order given (for records like
    /// `fs.stat`). Every intermediate value stays rooted while the next is allocated.
    package func recordValue(_ fields: [(String, Field)]) -> Value {
        let map = Value(rt.newMap())
        rt.pushRoot(map)
        defer { rt.popRoot() }
        for (key, field) in fields {
            let k = rt.stringValue(key)
            rt.pushRoot(k)
            let v: Value
            switch field {
            case .string(let s): v = rt.stringValue(s)
            case .int(let i): v = rt.intValue(i)
            case .double(let d): v = Value(d)
            case .bool(let b): v = Value(bool: b)
            }
            rt.pushRoot(v)
            rt.mapSet(map.obj(ObjMap.self), k, v)
            rt.popRoot(2)
        }
        return map
    }

    /// A list of new strings (every one rooted while the next is allocated).
    package func stringListValue(_ strings: [String]) -> Value {
        var values: [Value] = []
        values.reserveCapacity(strings.count)
        for s in strings {
            let v = rt.stringValue(s)
            rt.pushRoot(v)
            values.append(v)
        }
        defer { rt.popRoot(values.count) }
        return rt.newListValue(values)
    }

    /// Keeps `v` alive across later allocations in this call (until the call returns).
    package func keep(_ v: Value) { rt.pushRoot(v) }
    /// A handle the VM owns: `destructor` runs once, when it becomes unreachable or is closed.
    package func handleValue(_ pointer: UnsafeMutableRawPointer?, typeName: String,
                             destructor: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) -> Value {
        let name = Value(rt.intern(typeName))
        rt.pushRoot(name)
        defer { rt.popRoot() }
        let h = rt.allocateObject(kind: .handle, size: MemoryLayout<ObjHandle>.stride).assumingMemoryBound(to: ObjHandle.self)
        h.pointee.pointer = pointer
        h.pointee.typeName = name
        h.pointee.destructor = destructor
        h.pointee.companion = .nil
        h.pointee.owner = nil
        h.pointee.releaseOwner = nil
        return Value(h)
    }

    /// A handle like `handleValue(_:typeName:destructor:)` that keeps `owner` (opaque here;
    /// the caller has taken a reference for the handle) until `releaseOwner(owner)` runs, once,
    /// right after the destructor: when the handle is closed or collected. Plugin handles
    /// keep the plugin version that made them loaded this way.
    package func handleValue(_ pointer: UnsafeMutableRawPointer?, typeName: String,
                             destructor: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                             owner: UnsafeMutableRawPointer,
                             releaseOwner: @escaping @convention(c) (UnsafeMutableRawPointer?) -> Void) -> Value {
        let h = handleValue(pointer, typeName: typeName, destructor: destructor)
        h.obj(ObjHandle.self).pointee.owner = owner
        h.obj(ObjHandle.self).pointee.releaseOwner = releaseOwner
        return h
    }

    /// A handle like `handleValue(_:typeName:destructor:)` that also keeps `companion` alive
    /// for as long as the handle is reachable and open.
    package func handleValue(_ pointer: UnsafeMutableRawPointer?, typeName: String,
                             destructor: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                             keeping companion: Value) -> Value {
        rt.pushRoot(companion)
        defer { rt.popRoot() }
        let h = handleValue(pointer, typeName: typeName, destructor: destructor)
        h.obj(ObjHandle.self).pointee.companion = companion
        return h
    }

    /// A map from string keys to values, in order (raw FFI's struct values).
    package func mapValue(_ entries: [(key: String, value: Value)]) -> Value {
        for e in entries { rt.pushRoot(e.value) }
        defer { rt.popRoot(entries.count) }
        let m = rt.newMap(capacity: entries.count)
        rt.pushRoot(Value(m))
        defer { rt.popRoot() }
        for e in entries {
            let k = Value(rt.intern(e.key))
            rt.pushRoot(k)
            rt.mapSet(m, k, e.value)
            rt.popRoot()
        }
        return Value(m)
    }

    /// A map from `keys[i]` to `values[i]`, in order: the same as `mapValue(_:)` without
    /// a Swift `String` per key (for records built once per match or per row).
    /// `keys.count` must equal `values.count`.
    package func mapValue(keys: [StaticString], values: [Value]) -> Value {
        for v in values { rt.pushRoot(v) }
        defer { rt.popRoot(values.count) }
        let m = rt.newMap(capacity: keys.count)
        rt.pushRoot(Value(m))
        defer { rt.popRoot() }
        for (i, key) in keys.enumerated() where i < values.count {
            let k = key.withUTF8Buffer { Value(rt.intern($0)) }
            rt.pushRoot(k)
            rt.mapSet(m, k, values[i])
            rt.popRoot()
        }
        return Value(m)
    }

    /// Stops keeping the last `n` values passed to `keep` (innermost first).
    package func release(_ n: Int) { rt.popRoot(n) }

    // MARK: re-entry (callbacks from C)

    /// A call with no arguments on the same VM, for code that runs later in the same native
    /// call or a nested one (a C callback). Only its value builders, `callValue` and
    /// `withValues` may be used, and only while the VM is inside a native call on this thread.
    /// NOTE: `count` is 0, so the (soon stale) argument pointer is never read.
    package func reentry() -> NativeCall { NativeCall(rt: rt, args: args, count: 0) }

    /// Calls the script value `callee` with `arguments`, re-entering the interpreter, and
    /// returns its result; nil when it raised (the error is pending: return
    /// `NativeCall.failure` to propagate it).
    package func callValue(_ callee: Value, _ arguments: [Value]) -> Value? { rt.call(callee, arguments) }

    /// Runs `body` with a call whose arguments are `values` (kept alive meanwhile), so the
    /// argument readers and checks apply to values that are not arguments (a callback's
    /// result, a struct's fields).
    package func withValues<T>(_ values: [Value], _ body: (NativeCall) -> T) -> T {
        for v in values { rt.pushRoot(v) }
        defer { rt.popRoot(values.count) }
        let buffer = UnsafeMutablePointer<Value>.allocate(capacity: max(values.count, 1))
        defer { buffer.deallocate() }
        buffer.initialize(from: values, count: values.count)
        return body(NativeCall(rt: rt, args: buffer, count: values.count))
    }


    /// A native function value (what raw FFI's `bind` returns). The VM keeps `body` (and
    /// what it captures) alive for as long as the function is reachable.
    package func functionValue(_ definition: NativeFunctionDefinition) -> Value {
        rt.newNative(definition, name: definition.name)
    }

    // MARK: errors
    /// Makes the call fail with `message`; return `NativeCall.failure` after it.
    package func raise(_ message: String) -> Value { rt.fail(message) }
    /// Makes the call fail with `message` as an error of class `kind` (instead of the class
    /// the message implies, Runtime/ErrorClasses.swift); return `NativeCall.failure` after it.
    package func raise(_ message: String, kind: ErrorKind) -> Value {
        rt.raise(message, kind: kind)
        return Runtime.failure
    }

    /// Whether `bytes` more fit under the heap limit (collecting if needed); raises the
    /// catchable `out of memory (heap limit N)` and returns false when they do not. For host
    /// code about to build a buffer or value whose size the script or a file chooses
    /// (docs/limits.md). Values the caller holds must be rooted.
    package func reserveHeap(_ bytes: Int) -> Bool { rt.reserveHeap(bytes) }

    /// `out of memory (heap limit N)` when `bytes` more would not fit under the heap limit
    /// even after a collection, or nil; raises nothing (the caller reports it).
    package func heapShortfall(_ bytes: Int) -> String? { rt.heapShortfall(bytes) }

    // MARK: the run's deadline (host functions that block)
    /// When the VM's `timeout` ends this run, in `CLOCK_MONOTONIC` nanoseconds; nil with no
    /// timeout. A host function that waits (a child process, a socket) waits at most until
    /// then and returns `raiseTimeout()`.
    package var deadline: Int? { rt.deadline == 0 ? nil : rt.deadline }
    /// Ends the run with the VM's uncatchable `timeout of D exceeded`; return its result.
    package func raiseTimeout() -> Value {
        rt.haltForTimeout()
        return Runtime.failure
    }
}

extension VM {
    /// Installs the resolver `import` asks for names that are neither built-in nor script
    /// modules (the plugin host's loader).
    package func setNativeModuleResolver(_ resolver: @escaping NativeModuleResolver) {
        rt.nativeModuleResolver = resolver
    }
}

/// What `NativeCall.reloadScriptModule(atPath:)` did.
package enum ScriptModuleReload: Equatable {
    /// The new top level ran: the module's names are rebound.
    case reloaded
    /// The file could not be read or compiled: nothing changed. The diagnostics as reported.
    case refused(String)
    /// The new top level raised: names before the error were rebound. The error and its trace.
    case failed(String)
    /// No script module was imported from that path.
    case notImported
    /// The module's first import is still running its top level: reload it once that ends.
    case stillLoading
}

extension VM {
    /// Calls `observer` on the VM's thread with each script module `import` is about to read
    /// (before the read, so a watch set up there misses no change): the name used in its
    /// messages and its real path. Modules already loaded are in `importedScriptModules`.
    package func observeScriptModuleImports(_ observer: @escaping (_ name: String, _ path: String) -> Void) {
        rt.scriptModuleObserver = observer
    }

    /// Calls `observer` on the VM's thread with the path of each script-module import the
    /// import rule denied (ImportRule.swift), so the host can audit it as a denied `fs.read`.
    package func observeImportDenials(_ observer: @escaping (_ path: String) -> Void) {
        rt.importDenialObserver = observer
    }

    /// The script modules imported so far: name in messages, real path.
    package var importedScriptModules: [(name: String, path: String)] {
        rt.modules.compactMap { key, value in
            guard Runtime.isScriptModuleKey(key), value.isObject(.module) else { return nil }
            let m = value.obj(ObjModule.self)
            return (m.pointee.sourceName.isString ? m.pointee.sourceName.obj(ObjString.self).string : key, key)
        }
    }
}

extension NativeCall {
    /// Reloads the script module imported from `path` as `modules.reload` does, reporting
    /// instead of raising (for a host reloading at a safe point).
    package func reloadScriptModule(atPath path: String) -> ScriptModuleReload {
        guard let module = rt.modules[path] else { return rt.loadingModules.contains(path) ? .stillLoading : .notImported }
        switch rt.reloadScriptModule(module) {
        case .reloaded: return .reloaded
        case .refused: return .refused(rt.errorReport())
        case .failed: return .failed(rt.errorReport())
        }
    }
}

extension Runtime {
    /// Builds the module object for a native module definition.
    func makeNativeModule(_ definition: NativeModuleDefinition) -> Value {
        gcPauseCount += 1
        defer { gcPauseCount -= 1 }
        let m = newModule(name: definition.name, sourceName: "<\(definition.name)>", directory: nil)
        addNatives(definition.functions, to: m, moduleName: definition.name)
        return Value(m)
    }

    /// Defines each of `functions` in `m` as a native named `moduleName.f`; names `m` already
    /// has are left alone. The caller pauses the collector.
    func addNatives(_ functions: [NativeFunctionDefinition], to m: UnsafeMutablePointer<ObjModule>, moduleName: String) {
        for f in functions {
            let key = intern(f.name)
            if m.pointee.names.get(key) != nil { continue }
            let slot = addModuleVariable(m, name: key)
            m.pointee.variables![slot] = newNative(f, name: "\(moduleName).\(f.name)")
        }
    }

    /// The native function value for `definition`, named `name`; it keeps `definition.body`
    /// alive for as long as it is reachable.
    func newNative(_ definition: NativeFunctionDefinition, name: String) -> Value {
        let body = definition.body
        return newNative(name: name, arity: definition.arity, entry: definition.entry, target: definition.target) { rt, args, argc in
            body(NativeCall(rt: rt, args: args, count: argc))
        }
    }
}
