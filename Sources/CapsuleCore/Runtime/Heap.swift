#if canImport(Glibc)
import Glibc
#endif

/// Allocation and garbage collection. Every heap object is created by `allocate`, the one
/// chokepoint that counts bytes and triggers collection; the mark-sweep collector frees them.
extension Runtime {
    /// Allocates `size` bytes for an object of `kind`, links it into the object list and
    /// fills in its header. May collect first (every time, in GC-stress mode).
    /// Past the heap limit (or the failure injector's count) the allocation still succeeds,
    /// so no caller ever sees a half-built object, and `out of memory` is raised at the
    /// interpreter's next check (Runtime/Limits.swift).
    @inline(never)
    func allocateObject(kind: ObjKind, size: Int) -> UnsafeMutableRawPointer {
        allocationsBeforeFailure &-= 1
        // NOTE: `nextGC` never exceeds the heap limit, so one compare covers both.
        if config.gcStress || bytesAllocated + size > nextGC || allocationsBeforeFailure < 0 {
            prepareAllocation(size)
        }
        let p = malloc(size) ?? allocateAfterRefusal(size)
        p.assumingMemoryBound(to: ObjHeader.self).initialize(
            to: ObjHeader(next: objects, kind: kind, marked: false, flags: 0, size: UInt32(truncatingIfNeeded: size)))
        objects = p
        bytesAllocated += size
        objectCount += 1
        return p
    }

    /// Accounts for memory an object holds outside its own allocation (list items, …).
    /// Growth past the heap limit signals `out of memory` for the next check, like
    /// `allocateObject` (it cannot collect here: the caller may hold unrooted values).
    @inline(__always) func accountExternal(_ delta: Int) {
        bytesAllocated += delta
        if bytesAllocated > heapLimit && delta > 0 { heapExhausted() }
    }

    // MARK: strings

    static func hashBytes(_ p: UnsafePointer<UInt8>?, _ n: Int) -> UInt64 {
        // FNV-1a, 64-bit.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        guard let p else { return h }
        for i in 0..<n { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3 }
        return h == 0 ? 1 : h
    }

    /// A new string object with room for `count` bytes (filled by the caller) and a NUL.
    func allocateString(count: Int) -> UnsafeMutablePointer<ObjString> {
        let raw = allocateObject(kind: .string, size: MemoryLayout<ObjString>.stride + count + 1)
        let s = raw.assumingMemoryBound(to: ObjString.self)
        s.pointee.count = count
        s.pointee.scalarCount = -1
        s.pointee.hash = 0
        s.pointee.offsets = nil
        s.bytes[count] = 0
        return s
    }

    /// Computes the scalar count and ASCII flag of a string whose bytes are filled in.
    func finishString(_ s: UnsafeMutablePointer<ObjString>, scalarCount known: Int = -1, ascii: Bool? = nil) {
        if known >= 0, let ascii {
            s.pointee.scalarCount = known
            if ascii { s.pointee.header.flags |= ObjString.asciiFlag }
            return
        }
        let b = s.bytes
        var scalars = 0, isASCII = true
        for i in 0..<s.pointee.count {
            let c = b[i]
            if c >= 0x80 { isASCII = false }
            if c & 0xC0 != 0x80 { scalars += 1 }
        }
        s.pointee.scalarCount = scalars
        if isASCII { s.pointee.header.flags |= ObjString.asciiFlag }
    }

