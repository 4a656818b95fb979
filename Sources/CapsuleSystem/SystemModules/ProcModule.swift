#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// The `proc` module: runs a program to completion, checked against the script's `run:`
/// grants (`--allow-run=PROGRAM`), and returns its exit code or signal and its output.
///
/// ```
/// import "proc"
/// let r = proc.run("/bin/sh", ["-c", "echo $GREETING; exit 3"], {"env": {"GREETING": "hi"}})
/// print(r["code"], r["stdout"])        // 3 hi\n
/// proc.run("git", ["status"], {"cwd": "repo", "timeout": 5, "inherit_env": ["HOME"]})
/// ```
///
/// Options: `env` (map: the child's whole environment, with nothing inherited), `inherit_env`
/// (true: every host variable the script has an `env:` grant for; or a list of names, each
/// needing its grant), `cwd` (needs `fs.read` on the directory), `input` (str or bytes for
/// stdin; otherwise stdin is /dev/null), `inherit_stdin` (true: the child reads the host's
/// own standard input), `bytes` (true: stdout and stderr as bytes),
/// `timeout` (seconds, then the process group is killed), `max_output` (bytes per stream,
/// default 16 MiB). The result is `{code, signal, stdout, stderr}`; `code` is nil when a
/// signal ended the program, `signal` nil when it exited.
///
/// While the child runs, the calling fiber parks on its pipes and pidfd (other fibers run);
/// where it cannot park, the thread waits in `poll` as before (docs/stdlib.md#waiting-for-io).
///
/// Which grant allows what (docs/security.md#proc): a program written with a `/` is a path,
/// made absolute and matched exactly against `run:` grants of paths; a bare name is allowed
/// by a `run:NAME` grant, or by a grant of the path it resolves to on the host's PATH.
package final class ProcModule {
    let enforcer: CapabilityEnforcer
    /// Children whose fibers parked waiting for them, by fiber: the call runs again when
    /// something is ready and takes its run from here (VM thread only). Dropping an entry
    /// kills what is left of that child and reaps it.
    var waiting: [Int: Waiting] = [:]

    /// A run a fiber parked in, and what its result needs.
    struct Waiting {
        let child: ChildRun
        let shown: String
        let timeout: Double?
        let outputLimit: Int
        let asBytes: Bool
    }

    package init(enforcer: CapabilityEnforcer) { self.enforcer = enforcer }

    package func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "proc", functions: [
            NativeFunctionDefinition(name: "run", arity: -1) { [unowned self] call in
                defer { call.afterBlocking() }
                return run(call)
            },
        ])
    }

    func run(_ call: NativeCall) -> Value {
        // A fiber that parked waiting for its child comes back here when the child's pipes
        // or pidfd are ready (or a limit is due), and goes on with the same run.
        if call.takeResumption() != nil, let w = waiting.removeValue(forKey: call.fiberID) {
            return pump(call, w)
        }
        guard let request = ProcRequest.read(call) else { return NativeCall.failure }
        let executable: String
        switch Self.resolve(request.program, by: .script, enforcer: enforcer) {
        case .failure(let f): return call.raise(f.message)
        case .success(let path): executable = path
        }
        var environment: [String] = []
        switch inheritedEnvironment(request.inherit) {
        case .failure(let d): return call.raise(d.message)
        case .success(let inherited):
            let explicit = Set(request.environment.map(\.0))
            var passed = inherited.filter { !explicit.contains($0.0) }
            if case .granted = request.inherit {
                // Like an ungranted variable, a loader or injection variable not granted by
                // its exact name is left out of "every granted variable".
                passed = passed.filter { name, value in
                    InjectionVariables.entry(name: name, value: value) == nil
                        || InjectionVariables.isPassable(name, by: .script, policy: enforcer.policy)
                }
            }
            passed += request.environment
            if let denial = InjectionVariables.refusal(in: passed, program: request.program, by: .script, enforcer: enforcer) {
                return call.raise(denial)
            }
            environment = passed.map { "\($0.0)=\($0.1)" }
        }
        var directory: Int32? = nil
        if let cwd = request.directory {
            switch openDirectory(cwd) {
            case .failure(let f): return call.raise(f.message)
            case .success(let fd): directory = fd
            }
        }
        defer { if let directory { close(directory) } }
        let now = MonotonicClock.now()
        if let d = call.deadline, now >= d { return call.raiseTimeout() }  // nothing is started past it
        let child = ChildProcess(
            executable: executable, arguments: [request.program] + request.arguments, environment: environment,
            directory: directory, input: request.input, inheritStdin: request.inheritStdin, outputLimit: request.outputLimit,
            timeout: request.timeout.map { RunDeadline.after(seconds: $0, from: now) }, vmDeadline: call.deadline)
        let shown = Capability.sanitized(request.program)
        guard call.canPark else {
            return outcome(call, child.run(), shown: shown, timeout: request.timeout, outputLimit: request.outputLimit, asBytes: request.asBytes)
        }
        switch child.start() {
        case .failure(let f):
            return outcome(call, .failure(f), shown: shown, timeout: request.timeout, outputLimit: request.outputLimit, asBytes: request.asBytes)
        case .success(let running):
            return pump(call, Waiting(child: running, shown: shown, timeout: request.timeout,
                                      outputLimit: request.outputLimit, asBytes: request.asBytes))
        }
    }

    /// Serves the child's pipes until nothing is ready, then parks the fiber on them and on
    /// its pidfd (all in one epoll descriptor, `ChildRun.readiness`) with a timer at the next
    /// limit; the result once it is done.
    private func pump(_ call: NativeCall, _ w: Waiting) -> Value {
        switch w.child.pump(block: false) {
        case .done(let r):
            return outcome(call, r, shown: w.shown, timeout: w.timeout, outputLimit: w.outputLimit, asBytes: w.asBytes)
        case .wait(let until):
            guard let fd = w.child.readiness() else {
                // No epoll descriptor to spare: wait as outside a fiber, blocking the thread.
                while true {
                    if case .done(let r) = w.child.pump(block: true) {
                        return outcome(call, r, shown: w.shown, timeout: w.timeout, outputLimit: w.outputLimit, asBytes: w.asBytes)
                    }
                }
            }
            let id = call.fiberID
            // Runs left by fibers that were cancelled out of their wait (their call never
            // runs again): dropping them kills and reaps those children.
            for (other, _) in waiting where other != id && !call.fiberIsLive(other) { waiting.removeValue(forKey: other) }
            waiting[id] = w
            // Cancelled or dropped while it waits: its child is killed and reaped now.
            call.onWaitAbandoned { [weak self] in self?.waiting.removeValue(forKey: id) }
            return call.parkUntilReadable(fd, deadline: until, label: "proc.run of \(w.shown)")
        }
    }

    /// What a finished (or failed) run returns or raises.
    private func outcome(_ call: NativeCall, _ r: Result<ChildProcess.Finished, ChildProcess.Failure>, shown: String,
                         timeout: Double?, outputLimit: Int, asBytes: Bool) -> Value {
        switch r {
        case .failure(.spawn(let e)): return call.raise("proc.run: cannot run \(shown): \(String(cString: strerror(e)))")
        case .failure(.io(let what, let e)): return call.raise("proc.run: \(shown): \(what): \(String(cString: strerror(e)))")
        case .failure(.timedOut):
            return call.raise("proc.run: \(shown) timed out after \(Self.seconds(timeout ?? 0)) and was killed")
        case .failure(.vmDeadline): return call.raiseTimeout()
        case .failure(.interrupted): return call.raiseInterrupt()
        case .failure(.outputLimit(let stream)):
            return call.raise("proc.run: \(shown) wrote more than \(LimitText.bytes(outputLimit)) to \(stream) and was killed (raise the limit with max_output)")
        case .success(let finished):
            // The captured output becomes script values: it must fit under the heap limit.
            let size = finished.stdout.count + finished.stderr.count
            if let oom = call.heapShortfall(size) { return call.raise("proc.run: \(shown): \(oom): the output has \(size) bytes") }
            return result(call, finished, asBytes: asBytes)
        }
    }

    /// `{code, signal, stdout, stderr}`. Text output is decoded as UTF-8, invalid sequences
    /// replaced by U+FFFD (`bytes: true` keeps them exactly).
    private func result(_ call: NativeCall, _ finished: ChildProcess.Finished, asBytes: Bool) -> Value {
        func output(_ data: [UInt8]) -> Value {
            let v = data.withUnsafeBufferPointer { asBytes ? call.bytesValue($0) : call.stringValue(String(decoding: $0, as: UTF8.self)) }
            call.keep(v)
            return v
        }
        let out = output(finished.stdout), err = output(finished.stderr)
        let code = finished.code.map { call.intValue(Int64($0)) } ?? call.nilValue
        let signal = finished.signal.map { call.intValue(Int64($0)) } ?? call.nilValue
        defer { call.release(2) }
        return call.mapValue([("code", code), ("signal", signal), ("stdout", out), ("stderr", err)])
    }

    // MARK: grants

    /// The file to execute for `program`, after checking `principal`'s `run:` grants (see
    /// the type's summary); the message of the denial or lookup failure otherwise. Shared
    /// with the host API's `run_program` for plugins.
    package static func resolve(_ program: String, by principal: Principal, enforcer: CapabilityEnforcer,
                        operation: String = "proc.run") -> Result<String, HostFailure> {
        let policy = enforcer.policy
        if program.contains("/") {
            let path = Capability.normalizedPath(program, relativeTo: enforcer.workingDirectory, applyingParent: false)
            if path.split(separator: "/").contains(".."), !enforcer.policy.allows(Capability(.run, path), by: principal) {
                // A grant is written without `..` (the flag applies it), and a path is matched
                // exactly: no grant can name this one. Advise its resolved form instead.
                let target = enforcer.resolved(path, followingLast: false)
                let reason = "a program path is matched as written, and no grant has '..' in it: write it as "
                    + "\(Capability.sanitized(target)) (\(Policy.hint(for: Capability(.run, target), to: principal)))"
                return .failure(HostFailure(enforcer.deny(Capability(.run, path), by: principal, reason: reason).message))
            }
            switch enforcer.check(Capability(.run, path), by: principal) {
            case .failure(let d): return .failure(HostFailure(d.message))
            case .success: return .success(path)
            }
        }
        let byName = Capability(.run, program)
        if policy.allows(byName, by: principal) {
            enforcer.allow(byName, by: principal)
            guard let found = lookUp(program) else {
                return .failure(HostFailure("\(operation): \(Capability.sanitized(program)): not found on PATH"))
            }
            return .success(found)
        }
        if let found = lookUp(program), policy.allows(Capability(.run, found), by: principal) {
            enforcer.allow(Capability(.run, found), by: principal)
            return .success(found)
        }
        return .failure(HostFailure(enforcer.deny(byName, by: principal, reason: Policy.hint(for: byName, to: principal)).message))
    }

    /// The first executable regular file named `name` in an absolute directory of the host's
    /// PATH (relative and empty entries are skipped); nil when there is none.
    static func lookUp(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    /// The host variables `inherit` asks for: with `.names`, each must be granted (`env:NAME`),
    /// and unset ones are left out; with `.granted`, every set variable the grants cover.
    func inheritedEnvironment(_ inherit: ProcRequest.Inherit?) -> Result<[(String, String)], CapabilityDenial> {
        guard let inherit else { return .success([]) }
        switch inherit {
        case .names(let names):
            var result: [(String, String)] = []
            for name in names {
                if case .failure(let d) = enforcer.check(Capability(.env, name), by: .script) { return .failure(d) }
                if let value = getenv(name) { result.append((name, String(cString: value))) }
            }
            return .success(result)
        case .granted:
            var result: [(String, String)] = []
            var entry = environ
            while let pointer = entry.pointee {
                let text = String(cString: pointer)
                entry += 1
                guard let eq = text.firstIndex(of: "=") else { continue }
                let name = String(text[..<eq])
                let request = Capability(.env, name)
                // Only the granted ones are recorded: the rest were not asked for by name.
                guard enforcer.policy.allows(request, by: .script) else { continue }
                enforcer.allow(request, by: .script)
                result.append((name, String(text[text.index(after: eq)...])))
            }
            return .success(result)
        }
    }

    /// Opens `cwd` as a directory under the script's `fs.read` grants, confined as the `fs`
    /// module confines (so `..` and symlinks cannot leave the grant); the child `fchdir`s to it.
    func openDirectory(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<Int32, HostFailure> {
        let path: String
        switch enforcer.path(bytes, kind: .fsRead, by: .script) {
        case .failure(let d): return .failure(HostFailure(d.message))
        case .success(let p): path = p
        }
        switch enforcer.perform(path, kind: .fsRead, by: .script, { $0.open(flags: O_RDONLY | O_DIRECTORY) }) {
        case .failure(.io(ENOTDIR)): return .failure(HostFailure("proc.run: cwd \(Capability.sanitized(path)): not a directory"))
        case .failure(let e): return .failure(HostFailure(e.message(operation: "proc.run: cwd", path: path)))
        case .success(let fd):
            var st = stat()
            if fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
                close(fd)
                return .failure(HostFailure("proc.run: cwd \(Capability.sanitized(path)): not a directory"))
            }
            return .success(fd)
        }
    }

    /// `2s`, `0.25s`.
    package static func seconds(_ s: Double) -> String { s == s.rounded() && s < 1e15 ? "\(Int(s))s" : "\(s)s" }
}

/// A host service's failure as the script (or plugin) sees it: a denial, a lookup or cwd
/// error, a malformed host.
package struct HostFailure: Error {
    package let message: String
    init(_ message: String) { self.message = message }
}
