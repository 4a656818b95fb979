#if canImport(Glibc)
import Glibc
#endif

/// What a shared object's dynamic section says about it, read from the file's bytes without
/// loading it (loading runs its constructors).
///
/// The reader follows the dynamic loader, not the section headers: it finds `PT_DYNAMIC`
/// through the program headers and the symbol and string tables through `DT_SYMTAB` and
/// `DT_STRTAB`, so stripping or forging section headers cannot hide an import. Every offset
/// is bounds-checked; a malformed file is an `ELFError`, never a crash.
public struct ELFImage: Sendable {
    /// Undefined dynamic symbols: the functions and data the object takes from other
    /// libraries (`open`, `socket`, …), sorted, without version suffixes.
    public var imports: [String]
    /// Functions and data the object defines for others (global or weak dynamic symbols with
    /// a section), sorted, without version suffixes: what it exports (`libc.so.6`'s API).
    public var exports: [String] = []
    /// Symbols the object defines with `STB_GNU_UNIQUE` binding: glibc never unloads it.
    public var uniqueSymbols: [String]
    /// Libraries it depends on (`DT_NEEDED`), in order.
    public var needed: [String]
    /// The library search directories it carries (`DT_RUNPATH`, or `DT_RPATH`), in order;
    /// `$ORIGIN` entries are kept as written, and so are empty ones (the loader's current
    /// directory).
    public var runPaths: [String] = []
    /// Whether it has thread-local storage (`PT_TLS`). Plain TLS does not keep it loaded
    /// (glibc frees the block at dlclose); registered TLS destructors do.
    public var hasTLS: Bool
    /// Whether it is marked `DF_1_NODELETE` (linked with `-z nodelete`): never unloaded.
    public var noDelete: Bool

    /// The reasons the dynamic loader will never unmap this object once loaded (empty when it
    /// can be unloaded).
    public var unloadBlockers: [String] {
        var reasons: [String] = []
        if noDelete { reasons.append("marked NODELETE (-z nodelete)") }
        if !uniqueSymbols.isEmpty {
            reasons.append("defines STB_GNU_UNIQUE symbols (\(uniqueSymbols.prefix(3).joined(separator: ", "))\(uniqueSymbols.count > 3 ? ", …" : ""))")
        }
        if registersThreadLocalDestructors {
            reasons.append("registers thread-local destructors (__cxa_thread_atexit_impl: glibc keeps it loaded while a thread that ran one lives)")
        }
        return reasons
    }

    /// Whether it imports the C++ runtime's hook for `thread_local` objects with destructors
    /// (a destructor registered on a thread keeps the library loaded until that thread exits).
    public var registersThreadLocalDestructors: Bool {
        imports.contains("__cxa_thread_atexit_impl") || imports.contains("__cxa_thread_atexit")
    }

    /// The largest file read (plugins are small; this bounds the host's memory).
    public static let maximumFileSize = 512 << 20

    /// Reads the shared object at `path`.
    public static func read(path: String) -> Result<ELFImage, ELFError> {
        read(path: path, symbols: true)
    }

    /// Reads the shared object at `path`; without `symbols`, `imports` and `uniqueSymbols`
    /// stay empty and the symbol table is not walked (what `PluginLibraries` needs of a
    /// library: `needed` and `runPaths`).
    static func read(path: String, symbols: Bool) -> Result<ELFImage, ELFError> {
        // NOTE: O_NONBLOCK: a FIFO must not block the open; fstat below refuses it.
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return .failure(ELFError("cannot open: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        return read(fileDescriptor: fd, symbols: symbols)
    }

    /// Reads the shared object open at `fd` (from offset 0; the offset is not changed).
    public static func read(fileDescriptor fd: Int32) -> Result<ELFImage, ELFError> {
        read(fileDescriptor: fd, symbols: true)
    }

    static func read(fileDescriptor fd: Int32, symbols: Bool) -> Result<ELFImage, ELFError> {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(ELFError("cannot stat: \(String(cString: strerror(errno)))")) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(ELFError("not a regular file")) }
        let size = Int(info.st_size)
        guard size <= maximumFileSize else { return .failure(ELFError("larger than \(maximumFileSize >> 20) MiB")) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .failure(ELFError(n == 0 ? "file shrank while being read" : "cannot read: \(String(cString: strerror(errno)))")) }
            done += n
        }
        return bytes.withUnsafeBytes { parse($0, symbols: symbols) }
    }

    /// Parses an ELF64 little-endian shared object held in `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<ELFImage, ELFError> {
        parse(bytes, symbols: true)
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, symbols: Bool) -> Result<ELFImage, ELFError> {
        do {
            return .success(try ELFReader(bytes).image(symbols: symbols))
        } catch let error as ELFError {
            return .failure(error)
        } catch {
            return .failure(ELFError("\(error)"))
        }
    }
}

