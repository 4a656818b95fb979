/*
 * sqlite — the bundled SQLite plugin, over the system SQLite (-lsqlite3).
 *
 *   import "sqlite"
 *   let db = sqlite.open(":memory:")                          // or a file path, or a file: URI
 *   sqlite.exec(db, "create table t(id integer primary key, name text, data blob)")
 *   let ins = sqlite.prepare(db, "insert into t(name, data) values (?, ?)")
 *   sqlite.run(ins, ["héllo", bytes([1, 2, 3])])             // positional parameters
 *   sqlite.query(db, "select * from t where name = :n", {"n": "héllo"})   // named; rows as maps
 *   sqlite.query_lists(db, "select id, name from t", nil)     // rows as lists
 *   sqlite.begin(db) … sqlite.commit(db) / sqlite.rollback(db)
 *   sqlite.transaction(db, fn() { … })                        // COMMIT, or ROLLBACK if fn raises
 *   sqlite.close(db)
 *
 * Parameters and rows are dynamic script values, so the exports use the signature type
 * `value` and build results with the host API's value functions (capsule.h, SCRIPT VALUES).
 *
 * Lifetimes. A Database handle and each Statement handle hold a reference to one shared
 * `connection`; the sqlite3 connection is closed when the last of them is destroyed, in
 * whatever order the GC destroys them (a statement keeps its database open). close(db)
 * closes at once: it finalizes the database's statements first (they then fail with "the
 * database is closed"), so sqlite3_close_v2 never leaves a zombie connection behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "capsule.h"

static const capsule_host_api *host;

static int sqlite_init(const capsule_host_api *api) {
    host = api;
    if (!CAPSULE_HOST_HAS(api, values_release)) {
        api->raise("this host has no value functions in its API (it is older than the plugin)");
        return 1;
    }
    return 0;
}

/* ---- connections and statements ---- */

typedef struct statement statement;

typedef struct {
    sqlite3 *db;            /* NULL once closed */
    statement *statements;  /* the live statements, finalized by close */
    size_t refs;            /* the Database handle, plus one per Statement handle */
} connection;

struct statement {
    sqlite3_stmt *stmt;     /* NULL once its database was closed */
    connection *conn;
    statement *prev, *next;
};

static void connection_release(connection *c) {
    if (--c->refs > 0) return;
    if (c->db) sqlite3_close_v2(c->db);
    free(c);
}

/* The Database handle's destructor: the connection stays open while statements use it. */
static void database_destroy(void *p) { connection_release(p); }

/* The Statement handle's destructor. */
static void statement_destroy(void *p) {
    statement *s = p;
    if (s->stmt) sqlite3_finalize(s->stmt);
    if (s->prev) s->prev->next = s->next; else s->conn->statements = s->next;
    if (s->next) s->next->prev = s->prev;
    connection_release(s->conn);
    free(s);
}

/* Raises SQLite's message for the connection's last error: "near \"x\": syntax error". */
static void raise_db(sqlite3 *db) { host->raise(sqlite3_errmsg(db)); }

static bool open_db(connection *c) {
    if (c->db) return true;
    host->raise("the database is closed");
    return false;
}

static bool usable(statement *s) {
    if (s->stmt) return true;
    host->raise("the statement's database is closed");
    return false;
}

/* ---- open, close, exec ---- */

/* The directory a database file lives in, into `out` (SQLite creates its journal beside the
 * file, so that is what it needs granted); 0 when `path` names no file of its own: ":memory:",
 * "" (a private temporary file) or a "file:" URI (whose rules SQLite applies). */
static int database_directory(const char *path, char *out, size_t size) {
    if (!path[0] || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) return 0;
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, size, ".");
    else if (slash == path) snprintf(out, size, "/");
    else snprintf(out, size, "%.*s", (int)(slash - path), path);
    return 1;
}

