@testable import CapsuleHost
import Foundation
import Testing

/// The bundled SQLite plugin (libcapsule_sqlite.so, next to the test binary): value round
/// trips, parameters, rows as maps and lists, transactions, errors, and handles finalised by
/// the GC. It declares optional fs capabilities, so it runs isolated by default: these tests
/// trust it (in-process) unless they say otherwise.
@Suite struct SQLitePluginTests {
    /// Runs `source` with sqlite trusted (in-process), or, given `directory`, isolated (its
    /// default) with reading and writing `directory` granted to it.
    func run(_ source: String, gcStress: Bool = false, isolatedIn directory: String? = nil) -> String {
        let policy = directory.map { Policy(plugins: ["sqlite": [Capability(.fsRead, $0), Capability(.fsWrite, $0)]]) }
            ?? Policy(trusted: ["sqlite"])
        return CapsuleHostTests.run(source, gcStress: gcStress, policy: policy)
    }

    /// A new empty directory for database files.
    func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-sqlite-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func loadsWithEveryExport() throws {
        // In-process only when trusted: the import audit classifies none of its sqlite3_* imports.
        let plugin = try PluginLoader.load(path: Paths.buildDirectory + "/libcapsule_sqlite.so", policy: Policy(trusted: ["sqlite"])).get()
        #expect(plugin.manifest.name == "sqlite")
        #expect(plugin.manifest.exports.map(\.name) == [
            "version", "open", "close", "exec", "query", "query_lists", "prepare", "run", "all",
            "all_lists", "bind", "step", "step_list", "reset", "columns", "sql", "finalize", "begin",
            "commit", "rollback", "transaction", "in_transaction", "changes", "last_insert_rowid", "busy_timeout",
        ])
        #expect(plugin.manifest.handleTypes.map(\.name) == ["Database", "Statement"])
    }

    @Test(arguments: [false, true])
    func valuesRoundTrip(gcStress: Bool) {
        let output = run(#"""
            import "sqlite"
            let db = sqlite.open(":memory:")
            sqlite.exec(db, "create table t(v)")
            let ins = sqlite.prepare(db, "insert into t(v) values (?)")
            let values = [nil, -9223372036854775808, 9223372036854775807, 0, 1.5, -2.25e-300, 1e300, 0.1,
                          1.0 / 0.0, "héllo ✓ 😀", "", "a\0b", bytes([0, 1, 255]), bytes(""), true, false]
            for v in values { sqlite.run(ins, [v]) }
            let rows = sqlite.query_lists(db, "select v, typeof(v) from t order by rowid", nil)
            for r in rows { print(r) }
            var same = 0
            for i in 0..len(values) {
                if rows[i][0] == values[i] { same = same + 1 }
            }
            print(same)
            // Read back through an equality on the bound value.
            for v in [-9223372036854775808, 9223372036854775807, 0.1, "héllo ✓ 😀", bytes([0, 1, 255])] {
                print(sqlite.query(db, "select count(*) as n from t where v = ?", [v])[0]["n"])
            }
            """#, gcStress: gcStress)
        #expect(output == #"""
            [nil, "null"]
            [-9223372036854775808, "integer"]
            [9223372036854775807, "integer"]
            [0, "integer"]
            [1.5, "real"]
            [-2.25e-300, "real"]
            [1e+300, "real"]
            [0.1, "real"]
            [inf, "real"]
            ["héllo ✓ 😀", "text"]
            ["", "text"]
            ["a\0b", "text"]
            [b"\x00\x01\xff", "blob"]
            [b"", "blob"]
            [1, "integer"]
            [0, "integer"]
            14
            1
            1
            1
            1
            1

            """#)
        // 14 of 16 compare equal: true and false come back as 1 and 0.
    }

    @Test func positionalAndNamedParameters() {
        let output = run("""
            import "sqlite"
            let db = sqlite.open(":memory:")
            sqlite.exec(db, "create table p(a, b, c)")
            sqlite.run(sqlite.prepare(db, "insert into p values (?, ?, ?)"), [1, "two", 3.0])
            sqlite.run(sqlite.prepare(db, "insert into p values (?3, ?1, ?2)"), ["x", "y", "z"])
            let named = sqlite.prepare(db, "insert into p values (:a, @b, $c)")
            sqlite.run(named, {"a": 4, "b": "five", "c": nil})
            sqlite.run(named, {":a": 6, "@b": "seven", "$c": bytes("8")})
            print(sqlite.query_lists(db, "select * from p", nil))
            print(sqlite.query(db, "select b from p where a = :a or a = :a", {"a": 6}))
            """)
        #expect(output == """
            [[1, "two", 3.0], ["z", "x", "y"], [4, "five", nil], [6, "seven", b"8"]]
            [{"b": "seven"}]

            """)
    }

    @Test(arguments: [false, true])
    func rowsAsMapsAndLists(gcStress: Bool) {
        let output = run("""
            import "sqlite"
            let db = sqlite.open(":memory:")
            sqlite.exec(db, "create table t(id integer primary key, name text, score real); " +
                "insert into t(name, score) values ('ann', 1.5), ('bob', 2.5), ('cy', null)")
            print(sqlite.query(db, "select * from t where id > ?", [1]))
            print(sqlite.query_lists(db, "select name, score from t order by id desc", nil))
            let st = sqlite.prepare(db, "select id, name from t where score is not null order by id")
            print(sqlite.columns(st), sqlite.sql(st))
            print(sqlite.all(st, nil))
            print(sqlite.all_lists(st, []))
            print(sqlite.step(st), sqlite.step_list(st), sqlite.step(st))
            print(sqlite.step(st))
            sqlite.reset(st)
            print(sqlite.step_list(st))
            let one = sqlite.prepare(db, "select name from t where id = ?")
            sqlite.bind(one, [3])
            print(sqlite.step(one), sqlite.step(one))
            print(sqlite.query(db, "select 1 as a, 2 as a", nil), sqlite.query_lists(db, "select 1 as a, 2 as a", nil))
            print(sqlite.query(db, "select * from t where id > 99", nil))
            var many = 0
            for row in sqlite.query(db, "with recursive n(i) as (select 1 union all select i + 1 from n where i < \(gcStress ? 300 : 3000)) select i, 'r' || i as s from n", nil) {
                many = many + row["i"]
            }
            print(many)
            """, gcStress: gcStress)
        #expect(output == """
            [{"id": 2, "name": "bob", "score": 2.5}, {"id": 3, "name": "cy", "score": nil}]
            [["cy", nil], ["bob", 2.5], ["ann", 1.5]]
            ["id", "name"] select id, name from t where score is not null order by id
            [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]
            [[1, "ann"], [2, "bob"]]
            {"id": 1, "name": "ann"} [2, "bob"] nil
            {"id": 1, "name": "ann"}
            [1, "ann"]
            {"name": "cy"} nil
            [{"a": 2}] [[1, 2]]
            []
            \(gcStress ? 45150 : 4501500)

            """)
    }

    @Test func transactionsCommitAndRollBack() {
        let output = run("""
            import "sqlite"
            let db = sqlite.open(":memory:")
            sqlite.exec(db, "create table t(x)")
            sqlite.begin(db)
            print(sqlite.in_transaction(db))
            sqlite.query(db, "insert into t values (?)", [1])
            sqlite.rollback(db)
            print(sqlite.in_transaction(db), sqlite.query_lists(db, "select x from t", nil))
            sqlite.begin(db)
            sqlite.query(db, "insert into t values (?)", [2])
            sqlite.commit(db)
            print(sqlite.query_lists(db, "select x from t", nil))
            // The transaction helper from docs/sqlite.md: an error rolls back and propagates.
            fn transaction(db, body) {
                sqlite.begin(db)
                try {
                    body()
                    sqlite.commit(db)
                } catch e {
                    sqlite.rollback(db)
                    throw e
                }
            }
            try {
                transaction(db, fn() {
                    sqlite.exec(db, "insert into t values (3)")
                    sqlite.exec(db, "insert into nope values (4)")
                })
            } catch e { print(e.message) }
            transaction(db, fn() { sqlite.exec(db, "insert into t values (5)") })
            print(sqlite.query_lists(db, "select x from t", nil), sqlite.in_transaction(db))
            """)
        #expect(output == """
            true
            false []
            [[2]]
            sqlite.exec: no such table: nope
            [[2], [5]] false

            """)
    }

    @Test(arguments: [
        (#"sqlite.exec(db, "selec 1")"#, #"sqlite.exec: near "selec": syntax error"#),
        (#"sqlite.query(db, "select * from nope", nil)"#, "sqlite.query: no such table: nope"),
        (#"sqlite.prepare(db, "select 1; select 2")"#, "sqlite.prepare: the text holds more than one SQL statement (use exec for several)"),
        (#"sqlite.prepare(db, " -- nothing")"#, "sqlite.prepare: no SQL statement in the text"),
        (#"sqlite.query(db, "insert into u values (?)", ["a"])"#, "sqlite.query: UNIQUE constraint failed: u.x"),
        (#"sqlite.run(sqlite.prepare(db, "insert into u values (?)"), [nil])"#, "sqlite.run: NOT NULL constraint failed: u.x"),
        (#"sqlite.query(db, "select ?", [[1]])"#, "sqlite.query: cannot bind a list to parameter 1 (bind nil, bool, int, float, string or bytes)"),
        (#"sqlite.query(db, "select :a", {"a": {}})"#, "sqlite.query: cannot bind a map to parameter :a (bind nil, bool, int, float, string or bytes)"),
        (#"sqlite.query(db, "select ?", [db])"#, "sqlite.query: cannot bind a handle to parameter 1 (bind nil, bool, int, float, string or bytes)"),
        (#"sqlite.query(db, "select ?, ?", [1])"#, "sqlite.query: the statement has 2 parameters, but 1 was given"),
        (#"sqlite.query(db, "select ?", [1, 2])"#, "sqlite.query: the statement has 1 parameter, but 2 were given"),
        (#"sqlite.query(db, "select ?", nil)"#, "sqlite.query: the statement has 1 parameter, but none were given"),
        (#"sqlite.query(db, "select ?", 5)"#, "sqlite.query: parameters must be a list, a map or nil, got int"),
        (#"sqlite.query(db, "select :a", {})"#, "sqlite.query: no value for parameter :a"),
        (#"sqlite.query(db, "select :a", {"b": 1})"#, "sqlite.query: the statement has no parameter named 'b'"),
        (#"sqlite.query(db, "select :a", {"a": 1, ":a": 2})"#, "sqlite.query: parameter :a is given twice"),
        (#"sqlite.query(db, "select :a", {1: 2})"#, "sqlite.query: named parameters need string keys, got a key of type int"),
        (#"sqlite.query(db, "select ?", {})"#, "sqlite.query: parameter 1 is positional: pass the parameters as a list"),
        (#"sqlite.begin(db); sqlite.begin(db)"#, "sqlite.begin: cannot start a transaction within a transaction"),
        (#"sqlite.commit(db)"#, "sqlite.commit: cannot commit - no transaction is active"),
        (#"sqlite.run(db, nil)"#, "sqlite.run: argument 1: expected handle<sqlite.Statement>, got handle<sqlite.Database>"),
        (#"let s = sqlite.prepare(db, "select 1"); sqlite.finalize(s); sqlite.step(s)"#,
         "sqlite.step: argument 1: expected handle<sqlite.Statement>, got a closed handle<sqlite.Statement>"),
        (#"let d = sqlite.open(":memory:"); sqlite.close(d); sqlite.exec(d, "select 1")"#,
         "sqlite.exec: argument 1: expected handle<sqlite.Database>, got a closed handle<sqlite.Database>"),
        (#"let d = sqlite.open(":memory:"); let s = sqlite.prepare(d, "select 1"); sqlite.close(d); sqlite.all(s, nil)"#,
         "sqlite.all: the statement's database is closed"),
        (#"sqlite.open("/nonexistent/dir/x.db")"#, "sqlite.open: cannot open '/nonexistent/dir/x.db': unable to open database file"),
        (#"sqlite.query(db, "select cast(x'ff' as text)", nil)"#, "sqlite.query: host->new_string: the text is not valid UTF-8"),
    ])
    func errorsAreCatchable(_ call: String, _ message: String) {
        let output = run("""
            import "sqlite"
            let db = sqlite.open(":memory:")
            sqlite.exec(db, "create table u(x text unique not null); insert into u values ('a')")
            try { \(call) } catch e { print(e.message) }
            if sqlite.in_transaction(db) { sqlite.rollback(db) }
            print(sqlite.query_lists(db, "select x from u", nil))
            """)
        #expect(output == message + "\n[[\"a\"]]\n")
    }

    /// In-process and isolated (with the database's directory granted: the handles are the
    /// worker's, destroyed there when the script's proxies are collected).
    @Test(arguments: [false, true], [false, true])
    func unreachableHandlesAreFinalizedAndCloseTheDatabase(gcStress: Bool, isolated: Bool) {
        // A second connection can only write once the first one's locks are gone: its open
        // transaction (rolled back by closing) and its statement in the middle of a read.
        let directory = temporaryDirectory()
        let path = directory + "/gc.db"
        let output = run("""
            import "sqlite"
            let path = "\(path)"
            let other = sqlite.open(path)
            sqlite.exec(other, "create table t(x); insert into t values (1), (2)")
            fn writeWithoutCommitting() {
                let db = sqlite.open(path)
                sqlite.begin(db)
                sqlite.exec(db, "insert into t values (3)")
                sqlite.prepare(db, "select x from t")   // a statement collected with its database
            }
            fn tryWrite(x) {
                try { sqlite.query(other, "insert into t values (?)", [x]); return "wrote" } catch e { return e.message }
            }
            writeWithoutCommitting()
            print(tryWrite(4))
            gc()
            print(tryWrite(5))
            // A statement keeps its database open after the database handle is unreachable.
            fn reader() {
                let db = sqlite.open(path)
                let st = sqlite.prepare(db, "select x from t order by x")
                sqlite.step(st)                          // holds a read lock
                return st
            }
            var st = reader()
            gc()
            print(sqlite.step_list(st))
            print(tryWrite(6))
            st = nil
            gc()
            print(tryWrite(7))
            print(sqlite.query_lists(other, "select x from t order by x", nil))
            """, gcStress: gcStress, isolatedIn: isolated ? directory : nil)
        #expect(output == """
            sqlite.query: database is locked
            wrote
            [2]
            sqlite.query: database is locked
            wrote
            [[1], [2], [5], [7]]

            """)
    }

    @Test(arguments: [false, true])
    func manyDatabasesAndStatementsDieInOneCollection(gcStress: Bool) {
        let output = run("""
            import "sqlite"
            fn churn(i) {
                let db = sqlite.open(":memory:")
                sqlite.exec(db, "create table t(x)")
                let a = sqlite.prepare(db, "insert into t values (?)")
                let b = sqlite.prepare(db, "select count(*) from t")
                sqlite.run(a, [i])
                if i % 3 == 0 { sqlite.finalize(a) }
                if i % 5 == 0 { sqlite.close(db) }
                return [a, b]
            }
            var kept = []
            for i in 0..200 {
                let pair = churn(i)
                if i % 7 == 0 { kept.push(pair[1]) }
            }
            gc()
            var counts = 0
            for b in kept {
                try { counts = counts + sqlite.all_lists(b, nil)[0][0] } catch e { counts = counts + 100 }
            }
            kept = nil
            gc()
            print(counts)
            """, gcStress: gcStress)
        // 29 kept statements (i = 0, 7, …, 196); those of closed databases (i % 35 == 0: 6 of
        // them) fail, the rest count one row.
        #expect(output == "623\n")
    }

    /// Isolated by default, sqlite reaches exactly the files granted to it: Landlock refuses
    /// the others, although SQLite opens them itself.
    @Test func isolatedSqliteReachesOnlyItsGrants() throws {
        let granted = temporaryDirectory(), other = temporaryDirectory()
        defer { for d in [granted, other] { try? FileManager.default.removeItem(atPath: d) } }
        let source = """
            import "sqlite"
            let db = sqlite.open("\(granted)/app.db")
            sqlite.exec(db, "create table if not exists t(x); delete from t; insert into t values ('kept')")
            sqlite.close(db)
            print(sqlite.query_lists(sqlite.open("\(granted)/app.db"), "select x from t", nil))
            try { sqlite.open("\(other)/x.db") } catch e { print(e.message) }
            """
        var placement: Set<String> = []
        let isolated = CapsuleHostTests.run(source, policy: Policy(plugins: ["sqlite": [Capability(.fsRead, granted), Capability(.fsWrite, granted)]])) {
            placement = Set($0.isolated.keys)
        }
        #expect(isolated == "[[\"kept\"]]\nsqlite.open: plugin:sqlite: denied: fs.read \(other) (grant with --allow-plugin=sqlite=fs.read:\(other) or under \"plugins\" in capsule.json)\n")
        #expect(placement == ["sqlite"])
        #expect(!FileManager.default.fileExists(atPath: other + "/x.db"))
        // Trusted, it runs in-process and SQLite opens what the process can.
        #expect(run(source) == "[[\"kept\"]]\n")
        #expect(FileManager.default.fileExists(atPath: other + "/x.db"))
    }
}