/// Why a file is not a readable ELF shared object.
public struct ELFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, e.g. `not an ELF file` or `truncated program headers`.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The bounds-checked walk behind `ELFImage.parse`.
private struct ELFReader {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    // ELF constants (elf.h).
    static let ptLoad: UInt32 = 1, ptDynamic: UInt32 = 2, ptTLS: UInt32 = 7
    static let dtNull: Int64 = 0, dtNeeded: Int64 = 1, dtHash: Int64 = 4, dtStrtab: Int64 = 5,
               dtSymtab: Int64 = 6, dtStrsz: Int64 = 10, dtSyment: Int64 = 11,
               dtFlags1: Int64 = 0x6fff_fffb, dtGnuHash: Int64 = 0x6fff_fef5,
               dtRpath: Int64 = 15, dtRunpath: Int64 = 29
    static let df1NoDelete: UInt64 = 0x8
    static let stbGnuUnique: UInt8 = 10
    /// No real object has more; bounds loops over counts read from the file.
    static let maximumSymbols = 1 << 20

    func u8(_ at: Int) throws -> UInt8 {
        guard at >= 0, at < bytes.count else { throw ELFError("offset \(at) is past the end of the file") }
        return bytes[at]
    }
    func u16(_ at: Int) throws -> UInt16 { try load(at, UInt16.self) }
    func u32(_ at: Int) throws -> UInt32 { try load(at, UInt32.self) }
    func u64(_ at: Int) throws -> UInt64 { try load(at, UInt64.self) }