/* Asks the host about fs.read and fs.write on `directory` (host->check_capability: recorded
 * in the audit log, so `capsule policy suggest` grants them). With CAPSULE_CHECK_RAISE a
 * refusal fails the call saying denied and naming the --allow-plugin flag. 1 when both are
 * granted (or the host is too old to ask). */
static int directory_granted(const char *directory, int flags) {
    if (!CAPSULE_HOST_HAS(host, check_capability)) return 1;
    static const char *const kinds[] = {"fs.read:", "fs.write:"};
    int granted = 1;
    for (int i = 0; i < 2; i++) {
        char capability[4200];
        snprintf(capability, sizeof capability, "%s%s", kinds[i], directory);
        if (host->check_capability(capability, flags) != 1) {
            granted = 0;
            if (flags & CAPSULE_CHECK_RAISE) break;  /* the first denial fails the call */
        }
    }
    return granted;
}

static connection *sq_open(const char *path) {
    sqlite3 *db = NULL;
    char directory[4096];
    int is_file = database_directory(path, directory, sizeof directory);
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK) {
        char message[512];
        snprintf(message, sizeof message, "cannot open '%s': %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        /* In a directory that exists but is not granted (isolated: Landlock said no), the
         * check fails the call with the denial, naming the flag, instead of SQLite's "unable
         * to open" (which stays for a missing directory: no grant would help). Existence is
         * asked through SQLite's own VFS, so the plugin imports no file function itself. */
        sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
        int exists = 0;
        if (is_file && vfs && vfs->xAccess(vfs, directory, SQLITE_ACCESS_EXISTS, &exists) == SQLITE_OK && exists
            && !directory_granted(directory, CAPSULE_CHECK_RAISE))
            return NULL;
        host->raise(message);
        return NULL;
    }
    /* Opened: record what it used (a trusted plugin opens files without asking the host). */
    if (is_file) (void)directory_granted(directory, 0);
    sqlite3_extended_result_codes(db, 1);
    connection *c = calloc(1, sizeof *c);
    if (!c) { sqlite3_close_v2(db); host->raise("out of memory"); return NULL; }
    c->db = db;
    c->refs = 1;
    return c;
}

/* Flags CLOSES_HANDLE: finalizes the database's statements, then closes it. */
static void sq_close(connection *c) {
    if (!c->db) return;
    for (statement *s = c->statements; s; s = s->next) {
        if (s->stmt) sqlite3_finalize(s->stmt);
        s->stmt = NULL;
    }
    /* With every statement finalized this closes at once (an open transaction rolls back). */
    if (sqlite3_close_v2(c->db) != SQLITE_OK) raise_db(c->db);
    c->db = NULL;
}

/* Runs one or more statements separated by ';', without parameters; rows are discarded. */
static void sq_exec(connection *c, const char *sql) {
    if (!open_db(c)) return;
    char *error = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &error) != SQLITE_OK) {
        host->raise(error ? error : sqlite3_errmsg(c->db));
        sqlite3_free(error);
    }
}

static void sq_begin(connection *c) { sq_exec(c, "BEGIN"); }
static void sq_commit(connection *c) { sq_exec(c, "COMMIT"); }
static void sq_rollback(connection *c) { sq_exec(c, "ROLLBACK"); }

/*
 * transaction(db, fn): BEGIN, call the script function `fn`, then COMMIT; ROLLBACK instead
 * when fn raised (host->call_failed), and the host then fails this call with fn's error.
 * The connection is referenced for the duration, so fn may even close the database.
 */
