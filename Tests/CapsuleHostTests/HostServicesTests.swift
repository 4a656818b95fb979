@testable import CapsuleHost
import Foundation
import Testing

/// The host API's `run_program` and `connect_tcp`, used by the host_services fixture plugin,
/// under the plugin's own grants (never the script's).
@Suite struct HostServicesTests {
    let prelude = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\nimport \"host_services\"\n"

    @Test func runProgramUnderThePluginsOwnRunGrants() {
        let source = prelude + """
            t(fn() { return host_services.run("/bin/sh", "-c") })
            t(fn() { return host_services.run("/bin/echo", "$GREETING") })
            t(fn() { return host_services.run("/usr/bin/env", "A=1") })
            t(fn() { return host_services.run("/nonexistent-capsule", "x") })
            """
        // The script's grant does not reach the plugin.
        let scriptOnly = run(source, pluginPaths: [Fixtures.directory], policy: Policy(grants: [Capability(.run)]))
        #expect(scriptOnly.split(separator: "\n").first == "host_services.run: plugin:host_services: denied: run /bin/sh (grant with --allow-plugin=host_services=run:/bin/sh or under \"plugins\" in capsule.json)")
        let own = run(source, pluginPaths: [Fixtures.directory], policy: Policy(plugins: ["host_services": [
            Capability(.run, "/bin/echo"), Capability(.run, "/usr/bin/env"), Capability(.run, "/nonexistent-capsule")]]))
        #expect(own == """
            host_services.run: plugin:host_services: denied: run /bin/sh (grant with --allow-plugin=host_services=run:/bin/sh or under "plugins" in capsule.json)
            0|$GREETING
            |
            0|GREETING=hello
            A=1
            |
            host_services.run: run_program: cannot run /nonexistent-capsule: No such file or directory\n
            """)
    }

    @Test func connectTCPUnderThePluginsOwnNetGrants() {
        let source = prelude + """
            import "net"
            let server = net.listen("127.0.0.1", 0)
            let port = net.port(server)
            net.set_timeout(server, 0.2)
            t(fn() { return host_services.send_text("127.0.0.1", port, "from C\\n") })
            t(fn() { return net.read_line(net.accept(server)) })
            t(fn() { return host_services.send_text("localhost", port, "x").replace(str(port), "P") })
            t(fn() { return host_services.send_text("::1]", port, "x") })
            """
        let scriptOnly = run(source, pluginPaths: [Fixtures.directory],
                             policy: Policy(grants: [Capability(.netListen), Capability(.netConnect)]))
        #expect(scriptOnly.hasPrefix("host_services.send_text: plugin:host_services: denied: net.connect 127.0.0.1:"))
        #expect(scriptOnly.contains("\nnet.accept: timed out after 0.2s\n"))
        let own = run(source, pluginPaths: [Fixtures.directory],
                      policy: Policy(grants: [Capability(.netListen)], plugins: ["host_services": [Capability(.netConnect, "127.0.0.1")]]))
        let lines = own.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5)
        #expect(lines[0] == "7")
        #expect(lines[1] == "from C")
        #expect(lines[2].hasPrefix("host_services.send_text: plugin:host_services: denied: net.connect localhost:"))
        #expect(lines[3] == "host_services.send_text: connect_tcp: '::1]' is not a host name or address (write IPv6 addresses without brackets)")
    }

    @Test func anIsolatedPluginIsRefusedBothServices() {
        let out = run(prelude + """
            t(fn() { return host_services.run("/bin/echo", "x") })
            t(fn() { return host_services.send_text("127.0.0.1", 9, "x") })
            """, pluginPaths: [Fixtures.directory], policy: .all, isolation: .plugins(["host_services"]))
        #expect(out == """
            host_services.run: run_program is not available to an isolated plugin
            host_services.send_text: connect_tcp is not available to an isolated plugin\n
            """)
    }
}