    func load<T: FixedWidthInteger>(_ at: Int, _: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard at >= 0, at <= bytes.count - size else { throw ELFError("offset \(at) is past the end of the file") }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self))
    }

    /// A file offset from a 64-bit field, checked to be inside the file.
    func offset(_ value: UInt64, _ what: String) throws -> Int {
        guard value < UInt64(bytes.count) else { throw ELFError("\(what) at \(value) is past the end of the file") }
        return Int(value)
    }

    /// The NUL-terminated string at `at` (at most 4096 bytes).
    func string(_ at: Int, limit: Int) throws -> String {
        var end = at
        let stop = min(bytes.count, limit, at + 4096)
        guard at >= 0, at < stop else { throw ELFError("string at \(at) is outside its table") }
        while end < stop, bytes[end] != 0 { end += 1 }
        guard end < stop else { throw ELFError("unterminated string at \(at)") }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[at..<end]), as: UTF8.self)
    }

    struct Segment { var type: UInt32; var offset: UInt64; var vaddr: UInt64; var filesz: UInt64 }

    func image(symbols walk: Bool) throws -> ELFImage {
        guard bytes.count >= 64, try u32(0) == 0x464c_457f else { throw ELFError("not an ELF file") }
        guard try u8(4) == 2 else { throw ELFError("not a 64-bit ELF file") }
        guard try u8(5) == 1 else { throw ELFError("not a little-endian ELF file") }
        let type = try u16(16)
        guard type == 3 else { throw ELFError("not a shared object (ELF type \(type))") }
#if arch(x86_64)
        let machine: UInt16 = 62
#elseif arch(arm64)
        let machine: UInt16 = 183
#else
        let machine = try u16(18)
#endif
        let fileMachine = try u16(18)
        guard fileMachine == machine else { throw ELFError("built for another machine (ELF machine \(fileMachine), this host is \(machine))") }
        let phoff = try offset(u64(32), "program header table")
        let phentsize = Int(try u16(54))
        let phnum = Int(try u16(56))
        guard phentsize >= 56 else { throw ELFError("program header entries of \(phentsize) bytes") }
        guard phoff + phnum * phentsize <= bytes.count else { throw ELFError("truncated program headers") }
        var segments: [Segment] = []
        for i in 0..<phnum {
            let at = phoff + i * phentsize
            segments.append(Segment(type: try u32(at), offset: try u64(at + 8), vaddr: try u64(at + 16), filesz: try u64(at + 32)))
        }
        let hasTLS = segments.contains { $0.type == Self.ptTLS }
        guard let dynamic = segments.first(where: { $0.type == Self.ptDynamic }) else {
            throw ELFError("no dynamic segment (not a dynamically linked shared object)")
        }
        /// Maps a virtual address to a file offset through the PT_LOAD segments.
        func fileOffset(_ address: UInt64, _ what: String) throws -> Int {
            for s in segments where s.type == Self.ptLoad && address >= s.vaddr && address - s.vaddr < s.filesz {
                return try offset(s.offset + (address - s.vaddr), what)
            }
            throw ELFError("\(what) address 0x\(String(address, radix: 16)) is in no loaded segment")
        }

        // The dynamic table.
        let dynamicStart = try offset(dynamic.offset, "dynamic segment")
        let dynamicCount = Int(min(dynamic.filesz, UInt64(bytes.count - dynamicStart)) / 16)
        var strtab: UInt64?, symtab: UInt64?, strsz: UInt64?, hash: UInt64?, gnuHash: UInt64?
        var syment: UInt64 = 24, flags1: UInt64 = 0
        var neededOffsets: [UInt64] = []
        var runPathOffset: UInt64?
        for i in 0..<dynamicCount {
            let at = dynamicStart + i * 16
            let tag = Int64(bitPattern: try u64(at))
            let value = try u64(at + 8)
            if tag == Self.dtNull { break }
            switch tag {
            case Self.dtNeeded: neededOffsets.append(value)
            case Self.dtStrtab: strtab = value
            case Self.dtSymtab: symtab = value
            case Self.dtStrsz: strsz = value
            case Self.dtSyment: syment = value
            case Self.dtHash: hash = value
            case Self.dtGnuHash: gnuHash = value
            case Self.dtFlags1: flags1 = value
            case Self.dtRunpath: runPathOffset = value
            case Self.dtRpath: runPathOffset = runPathOffset ?? value
            default: break
            }
        }
        guard let strtab, let symtab, let strsz else { throw ELFError("the dynamic section has no symbol or string table") }
        guard syment >= 24 else { throw ELFError("symbol entries of \(syment) bytes") }
        let strings = try fileOffset(strtab, "string table")
        let stringsEnd = strings + Int(min(strsz, UInt64(bytes.count - strings)))
        let symbols = try fileOffset(symtab, "symbol table")

        // How many symbols: DT_HASH says it; DT_GNU_HASH needs its chains walked.
        var count: Int
        if !walk {
            count = 0
        } else if let hash {
            count = Int(try u32(try fileOffset(hash, "hash table") + 4))
        } else if let gnuHash {
            count = try gnuHashSymbolCount(try fileOffset(gnuHash, "GNU hash table"))
        } else {
            throw ELFError("the dynamic section has no hash table")
        }
        guard count <= Self.maximumSymbols else { throw ELFError("\(count) dynamic symbols") }
        count = min(count, (bytes.count - symbols) / Int(syment))

        var imports: Set<String> = [], exports: Set<String> = [], unique: [String] = []
        for i in 1..<max(count, 1) {
            let at = symbols + i * Int(syment)
            let nameOffset = Int(try u32(at))
            let info = try u8(at + 4)
            let section = try u16(at + 6)
            guard nameOffset != 0 else { continue }
            let name = try string(strings + nameOffset, limit: stringsEnd)
            if section == 0 {
                imports.insert(name)
            } else {
                let binding = info >> 4
                if binding == Self.stbGnuUnique { unique.append(name) }
                // GLOBAL, WEAK or UNIQUE, and not SHN_ABS (version names such as GLIBC_2.2.5).
                if (binding == 1 || binding == 2 || binding == Self.stbGnuUnique) && section != 0xfff1 { exports.insert(name) }
            }
        }
        let needed = try neededOffsets.map { try string(strings + Int(min($0, UInt64(Int.max / 2))), limit: stringsEnd) }
        let runPath = try runPathOffset.map { try string(strings + Int(min($0, UInt64(Int.max / 2))), limit: stringsEnd) } ?? ""
        return ELFImage(imports: imports.sorted(), exports: exports.sorted(), uniqueSymbols: unique.sorted(), needed: needed,
                        runPaths: runPath.isEmpty ? [] : runPath.split(separator: ":", omittingEmptySubsequences: false).map(String.init),
                        hasTLS: hasTLS, noDelete: flags1 & Self.df1NoDelete != 0)
    }

    /// The number of dynamic symbols in an object with only a GNU hash table: one past the
    /// highest symbol any bucket's chain reaches.
    func gnuHashSymbolCount(_ at: Int) throws -> Int {
        let bucketCount = Int(try u32(at))
        let symbolOffset = Int(try u32(at + 4))
        let bloomSize = Int(try u32(at + 8))
        guard bucketCount <= Self.maximumSymbols, bloomSize <= Self.maximumSymbols else { throw ELFError("GNU hash table too large") }
        let buckets = at + 16 + bloomSize * 8
        let chains = buckets + bucketCount * 4
        var highest = 0
        for b in 0..<bucketCount { highest = max(highest, Int(try u32(buckets + b * 4))) }
        guard highest >= symbolOffset else { return symbolOffset }
        var index = highest
        while true {
            guard index - symbolOffset < Self.maximumSymbols else { throw ELFError("GNU hash chain too long") }
            let value = try u32(chains + (index - symbolOffset) * 4)
            if value & 1 != 0 { break }
            index += 1
        }
        return index + 1
    }
}