static void sq_transaction(connection *c, void (*fn)(void)) {
    if (!CAPSULE_HOST_HAS(host, call_failed)) {
        host->raise("this host cannot tell whether a callback raised (it is older than the plugin)");
        return;
    }
    if (!fn) { host->raise("transaction needs a function, got nil"); return; }
    if (!open_db(c)) return;
    if (!sqlite3_get_autocommit(c->db)) {
        host->raise("a transaction is already open (transaction() does not nest; use SAVEPOINT)");
        return;
    }
    sq_exec(c, "BEGIN");
    if (host->call_failed()) return;
    c->refs++;
    fn();
    if (!c->db) {
        host->raise("the database was closed inside the transaction");
    } else if (host->call_failed()) {
        /* fn raised: undo its changes; the host reports fn's error. */
        if (!sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (sqlite3_get_autocommit(c->db)) {
        host->raise("the transaction was ended inside transaction()'s function (by commit or rollback)");
    } else {
        char *error = NULL;
        if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, &error) != SQLITE_OK) {
            host->raise(error ? error : sqlite3_errmsg(c->db));
            sqlite3_free(error);
            if (!sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    connection_release(c);
}

static bool sq_in_transaction(connection *c) { return open_db(c) && !sqlite3_get_autocommit(c->db); }

static int64_t sq_changes(connection *c) { return open_db(c) ? sqlite3_changes64(c->db) : 0; }

static int64_t sq_last_insert_rowid(connection *c) { return open_db(c) ? sqlite3_last_insert_rowid(c->db) : 0; }

static void sq_busy_timeout(connection *c, int64_t ms) {
    if (!open_db(c)) return;
    if (ms < 0 || ms > INT32_MAX) { host->raise("the timeout must be 0 to 2147483647 ms"); return; }
    sqlite3_busy_timeout(c->db, (int)ms);
}

static const char *sq_version(void) { return sqlite3_libversion(); }

/* ---- preparing ---- */

/* Compiles exactly one statement; raises for none or several. NULL having raised. */
static sqlite3_stmt *compile(sqlite3 *db, const char *sql, unsigned flags) {
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, flags, &stmt, &tail) != SQLITE_OK) { raise_db(db); return NULL; }
    if (!stmt) { host->raise("no SQL statement in the text"); return NULL; }
    /* The rest may hold only spaces, ';' and comments: compiling it must give no statement. */
    sqlite3_stmt *extra = NULL;
    if (tail && *tail) {
        int rc = sqlite3_prepare_v2(db, tail, -1, &extra, NULL);
        if (rc != SQLITE_OK || extra) {
            sqlite3_finalize(extra);
            sqlite3_finalize(stmt);
            host->raise("the text holds more than one SQL statement (use exec for several)");
            return NULL;
        }
    }
    return stmt;
}

static statement *sq_prepare(connection *c, const char *sql) {
    if (!open_db(c)) return NULL;
    sqlite3_stmt *stmt = compile(c->db, sql, SQLITE_PREPARE_PERSISTENT);
    if (!stmt) return NULL;
    statement *s = calloc(1, sizeof *s);
    if (!s) { sqlite3_finalize(stmt); host->raise("out of memory"); return NULL; }
    s->stmt = stmt;
    s->conn = c;
    s->next = c->statements;
    if (c->statements) c->statements->prev = s;
    c->statements = s;
    c->refs++;
    return s;
}

/* Flags CLOSES_HANDLE: the destructor finalizes the statement. */
static void sq_finalize(statement *s) { (void)s; }

/* ---- binding parameters ---- */

/* Binds one script value to parameter `i` (1-based); `label` names it in messages. */
static bool bind_one(sqlite3_stmt *stmt, int i, capsule_value v, const char *label) {
    int rc;
    switch (host->value_kind(v)) {
    case CAPSULE_KIND_NIL:
        rc = sqlite3_bind_null(stmt, i);
        break;
    case CAPSULE_KIND_BOOL: {
        bool b = false;
        host->value_bool(v, &b);
        rc = sqlite3_bind_int64(stmt, i, b ? 1 : 0);
        break;
    }
    case CAPSULE_KIND_INT: {
        int64_t n = 0;
        host->value_int(v, &n);
        rc = sqlite3_bind_int64(stmt, i, n);
        break;
    }
    case CAPSULE_KIND_FLOAT: {
        double d = 0;
        host->value_float(v, &d);
        rc = sqlite3_bind_double(stmt, i, d);
        break;
    }
    case CAPSULE_KIND_STRING: {
        size_t n = 0;
        const char *text = host->value_string(v, &n);
        rc = sqlite3_bind_text64(stmt, i, text, n, SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    }
    case CAPSULE_KIND_BYTES: {
        size_t n = 0;
        const uint8_t *data = host->value_bytes(v, &n);
        /* A zero-length blob, not NULL (which a NULL pointer would bind). */
        rc = n == 0 ? sqlite3_bind_zeroblob(stmt, i, 0) : sqlite3_bind_blob64(stmt, i, data, n, SQLITE_TRANSIENT);
        break;
    }
    case -1:
        return false;
    default: {
        char message[256];
        snprintf(message, sizeof message, "cannot bind a %s to %s (bind nil, bool, int, float, string or bytes)",
                 host->value_type_name(v), label);
        host->raise(message);
        return false;
    }
    }
    if (rc != SQLITE_OK) { raise_db(sqlite3_db_handle(stmt)); return false; }
    return true;
}

/* The parameter a map key names: "name" matches :name, @name or $name; ":name" itself too. */
static int parameter_index(sqlite3_stmt *stmt, const char *key, size_t length) {
    if (length == 0 || length > 200 || memchr(key, 0, length)) return 0;
    int i = sqlite3_bind_parameter_index(stmt, key);
    if (i > 0) return i;
    char name[202];
    memcpy(name + 1, key, length + 1);
    for (const char *prefix = ":@$"; *prefix; prefix++) {
        name[0] = *prefix;
        if ((i = sqlite3_bind_parameter_index(stmt, name)) > 0) return i;
    }
    return 0;
}

static bool bind_map(sqlite3_stmt *stmt, capsule_value params, int count) {
    char *bound = calloc((size_t)count + 1, 1);
    if (!bound) { host->raise("out of memory"); return false; }
    char message[320];
    size_t cursor = 0;
    capsule_value key, value;
    int more;
    while ((more = host->map_next(params, &cursor, &key, &value)) == 1) {
        size_t length = 0;
        const char *name = host->value_string(key, &length);
        if (!name) {
            snprintf(message, sizeof message, "named parameters need string keys, got a key of type %s", host->value_type_name(key));
            goto fail;
        }
        int i = parameter_index(stmt, name, length);
        if (i == 0) {
            snprintf(message, sizeof message, "the statement has no parameter named '%.200s'", name);
            goto fail;
        }
        if (bound[i]) {
            snprintf(message, sizeof message, "parameter %s is given twice", sqlite3_bind_parameter_name(stmt, i));
            goto fail;
        }
        bound[i] = 1;
        snprintf(message, sizeof message, "parameter %s", sqlite3_bind_parameter_name(stmt, i));
        if (!bind_one(stmt, i, value, message)) { free(bound); return false; }
    }
    if (more < 0) { free(bound); return false; }
    for (int i = 1; i <= count; i++) {
        if (bound[i]) continue;
        const char *name = sqlite3_bind_parameter_name(stmt, i);
        if (name && name[0] != '?') snprintf(message, sizeof message, "no value for parameter %s", name);
        else snprintf(message, sizeof message, "parameter %d is positional: pass the parameters as a list", i);
        goto fail;
    }
    free(bound);
    return true;
fail:
    free(bound);
    host->raise(message);
    return false;
}

/*
 * Resets the statement and binds `params`: nil (no parameters), a list (positional, one
 * value per parameter) or a map (named: {"name": v} or {":name": v}).
 */
static bool bind_params(sqlite3_stmt *stmt, capsule_value params) {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    int count = sqlite3_bind_parameter_count(stmt);
    char message[160];
    switch (host->value_kind(params)) {
    case CAPSULE_KIND_NIL:
        if (count == 0) return true;
        snprintf(message, sizeof message, "the statement has %d parameter%s, but none were given", count, count == 1 ? "" : "s");
        host->raise(message);
        return false;
    case CAPSULE_KIND_LIST: {
        int64_t n = host->value_length(params);
        if (n != count) {
            snprintf(message, sizeof message, "the statement has %d parameter%s, but %lld %s given",
                     count, count == 1 ? "" : "s", (long long)n, n == 1 ? "was" : "were");
            host->raise(message);
            return false;
        }
        for (int i = 1; i <= count; i++) {
            size_t mark = host->values_mark();
            capsule_value v = host->list_get(params, (size_t)i - 1);
            snprintf(message, sizeof message, "parameter %d", i);
            bool ok = v != CAPSULE_NO_VALUE && bind_one(stmt, i, v, message);
            host->values_release(mark);
            if (!ok) return false;
        }
        return true;
    }
    case CAPSULE_KIND_MAP:
        return bind_map(stmt, params, count);
    case -1:
        return false;
    default:
        snprintf(message, sizeof message, "parameters must be a list, a map or nil, got %s", host->value_type_name(params));
        host->raise(message);
        return false;
    }
}

/* ---- reading rows ---- */

static capsule_value column_value(sqlite3_stmt *stmt, int i) {
    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER: return host->new_int(sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT: return host->new_float(sqlite3_column_double(stmt, i));
    case SQLITE_TEXT: {
        const unsigned char *text = sqlite3_column_text(stmt, i);  /* before column_bytes */
        return host->new_string((const char *)text, (size_t)sqlite3_column_bytes(stmt, i));
    }
    case SQLITE_BLOB: {
        const void *data = sqlite3_column_blob(stmt, i);
        return host->new_bytes(data, (size_t)sqlite3_column_bytes(stmt, i));
    }
    default: return host->new_nil();
    }
}

/* The column names as string values, in a malloc'd array (NULL having raised). */
static capsule_value *column_names(sqlite3_stmt *stmt) {
    int n = sqlite3_column_count(stmt);
    capsule_value *names = calloc((size_t)n + 1, sizeof *names);
    if (!names) { host->raise("out of memory"); return NULL; }
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(stmt, i);
        if (!name) { free(names); host->raise("out of memory"); return NULL; }
        names[i] = host->new_string(name, strlen(name));
        if (names[i] == CAPSULE_NO_VALUE) { free(names); return NULL; }
    }
    return names;
}

/* The current row: a map from column name to value (names given), or a list (names NULL). */
static capsule_value make_row(sqlite3_stmt *stmt, const capsule_value *names) {
    int n = sqlite3_column_count(stmt);
    capsule_value row = names ? host->new_map() : host->new_list((size_t)n);
    if (row == CAPSULE_NO_VALUE) return CAPSULE_NO_VALUE;
    for (int i = 0; i < n; i++) {
        capsule_value v = column_value(stmt, i);
        if (v == CAPSULE_NO_VALUE) return CAPSULE_NO_VALUE;
        if ((names ? host->map_set(row, names[i], v) : host->list_push(row, v)) != 0) return CAPSULE_NO_VALUE;
    }
    return row;
}

/* Steps once: 1 with a row, 0 when done (the statement is then reset), -1 having raised. */
static int step(sqlite3_stmt *stmt) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) { sqlite3_reset(stmt); return 0; }
    raise_db(sqlite3_db_handle(stmt));
    sqlite3_reset(stmt);
    return -1;
}

