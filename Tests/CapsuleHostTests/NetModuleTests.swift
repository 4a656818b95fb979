@testable import CapsuleHost
@testable import CapsuleSystem
import Foundation
import Testing

/// The `net` module on loopback: grants by host as written and port, the audit records,
/// handles closed by the GC, and the VM's deadline over a blocking call.
@Suite struct NetModuleTests {
    let prelude = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\nimport \"net\"\n"

    @Test func echoRoundTripOverLoopbackWithPortGrants() {
        let out = run(prelude + """
            let server = net.listen("127.0.0.1", 0)
            let c = net.connect("127.0.0.1", net.port(server))
            let s = net.accept(server)
            net.write(c, bytes([1, 2, 3]))
            net.write(s, "back\\n")
            print(net.read(s, 3), net.read_line(c))
            t(fn() { return net.connect("127.0.0.1", 1) })
            t(fn() { return net.listen("127.0.0.1", 1) })
            """, policy: Policy(grants: [Capability(.netListen, "127.0.0.1:0"), Capability(.netConnect, "127.0.0.1")]))
        #expect(out == """
            b"\\x01\\x02\\x03" back
            net.connect: 127.0.0.1:1: Connection refused
            denied: net.listen 127.0.0.1:1 (grant with --allow-net=127.0.0.1:1)\n
            """)
    }

    @Test func ipv6AddressesMatchGrantsInCanonicalForm() throws {
        let v6 = try Capability.parse("net.connect:[::1]", baseDirectory: "/").get()
        let out = run(prelude + """
            t(fn() { return net.connect("0:0::1", 1) })
            t(fn() { return net.connect("::2", 1) })
            """, policy: Policy(grants: [v6]))
        // Allowed (then refused by the kernel, or unreachable where IPv6 is off), then denied.
        let lines = out.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("net.connect: [::1]:1: "))
        #expect(lines[1] == "denied: net.connect [::2]:1 (grant with '--allow-net=[::2]:1')")   // quoted: [] are shell glob characters
    }

    @Test func auditRecordsConnectAndListenWithTheirPorts() {
        let lines = OutputCapture()
        _ = run(prelude + """
            let server = net.listen("127.0.0.1", 0)
            net.connect("127.0.0.1", net.port(server))
            t(fn() { return net.connect("localhost", 7) })
            """, policy: Policy(grants: [Capability(.netListen), Capability(.netConnect, "127.0.0.1")]),
            audit: AuditLog { lines.append($0) })
        let records = lines.text.split(separator: "\n").map { String($0.drop(while: { $0 != "," }).dropFirst()) }
        #expect(records.count == 3)
        #expect(records[0] == #""who":"script","capability":"net.listen","resource":"127.0.0.1:0","allowed":true}"#)
        #expect(records[1].hasPrefix(#""who":"script","capability":"net.connect","resource":"127.0.0.1:"#))
        #expect(records[1].hasSuffix(#","allowed":true}"#))
        #expect(records[2] == #""who":"script","capability":"net.connect","resource":"localhost:7","allowed":false}"#)
    }

    @Test func droppedHandlesAreClosedByTheCollector() {
        // The port is free again only once the dropped listener's socket was closed.
        let out = run(prelude + """
            let port = net.port(net.listen("127.0.0.1", 0))
            t(fn() { return net.port(net.listen("127.0.0.1", port)) == port })
            gc()
            t(fn() { return net.port(net.listen("127.0.0.1", port)) == port })
            """, policy: Policy(grants: [Capability(.netListen)]))
        #expect(out.hasPrefix("net.listen: 127.0.0.1:"))
        #expect(out.hasSuffix(": Address already in use\ntrue\n"))
    }

    @Test func theVMsTimeoutEndsABlockingAccept() {
        var configuration = Configuration()
        configuration.policy = Policy(grants: [Capability(.netListen)])
        configuration.timeout = .milliseconds(200)
        configuration.output = { _ in }
        let vm = VM(configuration: configuration)
        PluginHost(environment: [:]).install(on: vm)
        let start = Date()
        let outcome = vm.run(source: prelude + """
            let server = net.listen("127.0.0.1", 0)
            net.set_timeout(server, nil)
            try { net.accept(server) } catch e { print(e.message) }
            """, name: "t.cap")
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(outcome.errorText.hasPrefix("error: timeout of 200ms exceeded"))
    }

    @Test func worksUnderGCStress() {
        let out = run(prelude + """
            let server = net.listen("127.0.0.1", 0)
            let c = net.connect("127.0.0.1", net.port(server))
            let s = net.accept(server)
            for i in 0..20 { net.write(c, "line ${i}\\n") }
            let got = []
            for i in 0..20 { got.push(net.read_line(s)) }
            print(len(got), got[19])
            """, gcStress: true, policy: Policy(grants: [Capability(.netListen), Capability(.netConnect)]))
        #expect(out == "20 line 19\n")
    }
}
