/// What the plugin host (CapsuleHost) needs from the core, at `package` visibility: native
/// modules that `import` can find, fast access to call arguments, results, errors and
/// handles. The core itself knows nothing of dlopen or libffi; the host brings those.

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

/// A native function. `arity` is checked by the VM before `body` runs (-1: any).
package struct NativeFunctionDefinition {
    package var name: String
    package var arity: Int
    /// Returns the result, or `NativeCall.failure` after `call.raise(...)`.
    package var body: (NativeCall) -> Value
    package init(name: String, arity: Int, body: @escaping (NativeCall) -> Value) {
        self.name = name; self.arity = arity; self.body = body
    }
}

/// One call of a native function: its arguments, and the ways to build results and errors.
/// Valid only during the call.
package struct NativeCall {
    unowned(unsafe) let rt: Runtime
    let args: UnsafeMutablePointer<Value>
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
    /// Runs a handle's destructor now (at most once) and marks it closed.
    package func closeHandle(_ i: Int) {
        guard args[i].isObject(.handle) else { return }
        let h = args[i].obj(ObjHandle.self)
        if let p = h.pointee.pointer {
            h.pointee.pointer = nil
            h.pointee.destructor?(p)
        }
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
        return Value(h)
    }

    /// A native function value (what raw FFI's `bind` returns). The VM keeps `body` (and
    /// what it captures) alive for as long as the function is reachable.
    package func functionValue(_ definition: NativeFunctionDefinition) -> Value {
        let body = definition.body
        return rt.newNative(name: definition.name, arity: definition.arity) { rt, args, argc in
            body(NativeCall(rt: rt, args: args, count: argc))
        }
    }

    // MARK: errors
    /// Makes the call fail with `message`; return `NativeCall.failure` after it.
    package func raise(_ message: String) -> Value { rt.fail(message) }
}

extension VM {
    /// Installs the resolver `import` asks for names that are neither built-in nor script
    /// modules (the plugin host's loader).
    package func setNativeModuleResolver(_ resolver: @escaping NativeModuleResolver) {
        rt.nativeModuleResolver = resolver
    }
}

extension Runtime {
    /// Builds the module object for a native module definition.
    func makeNativeModule(_ definition: NativeModuleDefinition) -> Value {
        gcPauseCount += 1
        defer { gcPauseCount -= 1 }
        let m = newModule(name: definition.name, sourceName: "<\(definition.name)>", directory: nil)
        let mv = Value(m)
        pushRoot(mv)
        defer { popRoot() }
        for f in definition.functions {
            let body = f.body
            let native = newNative(name: "\(definition.name).\(f.name)", arity: f.arity) { rt, args, argc in
                body(NativeCall(rt: rt, args: args, count: argc))
            }
            pushRoot(native)
            let slot = addModuleVariable(m, name: intern(f.name))
            m.pointee.variables![slot] = native
            popRoot()
        }
        return mv
    }
}
