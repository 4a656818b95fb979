#if canImport(Glibc)
import Glibc
#endif
import CDynamicLoader

/// The three calls the host makes into the dynamic loader. Everything else in CapsuleHost
/// goes through these, so porting to another loader touches one file.
enum DynamicLibrary {
    /// Opens the shared object at `path` with every symbol resolved now and kept local.
    /// Returns the loader's message on failure.
    static func open(_ path: String) -> Result<UnsafeMutableRawPointer, PluginLoadError> {
        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(PluginLoadError(path: path, reason: lastError() ?? "dlopen failed"))
        }
        return .success(handle)
    }

    /// The address of `symbol` in `library`, or nil when it is not defined there.
    static func symbol(_ symbol: String, in library: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        _ = dlerror()
        return dlsym(library, symbol)
    }

    /// Opens `path` for raw FFI (nil: the program itself, which sees libc and every library
    /// already loaded). Returns dlerror's text on failure.
    static func openForFFI(_ path: String?) -> Result<UnsafeMutableRawPointer, RawFFIError> {
        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(RawFFIError(lastError() ?? "dlopen failed"))
        }
        return .success(handle)
    }

    /// The address of `symbol` in `library`, or dlerror's text when it is not defined there.
    static func lookup(_ symbol: String, in library: UnsafeMutableRawPointer) -> Result<UnsafeMutableRawPointer, RawFFIError> {
        _ = dlerror()
        guard let address = dlsym(library, symbol) else {
            return .failure(RawFFIError(lastError() ?? "undefined symbol: \(symbol)"))
        }
        return .success(address)
    }

    /// A loaded object as the dynamic loader records it: its link map (compared by identity)
    /// and its file name as the loader gives it (`/lib/x86_64-linux-gnu/libc.so.6`).
    struct LoadedObject: Equatable {
        let map: UnsafeRawPointer
        let file: String
        static func == (a: Self, b: Self) -> Bool { a.map == b.map }
    }

    /// The object `library` (a handle from `dlopen`) names, or nil when the loader cannot say.
    static func object(of library: UnsafeMutableRawPointer) -> LoadedObject? {
        var file: UnsafePointer<CChar>? = nil
        guard let map = cloader_object_of_handle(library, &file) else { return nil }
        return LoadedObject(map: map, file: file.map { String(cString: $0) } ?? "")
    }

    /// The object whose mapping contains `address` (`dladdr1`), or nil when none does.
    static func object(containing address: UnsafeRawPointer) -> LoadedObject? {
        var file: UnsafePointer<CChar>? = nil
        guard let map = cloader_object_containing(address, &file) else { return nil }
        return LoadedObject(map: map, file: file.map { String(cString: $0) } ?? "")
    }

    /// Drops one reference to `library` (the loader unmaps it with the last one).
    static func close(_ library: UnsafeMutableRawPointer) {
        dlclose(library)
    }

    private static func lastError() -> String? {
        guard let message = dlerror() else { return nil }
        return String(cString: message)
    }
}
