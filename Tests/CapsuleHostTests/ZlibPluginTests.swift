@testable import CapsuleHost
import Foundation
import Testing

/// The bundled zlib plugin (libcapsule_zlib.so, next to the test binary): checksums,
/// one-shot and streaming round trips, and its errors.
@Suite struct ZlibPluginTests {
    @Test func loadsWithEveryExport() throws {
        let plugin = try PluginLoader.load(path: Paths.buildDirectory + "/libcapsule_zlib.so").get()
        #expect(plugin.manifest.name == "zlib")
        #expect(plugin.manifest.exports.map(\.name) == [
            "crc32", "adler32", "compress", "decompress", "deflate_new", "deflate_write",
            "deflate_finish", "inflate_new", "inflate_write", "inflate_done", "inflate_finish",
        ])
    }

    /// zlib keeps a plain `_Thread_local` scratch buffer: that must not pin the library, so a
    /// reload unmaps the version it replaced (it once leaked one mapped copy per reload).
    @Test func reloadsUnmapTheVersionsTheyReplace() throws {
        // A registry of its own, so the versions are this test's alone (other tests load
        // and reload zlib in the shared one at the same time).
        let vm = VM()
        let host = PluginHost(pluginPaths: [Paths.buildDirectory], registry: PluginRegistry())
        host.install(on: vm)
        #expect(vm.evaluate(#"import "zlib""#) == .success(.nil))
        var copies = [try #require(host.bridges["zlib"].flatMap { ReloadFixture.copyPath(of: $0.plugin) })]
        for _ in 0..<5 {
            let reload = try host.reload(module: "zlib").get()
            copies.append(try #require(ReloadFixture.copyPath(of: reload.new)))
        }
        #expect(vm.evaluate(#"zlib.crc32("hello")"#) == .success(.int(907060870)))
        let current = copies.removeLast()
        #expect(ReloadFixture.isMapped(current))
        #expect(copies.filter(ReloadFixture.isMapped).isEmpty, "replaced zlib versions still mapped: \(copies.filter(ReloadFixture.isMapped))")
    }

    @Test func checksumsOfKnownVectors() {
        // python3: zlib.crc32(b"hello"), zlib.adler32(b"hello"), and of b"".
        let output = run("""
            import "zlib"
            print(zlib.crc32("hello"), zlib.adler32("hello"))
            print(zlib.crc32(bytes("hello")), zlib.crc32(""), zlib.adler32(""))
            print(zlib.crc32("The quick brown fox jumps over the lazy dog"))
            """)
        #expect(output == "907060870 103547413\n907060870 0 1\n1095738169\n")
    }

    @Test(arguments: [false, true])
    func roundTripsEmptySmallAndOneMegabyte(gcStress: Bool) {
        let output = run("""
            import "zlib"
            for text in ["", "a", "hello hello hello hello"] {
                for level in [-1, 0, 1, 9] {
                    let z = zlib.compress(text, level)
                    if zlib.decompress(z, len(text)).decode() != text { print("mismatch", text, level) }
                }
            }
            print(zlib.compress("hello hello hello hello", 9).hex())
            var block = bytes(4096)
            var x = 7
            for i in 0..4096 {
                x = (x * 1103515245 + 12345) % 2147483648
                block[i] = x % 256
            }
            var big = block
            for i in 0..8 { big = big + big }
            let z = zlib.compress(big, 6)
            let back = zlib.decompress(z, 1048576)
            print(len(big), len(back), back == big)
            """, gcStress: gcStress)
        // python3: zlib.compress(b"hello hello hello hello", 9).hex()
        #expect(output == "78dacb48cdc9c957c8402701680308b1\n1048576 1048576 true\n")
    }

    @Test func streamingMatchesOneShot() {
        let output = run("""
            import "zlib"
            let text = "streaming ".repeat(5000)
            let d = zlib.deflate_new(-1)
            var out = bytes("")
            var at = 0
            while at < len(text) {
                out = out + zlib.deflate_write(d, text[at:at + 777])
                at = at + 777
            }
            out = out + zlib.deflate_finish(d)
            print(zlib.decompress(out, len(text)).decode() == text)
            let i = zlib.inflate_new(len(text))
            var back = bytes("")
            at = 0
            while at < len(out) {
                back = back + zlib.inflate_write(i, out[at:at + 10])
                at = at + 10
            }
            print(zlib.inflate_done(i), back.decode() == text)
            zlib.inflate_finish(i)
            try { zlib.inflate_write(i, out) } catch e { print(e.message) }
            """)
        #expect(output == "true\ntrue true\nzlib.inflate_write: argument 1: expected handle<zlib.Inflater>, got a closed handle<zlib.Inflater>\n")
    }

    @Test(arguments: [
        ("zlib.decompress(bytes([120, 156, 1, 5, 0, 0, 0]), 10)", "zlib.decompress: corrupt input (invalid stored block lengths)"),
        (#"zlib.decompress("not zlib data", 10)"#, "zlib.decompress: corrupt input (incorrect header check)"),
        (#"zlib.decompress(zlib.compress("hello", 6)[0:6], 10)"#, "zlib.decompress: corrupt input (truncated stream)"),
        (#"zlib.decompress("", 10)"#, "zlib.decompress: corrupt input (truncated stream)"),
        (#"zlib.decompress(zlib.compress("hello", 6) + bytes("!"), 10)"#, "zlib.decompress: corrupt input (data after the end of the stream)"),
        (#"zlib.decompress(zlib.compress("hello", 6), 4)"#, "zlib.decompress: output larger than the limit of 4 bytes"),
        (#"zlib.decompress(zlib.compress("x".repeat(100000), 9), 99999)"#, "zlib.decompress: output larger than the limit of 99999 bytes"),
        (#"zlib.decompress("x", -1)"#, "zlib.decompress: argument 2: expected u64 (0 to 9223372036854775807), got -1"),
        (#"zlib.compress("x", 10)"#, "zlib.compress: level must be -1 to 9, got 10"),
        ("zlib.deflate_new(-2)", "zlib.deflate_new: level must be -1 to 9, got -2"),
        (#"zlib.inflate_write(zlib.inflate_new(3), zlib.compress("hello", 6))"#, "zlib.inflate_write: output larger than the limit of 3 bytes"),
        (#"zlib.inflate_finish(zlib.inflate_new(3))"#, "zlib.inflate_finish: corrupt input (truncated stream)"),
        ("zlib.crc32(5)", "zlib.crc32: argument 1: expected bytes (or a string), got int"),
    ])
    func errorsAreCatchable(_ call: String, _ message: String) {
        let output = run("""
            import "zlib"
            try { \(call) } catch e { print(e.message) }
            print(zlib.decompress(zlib.compress("ok", 6), 2).decode())
            """)
        #expect(output == message + "\nok\n")
    }
}