/* Steps to the end, collecting every row (maps or lists) into a new list. */
static capsule_value collect(sqlite3_stmt *stmt, bool as_maps) {
    capsule_value rows = host->new_list(0);
    if (rows == CAPSULE_NO_VALUE) return CAPSULE_NO_VALUE;
    capsule_value *names = NULL;
    if (as_maps && !(names = column_names(stmt))) return CAPSULE_NO_VALUE;
    int status;
    while ((status = step(stmt)) == 1) {
        /* The list keeps each row; its references are not needed once it is pushed. */
        size_t mark = host->values_mark();
        capsule_value row = make_row(stmt, names);
        bool ok = row != CAPSULE_NO_VALUE && host->list_push(rows, row) == 0;
        host->values_release(mark);
        if (!ok) { sqlite3_reset(stmt); status = -1; break; }
    }
    free(names);
    return status == 0 ? rows : CAPSULE_NO_VALUE;
}

/* ---- the statement-level API ---- */

/* Binds the parameters and steps to the end; returns the rows changed (0 for a query). */
static int64_t sq_run(statement *s, capsule_value params) {
    if (!usable(s) || !bind_params(s->stmt, params)) return 0;
    int status;
    while ((status = step(s->stmt)) == 1) {}
    if (status < 0) return 0;
    return sqlite3_stmt_readonly(s->stmt) ? 0 : sqlite3_changes64(sqlite3_db_handle(s->stmt));
}