    /// A new (not interned) string with the given bytes. Every string built from bytes goes
    /// through here, so this is where the rule "strings are valid UTF-8" holds: bytes that
    /// are not valid UTF-8 have each invalid sequence replaced by U+FFFD (the same repair as
    /// Swift's `String(decoding:as:)`, which every other way in uses). docs/language.md, "Text
    /// from outside".
    func makeString(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<ObjString> {
        guard UTF8Validation.isValid(bytes) else { return makeString(String(decoding: bytes, as: UTF8.self)) }
        let s = allocateString(count: bytes.count)
        if bytes.count > 0 { memcpy(s.bytes, bytes.baseAddress!, bytes.count) }
        finishString(s)
        return s
    }

    func makeString(_ text: String) -> UnsafeMutablePointer<ObjString> {
        var text = text
        return text.withUTF8 { makeString($0) }
    }

    func stringValue(_ text: String) -> Value { Value(makeString(text)) }

    /// The string's hash, computed on first use.
    @inline(__always) func hashOf(_ s: UnsafeMutablePointer<ObjString>) -> UInt64 {
        if s.pointee.hash != 0 { return s.pointee.hash }
        let h = Runtime.hashBytes(s.bytes, s.pointee.count)
        s.pointee.hash = h
        return h
    }

    /// The interned string with these bytes (created if needed).
    func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<ObjString> {
        guard UTF8Validation.isValid(bytes) else { return intern(String(decoding: bytes, as: UTF8.self)) }
        let h = Runtime.hashBytes(bytes.baseAddress, bytes.count)
        if let s = interned.find(bytes, hash: h) { return s }
        let s = makeString(bytes)
        s.pointee.hash = h
        s.pointee.header.flags |= ObjString.internedFlag
        interned.insert(s)
        return s
    }

    func intern(_ text: String) -> UnsafeMutablePointer<ObjString> {
        var text = text
        return text.withUTF8 { intern($0) }
    }

    /// The interned twin of any string (itself if already interned).
    func intern(_ s: UnsafeMutablePointer<ObjString>) -> UnsafeMutablePointer<ObjString> {
        if s.pointee.header.flags & ObjString.internedFlag != 0 { return s }
        pushRoot(Value(s))
        defer { popRoot() }
        return intern(s.buffer)
    }

    // MARK: ints

    /// An int value in canonical form (inline when it fits, else boxed).
    @inline(__always) func intValue(_ i: Int64) -> Value {
        if Value.fitsInline(i) { return Value(inlineInt: i) }
        return boxInt(i)
    }

    @inline(never) func boxInt(_ i: Int64) -> Value {
        let p = allocateObject(kind: .int, size: MemoryLayout<ObjInt>.stride).assumingMemoryBound(to: ObjInt.self)
        p.pointee.value = i
        return Value(p)
    }

    // MARK: temporary roots

    @inline(__always) func pushRoot(_ v: Value) { tempRoots.append(v) }
    @inline(__always) func popRoot(_ n: Int = 1) { tempRoots.removeLast(n) }

    // MARK: collection

    func collectGarbage() {
        let before = bytesAllocated
        markRoots()
        traceReferences()
        interned.removeUnmarked()
        if !scheduler.fibers.isEmpty { collectLeakedFibers() }
        sweep()
        collections += 1
        freedTotal += before - bytesAllocated
        nextGC = min(max(config.initialGCThreshold, bytesAllocated * 2), heapLimit)
    }

    @inline(__always) func mark(_ v: Value) {
        if v.isObject { markObject(v.asObject) }
    }

    func markObject(_ p: UnsafeMutableRawPointer) {
        let h = p.assumingMemoryBound(to: ObjHeader.self)
        if h.pointee.marked { return }
        h.pointee.marked = true
        switch h.pointee.kind {
        case .string, .int: return  // no references
        default: gray.append(p)
        }
    }

    func markTable(_ t: NameTable) {
        t.forEach { k, v in markObject(UnsafeMutableRawPointer(k)); mark(v) }
    }

    private func markRoots() {
        // Registers in use: up to the top of the innermost frame. Slots above it are dead;
        // clearing them keeps the invariant that every slot below the high-water mark
        // holds nil or a live object.
        var top = 0
        if frameCount > 0 {
            let f = frames[frameCount - 1]
            top = f.base + f.closure.pointee.function.pointee.maxRegisters
        }
        top = max(top, argumentTop)
        if stackHighWater > top { for i in top..<stackHighWater { stack[i] = .nil } }
        stackHighWater = top
        for i in 0..<top { mark(stack[i]) }
        for i in 0..<frameCount { markObject(UnsafeMutableRawPointer(frames[i].closure)) }
        var uv = openUpvalues
        while let u = uv { markObject(UnsafeMutableRawPointer(u)); uv = u.pointee.nextOpen }
        mark(pendingError)
        for v in tempRoots { mark(v) }
        for v in permanentRoots { mark(v) }
        for v in pinned.all { mark(v) }
        for v in pluginPins.all { mark(v) }
        for v in compilerRoots { mark(v) }
        for (_, v) in builtins { mark(v) }
        for (_, v) in modules { mark(v) }
        for (_, v) in hostFunctions { mark(v) }
        for i in 0..<Runtime.kindCount { markTable(methodTables[i]) }
        for i in 0..<256 where !charStrings[i].isNil { mark(charStrings[i]) }
        markSchedulerRoots()
    }

    /// The fibers the scheduler can still wake, and what its timers hold. A fiber parked on
    /// a channel, mutex or fiber is not a root: it is reached through what it waits on, so
    /// one that nothing can ever wake is collected (`collectLeakedFibers`).
    private func markSchedulerRoots() {
        let s = scheduler
        if let f = s.current { markObject(UnsafeMutableRawPointer(f)) }
        if let f = s.main { markObject(UnsafeMutableRawPointer(f)) }
        s.forEachQueued { markObject(UnsafeMutableRawPointer($0)) }
        for t in s.timers {
            if let f = t.fiber { markObject(UnsafeMutableRawPointer(f)) }
            mark(t.channel)
        }
        for (_, w) in s.ioWaits {
            for x in w.readers { markObject(UnsafeMutableRawPointer(x.fiber)) }
            for x in w.writers { markObject(UnsafeMutableRawPointer(x.fiber)) }
        }
        for (bits, _) in s.awaiting {
            if let p = UnsafeMutableRawPointer(bitPattern: bits) { markObject(p) }
        }
        for f in s.unjoinedFailures { markObject(UnsafeMutableRawPointer(f)) }
        mark(selectedValue)
        mark(invokeReceiver)
        for (_, v) in internalNatives { mark(v) }
    }

    /// Before the sweep: a fiber not marked can never run again (nothing reaches it, its
    /// channel or its handle). Its open upvalues are closed, so closures that outlive it keep
    /// its variables' last values, and it leaves the registry; the sweep frees it.
    private func collectLeakedFibers() {
        var j = 0
        while j < scheduler.fibers.count {
            let f = scheduler.fibers[j]
            if f.pointee.header.marked { j += 1; continue }
            if !scheduler.waitCleanups.isEmpty { runWaitCleanup(f) }
            closeSavedUpvalues(f)
            if f.pointee.state == .waiting { scheduler.leaked += 1 }
            unregister(f)
        }
    }

    private func traceReferences() {
        while let p = gray.popLast() { blacken(p) }
    }

    private func blacken(_ p: UnsafeMutableRawPointer) {
        switch p.assumingMemoryBound(to: ObjHeader.self).pointee.kind {
        case .string, .int: break
        case .list:
            let l = p.assumingMemoryBound(to: ObjList.self)
            if let items = l.pointee.items { for i in 0..<l.pointee.count { mark(items[i]) } }
        case .map:
            let m = p.assumingMemoryBound(to: ObjMap.self)
            forEachEntry(m) { k, v in mark(k); mark(v) }
        case .bytes: break
        case .function:
            let f = p.assumingMemoryBound(to: ObjFunction.self)
            for i in 0..<f.pointee.constantCount { mark(f.pointee.constants[i]) }
            mark(f.pointee.name)
            mark(f.pointee.className)
            mark(f.pointee.paramNames)
            if let m = f.pointee.module { markObject(UnsafeMutableRawPointer(m)) }
        case .closure:
            let c = p.assumingMemoryBound(to: ObjClosure.self)
            markObject(UnsafeMutableRawPointer(c.pointee.function))
            for i in 0..<c.pointee.upvalueCount { markObject(UnsafeMutableRawPointer(c.upvalues[i])) }
        case .upvalue:
            // Through `location`: an open upvalue may point into a parked fiber's saved
            // registers, which are no root; what it holds must stay alive while a closure
            // elsewhere can read it (Concurrency/Runtime+Fibers.swift, saveFiber).
            let u = p.assumingMemoryBound(to: ObjUpvalue.self)
            mark(u.pointee.location.pointee)
            mark(u.pointee.closed)
        case .native:
            mark(p.assumingMemoryBound(to: ObjNative.self).pointee.name)
        case .klass:
            let k = p.assumingMemoryBound(to: ObjClass.self)
            mark(k.pointee.name); mark(k.pointee.superclass); mark(k.pointee.initializer)
            markTable(k.pointee.methods)
        case .instance:
            let i = p.assumingMemoryBound(to: ObjInstance.self)
            markObject(UnsafeMutableRawPointer(i.pointee.klass))
            markTable(i.pointee.fields)
        case .boundMethod:
            let b = p.assumingMemoryBound(to: ObjBoundMethod.self)
            mark(b.pointee.receiver); mark(b.pointee.method)
        case .module:
            let m = p.assumingMemoryBound(to: ObjModule.self)
            mark(m.pointee.name); mark(m.pointee.sourceName); mark(m.pointee.directory)
            if let vars = m.pointee.variables { for i in 0..<m.pointee.variableCount { mark(vars[i]) } }
            markTable(m.pointee.names)
        case .error:
            let e = p.assumingMemoryBound(to: ObjError.self)
            mark(e.pointee.message); mark(e.pointee.trace); mark(e.pointee.origin); mark(e.pointee.klass)
            markTable(e.pointee.fields)
        case .handle:
            let h = p.assumingMemoryBound(to: ObjHandle.self)
            mark(h.pointee.typeName); mark(h.pointee.companion)
        case .fiber:
            let f = p.assumingMemoryBound(to: ObjFiber.self)
            mark(f.pointee.entry); mark(f.pointee.arguments); mark(f.pointee.result); mark(f.pointee.waitObject)
            mark(f.pointee.waitFunction); mark(f.pointee.spawnFunction); mark(f.pointee.resumeValue); mark(f.pointee.waitLabel)
            if let regs = f.pointee.regs { for i in 0..<f.pointee.regCount { mark(regs[i]) } }
            if let frames = f.pointee.frames {
                for i in 0..<f.pointee.frameCount { markObject(UnsafeMutableRawPointer(frames[i].closure)) }
            }
            var u = f.pointee.openUpvalues
            while let x = u { markObject(UnsafeMutableRawPointer(x)); u = x.pointee.nextOpen }
            f.pointee.joiners.forEach { markObject(UnsafeMutableRawPointer($0.fiber)) }
        case .channel, .mutex, .waitGroup:
            let c = p.assumingMemoryBound(to: ObjChannel.self)
            if let b = c.pointee.buffer {
                for j in 0..<c.pointee.count { mark(b[(c.pointee.head + j) % c.pointee.capacity]) }
            }
            c.pointee.receivers.forEach { markObject(UnsafeMutableRawPointer($0.fiber)) }
            c.pointee.senders.forEach { markObject(UnsafeMutableRawPointer($0.fiber)); mark($0.value) }
            mark(c.pointee.siteFunction)
        }
    }

    private func sweep() {
        var previous: UnsafeMutableRawPointer? = nil
        var current = objects
        while let p = current {
            let h = p.assumingMemoryBound(to: ObjHeader.self)
            let next = h.pointee.next
            if h.pointee.marked {
                h.pointee.marked = false
                previous = p
            } else {
                if let previous { previous.assumingMemoryBound(to: ObjHeader.self).pointee.next = next }
                else { objects = next }
                freeObject(p)
            }
            current = next
        }
    }

    func freeAllObjects() {
        var current = objects
        while let p = current {
            current = p.assumingMemoryBound(to: ObjHeader.self).pointee.next
            freeObject(p)
        }
        objects = nil
    }

    /// Releases an object's memory, including what it holds outside its own allocation.
    private func freeObject(_ p: UnsafeMutableRawPointer) {
        let h = p.assumingMemoryBound(to: ObjHeader.self)
        var size = Int(h.pointee.size)
        switch h.pointee.kind {
        case .string:
            let s = p.assumingMemoryBound(to: ObjString.self)
            if let t = s.pointee.offsets {
                size += ObjString.offsetsSize(scalarCount: s.pointee.scalarCount)
                free(t)
            }
        case .int, .upvalue, .closure, .boundMethod: break
        case .error:
            let e = p.assumingMemoryBound(to: ObjError.self)
            size += e.pointee.fields.byteSize
            e.pointee.fields.free()
        case .list:
            let l = p.assumingMemoryBound(to: ObjList.self)
            size += l.pointee.capacity * MemoryLayout<Value>.stride
            free(l.pointee.items)
        case .map:
            let m = p.assumingMemoryBound(to: ObjMap.self)
            size += m.pointee.slotCapacity * (MemoryLayout<MapSlot>.stride + MemoryLayout<MapSlotInfo>.stride)
                + m.pointee.orderCapacity * 4 + m.pointee.arrayCapacity * 12
            free(m.pointee.slots); free(m.pointee.info); free(m.pointee.order)
            free(m.pointee.array); free(m.pointee.arrayOrder)
        case .bytes:
            let b = p.assumingMemoryBound(to: ObjBytes.self)
            size += b.pointee.capacity
            free(b.pointee.data)
        case .function:
            let f = p.assumingMemoryBound(to: ObjFunction.self)
            size += f.pointee.codeCount * 8 + f.pointee.constantCount * 8 + f.pointee.upvalueCount * 2
            free(f.pointee.code); free(f.pointee.constants); free(f.pointee.lines); free(f.pointee.upvalueDescs)
            f.pointee.debug?.release()
        case .native:
            p.assumingMemoryBound(to: ObjNative.self).deinitialize(count: 1)
        case .klass:
            let k = p.assumingMemoryBound(to: ObjClass.self)
            size += k.pointee.methods.byteSize
            k.pointee.methods.free()
        case .instance:
            let i = p.assumingMemoryBound(to: ObjInstance.self)
            size += i.pointee.fields.byteSize
            i.pointee.fields.free()
        case .module:
            let m = p.assumingMemoryBound(to: ObjModule.self)
            size += m.pointee.variableCapacity * 8 + m.pointee.names.byteSize
            free(m.pointee.variables)
            m.pointee.names.free()
        case .handle:
            let hd = p.assumingMemoryBound(to: ObjHandle.self)
            // A closed handle (pointer nil) had its destructor run already: never run it twice.
            if let d = hd.pointee.destructor, let pointer = hd.pointee.pointer { d(pointer) }
            if let owner = hd.pointee.owner {
                hd.pointee.owner = nil
                hd.pointee.releaseOwner?(owner)
            }
        case .fiber:
            let f = p.assumingMemoryBound(to: ObjFiber.self)
            size += f.pointee.regCapacity * MemoryLayout<Value>.stride + f.pointee.frameCapacity * MemoryLayout<CallFrame>.stride
                + f.pointee.handlerCapacity * MemoryLayout<Handler>.stride
            free(f.pointee.regs); free(f.pointee.frames); free(f.pointee.handlers)
            f.pointee.joiners.release()
        case .channel, .mutex, .waitGroup:
            let c = p.assumingMemoryBound(to: ObjChannel.self)
            size += c.pointee.capacity * MemoryLayout<Value>.stride
            free(c.pointee.buffer)
            c.pointee.receivers.release()
            c.pointee.senders.release()
        }
        bytesAllocated -= size
        objectCount -= 1
        free(p)
    }
}
