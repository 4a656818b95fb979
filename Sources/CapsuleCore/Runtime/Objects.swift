#if canImport(Glibc)
import Glibc
#endif

/// Constructors for heap objects. Each goes through `allocateObject`; callers must keep
/// values they hold in Swift locals rooted (`pushRoot`) across any allocation.
extension Runtime {
    func newList(capacity: Int = 0) -> UnsafeMutablePointer<ObjList> {
        let l = allocateObject(kind: .list, size: MemoryLayout<ObjList>.stride).assumingMemoryBound(to: ObjList.self)
        l.pointee.items = nil
        l.pointee.count = 0
        l.pointee.capacity = 0
        if capacity > 0 { reserve(l, capacity) }
        return l
    }

    /// Grows the list's storage to `capacity` items, or to `minimum` when the system refuses
    /// more (Runtime/SystemMemory.swift).
    func reserve(_ l: UnsafeMutablePointer<ObjList>, _ capacity: Int, minimum: Int? = nil) {
        guard capacity > l.pointee.capacity else { return }
        let stride = MemoryLayout<Value>.stride
        let (raw, bytes) = systemGrow(l.pointee.items, wanted: capacity * stride, minimum: (minimum ?? capacity) * stride)
        let granted = bytes / stride
        l.pointee.items = raw.assumingMemoryBound(to: Value.self)
        accountExternal((granted - l.pointee.capacity) * stride)
        l.pointee.capacity = granted
    }

    @inline(__always) func append(_ l: UnsafeMutablePointer<ObjList>, _ v: Value) {
        if l.pointee.count == l.pointee.capacity { reserve(l, max(8, l.pointee.capacity * 2), minimum: l.pointee.count + 1) }
        l.pointee.items.unsafelyUnwrapped[l.pointee.count] = v
        l.pointee.count += 1
    }

    func newListValue(_ values: [Value]) -> Value {
        let l = newList(capacity: values.count)
        for v in values { append(l, v) }
        return Value(l)
    }

    func newBytes(count: Int) -> UnsafeMutablePointer<ObjBytes> {
        let b = allocateObject(kind: .bytes, size: MemoryLayout<ObjBytes>.stride).assumingMemoryBound(to: ObjBytes.self)
        b.pointee.data = nil
        b.pointee.count = 0
        b.pointee.capacity = 0
        if count > 0 {
            reserveBytes(b, count)
            memset(b.pointee.data!, 0, count)
            b.pointee.count = count
        }
        return b
    }

    /// Grows the storage to `capacity` bytes, or to `minimum` when the system refuses more.
    func reserveBytes(_ b: UnsafeMutablePointer<ObjBytes>, _ capacity: Int, minimum: Int? = nil) {
        guard capacity > b.pointee.capacity else { return }
        let (raw, granted) = systemGrow(b.pointee.data, wanted: capacity, minimum: minimum ?? capacity)
        b.pointee.data = raw.assumingMemoryBound(to: UInt8.self)
        accountExternal(granted - b.pointee.capacity)
        b.pointee.capacity = granted
    }

    func newUpvalue(slot: Int) -> UnsafeMutablePointer<ObjUpvalue> {
        let u = allocateObject(kind: .upvalue, size: MemoryLayout<ObjUpvalue>.stride).assumingMemoryBound(to: ObjUpvalue.self)
        u.pointee.location = stack + slot
        u.pointee.closed = .nil
        u.pointee.stackIndex = slot
        u.pointee.nextOpen = nil
        return u
    }

    func newClosure(_ f: UnsafeMutablePointer<ObjFunction>) -> UnsafeMutablePointer<ObjClosure> {
        let n = f.pointee.upvalueCount
        let size = MemoryLayout<ObjClosure>.stride + n * MemoryLayout<UnsafeMutablePointer<ObjUpvalue>>.stride
        let c = allocateObject(kind: .closure, size: size).assumingMemoryBound(to: ObjClosure.self)
        c.pointee.function = f
        // Upvalues are filled in by the caller before the next allocation; until then the
        // count is 0 so the collector does not read them.
        c.pointee.upvalueCount = 0
        return c
    }

    func newNative(name: String, arity: Int, isMethod: Bool = false, entry: NativeEntry? = nil,
                   target: UnsafeMutableRawPointer? = nil, _ body: @escaping NativeBody) -> Value {
        let nameValue = Value(intern(name))
        pushRoot(nameValue)
        defer { popRoot() }
        let p = allocateObject(kind: .native, size: MemoryLayout<ObjNative>.stride)
        let header = p.assumingMemoryBound(to: ObjHeader.self).pointee
        p.assumingMemoryBound(to: ObjNative.self).initialize(
            to: ObjNative(header: header, body: body, entry: entry, target: target, name: nameValue,
                          arity: arity, isMethod: isMethod))
        return Value(object: p)
    }