static capsule_value sq_all(statement *s, capsule_value params) {
    if (!usable(s) || !bind_params(s->stmt, params)) return CAPSULE_NO_VALUE;
    return collect(s->stmt, true);
}

static capsule_value sq_all_lists(statement *s, capsule_value params) {
    if (!usable(s) || !bind_params(s->stmt, params)) return CAPSULE_NO_VALUE;
    return collect(s->stmt, false);
}

/* Resets the statement and binds new parameters for step. */
static void sq_bind(statement *s, capsule_value params) {
    if (usable(s)) bind_params(s->stmt, params);
}

/* The next row as a map, or nil at the end (the statement is then reset: the next step
 * starts again with the same parameters). */
static capsule_value step_row(statement *s, bool as_map) {
    if (!usable(s)) return CAPSULE_NO_VALUE;
    int status = step(s->stmt);
    if (status <= 0) return CAPSULE_NO_VALUE;
    capsule_value *names = NULL;
    if (as_map && !(names = column_names(s->stmt))) return CAPSULE_NO_VALUE;
    capsule_value row = make_row(s->stmt, names);
    free(names);
    return row;
}

static capsule_value sq_step(statement *s) { return step_row(s, true); }
static capsule_value sq_step_list(statement *s) { return step_row(s, false); }

