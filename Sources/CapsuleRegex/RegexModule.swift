#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore
import CPCRE2

/// `import "re"`: regular expressions on PCRE2 (docs/stdlib.md#re). Pure: no capability.
///
/// ```
/// import "re"
/// let p = re.compile("(?<key>\\w+)=(\\d+)")
/// let m = re.search(p, "a x=42")     // {text: "x=42", start: 2, end: 6, groups: ["x=42", "x", "42"], named: {key: "x"}}
/// re.replace("(\\w+)@(\\w+)", "me@host", "$2 at $1")        // "host at me"
/// re.replace("\\d+", "a1b22", fn(m) { return "<${m.text}>" })  // "a<1>b<22>"
/// ```
/// Every function takes a pattern string (compiled once and cached) or a compiled pattern
/// (`re.compile`, a handle the collector frees). Offsets are in Unicode scalars, like string
/// indexes. A pattern that backtracks without end stops at PCRE2's match limit with an error.
package final class RegexModule {
    /// Match-limit and depth-limit of every match: a catastrophic pattern ends in an error
    /// after roughly this many backtracking steps (about a second at worst), never a hang.
    static let matchLimit: UInt32 = 5_000_000
    static let depthLimit: UInt32 = 100_000
    /// The keys of a match map, in order.
    static let matchKeys: [StaticString] = ["text", "start", "end", "groups", "named"]
    /// Compiled pattern strings kept per VM (cleared when full).
    static let cacheLimit = 256

    /// Patterns compiled from strings, by flags and text.
    var cache: [String: CompiledRegex] = [:]

    package init() {}

    package func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "re", functions: [
            NativeFunctionDefinition(name: "compile", arity: -1) { [unowned self] call in
                guard call.count == 1 || call.count == 2 else { return call.raise("re.compile expects 1 or 2 arguments, got \(call.count)") }
                guard let regex = pattern(call, "re.compile", flagsArgument: call.count == 2 ? 1 : nil) else { return NativeCall.failure }
                // The handle owns one reference to the pattern.
                let pointer = Unmanaged.passRetained(regex).toOpaque()
                return call.handleValue(pointer, typeName: "re.Pattern", destructor: { p in
                    if let p { Unmanaged<CompiledRegex>.fromOpaque(p).release() }
                })
            },
            NativeFunctionDefinition(name: "match", arity: 2) { [unowned self] call in
                firstMatch(call, "re.match", anchored: true)
            },
            NativeFunctionDefinition(name: "search", arity: 2) { [unowned self] call in
                firstMatch(call, "re.search", anchored: false)
            },
            NativeFunctionDefinition(name: "test", arity: 2) { [unowned self] call in
                guard let regex = pattern(call, "re.test"), let subject = subject(call, "re.test", 1) else { return NativeCall.failure }
                switch regex.match(subject, from: 0, anchored: false, notEmptyAtStart: false) {
                case .found: return call.boolValue(true)
                case .none: return call.boolValue(false)
                case .failed(let message): return call.raise("re.test: \(message)")
                }
            },
            NativeFunctionDefinition(name: "find_all", arity: 2) { [unowned self] call in
                findAll(call)
            },
            NativeFunctionDefinition(name: "replace", arity: -1) { [unowned self] call in
                replace(call)
            },
            NativeFunctionDefinition(name: "split", arity: 2) { [unowned self] call in
                split(call)
            },
            NativeFunctionDefinition(name: "escape", arity: 1) { call in
                guard let s = call.string(0) else { return call.raise("re.escape argument must be a string, got \(call.typeName(0))") }
                var out: [UInt8] = []
                out.reserveCapacity(s.count)
                for b in s {
                    if b < 0x80 && !(b >= 0x30 && b <= 0x39) && !(b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) && b != 0x5F { out.append(0x5C) }
                    out.append(b)
                }
                return out.withUnsafeBufferPointer { call.stringValue($0) }
            },
        ])
    }

    // MARK: arguments

    /// Argument 0 as a compiled pattern: a `re.Pattern` handle, or a string compiled with the
    /// flags in `flagsArgument` (and cached). Nil after raising.
    func pattern(_ call: NativeCall, _ what: String, flagsArgument: Int? = nil) -> CompiledRegex? {
        if let h = call.handle(0) {
            guard h.typeName == "re.Pattern", let p = h.pointer else {
                _ = call.raise("\(what): pattern must be a string or a compiled pattern, got handle \(h.typeName)")
                return nil
            }
            return Unmanaged<CompiledRegex>.fromOpaque(p).takeUnretainedValue()
        }
        guard let text = call.string(0) else {
            _ = call.raise("\(what): pattern must be a string or a compiled pattern, got \(call.typeName(0))")
            return nil
        }
        var flags = ""
        if let f = flagsArgument {
            guard let fs = call.string(f) else {
                _ = call.raise("\(what): flags must be a string like \"im\", got \(call.typeName(f))")
                return nil
            }
            flags = String(decoding: fs, as: UTF8.self)
        }
        let key = flags + "/" + String(decoding: text, as: UTF8.self)
        if let cached = cache[key] { return cached }
        switch CompiledRegex.compile(text, flags: flags) {
        case .failure(let e):
            _ = call.raise("\(what): \(e.message)")
            return nil
        case .success(let regex):
            if cache.count >= RegexModule.cacheLimit { cache.removeAll() }
            cache[key] = regex
            return regex
        }
    }

    func subject(_ call: NativeCall, _ what: String, _ i: Int) -> UnsafeBufferPointer<UInt8>? {
        guard let s = call.string(i) else {
            _ = call.raise("\(what): subject must be a string, got \(call.typeName(i))")
            return nil
        }
        return s
    }

    // MARK: operations

    func firstMatch(_ call: NativeCall, _ what: String, anchored: Bool) -> Value {
        guard let regex = pattern(call, what), let subject = subject(call, what, 1) else { return NativeCall.failure }
        switch regex.match(subject, from: 0, anchored: anchored, notEmptyAtStart: false) {
        case .none: return call.nilValue
        case .failed(let message): return call.raise("\(what): \(message)")
        case .found(let groups):
            var offsets = ScalarOffsets(subject)
            return matchValue(call, regex, subject, groups, &offsets)
        }
    }

    /// Each non-overlapping match, left to right: `body` gets its groups (byte ranges; -1 for
    /// an unset group). Returns false after raising (a limit, the run's timeout, or `body`).
    func eachMatch(_ call: NativeCall, _ what: String, _ regex: CompiledRegex, _ subject: UnsafeBufferPointer<UInt8>,
                   limit: Int = Int.max, _ body: ([Int]) -> Bool) -> Bool {
        var start = 0
        var notEmpty = false
        var count = 0
        while start <= subject.count && count < limit {
            switch regex.match(subject, from: start, anchored: false, notEmptyAtStart: notEmpty) {
            case .none:
                if notEmpty && start < subject.count {
                    // No non-empty match here: step over one character and try again.
                    start += 1
                    while start < subject.count && subject[start] & 0xC0 == 0x80 { start += 1 }
                    notEmpty = false
                    continue
                }
                return true
            case .failed(let message):
                _ = call.raise("\(what): \(message)")
                return false
            case .found(let groups):
                guard body(groups) else { return false }
                count += 1
                start = groups[1]
                notEmpty = groups[0] == groups[1]
                // A long loop of matches still ends at the run's timeout.
                if count & 1023 == 0, let deadline = call.deadline, RegexModule.monotonicNow() >= deadline {
                    _ = call.raiseTimeout()
                    return false
                }
            }
        }
        return true
    }

    func findAll(_ call: NativeCall) -> Value {
        guard let regex = pattern(call, "re.find_all"), let subject = subject(call, "re.find_all", 1) else { return NativeCall.failure }
        var offsets = ScalarOffsets(subject)
        var values: [Value] = []
        defer { call.release(values.count) }
        let ok = eachMatch(call, "re.find_all", regex, subject) { groups in
            guard call.reserveHeap(256) else { return false }
            let m = matchValue(call, regex, subject, groups, &offsets)
            call.keep(m)
            values.append(m)
            return true
        }
        guard ok else { return NativeCall.failure }
        return call.listValue(values)
    }

    func split(_ call: NativeCall) -> Value {
        guard let regex = pattern(call, "re.split"), let subject = subject(call, "re.split", 1) else { return NativeCall.failure }
        var values: [Value] = []
        defer { call.release(values.count) }
        var last = 0
        let ok = eachMatch(call, "re.split", regex, subject) { groups in
            // An empty match at the very start or end splits nothing off.
            if groups[0] == groups[1] && (groups[0] == 0 || groups[0] == subject.count) { return true }
            guard call.reserveHeap(64 + groups[0] - last) else { return false }
            let piece = call.stringValue(UnsafeBufferPointer(rebasing: subject[last..<groups[0]]))
            call.keep(piece)
            values.append(piece)
            last = groups[1]
            return true
        }
        guard ok else { return NativeCall.failure }
        let tail = call.stringValue(UnsafeBufferPointer(rebasing: subject[last...]))
        call.keep(tail)
        values.append(tail)
        return call.listValue(values)
    }

    /// `re.replace(pattern, subject, replacement)` and `re.replace(pattern, subject, replacement, count)`.
    func replace(_ call: NativeCall) -> Value {
        guard call.count == 3 || call.count == 4 else { return call.raise("re.replace expects 3 or 4 arguments, got \(call.count)") }
        guard let regex = pattern(call, "re.replace"), let subject = subject(call, "re.replace", 1) else { return NativeCall.failure }
        var limit = Int.max
        if call.count == 4 {
            guard let n = call.int(3), n >= 0 else { return call.raise("re.replace: count must be an int >= 0, got \(call.typeName(3))") }
            limit = n > Int64(Int.max) ? Int.max : Int(n)
        }
        let template: [ReplacementPart]?
        if let text = call.string(2) {
            switch RegexModule.parseTemplate(text, regex) {
            case .success(let parts): template = parts
            case .failure(let e): return call.raise("re.replace: \(e.message)")
            }
        } else if call.isCallable(2) {
            template = nil
        } else {
            return call.raise("re.replace: replacement must be a string or a function, got \(call.typeName(2))")
        }
        let callback = call.value(2)
        var out: [UInt8] = []
        var last = 0
        var offsets = ScalarOffsets(subject)
        let ok = eachMatch(call, "re.replace", regex, subject, limit: limit) { groups in
            out.append(contentsOf: subject[last..<groups[0]])
            if let template {
                for part in template {
                    switch part {
                    case .literal(let bytes): out.append(contentsOf: bytes)
                    case .group(let g):
                        if groups[2 * g] >= 0 { out.append(contentsOf: subject[groups[2 * g]..<groups[2 * g + 1]]) }
                    }
                }
            } else {
                let m = matchValue(call, regex, subject, groups, &offsets)
                guard let r = call.callValue(callback, [m]) else { return false }
                let text: UnsafeBufferPointer<UInt8>? = call.withValues([r]) { $0.string(0) }
                guard let text else {
                    _ = call.raise("re.replace: the replacement function must return a string, got \(call.withValues([r]) { $0.typeName(0) })")
                    return false
                }
                out.append(contentsOf: text)
            }
            last = groups[1]
            if let shortfall = call.heapShortfall(out.count) {
                _ = call.raise(shortfall)
                return false
            }
            return true
        }
        guard ok else { return NativeCall.failure }
        out.append(contentsOf: subject[last...])
        guard call.reserveHeap(out.count + 64) else { return NativeCall.failure }
        return out.withUnsafeBufferPointer { call.stringValue($0) }
    }

    enum ReplacementPart {
        case literal([UInt8])
        case group(Int)
    }

    /// `$1`, `${1}`, `${name}`, `$0` (the whole match) and `$$` (a dollar sign).
    static func parseTemplate(_ text: UnsafeBufferPointer<UInt8>, _ regex: CompiledRegex) -> Result<[ReplacementPart], RegexError> {
        var parts: [ReplacementPart] = []
        var literal: [UInt8] = []
        var i = 0
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        while i < text.count {
            let b = text[i]
            guard b == UInt8(ascii: "$") else { literal.append(b); i += 1; continue }
            let at = i
            i += 1
            guard i < text.count else { return .failure(RegexError(message: "'$' at the end of the replacement (write '$$' for a dollar sign)")) }
            var group: Int
            if text[i] == UInt8(ascii: "$") { literal.append(b); i += 1; continue }
            if isDigit(text[i]) {
                group = 0
                while i < text.count, isDigit(text[i]) { group = min(group * 10 + Int(text[i] - 0x30), 1 << 20); i += 1 }
            } else if text[i] == UInt8(ascii: "{") {
                i += 1
                let start = i
                while i < text.count, text[i] != UInt8(ascii: "}") { i += 1 }
                guard i < text.count else { return .failure(RegexError(message: "unclosed '${' at offset \(at) of the replacement")) }
                let name = String(decoding: UnsafeBufferPointer(rebasing: text[start..<i]), as: UTF8.self)
                i += 1
                if let n = Int(name) { group = n }
                else if let n = regex.names[name] { group = n }
                else { return .failure(RegexError(message: "no group named '\(name)' in the pattern (replacement offset \(at))")) }
            } else {
                return .failure(RegexError(message: "'$' at offset \(at) of the replacement must be followed by a group number, {name} or '$'"))
            }
            guard group <= regex.groupCount else {
                return .failure(RegexError(message: "group \(group) at offset \(at) of the replacement does not exist (the pattern has \(regex.groupCount))"))
            }
            if !literal.isEmpty { parts.append(.literal(literal)); literal = [] }
            parts.append(.group(group))
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return .success(parts)
    }

    /// `{text, start, end, groups, named}` for one match.
    func matchValue(_ call: NativeCall, _ regex: CompiledRegex, _ subject: UnsafeBufferPointer<UInt8>,
                    _ groups: [Int], _ offsets: inout ScalarOffsets) -> Value {
        var kept = 0
        defer { call.release(kept) }
        func keep(_ v: Value) -> Value { call.keep(v); kept += 1; return v }
        func text(_ g: Int) -> Value {
            let s = groups[2 * g], e = groups[2 * g + 1]
            return s < 0 ? call.nilValue : keep(call.stringValue(UnsafeBufferPointer(rebasing: subject[s..<e])))
        }
        var items: [Value] = []
        for g in 0...regex.groupCount { items.append(text(g)) }
        let list = keep(call.listValue(items))
        var named: [(key: String, value: Value)] = []
        for (name, g) in regex.orderedNames { named.append((name, items[g])) }
        let namedMap = keep(call.mapValue(named))
        let start = offsets.scalars(at: groups[0]), end = offsets.scalars(at: groups[1])
        return call.mapValue(keys: RegexModule.matchKeys,
                             values: [items[0], call.intValue(Int64(start)), call.intValue(Int64(end)), list, namedMap])
    }

    static func monotonicNow() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return Int(ts.tv_sec) &* 1_000_000_000 &+ Int(ts.tv_nsec)
    }
}

