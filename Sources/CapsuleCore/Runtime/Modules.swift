#if canImport(Glibc)
import Glibc
#endif
import CapsuleSyntax

/// Script modules: finding, compiling and running `import`ed files once.
extension Runtime {
    /// IMPORT: returns the module value for `nameValue` (a string constant), loading it on
    /// first use. Nil after raising.
    @inline(never)
    func importModule(_ nameValue: Value, from function: UnsafeMutablePointer<ObjFunction>) -> Value? {
        let name = nameValue.obj(ObjString.self).string
        if let m = modules["builtin:" + name] ?? modules["native:" + name] { return m }
        if let factory = builtinModuleFactories[name] {
            let m = factory(self)
            modules["builtin:" + name] = m
            return m
        }
        var tried: [String] = []
        // Each candidate: the path to open, and the name used in messages and traces (relative
        // to the importing script's name as the user gave it, so output is stable).
        var candidates: [(path: String, display: String)] = []
        let file = name.hasSuffix(".cap") ? name : name + ".cap"
        if name.hasPrefix("/") {
            candidates.append((file, file))
        } else {
            if let importer = function.pointee.module, importer.pointee.directory.isString {
                let path = Runtime.joinPath(importer.pointee.directory.obj(ObjString.self).string, file)
                var display = path
                if importer.pointee.sourceName.isString {
                    let importerName = importer.pointee.sourceName.obj(ObjString.self).string
                    if !importerName.hasPrefix("<") {
                        let dir = Runtime.directoryOf(importerName)
                        display = dir == "." && !importerName.hasPrefix("./") ? file : Runtime.joinPath(dir, file)
                    }
                }
                candidates.append((path, display))
            }
            for p in config.modulePaths { candidates.append((Runtime.joinPath(p, file), Runtime.joinPath(p, file))) }
        }
        // A module never imports itself: a `fs.cap` that imports "fs" means the host's `fs`,
        // which its own file would otherwise shadow. Only when nothing else answers is its own
        // file an import cycle.
        var importsItself: String? = nil
        for (path, display) in candidates {
            tried.append(display)
            // The import rule (ImportRule.swift): as written first, before any system call.
            if let why = importDenial(path, resolved: nil) { raise(why); return nil }
            guard let resolved = Runtime.realPath(path) else { continue }
            if let why = importDenial(path, resolved: resolved) { raise(why); return nil }
            if let own = modules[resolved], own.isObject(.module), own.obj(ObjModule.self) == function.pointee.module {
                importsItself = resolved
                continue
            }
            // The same for a module still running its top level (imported, not the main script).
            if let loading = loadingModuleObjects[resolved], loading == function.pointee.module {
                importsItself = resolved
                continue
            }
            // A module still running its top level (the main script included) is a cycle.
            if let i = loadingModules.firstIndex(where: { $0 == resolved }) {
                raiseImportCycle(from: i, to: resolved)
                return nil
            }
            if let m = modules[resolved] { return m }
            // Before the read: a host that watches the file then sees every change after it.
            scriptModuleObserver?(display, resolved)
            let text: String
            switch importRule.read(resolved) {
            case .failure(let error):
                raise("cannot read module \(Capability.sanitized(display)): \(error.reason)")
                return nil
            case .success(let t): text = t
            }
            return loadModule(name: Compiler.moduleBindingName(name), path: resolved, sourceName: display, text: text)
        }
        if let resolver = nativeModuleResolver {
            var directory: String? = nil
            if let importer = function.pointee.module, importer.pointee.directory.isString {
                directory = importer.pointee.directory.obj(ObjString.self).string
            }
            switch resolver(name, directory) {
            case .found(let definition):
                let m = makeNativeModule(definition)
                modules["native:" + name] = m
                return m
            case .failed(let message):
                raise(message)
                return nil
            case .notFound(let places):
                tried += places
            }
        }
        if let own = importsItself {
            if let i = loadingModules.firstIndex(of: own) {
                raiseImportCycle(from: i, to: own)
                return nil
            }
            return modules[own]
        }
        if tried.isEmpty { tried.append(file) }
        raise("module '\(name)' not found (looked in: \(tried.joined(separator: ", ")))")
        return nil
    }

    /// Raises `import cycle: a -> b -> a` for the modules loading from index `i` on.
    private func raiseImportCycle(from i: Int, to resolved: String) {
        let chain = (loadingModules[i...] + [resolved]).map { Compiler.moduleBindingName($0) }
        raise("import cycle: " + chain.joined(separator: " -> "))
    }