static void sq_reset(statement *s) {
    if (usable(s)) sqlite3_reset(s->stmt);
}

static capsule_value sq_columns(statement *s) {
    if (!usable(s)) return CAPSULE_NO_VALUE;
    capsule_value list = host->new_list((size_t)sqlite3_column_count(s->stmt));
    capsule_value *names = list ? column_names(s->stmt) : NULL;
    if (!names) return CAPSULE_NO_VALUE;
    for (int i = 0; i < sqlite3_column_count(s->stmt); i++) {
        if (host->list_push(list, names[i]) != 0) { free(names); return CAPSULE_NO_VALUE; }
    }
    free(names);
    return list;
}

static const char *sq_sql(statement *s) { return usable(s) ? sqlite3_sql(s->stmt) : NULL; }

/* ---- one-shot queries on the database ---- */

static capsule_value query(connection *c, const char *sql, capsule_value params, bool as_maps) {
    if (!open_db(c)) return CAPSULE_NO_VALUE;
    sqlite3_stmt *stmt = compile(c->db, sql, 0);
    if (!stmt) return CAPSULE_NO_VALUE;
    capsule_value rows = bind_params(stmt, params) ? collect(stmt, as_maps) : CAPSULE_NO_VALUE;
    sqlite3_finalize(stmt);
    return rows;
}

static capsule_value sq_query(connection *c, const char *sql, capsule_value params) { return query(c, sql, params, true); }
static capsule_value sq_query_lists(connection *c, const char *sql, capsule_value params) { return query(c, sql, params, false); }

#define FN(f) ((void (*)(void))(f))

