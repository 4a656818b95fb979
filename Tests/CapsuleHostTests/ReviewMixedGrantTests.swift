@testable import CapsuleHost
@testable import CapsuleSystem
import Foundation
import Testing

/// An open that needs both `fs.read` and `fs.write` (`fs.open(p, "r+")`, `host->open_file`
/// with O_RDWR) is confined beneath both grants: opened beneath the write grant, and the
/// same file must be what the read grant reaches. A wider read grant never lends its reach
/// (`..`, a granted symlink, the hard-link exemption of a grant of `/`) to writing.
@Suite struct ReviewMixedGrantTests {
    /// The advice for writing outside.txt through `..` or a symlink: its resolved path.
    private static func writeAdvice(_ s: Sandbox) -> String {
        "(it resolves to \(s.outside): grant with --allow-write=\(s.outside))"
    }

    private static func pluginWriteAdvice(_ s: Sandbox) -> String {
        "(it resolves to \(s.outside): grant with --allow-plugin=host_services=fs.write:\(s.outside) or under \"plugins\" in capsule.json)"
    }

    private static func hardLink(_ s: Sandbox) {
        #expect(link(s.outside, s.granted + "/hard") == 0)
    }

    /// r+ through `..`, an absolute symlink and a hard link, with read granted on the parent,
    /// on the symlink itself, and on the whole filesystem.
    @Test func readWriteOpenNeverWritesOutsideTheWriteGrant() throws {
        for readGrant in ["root", "link", "/"] {
            let s = Sandbox()
            s.symlink("link", to: s.outside)
            Self.hardLink(s)
            let read = readGrant == "root" ? s.root : readGrant == "link" ? s.granted + "/link" : "/"
            let grants = [Capability(.fsRead, read), Capability(.fsWrite, s.granted)]
            let out = s.run("""
                t(fn() { let f = fs.open("\(s.granted)/../outside.txt", "r+"); fs.write_chunk(f, "PWNED"); fs.close(f); return "wrote" })
                t(fn() { let f = fs.open("\(s.granted)/link", "r+"); fs.write_chunk(f, "PWNED"); fs.close(f); return "wrote" })
                t(fn() { let f = fs.open("\(s.granted)/hard", "r+"); fs.write_chunk(f, "PWNED"); fs.close(f); return "wrote" })
                """, grants: grants)
            #expect(try String(contentsOfFile: s.outside, encoding: .utf8) == "SECRET\n", "read grant \(readGrant)")
            let lines = out.split(separator: "\n").map(String.init)
            #expect(lines.count == 3 && lines.allSatisfy { $0.hasPrefix("denied: fs.") }, "\(out)")
            #expect(lines.count == 3 && lines[1] == "denied: fs.write \(s.granted)/link \(Self.writeAdvice(s))", "\(out)")
            if readGrant != "link" {
                #expect(lines == [
                    "denied: fs.write \(s.granted)/../outside.txt \(Self.writeAdvice(s))",
                    "denied: fs.write \(s.granted)/link \(Self.writeAdvice(s))",
                    "denied: fs.write \(s.granted)/hard (the file has 2 hard links, and the others may be outside the grant)",
                ], "\(out)")
            }
        }
    }

    /// Writing granted on the whole filesystem, reading only on a directory: the read grant
    /// confines too (`..`, symlinks and hard links out of it are refused).
    @Test func readWriteOpenIsAlsoConfinedBeneathTheReadGrant() throws {
        let s = Sandbox()
        s.symlink("link", to: s.outside)
        Self.hardLink(s)
        let grants = [Capability(.fsRead, s.granted), Capability(.fsWrite)]
        let out = s.run("""
            t(fn() { let f = fs.open("\(s.granted)/../outside.txt", "r+"); fs.close(f); return "opened" })
            t(fn() { let f = fs.open("\(s.granted)/link", "r+"); fs.close(f); return "opened" })
            t(fn() { let f = fs.open("\(s.granted)/hard", "r+"); fs.close(f); return "opened" })
            t(fn() { let f = fs.open("\(s.granted)/inside.txt", "r+"); fs.write_chunk(f, "IN"); fs.close(f); return fs.read("\(s.granted)/inside.txt") })
            """, grants: grants)
        #expect(out == """
            denied: fs.read \(s.granted)/../outside.txt (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            denied: fs.read \(s.granted)/link (it resolves to \(s.outside): grant with --allow-read=\(s.outside))
            denied: fs.read \(s.granted)/hard (the file has 2 hard links, and the others may be outside the grant)
            INside\n\n
            """)
    }

    /// The same rule for a trusted (in-process) plugin's `host->open_file(path, O_RDWR)`.
    @Test func pluginReadWriteOpenIsConfinedBeneathBothGrants() throws {
        let s = Sandbox()
        s.symlink("link", to: s.outside)
        Self.hardLink(s)
        let source = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\nimport \"host_services\"\n" + """
            t(fn() { return host_services.update_text("\(s.granted)/../outside.txt", "PWNED") })
            t(fn() { return host_services.update_text("\(s.granted)/link", "PWNED") })
            t(fn() { return host_services.update_text("\(s.granted)/hard", "PWNED") })
            t(fn() { return host_services.update_text("\(s.granted)/inside.txt", "IN") })
            """
        let out = run(source, pluginPaths: [Fixtures.directory],
                      policy: Policy(plugins: ["host_services": [Capability(.fsRead, "/"), Capability(.fsWrite, s.granted)]]))
        #expect(try String(contentsOfFile: s.outside, encoding: .utf8) == "SECRET\n")
        #expect(out == """
            host_services.update_text: plugin:host_services: denied: fs.write \(s.granted)/../outside.txt \(Self.pluginWriteAdvice(s))
            host_services.update_text: plugin:host_services: denied: fs.write \(s.granted)/link \(Self.pluginWriteAdvice(s))
            host_services.update_text: plugin:host_services: denied: fs.write \(s.granted)/hard (the file has 2 hard links, and the others may be outside the grant)
            2\n
            """)
        #expect(try String(contentsOfFile: s.granted + "/inside.txt", encoding: .utf8) == "INside\n")
    }

    /// An isolated plugin's `open_file` applies the hard-link rule on the descriptor
    /// (Landlock cannot see links): refused unless a grant is the file itself; O_TRUNC only
    /// after the check, so a refused write truncates nothing.
    @Test func isolatedPluginOpenFileRefusesHardLinksOutOfItsGrant() throws {
        let s = Sandbox()
        Self.hardLink(s)
        let source = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\nimport \"host_services\"\n" + """
            t(fn() { return host_services.read_head("\(s.granted)/hard") })
            t(fn() { return host_services.write_text("\(s.granted)/hard", "PWNED") })
            t(fn() { return host_services.read_head("\(s.granted)/inside.txt") })
            """
        let out = run(source, pluginPaths: [Fixtures.directory],
                      policy: Policy(plugins: ["host_services": [Capability(.fsRead, s.granted), Capability(.fsWrite, s.granted)]]),
                      isolation: .plugins(["host_services"]))
        #expect(try String(contentsOfFile: s.outside, encoding: .utf8) == "SECRET\n")
        #expect(out == """
            host_services.read_head: open_file('\(s.granted)/hard') denied: the file has 2 hard links, and the others may be outside the grant
            host_services.write_text: open_file('\(s.granted)/hard') denied: the file has 2 hard links, and the others may be outside the grant
            inside\n\n
            """)
        // A grant of the linked file itself covers it.
        let own = run(source, pluginPaths: [Fixtures.directory],
                      policy: Policy(plugins: ["host_services": [Capability(.fsRead, s.granted + "/hard")]]),
                      isolation: .plugins(["host_services"]))
        #expect(own.hasPrefix("SECRET\n\n"), "\(own)")
    }
}
