@testable import CapsuleHost
@testable import CapsuleSystem
import Foundation
import Testing

/// A temporary tree for one test: `root/granted` (the grant, with `inside.txt`) next to
/// `root/outside.txt` (a secret that must never be reached through the grant).
final class Sandbox: Sendable {
    let root: String
    var granted: String { root + "/granted" }
    var outside: String { root + "/outside.txt" }

    init() {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-confine-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: root + "/granted/sub", withIntermediateDirectories: true)
        try! "inside\n".write(toFile: granted + "/inside.txt", atomically: false, encoding: .utf8)
        try! "SECRET\n".write(toFile: outside, atomically: false, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func symlink(_ name: String, to target: String) {
        try! FileManager.default.createSymbolicLink(atPath: granted + "/" + name, withDestinationPath: target)
    }

    /// Runs `body` (a script) with `import "fs"`; `t(f)` prints f's result or error message.
    func run(_ body: String, grants: [Capability]) -> String {
        CapsuleHostTests.run("import \"fs\"\nfn t(f) { try { print(f()) } catch e { print(e.message) } }\n" + body,
                             policy: Policy(grants: grants))
    }

    var readGrant: [Capability] { [Capability(.fsRead, granted)] }
}

/// Path confinement: every way out of a granted directory is denied, and the host keeps
/// running. Each denial is a catchable script error that starts with `denied: `.
@Suite struct ConfinementTests {
    @Test func readsInsideTheGrant() {
        let s = Sandbox()
        #expect(s.run(#"t(fn() { return fs.read("\#(s.granted)/inside.txt") })"#, grants: s.readGrant) == "inside\n\n")
        #expect(s.run(#"t(fn() { return fs.read("\#(s.granted)/sub/../inside.txt") })"#, grants: s.readGrant) == "inside\n\n")
    }