static const capsule_export exports[] = {
    {"version", "() -> str", FN(sq_version), 0, "the SQLite library's version"},
    {"open", "(str) -> handle<Database>", FN(sq_open), 0,
     "opens (creating) a database file, \":memory:\" or a file: URI"},
    {"close", "(handle<Database>) -> void", FN(sq_close), CAPSULE_EXPORT_CLOSES_HANDLE,
     "finalizes the database's statements and closes it"},
    {"exec", "(handle<Database>, str) -> void", FN(sq_exec), 0,
     "runs SQL statements separated by ';', without parameters"},
    {"query", "(handle<Database>, str, value) -> value", FN(sq_query), 0,
     "runs one statement with parameters (list, map or nil); the rows as maps"},
    {"query_lists", "(handle<Database>, str, value) -> value", FN(sq_query_lists), 0,
     "runs one statement with parameters; the rows as lists"},
    {"prepare", "(handle<Database>, str) -> handle<Statement>", FN(sq_prepare), 0,
     "compiles one statement for repeated use"},
    {"run", "(handle<Statement>, value) -> i64", FN(sq_run), 0,
     "binds the parameters and runs the statement to the end; the rows changed"},
    {"all", "(handle<Statement>, value) -> value", FN(sq_all), 0,
     "binds the parameters and returns every row as a map"},
    {"all_lists", "(handle<Statement>, value) -> value", FN(sq_all_lists), 0,
     "binds the parameters and returns every row as a list"},
    {"bind", "(handle<Statement>, value) -> void", FN(sq_bind), 0,
     "resets the statement and binds parameters for step"},
    {"step", "(handle<Statement>) -> value", FN(sq_step), 0, "the next row as a map, or nil at the end"},
    {"step_list", "(handle<Statement>) -> value", FN(sq_step_list), 0, "the next row as a list, or nil at the end"},
    {"reset", "(handle<Statement>) -> void", FN(sq_reset), 0, "rewinds the statement, keeping its parameters"},
    {"columns", "(handle<Statement>) -> value", FN(sq_columns), 0, "the result column names, as a list"},
    {"sql", "(handle<Statement>) -> str", FN(sq_sql), 0, "the statement's SQL text"},
    {"finalize", "(handle<Statement>) -> void", FN(sq_finalize), CAPSULE_EXPORT_CLOSES_HANDLE,
     "frees the statement now instead of at collection"},
    {"begin", "(handle<Database>) -> void", FN(sq_begin), 0, "BEGIN a transaction"},
    {"commit", "(handle<Database>) -> void", FN(sq_commit), 0, "COMMIT the transaction"},
    {"rollback", "(handle<Database>) -> void", FN(sq_rollback), 0, "ROLLBACK the transaction"},
    {"transaction", "(handle<Database>, callback<() -> void>) -> void", FN(sq_transaction), 0,
     "runs fn between BEGIN and COMMIT; rolls back and re-raises if fn raises"},
    {"in_transaction", "(handle<Database>) -> bool", FN(sq_in_transaction), 0,
     "true between begin and commit or rollback"},
    {"changes", "(handle<Database>) -> i64", FN(sq_changes), 0,
     "rows changed by the last INSERT, UPDATE or DELETE"},
    {"last_insert_rowid", "(handle<Database>) -> i64", FN(sq_last_insert_rowid), 0,
     "the rowid of the last inserted row"},
    {"busy_timeout", "(handle<Database>, i64) -> void", FN(sq_busy_timeout), 0,
     "waits up to ms milliseconds for a locked database"},
};

static const capsule_handle_type handle_types[] = {
    {"Database", database_destroy},
    {"Statement", statement_destroy},
};

/* SQLite opens the files it is given itself (not through host->open_file), so the plugin
 * declares that it uses the filesystem: on whatever it is granted, nothing being required
 * (":memory:" needs no file). Declaring fs makes the host run it isolated by default, where
 * Landlock confines it to its fs.read / fs.write grants (docs/security.md). */
static const char *const capabilities[] = {"optional:fs.read", "optional:fs.write", NULL};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "sqlite",
    .capabilities = capabilities,
    .version = "1.0.0",
    .description = "SQLite databases (system libsqlite3)",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = handle_types,
    .handle_type_count = sizeof handle_types / sizeof handle_types[0],
    .init = sqlite_init,
};

CAPSULE_PLUGIN(plugin)
