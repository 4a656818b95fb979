@testable import CapsuleHost
import CapsuleCore
import Testing

/// `sqlite.transaction(db, fn)`: COMMIT when fn returns, ROLLBACK and fn's error when it
/// raises; the host API's `call_failed` is how the C code tells.
@Suite struct SQLiteTransactionTests {
    static let setup = """
        import "sqlite"
        let db = sqlite.open(":memory:")
        sqlite.exec(db, "create table acct(id integer primary key, balance integer not null check (balance >= 0))")
        sqlite.exec(db, "insert into acct(balance) values (100), (0)")
        let move = sqlite.prepare(db, "update acct set balance = balance + ? where id = ?")
        fn balances() { return sqlite.query_lists(db, "select balance from acct order by id", nil) }

        """

    /// Runs `source` with sqlite trusted: `transaction` takes a callback, which only the
    /// in-process bridge carries.
    func run(_ source: String, gcStress: Bool = false) -> String {
        CapsuleHostTests.run(source, gcStress: gcStress, policy: Policy(trusted: ["sqlite"]))
    }

    @Test(arguments: [false, true])
    func commitsWhenTheFunctionReturns(gcStress: Bool) {
        #expect(run(Self.setup + """
            print(sqlite.transaction(db, fn() {
                sqlite.run(move, [-30, 1])
                sqlite.run(move, [30, 2])
                print("inside", sqlite.in_transaction(db))
            }))
            print(balances(), sqlite.in_transaction(db))
            """, gcStress: gcStress) == "inside true\nnil\n[[70], [30]] false\n")
    }

    @Test(arguments: [false, true])
    func rollsBackAndRethrowsWhenTheFunctionRaises(gcStress: Bool) {
        #expect(run(Self.setup + """
            try {
                sqlite.transaction(db, fn() {
                    sqlite.run(move, [-30, 1])
                    throw Error("insufficient funds")
                })
            } catch e { print("caught:", e.message) }
            print(balances(), sqlite.in_transaction(db))
            try {
                sqlite.transaction(db, fn() {
                    sqlite.run(move, [50, 2])
                    sqlite.run(move, [-500, 1])
                })
            } catch e { print("caught:", e.message) }
            print(balances(), sqlite.in_transaction(db))
            sqlite.transaction(db, fn() { sqlite.run(move, [1, 2]) })
            print(balances())
            """, gcStress: gcStress) == """
            caught: insufficient funds
            [[100], [0]] false
            caught: sqlite.run: CHECK constraint failed: balance >= 0
            [[100], [0]] false
            [[100], [1]]

            """)
    }

    @Test func anUncaughtErrorInsideEndsTheScriptWithIt() {
        #expect(run(Self.setup + """
            sqlite.transaction(db, fn() { sqlite.run(move, [-1, 1]); let x = nope })
            """) == "ERROR: test.cap:7:66: error: undefined variable 'nope'")
    }

    @Test func misuseIsAClearError() {
        #expect(run(Self.setup + """
            try { sqlite.transaction(db, 5) } catch e { print(e.message) }
            try { sqlite.transaction(db, nil) } catch e { print(e.message) }
            sqlite.begin(db)
            try { sqlite.transaction(db, fn() {}) } catch e { print(e.message) }
            sqlite.rollback(db)
            try { sqlite.transaction(db, fn() { sqlite.transaction(db, fn() {}) }) } catch e { print(e.message) }
            try { sqlite.transaction(db, fn() { sqlite.commit(db) }) } catch e { print(e.message) }
            try { sqlite.transaction(db, fn() { sqlite.close(db) }) } catch e { print(e.message) }
            """) == """
            sqlite.transaction: argument 2: expected callback<() -> void> (a function), got int
            sqlite.transaction: transaction needs a function, got nil
            sqlite.transaction: a transaction is already open (transaction() does not nest; use SAVEPOINT)
            sqlite.transaction: a transaction is already open (transaction() does not nest; use SAVEPOINT)
            sqlite.transaction: the transaction was ended inside transaction()'s function (by commit or rollback)
            sqlite.transaction: the database was closed inside the transaction

            """)
    }

    @Test func isolatedItIsRefusedCallByCallAndTheRestWorks() {
        // sqlite's default placement: isolated.
        #expect(CapsuleHostTests.run("""
            import "sqlite"
            let db = sqlite.open(":memory:")
            try { sqlite.transaction(db, fn() {}) } catch e { print(e.message) }
            print(sqlite.query_lists(db, "select 1 + 1", nil))
            """) == """
            sqlite.transaction: its signature (handle<Database>, callback<() -> void>) -> void cannot run isolated (structs, callbacks, variadics and errno capture are in-process only; trust the plugin to run it in-process: --trust=sqlite)
            [[2]]

            """)
    }
}