    func newClass(name: Value) -> UnsafeMutablePointer<ObjClass> {
        let k = allocateObject(kind: .klass, size: MemoryLayout<ObjClass>.stride).assumingMemoryBound(to: ObjClass.self)
        k.pointee.name = name
        k.pointee.superclass = .nil
        k.pointee.methods = NameTable()
        k.pointee.initializer = .nil
        return k
    }

    func newInstance(_ k: UnsafeMutablePointer<ObjClass>) -> UnsafeMutablePointer<ObjInstance> {
        let i = allocateObject(kind: .instance, size: MemoryLayout<ObjInstance>.stride).assumingMemoryBound(to: ObjInstance.self)
        i.pointee.klass = k
        i.pointee.fields = NameTable()
        return i
    }

    func newBoundMethod(receiver: Value, method: Value) -> Value {
        let b = allocateObject(kind: .boundMethod, size: MemoryLayout<ObjBoundMethod>.stride)
            .assumingMemoryBound(to: ObjBoundMethod.self)
        b.pointee.receiver = receiver
        b.pointee.method = method
        return Value(b)
    }

    func newModule(name: Value, sourceName: Value, directory: Value) -> UnsafeMutablePointer<ObjModule> {
        let m = allocateObject(kind: .module, size: MemoryLayout<ObjModule>.stride).assumingMemoryBound(to: ObjModule.self)
        m.pointee.name = name
        m.pointee.variables = nil
        m.pointee.variableCount = 0
        m.pointee.variableCapacity = 0
        m.pointee.names = NameTable()
        m.pointee.sourceName = sourceName
        m.pointee.directory = directory
        return m
    }

    /// A module named by Swift strings (each is interned and kept rooted while the next is made).
    func newModule(name: String, sourceName: String, directory: String?) -> UnsafeMutablePointer<ObjModule> {
        let n = Value(intern(name)); pushRoot(n)
        let s = Value(intern(sourceName)); pushRoot(s)
        let d = directory.map { Value(intern($0)) } ?? .nil; pushRoot(d)
        defer { popRoot(3) }
        return newModule(name: n, sourceName: s, directory: d)
    }

    /// Sets the variable `name` of module `m` to `value` (kept rooted while the slot is made):
    /// how the built-in modules define their functions and constants.
    func setModuleVariable(_ m: UnsafeMutablePointer<ObjModule>, _ name: String, _ value: Value) {
        pushRoot(value)
        let slot = addModuleVariable(m, name: intern(name))
        m.pointee.variables![slot] = value
        popRoot()
    }

    /// Adds a variable slot named `name` to a module (initially undefined); returns its index.
    func addModuleVariable(_ m: UnsafeMutablePointer<ObjModule>, name: UnsafeMutablePointer<ObjString>) -> Int {
        if let existing = m.pointee.names.get(name) { return Int(existing.asInlineInt) }
        let index = m.pointee.variableCount
        if index == m.pointee.variableCapacity {
            let (raw, bytes) = systemGrow(m.pointee.variables, wanted: max(16, m.pointee.variableCapacity * 2) * 8, minimum: (index + 1) * 8)
            let cap = bytes / 8
            m.pointee.variables = raw.assumingMemoryBound(to: Value.self)
            accountExternal((cap - m.pointee.variableCapacity) * 8)
            m.pointee.variableCapacity = cap
        }
        m.pointee.variables![index] = .undefined
        m.pointee.variableCount += 1
        accountExternal(m.pointee.names.set(name, Value(inlineInt: Int64(index))))
        return index
    }

    func newError(message: Value, trace: Value = .nil) -> Value {
        let e = allocateObject(kind: .error, size: MemoryLayout<ObjError>.stride).assumingMemoryBound(to: ObjError.self)
        e.pointee.message = message
        e.pointee.trace = trace
        e.pointee.origin = .nil
        e.pointee.originPC = 0
        e.pointee.klass = .nil
        e.pointee.fields = NameTable()
        return Value(e)
    }

    func setField(_ inst: UnsafeMutablePointer<ObjInstance>, _ name: UnsafeMutablePointer<ObjString>, _ v: Value) {
        accountExternal(inst.pointee.fields.set(name, v))
    }

    func setMethod(_ k: UnsafeMutablePointer<ObjClass>, _ name: UnsafeMutablePointer<ObjString>, _ v: Value) {
        accountExternal(k.pointee.methods.set(name, v))
        if name == nameInit { k.pointee.initializer = v }
    }
}
