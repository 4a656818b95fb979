@testable import CapsuleHost
import Foundation
import Testing

/// The ELF dynamic-section reader and the import audit, on real shared objects.
@Suite struct ELFImageTests {
    static let directory: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-elf-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        precondition(Fixtures.compile(source: Paths.fixtures + "/sneaky.c", output: dir + "/libcapsule_sneaky.so") == 0)
        precondition(Fixtures.compile(source: Paths.fixtures + "/unloadable.c", output: dir + "/libcapsule_unloadable.so",
                                      extraArguments: ["-Wl,-z,nodelete"]) == 0)
        return dir
    }()

    func image(_ path: String) throws -> ELFImage {
        switch ELFImage.read(path: path) {
        case .success(let image): return image
        case .failure(let error): throw error
        }
    }

    @Test func readsTheImportsOfAHostilePlugin() throws {
        let sneaky = try image(Self.directory + "/libcapsule_sneaky.so")
        for symbol in ["open", "socket", "execve", "read", "close"] { #expect(sneaky.imports.contains(symbol), "\(symbol)") }
        let findings = ImportAudit.findings(sneaky) { _ in false }
        #expect(findings.map(\.symbol) == ["execve", "open", "socket"])
        #expect(findings.map(\.power) == [.run, .fs, .net])
        #expect(findings[1].description == "imports 'open' (fs) without an fs.read or fs.write grant")
        // Granting fs leaves the other two.
        #expect(ImportAudit.findings(sneaky) { $0 == .fs }.map(\.symbol) == ["execve", "socket"])
        #expect(sneaky.unloadBlockers.isEmpty)
    }

    @Test func aPurePluginReachesNoPower() throws {
        let cmath = try image(Paths.cmath)
        #expect(ImportAudit.findings(cmath) { _ in false } == [])
        #expect(cmath.needed.contains { $0.hasPrefix("libc.so") })
    }

    @Test func reportsWhatKeepsAPluginLoaded() throws {
        let pinned = try image(Self.directory + "/libcapsule_unloadable.so")
        #expect(pinned.noDelete)
        #expect(pinned.hasTLS && pinned.registersThreadLocalDestructors)
        #expect(pinned.uniqueSymbols == ["capsule_unique_counter"])
        #expect(pinned.unloadBlockers.count == 3)
        #expect(pinned.unloadBlockers[0] == "marked NODELETE (-z nodelete)")
    }

    /// Plain thread-local storage (zlib's per-thread scratch buffer) does not pin a library:
    /// glibc frees the TLS block at dlclose. Reporting it made every zlib reload leak a copy.
    @Test func plainThreadLocalStorageDoesNotPin() throws {
        let zlib = try image(Paths.buildDirectory + "/libcapsule_zlib.so")
        #expect(zlib.hasTLS)
        #expect(!zlib.registersThreadLocalDestructors)
        #expect(zlib.unloadBlockers == [])
    }

    @Test func foldsGlibcVariants() {
        #expect(ImportAudit.power(of: "__open64_2") == .fs)
        #expect(ImportAudit.power(of: "fopen64") == .fs)
        #expect(ImportAudit.power(of: "__xstat") == .fs)
        #expect(ImportAudit.power(of: "__realpath_chk") == .fs)
        #expect(ImportAudit.power(of: "dlsym") == .ffi)
        #expect(ImportAudit.power(of: "posix_spawnp") == .run)
        #expect(ImportAudit.power(of: "memcpy") == nil)
        #expect(ImportAudit.power(of: "__errno_location") == nil)
    }

    /// Every prefix of a real object, and corrupted copies, read as an error or an image:
    /// never a crash, whatever the bytes.
    @Test func malformedFilesAreErrorsNotCrashes() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/libcapsule_sneaky.so")))
        var errors = 0
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 600)) {
            if case .failure = bytes[0..<length].withUnsafeBytes({ ELFImage.parse($0) }) { errors += 1 }
        }
        #expect(errors > 0)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var copy = bytes
            for _ in 0..<8 { copy[Int.random(in: 0..<min(copy.count, 4096), using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = copy.withUnsafeBytes { ELFImage.parse($0) }
        }
        #expect(ELFImage.parse(UnsafeRawBufferPointer(start: nil, count: 0)) == .failure(ELFError("not an ELF file")))
        let text = Array("#!/bin/sh\necho not a library\n".utf8)
        #expect(text.withUnsafeBytes { ELFImage.parse($0) }.failureDescription == "not an ELF file")
        #expect(ELFImage.read(path: "/nonexistent.so").failureDescription == "cannot open: No such file or directory")
        #expect(ELFImage.read(path: "/tmp").failureDescription == "not a regular file")
    }
}

extension Result where Success == ELFImage, Failure == ELFError {
    var failureDescription: String? { if case .failure(let e) = self { e.description } else { nil } }
    static func == (a: Self, b: Self) -> Bool { a.failureDescription == b.failureDescription && a.failureDescription != nil }
}

/// The import audit wired into loading: refused before dlopen unless granted.
@Suite struct ImportAuditLoadingTests {
    @Test func aPluginImportingOpenSocketAndExecveIsRefusedInProcess() throws {
        let path = ELFImageTests.directory + "/libcapsule_sneaky.so"
        guard case .failure(let error) = PluginLoader.load(path: path, policy: Policy()) else {
            Issue.record("sneaky loaded"); return
        }
        #expect(error.description == "cannot load plugin \(path): plugin sneaky imports 'execve' (run) without a run grant; imports 'open' (fs) without an fs.read or fs.write grant; imports 'socket' (net) without a net.connect or net.listen grant (the import audit; grant the capability to the plugin, run it isolated with --isolate=sneaky, or trust its code with --trust=sneaky)")
        // Script grants do not count: the plugin's own grants do.
        let scriptOnly = Policy(grants: [Capability(.fsRead, "/"), Capability(.run, "*"), Capability(.netConnect, "*")])
        if case .success = PluginLoader.load(path: path, policy: scriptOnly) { Issue.record("script grants admitted the plugin") }
        let granted = Policy(plugins: ["sneaky": [Capability(.fsRead, "/etc"), Capability(.run, "/bin/true"), Capability(.netConnect, "localhost")]])
        guard case .success(let plugin) = PluginLoader.load(path: path, policy: granted) else { Issue.record("granted plugin refused"); return }
        #expect(plugin.manifest.name == "sneaky")
    }
}