/// Byte offset → Unicode scalar index, moving forward from the last answer (matches come
/// left to right), back to the start when asked for an earlier offset.
struct ScalarOffsets {
    let subject: UnsafeBufferPointer<UInt8>
    var byte = 0, scalar = 0

    init(_ subject: UnsafeBufferPointer<UInt8>) { self.subject = subject }

    mutating func scalars(at offset: Int) -> Int {
        if offset < byte { byte = 0; scalar = 0 }
        while byte < offset {
            if subject[byte] & 0xC0 != 0x80 { scalar += 1 }
            byte += 1
        }
        return scalar
    }
}

/// A compiled PCRE2 pattern with its match data and limits. Owned by the module's cache
/// and by `re.Pattern` handles (one retain each); freed when the last lets go.
/// NOTE: used only on its VM's thread (the VM runs one script call at a time), so the
/// shared match data is never used by two matches at once.
final class CompiledRegex {
    let code: OpaquePointer
    let matchData: OpaquePointer
    let context: OpaquePointer
    let groupCount: Int
    /// Named groups: name → number, and in pattern order.
    let names: [String: Int]
    let orderedNames: [(String, Int)]

    private init(code: OpaquePointer, matchData: OpaquePointer, context: OpaquePointer, groupCount: Int, names: [(String, Int)]) {
        self.code = code
        self.matchData = matchData
        self.context = context
        self.groupCount = groupCount
        self.orderedNames = names
        var map: [String: Int] = [:]
        for (n, g) in names { map[n] = g }
        self.names = map
    }