    private func loadModule(name: String, path: String, sourceName: String, text: String) -> Value? {
        let source = Source(name: sourceName, text: text)
        let (program, parseDiagnostics) = parse(source)
        let heading = "cannot compile module '\(sourceName)':"
        if !parseDiagnostics.isEmpty {
            raise(heading, parseDiagnostics, in: source)
            return nil
        }
        let module = newModule(name: name, sourceName: sourceName, directory: Runtime.directoryOf(path))
        let moduleValue = Value(module)
        pushRoot(moduleValue)
        defer { popRoot() }
        guard runModule(program, source: source, in: module, path: path, heading: heading) else { return nil }
        modules[path] = moduleValue
        return moduleValue
    }

    /// Compiles `program` into `module` (which the caller keeps rooted) and runs its top level
    /// with `path` on `loadingModules` meanwhile: the step a first import and `modules.reload`
    /// share. False after raising; a compile error raises `heading` and the diagnostics.
    func runModule(_ program: Program, source: Source, in module: UnsafeMutablePointer<ObjModule>,
                   path: String, heading: String) -> Bool {
        let compiler = Compiler(rt: self, source: source, module: module)
        guard let fn = compiler.compile(program) else {
            compilerRoots.removeAll()
            raise(heading, compiler.diagnostics, in: source)
            return false
        }
        let fnValue = Value(fn)
        pushRoot(fnValue)
        compilerRoots.removeAll()
        let closure = Value(newClosure(fn))
        popRoot()
        loadingModules.append(path)
        loadingModuleObjects[path] = module
        defer { loadingModules.removeLast(); loadingModuleObjects[path] = nil }
        return call(closure, []) != nil
    }

    /// Raises `heading` followed by `diagnostics` rendered against `source`, one per line.
    func raise(_ heading: String, _ diagnostics: [Diagnostic], in source: Source) {
        var text = Diagnostic.render(diagnostics, source: source)
        if text.hasSuffix("\n") { text.removeLast() }
        raise(heading + "\n" + text)
        if pendingError.isObject(.error) { pendingError.header.pointee.flags |= ObjErrorFlags.moduleCompileError }
    }

    static func joinPath(_ dir: String, _ file: String) -> String {
        if dir.isEmpty || file.hasPrefix("/") { return file }
        return dir.hasSuffix("/") ? dir + file : dir + "/" + file
    }

    static func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

}

/// A file that could not be read, with the system's reason (`No such file or directory`).
public struct SourceReadError: Error, Equatable, Sendable {
    public var path: String
    public var reason: String
    /// `cannot read PATH: REASON`.
    public var message: String { "cannot read \(path): \(reason)" }
}

/// Reads a whole file as UTF-8 text (invalid sequences become U+FFFD, which the lexer rejects
/// anyway). The one file reader of the VM and the CLI: a directory is `Is a directory`, and
/// the reason is the errno of the call that failed.
///
/// The open never blocks (`O_NONBLOCK`, then `fstat` on the descriptor): a FIFO or a device
/// named like a module or a manifest is refused (`not a regular file`) instead of waiting
/// for a writer forever. With `allowingStreams` (a script or log the user named on the
/// command line: `capsule run <(gen)`, `/dev/stdin`), FIFOs, pipes and character devices are
/// read to their end too.
public func readSourceFile(atPath path: String, allowingStreams: Bool = false) -> Result<String, SourceReadError> {
    readSourceBytes(atPath: path, allowingStreams: allowingStreams).map { String(decoding: $0, as: UTF8.self) }
}

/// The bytes of the file at `path`, read as `readSourceFile` reads them (for readers that
/// must see invalid UTF-8 themselves, such as the policy manifest's).
public func readSourceBytes(atPath path: String, allowingStreams: Bool = false) -> Result<[UInt8], SourceReadError> {
    func failure(_ code: Int32) -> Result<[UInt8], SourceReadError> {
        .failure(SourceReadError(path: path, reason: String(cString: strerror(code))))
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
    guard fd >= 0 else { return failure(errno) }
    defer { close(fd) }
    return readOpenedSource(fd, path: path, allowingStreams: allowingStreams)
}

/// Reads all of `fd` (opened with O_NONBLOCK, so the open could not block), once `fstat`
/// shows a regular file (or, `allowingStreams`, a FIFO, pipe or character device).
func readOpenedSource(_ fd: Int32, path: String, allowingStreams: Bool) -> Result<[UInt8], SourceReadError> {
    func failure(_ code: Int32) -> Result<[UInt8], SourceReadError> {
        .failure(SourceReadError(path: path, reason: String(cString: strerror(code))))
    }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return failure(errno) }
    let type = st.st_mode & S_IFMT
    if type == S_IFDIR { return failure(EISDIR) }
    if type != S_IFREG && !(allowingStreams && (type == S_IFIFO || type == S_IFCHR)) {
        return .failure(SourceReadError(path: path, reason: "not a regular file (FIFOs, devices and sockets are not read)"))
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
        if n < 0 {
            let code = errno
            if code == EINTR { continue }
            return failure(code)
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return .success(bytes)
}