    @Test func dotDotTraversalIsDenied() {
        let s = Sandbox()
        let out = s.run("""
            t(fn() { return fs.read("\(s.granted)/../outside.txt") })
            t(fn() { return fs.read("\(s.granted)/sub/../../outside.txt") })
            t(fn() { return fs.list("\(s.granted)/..") })
            print("still running")
            """, grants: s.readGrant)
        #expect(out == """
            denied: fs.read \(s.granted)/../outside.txt (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            denied: fs.read \(s.granted)/sub/../../outside.txt (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            denied: fs.read \(s.granted)/.. (it resolves to \(s.root): grant with --allow-read=\(s.root))
            still running\n
            """)
    }

    @Test func absolutePathsOutsideAreDenied() {
        let s = Sandbox()
        #expect(s.run(#"t(fn() { return fs.read("/etc/passwd") })"#, grants: s.readGrant)
            == "denied: fs.read /etc/passwd (grant with --allow-read=/etc/passwd)\n")
        // The kernel refuses an absolute path beneath the anchor too (the host never passes one).
        let confined = ConfinedPath(anchor: s.granted, relative: s.outside, grant: s.granted)
        #expect(confined.open(flags: O_RDONLY) == .failure(.escapes))
    }

    @Test func symlinksPointingOutAreDenied() {
        let s = Sandbox()
        s.symlink("abs", to: s.outside)
        s.symlink("rel", to: "../outside.txt")
        s.symlink("dir", to: s.root)
        s.symlink("ok", to: "inside.txt")
        let out = s.run("""
            t(fn() { return fs.read("\(s.granted)/abs") })
            t(fn() { return fs.read("\(s.granted)/rel") })
            t(fn() { return fs.read("\(s.granted)/dir/outside.txt") })
            t(fn() { return fs.stat("\(s.granted)/abs") })
            t(fn() { return fs.read("\(s.granted)/ok") })
            """, grants: s.readGrant)
        #expect(out == """
            denied: fs.read \(s.granted)/abs (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            denied: fs.read \(s.granted)/rel (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            denied: fs.read \(s.granted)/dir/outside.txt (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            denied: fs.read \(s.granted)/abs (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            inside\n\n
            """)
    }

    /// A thread swaps `link` between a target inside and one outside as fast as it can while
    /// the test opens it in a loop: no open may ever return the outside file's bytes.
    @Test func symlinkSwappedDuringOpensNeverReachesOutside() throws {
        let s = Sandbox()
        let link = s.granted + "/link"
        s.symlink("link", to: "inside.txt")
        let stop = ManagedAtomicFlag()
        let swaps = ManagedCounter()
        let swapper = Thread {
            var flip = false
            while !stop.isSet {
                let temporary = s.granted + "/link.tmp"
                unlink(temporary)
                _ = Glibc.symlink(flip ? "inside.txt" : s.outside, temporary)
                _ = Glibc.rename(temporary, link)
                flip.toggle()
                swaps.increment()
            }
        }
        swapper.start()
        defer { stop.set() }
        while swaps.value < 10 { usleep(1000) }
        let enforcer = CapabilityEnforcer(policy: Policy(grants: s.readGrant), audit: nil)
        var opened = 0, denied = 0, attempts = 0
        let deadline = Date().addingTimeInterval(30)
        // Until both outcomes were seen many times (the race really ran), or 30 s.
        while (opened < 200 || denied < 200) && Date() < deadline {
            attempts += 1
            switch enforcer.perform(link, kind: .fsRead, by: .script, { $0.open(flags: O_RDONLY) }) {
            case .success(let fd):
                let data = FSModule.readAll(fd)
                close(fd)
                #expect(try data.get() == Array("inside\n".utf8), "attempt \(attempts) read the outside file")
                opened += 1
            case .failure(.denied): denied += 1
            case .failure(.io): break   // ENOENT in the instant between unlink and rename
            }
        }
        stop.set()
        #expect(opened > 0)
        #expect(denied > 0)
    }

    @Test func hardLinksAreRefused() throws {
        let s = Sandbox()
        try FileManager.default.linkItem(atPath: s.outside, toPath: s.granted + "/hard.txt")
        let out = s.run("""
            t(fn() { return fs.read("\(s.granted)/hard.txt") })
            t(fn() { return fs.write("\(s.granted)/hard.txt", "overwritten") })
            t(fn() { return fs.open("\(s.granted)/hard.txt", "a") })
            """, grants: s.readGrant + [Capability(.fsWrite, s.granted)])
        let why = "(the file has 2 hard links, and the others may be outside the grant)"
        #expect(out == """
            denied: fs.read \(s.granted)/hard.txt \(why)
            denied: fs.write \(s.granted)/hard.txt \(why)
            denied: fs.write \(s.granted)/hard.txt \(why)\n
            """)
        // The write did not truncate the outside file before refusing.
        #expect(try String(contentsOfFile: s.outside, encoding: .utf8) == "SECRET\n")
        // Under a grant of every path there is no outside: the link opens.
        #expect(s.run(#"t(fn() { return fs.read("\#(s.granted)/hard.txt") })"#, grants: [Capability(.fsRead)]) == "SECRET\n\n")
    }

    @Test func procSelfAndDevThroughAGrantAreDenied() {
        let s = Sandbox()
        s.symlink("proc", to: "/proc/self")
        s.symlink("zero", to: "/dev/zero")
        let out = s.run("""
            t(fn() { return fs.read("\(s.granted)/proc/environ") })
            t(fn() { return fs.read("\(s.granted)/zero") })
            t(fn() { return fs.read("/proc/self/root/etc/passwd") })
            t(fn() { return fs.read("/proc/self/cwd/Package.swift") })
            t(fn() { return fs.read("/dev/zero") })
            t(fn() { return fs.write("/dev/null", "x") })
            """, grants: s.readGrant + [Capability(.fsRead, "/proc/self"), Capability(.fsRead, "/dev"), Capability(.fsWrite, "/dev")])
        #expect(out == """
            denied: fs.read \(s.granted)/proc/environ (it resolves to /proc/\(getpid())/environ: grant with --allow-read=/proc/\(getpid())/environ)
            denied: fs.read \(s.granted)/zero (not a regular file (devices, FIFOs and sockets are never opened))
            denied: fs.read /proc/self/root/etc/passwd (the path goes through a /proc magic link or too many symlinks)
            denied: fs.read /proc/self/cwd/Package.swift (the path goes through a /proc magic link or too many symlinks)
            denied: fs.read /dev/zero (not a regular file (devices, FIFOs and sockets are never opened))
            denied: fs.write /dev/null (not a regular file (devices, FIFOs and sockets are never opened))\n
            """)
    }

    /// Under a grant of every path nothing is outside: absolute symlinks (and `..`) resolve
    /// as usual (`RESOLVE_IN_ROOT` at `/`), while /proc magic links are still refused.
    @Test func absoluteSymlinksResolveUnderAGrantOfEveryPath() throws {
        let s = Sandbox()
        s.symlink("abs", to: s.outside)
        s.symlink("dir", to: s.root)
        let out = s.run("""
            t(fn() { return fs.read("\(s.granted)/abs") })
            t(fn() { return fs.read("\(s.granted)/dir/granted/../outside.txt") })
            t(fn() { return fs.write("\(s.granted)/abs", "NEW\\n") })
            t(fn() { return fs.read("/proc/self/root/etc/passwd") })
            """, grants: [Capability(.fsRead), Capability(.fsWrite)])
        #expect(out == """
            SECRET\n
            SECRET\n
            nil
            denied: fs.read /proc/self/root/etc/passwd (the path goes through a /proc magic link or too many symlinks)\n
            """)
        #expect(try String(contentsOfFile: s.outside, encoding: .utf8) == "NEW\n")
    }

    @Test func nulBytesInvalidUTF8AndLongPathsAreDenied() {
        let s = Sandbox()
        let out = s.run("""
            t(fn() { return fs.read("\(s.granted)/inside.txt\\0.png") })
            t(fn() { return fs.read("\(s.granted)/" + "a/" * 3000) })
            t(fn() { return fs.read("\(s.granted)/" + "b" * 300) })
            t(fn() { return fs.read("\(s.granted)/esc\\u{1b}[31m") })
            """, grants: s.readGrant)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "denied: fs.read \(s.granted)/inside.txt?.png (the path has a NUL byte at index \(s.granted.utf8.count + 11))")
        #expect(lines[1].hasPrefix("denied: fs.read \(s.granted)/a/a/") && lines[1].hasSuffix("(the path is longer than 4095 bytes)"))
        #expect(lines[2].hasSuffix(": File name too long"))
        // Control characters are not echoed.
        #expect(lines[3] == "fs.read: \(s.granted)/esc?[31m: No such file or directory")
        // Invalid UTF-8 can only come from a plugin's C string; the enforcer refuses it.
        let enforcer = CapabilityEnforcer(policy: Policy(grants: [Capability(.fsRead)]), audit: nil)
        let bad: [UInt8] = Array("/tmp/x".utf8) + [0xff, 0xfe]
        let result = bad.withUnsafeBufferPointer { enforcer.path($0, kind: .fsRead, by: .script) }
        guard case .failure(let denial) = result else { Issue.record("accepted invalid UTF-8"); return }
        #expect(denial.message == "denied: fs.read /tmp/x\u{fffd}\u{fffd} (the path is not valid UTF-8)")
    }

    @Test func writesUnderAReadOnlyGrantAreDenied() {
        let s = Sandbox()
        let out = s.run("""
            t(fn() { return fs.write("\(s.granted)/inside.txt", "x") })
            t(fn() { return fs.append("\(s.granted)/inside.txt", "x") })
            t(fn() { return fs.open("\(s.granted)/inside.txt", "r+") })
            t(fn() { return fs.mkdir("\(s.granted)/new") })
            t(fn() { return fs.remove("\(s.granted)/inside.txt") })
            t(fn() { return fs.rename("\(s.granted)/inside.txt", "\(s.granted)/moved.txt") })
            t(fn() { return fs.read("\(s.granted)/inside.txt") })
            """, grants: s.readGrant)
        let hint = "(grant with --allow-write="
        #expect(out == """
            denied: fs.write \(s.granted)/inside.txt \(hint)\(s.granted)/inside.txt)
            denied: fs.write \(s.granted)/inside.txt \(hint)\(s.granted)/inside.txt)
            denied: fs.write \(s.granted)/inside.txt \(hint)\(s.granted)/inside.txt)
            denied: fs.write \(s.granted)/new \(hint)\(s.granted)/new)
            denied: fs.write \(s.granted)/inside.txt \(hint)\(s.granted)/inside.txt)
            denied: fs.write \(s.granted)/moved.txt \(hint)\(s.granted)/moved.txt)
            inside\n\n
            """)
    }

    @Test func theGrantedDirectoryItselfCannotBeRemovedOrRenamedAway() {
        let s = Sandbox()
        let out = s.run("""
            t(fn() { return fs.remove("\(s.granted)") })
            t(fn() { return fs.rename("\(s.granted)/inside.txt", "\(s.granted)/../stolen.txt") })
            """, grants: [Capability(.fsWrite, s.granted)])
        #expect(out == """
            denied: fs.write \(s.granted) (cannot remove the granted directory itself or a path ending in '..')
            denied: fs.write \(s.granted)/inside.txt (the new name: the path leads outside the grant \(s.granted))\n
            """)
        #expect(FileManager.default.fileExists(atPath: s.granted + "/inside.txt"))
    }

    @Test func aSingleFileGrantReachesOnlyThatFile() throws {
        let s = Sandbox()
        try "other\n".write(toFile: s.granted + "/other.txt", atomically: false, encoding: .utf8)
        let file = s.granted + "/inside.txt"
        let out = s.run("""
            t(fn() { return fs.read("\(file)") })
            t(fn() { return fs.read("\(s.granted)/other.txt") })
            t(fn() { return fs.read("\(file)/../other.txt") })
            """, grants: [Capability(.fsRead, file)])
        #expect(out == """
            inside\n
            denied: fs.read \(s.granted)/other.txt (grant with --allow-read=\(s.granted)/other.txt)
            fs.read: \(file)/../other.txt: Not a directory\n
            """)
    }
}

/// Grants of files, of paths that do not exist yet, and of symlinks (docs/security.md,
/// "Path confinement"): nothing is decided from an earlier stat(), so a grant can never be
/// turned into its parent, whatever another process does to the tree meanwhile.
@Suite struct GrantKindTests {
    /// A real racing process flips `root/out` (granted for reading and writing, absent at
    /// first) between absent, a directory and a file, while this process tries to reach the
    /// grant's parent through it (`out/../outside.txt`) in a loop: never once does a read
    /// return the outside file, nor a write create a file next to the grant.
    @Test func aProcessFlippingAFileGrantNeverLetsItReachTheParent() throws {
        let s = Sandbox()
        let grant = s.root + "/out"
        let racer = Process()
        racer.executableURL = URL(fileURLWithPath: "/bin/sh")
        racer.arguments = ["-c", "cd \"$1\" && while :; do mkdir out; rmdir out; : > out; rm -f out; done", "racer", s.root]
        try racer.run()
        defer { racer.terminate(); racer.waitUntilExit() }
        let policy = Policy(grants: [Capability(.fsRead, grant), Capability(.fsWrite, grant)])
        let enforcer = CapabilityEnforcer(policy: policy, audit: nil)
        var exdev = 0, notThere = 0, attempts = 0
        let deadline = Date().addingTimeInterval(30)
        // Until the grant was seen both as a directory (EXDEV) and as absent or a file
        // (ENOENT/ENOTDIR) many times, so the race really ran; or 30 s.
        while (exdev < 200 || notThere < 200) && Date() < deadline {
            attempts += 1
            switch enforcer.perform(grant + "/../outside.txt", kind: .fsRead, by: .script, { $0.open(flags: O_RDONLY) }) {
            case .success(let fd):
                let data = FSModule.readAll(fd)
                close(fd)
                Issue.record("attempt \(attempts) opened \(grant)/../outside.txt: \(String(decoding: (try? data.get()) ?? [], as: UTF8.self))")
            case .failure(.denied): exdev += 1
            case .failure(.io): notThere += 1
            }
            let write = enforcer.perform(grant + "/../planted.txt", kind: .fsWrite, by: .script, {
                $0.open(flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            })
            if case .success(let fd) = write { close(fd); Issue.record("attempt \(attempts) created a file next to the grant") }
            let made = enforcer.perform(grant + "/../made", kind: .fsWrite, by: .script, { $0.makeDirectory() })
            if case .success = made { Issue.record("attempt \(attempts) made a directory next to the grant") }
        }
        #expect(exdev > 0, "the grant was never a directory during \(attempts) attempts")
        #expect(notThere > 0)
        #expect(!FileManager.default.fileExists(atPath: s.root + "/planted.txt"))
        #expect(!FileManager.default.fileExists(atPath: s.root + "/made"))
        // The grant itself still works as a file once the racer is gone.
        racer.terminate()
        racer.waitUntilExit()
        _ = unlink(grant); _ = rmdir(grant)
        let out = s.run(#"t(fn() { return fs.write("\#(grant)", "x") })\#nt(fn() { return fs.read("\#(grant)") })"#, grants: policy.grants)
        #expect(out == "nil\nx\n")
    }

    /// A grant of a path that does not exist yet can be created as a file or a directory,
    /// and used as either; `..` from it never reaches its parent.
    @Test func aGrantOfAPathNotThereYetIsUsableAndConfined() {
        let s = Sandbox()
        let grant = s.root + "/new"
        let out = s.run("""
            t(fn() { return fs.mkdir("\(grant)") })
            t(fn() { return fs.write("\(grant)/a.txt", "A") })
            t(fn() { return fs.read("\(grant)/a.txt") })
            t(fn() { return fs.read("\(grant)/../outside.txt") })
            t(fn() { return fs.write("\(grant)/../planted.txt", "x") })
            t(fn() { return fs.remove("\(grant)") })
            """, grants: [Capability(.fsRead, grant), Capability(.fsWrite, grant)])
        #expect(out == """
            nil
            nil
            A
            denied: fs.read \(grant)/../outside.txt (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            denied: fs.write \(grant)/../planted.txt (it resolves to \(s.root)/planted.txt: grant with --allow-write=\(s.root)/planted.txt)
            denied: fs.write \(grant) (cannot remove the granted directory itself or a path ending in '..')\n
            """)
        #expect(!FileManager.default.fileExists(atPath: s.root + "/planted.txt"))
    }

    /// A granted symlink means its target, resolved when the grant is given: a symlink to a
    /// file (like /etc/localtime), to a directory, and a dangling one (an output file).
    @Test func aGrantedSymlinkMeansItsTarget() throws {
        let s = Sandbox()
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: s.root + "/localtime", withDestinationPath: "granted/inside.txt")
        try fm.createSymbolicLink(atPath: s.root + "/data", withDestinationPath: s.granted)
        try fm.createSymbolicLink(atPath: s.root + "/out.log", withDestinationPath: "granted/sub/log.txt")
        let out = s.run("""
            t(fn() { return fs.read("\(s.root)/localtime") })
            t(fn() { return fs.read("\(s.root)/data/inside.txt") })
            t(fn() { return fs.read("\(s.root)/data/../outside.txt") })
            t(fn() { return fs.write("\(s.root)/out.log", "logged") })
            t(fn() { return fs.read("\(s.granted)/inside.txt") })
            """, grants: [Capability(.fsRead, s.root + "/localtime"), Capability(.fsRead, s.root + "/data"),
                          Capability(.fsWrite, s.root + "/out.log")])
        #expect(out == """
            inside\n
            inside\n
            denied: fs.read \(s.root)/data/../outside.txt (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            nil
            denied: fs.read \(s.granted)/inside.txt (grant with --allow-read=\(s.granted)/inside.txt)\n
            """)
        #expect(try String(contentsOfFile: s.granted + "/sub/log.txt", encoding: .utf8) == "logged")
        #expect(Capability.resolvingSymlinks(s.root + "/data/sub/x") == Capability.resolvingSymlinks(s.granted) + "/sub/x")
    }

    /// The grant is resolved once: a symlink that appears in it afterwards is refused, not
    /// followed (here a granted directory replaced by a symlink to its parent).
    @Test func aSymlinkAppearingInAGrantAfterwardsIsRefused() throws {
        let s = Sandbox()
        let enforcer = CapabilityEnforcer(policy: Policy(grants: s.readGrant), audit: nil)
        let moved = s.root + "/moved"
        #expect(rename(s.granted, moved) == 0)
        try FileManager.default.createSymbolicLink(atPath: s.granted, withDestinationPath: s.root)
        let result = enforcer.perform(s.granted + "/outside.txt", kind: .fsRead, by: .script, { $0.open(flags: O_RDONLY) })
        guard case .failure(.denied(let d)) = result else {
            Issue.record("not denied: \(result)")
            return
        }
        #expect(d.message == "denied: fs.read \(s.granted)/outside.txt (a symlink has appeared in the granted path \(s.granted) since it was granted (grants are resolved when given))")
    }

    /// The same confinement serves `proc`'s `cwd` and plugins' `open_file` (both go through
    /// `CapabilityEnforcer.perform`): a file grant's `..` is refused for `cwd` too.
    @Test func procCwdThroughAFileGrantCannotReachTheParent() {
        let s = Sandbox()
        let file = s.granted + "/inside.txt"
        let out = CapsuleHostTests.run("""
            import "proc"
            try { proc.run("/bin/pwd", [], {"cwd": "\(file)/.."}) } catch e { print(e.message) }
            """, policy: Policy(grants: [Capability(.fsRead, file), Capability(.run, "/bin/pwd")]))
        #expect(out == "proc.run: cwd \(file)/..: not a directory\n")
    }
}

/// A counter two threads share.
/// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    func increment() { lock.lock(); count += 1; lock.unlock() }
}

/// A flag two threads share.
/// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