    deinit {
        pcre2_match_data_free_8(matchData)
        pcre2_match_context_free_8(context)
        pcre2_code_free_8(code)
    }

    /// Compiles `pattern` (UTF-8) with flags `i` (ignore case), `m` (multi-line `^ $`),
    /// `s` (`.` matches newlines), `x` (extended: spaces and `#` comments ignored), `u`
    /// (Unicode classes for `\w \d \s \b`). An error names the offset in the pattern.
    static func compile(_ pattern: UnsafeBufferPointer<UInt8>, flags: String) -> Result<CompiledRegex, RegexError> {
        var options: UInt32 = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF
        for f in flags.unicodeScalars {
            switch f {
            case "i": options |= PCRE2_CASELESS
            case "m": options |= PCRE2_MULTILINE
            case "s": options |= PCRE2_DOTALL
            case "x": options |= PCRE2_EXTENDED
            case "u": options |= PCRE2_UCP
            default: return .failure(RegexError(message: "unknown flag '\(f)' (known: i, m, s, x, u)"))
            }
        }
        var errorCode: Int32 = 0
        var errorOffset = 0
        // NOTE: a zero-length buffer may have no base address; PCRE2 accepts an empty
        // pattern given by any non-null pointer with length 0.
        let empty: [UInt8] = [0]
        let compiled = empty.withUnsafeBufferPointer { fallback in
            pcre2_compile_8(pattern.baseAddress ?? fallback.baseAddress, pattern.count, options, &errorCode, &errorOffset, nil)
        }
        guard let code = compiled else {
            // The offset PCRE2 reports is in bytes: name it in characters, like string indexes.
            var offsets = ScalarOffsets(pattern)
            return .failure(RegexError(message: "invalid pattern at offset \(offsets.scalars(at: min(errorOffset, pattern.count))): \(errorMessage(errorCode))"))
        }
        _ = pcre2_jit_compile_8(code, PCRE2_JIT_COMPLETE)  // when JIT is unavailable, the interpreter runs
        guard let data = pcre2_match_data_create_from_pattern_8(code, nil), let context = pcre2_match_context_create_8(nil) else {
            pcre2_code_free_8(code)
            return .failure(RegexError(message: "out of memory compiling the pattern"))
        }
        _ = pcre2_set_match_limit_8(context, RegexModule.matchLimit)
        _ = pcre2_set_depth_limit_8(context, RegexModule.depthLimit)
        var captures: UInt32 = 0
        _ = pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_CAPTURECOUNT), &captures)
        var nameCount: UInt32 = 0, entrySize: UInt32 = 0
        var table: UnsafePointer<UInt8>? = nil
        _ = pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_NAMECOUNT), &nameCount)
        _ = pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_NAMEENTRYSIZE), &entrySize)
        _ = pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_NAMETABLE), &table)
        var names: [(String, Int)] = []
        if let table {
            // Each entry: the group number (2 bytes, big-endian), then the NUL-terminated name.
            for k in 0..<Int(nameCount) {
                let entry = table + k * Int(entrySize)
                let number = Int(entry[0]) << 8 | Int(entry[1])
                names.append((String(cString: entry + 2), number))
            }
            names.sort { $0.1 < $1.1 }
        }
        return .success(CompiledRegex(code: code, matchData: data, context: context, groupCount: Int(captures), names: names))
    }

    static func errorMessage(_ code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pcre2_get_error_message_8(code, &buffer, buffer.count)
        return n > 0 ? String(decoding: buffer[0..<Int(n)], as: UTF8.self) : "PCRE2 error \(code)"
    }

    enum MatchResult {
        /// Byte offsets: start and end of group 0, group 1, …; -1 for unset groups.
        case found([Int])
        case none
        case failed(String)
    }

    func match(_ subject: UnsafeBufferPointer<UInt8>, from start: Int, anchored: Bool, notEmptyAtStart: Bool) -> MatchResult {
        var options: UInt32 = 0
        if anchored { options |= PCRE2_ANCHORED }
        if notEmptyAtStart { options |= PCRE2_NOTEMPTY_ATSTART }
        let empty: [UInt8] = [0]
        var rc = empty.withUnsafeBufferPointer { fallback in
            pcre2_match_8(code, subject.baseAddress ?? fallback.baseAddress, subject.count, start, options, matchData, context)
        }
        if rc == PCRE2_ERROR_JIT_STACKLIMIT {
            // The JIT's stack is small: run the interpreter, whose limits are ours.
            rc = empty.withUnsafeBufferPointer { fallback in
                pcre2_match_8(code, subject.baseAddress ?? fallback.baseAddress, subject.count, start, options | PCRE2_NO_JIT, matchData, context)
            }
        }
        if rc == PCRE2_ERROR_NOMATCH { return .none }
        if rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT {
            return .failed("the pattern backtracks too much on this subject (\(CompiledRegex.errorMessage(rc)))")
        }
        if rc < 0 { return .failed(CompiledRegex.errorMessage(rc)) }
        let vector = pcre2_get_ovector_pointer_8(matchData)
        var groups = [Int](repeating: -1, count: 2 * (groupCount + 1))
        guard let vector else { return .failed("no match data") }
        // Groups past `rc` did not take part in the match: they stay -1.
        for k in 0..<min(Int(rc), groupCount + 1) {
            let s = vector[2 * k], e = vector[2 * k + 1]
            if s >= 0 && s <= e && e <= subject.count {
                groups[2 * k] = Int(s); groups[2 * k + 1] = Int(e)
            }
        }
        return .found(groups)
    }
}

/// A pattern or replacement that cannot be used, with the reason.
struct RegexError: Error { var message: String }
