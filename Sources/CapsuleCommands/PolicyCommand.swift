import ArgumentParser
import CapsuleHost

/// `capsule policy …`: tools for capability policies.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Work with capability policies (docs/security.md).",
        subcommands: [PolicySuggestCommand.self]
    )
}

/// `capsule policy suggest FILE`: the least-privilege manifest for an audit log.
struct PolicySuggestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest",
        abstract: "Print the manifest that grants exactly what an audit log shows was used.",
        discussion: """
            Reads FILE, written by `capsule run --audit FILE …`, and prints a capsule.json \
            granting every capability use in it, allowed or denied, to the script and to \
            each plugin separately. Paths are absolute; three or more files in one \
            directory become a grant of the directory. With --flags, the same grants as \
            `capsule run` flags (--allow-read=…, --allow-plugin=NAME=…), one line.

            Example:
              capsule run --audit audit.jsonl tool.cap
              capsule policy suggest audit.jsonl > capsule.json
              capsule run tool.cap
            """
    )

    @Argument(help: "The audit log (JSON lines).")
    var file: String

    @Flag(help: "Print the grants as `capsule run` flags instead of a manifest.")
    var flags = false

    func run() throws {
        let console = Console.standard
        let text: String
        switch readSourceFile(atPath: file, allowingStreams: true) {
        case .failure(let error): console.err("error: \(error.message)\n"); throw ExitCode(74)
        case .success(let t): text = t
        }
        var skipped: [String] = []
        switch PolicySuggestion.manifest(auditLog: text, fileName: file, skipped: &skipped) {
        case .failure(let error): console.err(error.description + "\n"); throw ExitCode(65)
        case .success(let policy):
            for reason in skipped { console.err("capsule: not granted: \(reason)\n") }
            guard flags else { console.out(PolicyManifest.render(policy)); return }
            var unflaggable: [Capability] = []
            let words = Policy.flags(policy, unflaggable: &unflaggable)
            for grant in unflaggable {
                console.err("capsule: no flag can grant \(Capability.sanitized(grant.description)) (a comma separates a flag's values): put it under \"allow\" in capsule.json\n")
            }
            console.out(words.joined(separator: " ") + "\n")
        }
    }
}

/// Turns audit records into the least policy that allows them all.
enum PolicySuggestion {
    /// Directories with at least this many used files are granted whole.
    static let directoryThreshold = 3

    /// Parses the log's lines and reduces them (errors name the line).
    static func manifest(auditLog text: String, fileName: String) -> Result<Policy, ManifestError> {
        var skipped: [String] = []
        return manifest(auditLog: text, fileName: fileName, skipped: &skipped)
    }

    /// The same; uses no grant can name (a resource with control characters: a manifest
    /// holding one would be refused) are left out and described in `skipped`.
    static func manifest(auditLog text: String, fileName: String, skipped: inout [String]) -> Result<Policy, ManifestError> {
        var uses: [Principal: [Capability]] = [:]
        var order: [Principal] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            func fail(_ message: String, _ column: Int = 1) -> Result<Policy, ManifestError> {
                .failure(ManifestError(file: fileName, line: number + 1, column: column, message: message))
            }
            let node: JSONNode
            switch JSONNode.parse(String(line)) {
            case .failure(let e): return fail(e.message, e.column)
            case .success(let n): node = n
            }
            guard case .object(let members) = node.kind else { return fail("expected an audit record (a JSON object)") }
            var fields: [String: JSONNode.Kind] = [:]
            for m in members { fields[m.key] = m.value.kind }
            guard case .string(let who)? = fields["who"], case .string(let kindText)? = fields["capability"] else {
                return fail("an audit record needs \"who\" and \"capability\" strings")
            }
            guard let kind = Capability.Kind(rawValue: kindText) else { return fail("unknown capability '\(Capability.sanitized(kindText))'") }
            let principal: Principal
            if who == "script" { principal = .script }
            else if who.hasPrefix("plugin:"), who.count > 7 { principal = .plugin(String(who.dropFirst(7))) }
            else { return fail("unknown \"who\": '\(Capability.sanitized(who))'") }
            var resource: String? = nil
            if case .string(let r)? = fields["resource"] { resource = r }
            if uses[principal] == nil { order.append(principal) }
            let use = Capability(kind, resource)
            if case .failure(let error) = Capability.parse(use.description, baseDirectory: "/") {
                let why = "\(Capability.sanitized(use.description)) (line \(number + 1)): \(error.message)"
                if !skipped.contains(why) { skipped.append(why) }
                continue
            }
            if !(uses[principal] ?? []).contains(use) { uses[principal, default: []].append(use) }
        }
        var policy = Policy()
        for principal in order {
            let grants = reduce(uses[principal] ?? [])
            switch principal {
            case .script: policy.grants = grants
            case .plugin(let name): policy.plugins[name] = grants
            }
        }
        return .success(policy)
    }

    /// The fewest grants covering `uses`: paths merged by directory, FFI symbols by
    /// library, duplicates and covered uses dropped.
    static func reduce(_ uses: [Capability]) -> [Capability] {
        var result: [Capability] = []
        for kind in Capability.Kind.allCases {
            let ofKind = uses.filter { $0.kind == kind }
            if ofKind.isEmpty { continue }
            if ofKind.contains(where: { $0.resource == nil }) { result.append(Capability(kind)); continue }
            var grants: [Capability]
            switch kind {
            case .fsRead, .fsWrite:
                var byDirectory: [String: [String]] = [:]
                var directories: [String] = []
                for use in ofKind {
                    let path = use.resource!
                    let parent = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "/"
                    if byDirectory[parent] == nil { directories.append(parent) }
                    byDirectory[parent, default: []].append(path)
                }
                grants = []
                for directory in directories {
                    let paths = byDirectory[directory]!
                    if paths.count >= directoryThreshold { grants.append(Capability(kind, directory)) }
                    else { grants += paths.map { Capability(kind, $0) } }
                }
            case .ffi:
                var symbols: [String: [String]] = [:]
                var libraries: [String] = []
                for use in ofKind {
                    let (library, syms) = splitFFI(use.resource!)
                    if symbols[library] == nil { libraries.append(library); symbols[library] = [] }
                    if let syms { for s in syms where !symbols[library]!.contains(s) { symbols[library]!.append(s) } }
                }
                grants = libraries.map { library in
                    let syms = symbols[library]!
                    // Opening alone (no bind) needs the library; any symbol grant allows opening.
                    return syms.isEmpty ? Capability(.ffi, library) : Capability(.ffi, library + ":" + syms.joined(separator: ","))
                }
            default:
                grants = ofKind
            }
            // Drop grants another one covers.
            for (i, g) in grants.enumerated() where !grants.enumerated().contains(where: { j, other in j != i && other != g && other.covers(g) }) {
                if !result.contains(g) { result.append(g) }
            }
        }
        return result
    }

    private static func splitFFI(_ text: String) -> (String, [String]?) {
        let tail = text.lastIndex(of: "/").map { text[text.index(after: $0)...] } ?? text[...]
        guard let colon = tail.lastIndex(of: ":") else { return (text, nil) }
        return (String(text[..<colon]), text[text.index(after: colon)...].split(separator: ",").map(String.init))
    }
}
