@testable import CapsuleCommands
import Foundation
import Testing

/// `zone: "local"` in the `time` module, through the real `capsule` run with `TZ` set: the
/// golden cases run inside the test process, whose zone is whatever the machine's is.
/// Zones with fixed offsets (UTC, Asia/Kolkata +05:30) and one with summer time
/// (America/New_York, Europe/Berlin) when the system has tzdata; the test is skipped without it.
@Suite struct TimeZoneCLITests {
    static let script = """
        import "time"
        fn t(f) { try { print(f()) } catch e { print(e.message) } }
        let l = {zone: "local"}
        let p = time.parts(1709647629, l)
        print(p["hour"], p["minute"], p["offset"], p["zone"], p["dst"])
        print(time.iso(1709647629, l), time.format(1709647629, "%F %T %z %Z", l))
        print(time.iso(1720000000, l), time.parts(1720000000, l)["zone"], time.parts(1720000000, l)["dst"])
        t(fn() { return time.iso(time.parse("2024-03-10 02:30", "%F %R", l)) })
        t(fn() { return time.iso(time.parse_iso("2024-11-03T01:30", l), l) })
        t(fn() { return time.iso(time.from_parts({year: 2024, month: 7, day: 1, hour: 12}, l), l) })
        print(time.from_parts(p) == 1709647629, time.parse_iso(time.iso(1720000000, l)) == 1720000000)
        t(fn() { return time.format(time.from_parts({year: 2024, month: 3, day: 31, hour: 2, minute: 30}, l), "%F %T %Z", l) })
        """

    func run(zone: String) throws -> String {
        let dir = try ScratchDirectory()
        try dir.write("zone.cap", Self.script)
        let result = try capsule(["run", "--allow-clock", "zone.cap"], in: dir.path, environment: ["TZ": zone])
        #expect(result.err == "")
        #expect(result.status == 0)
        return result.out
    }

    static var hasTZData: Bool {
        ["Asia/Kolkata", "America/New_York", "Europe/Berlin"].allSatisfy {
            FileManager.default.fileExists(atPath: "/usr/share/zoneinfo/" + $0)
        }
    }

    @Test func utc() throws {
        #expect(try run(zone: "UTC") == """
            14 7 0 UTC false
            2024-03-05T14:07:09Z 2024-03-05 14:07:09 +0000 UTC
            2024-07-03T09:46:40Z UTC false
            2024-03-10T02:30:00Z
            2024-11-03T01:30:00Z
            2024-07-01T12:00:00Z
            true true
            2024-03-31 02:30:00 UTC

            """)
    }

    /// India's time, five and a half hours east with no summer time, whether written as a
    /// POSIX TZ string (no tzdata needed) or by its tzdata name.
    static let india = """
        19 37 19800 IST false
        2024-03-05T19:37:09+05:30 2024-03-05 19:37:09 +0530 IST
        2024-07-03T15:16:40+05:30 IST false
        2024-03-09T21:00:00Z
        2024-11-03T01:30:00+05:30
        2024-07-01T12:00:00+05:30
        true true
        2024-03-31 02:30:00 IST

        """

    @Test func posixOffsetWithoutTZData() throws {
        #expect(try run(zone: "IST-5:30") == Self.india)
    }

    @Test(.enabled(if: hasTZData)) func kolkata() throws {
        #expect(try run(zone: "Asia/Kolkata") == Self.india)
    }

    /// Summer time: EST in March, EDT in July; 02:30 on 2024-03-10 was skipped, 01:30 on
    /// 2024-11-03 happened twice (the earlier, EDT, is taken).
    @Test(.enabled(if: hasTZData)) func newYork() throws {
        #expect(try run(zone: "America/New_York") == """
            9 7 -18000 EST false
            2024-03-05T09:07:09-05:00 2024-03-05 09:07:09 -0500 EST
            2024-07-03T05:46:40-04:00 EDT true
            time.parse: 2024-03-10 02:30:00 does not exist in the local time zone (skipped by a daylight saving change)
            2024-11-03T01:30:00-04:00
            2024-07-01T12:00:00-04:00
            true true
            2024-03-31 02:30:00 EDT

            """)
    }

    /// `env.set("TZ", …)` (with its grant) switches the zone of the next call, for
    /// `parts` (localtime_r) as for `from_parts` (mktime).
    @Test func settingTZSwitchesTheLocalZone() throws {
        let dir = try ScratchDirectory()
        try dir.write("switch.cap", """
            import "time"
            import "env"
            let l = {zone: "local"}
            env.set("TZ", "IST-5:30")
            print(time.iso(0, l), time.from_parts({year: 1970, month: 1, day: 1, hour: 5, minute: 30}, l))
            env.set("TZ", "UTC0")
            print(time.iso(0, l), time.from_parts({year: 1970, month: 1, day: 1}, l))
            env.set("TZ", "EST+5")
            print(time.format(0, "%F %T %Z", l), time.from_parts({year: 1969, month: 12, day: 31, hour: 19}, l))
            """)
        let result = try capsule(["run", "--allow-clock", "--allow-env=TZ", "switch.cap"], in: dir.path, environment: ["TZ": "UTC"])
        #expect(result.err == "")
        #expect(result.out == """
            1970-01-01T05:30:00+05:30 0
            1970-01-01T00:00:00Z 0
            1969-12-31 19:00:00 EST 0

            """)
    }

    /// Central European summer time starts at 02:00 on the last Sunday of March: 02:30 on
    /// 2024-03-31 was skipped.
    @Test(.enabled(if: hasTZData)) func berlin() throws {
        #expect(try run(zone: "Europe/Berlin") == """
            15 7 3600 CET false
            2024-03-05T15:07:09+01:00 2024-03-05 15:07:09 +0100 CET
            2024-07-03T11:46:40+02:00 CEST true
            2024-03-10T01:30:00Z
            2024-11-03T01:30:00+01:00
            2024-07-01T12:00:00+02:00
            true true
            time.from_parts: 2024-03-31 02:30:00 does not exist in the local time zone (skipped by a daylight saving change)

            """)
    }
}
