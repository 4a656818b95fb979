/*
 * capsule.h — the one header a Capsule native extension module needs.
 *
 * A plugin is a shared object that exports exactly one symbol, `capsule_plugin_entry`
 * (see CAPSULE_PLUGIN below). The host calls it once after dlopen; it returns a pointer
 * to a static `capsule_plugin` descriptor that names the plugin, lists its exports with
 * their C signatures, declares the handle types it creates and the capabilities it needs,
 * and carries lifecycle hooks. The host checks all of it before any plugin code runs,
 * binds every export through libffi into its typed module registry, and scripts then
 * `import "name"` the plugin and call its exports like functions.
 *
 * ABI RULES
 *   - CAPSULE_ABI_VERSION changes on any incompatible change to this header. The host
 *     refuses a plugin whose `abi_version` differs from its own, and one whose
 *     `struct_size` is not the size of a `capsule_plugin` layout of that ABI version (the
 *     way Lua checks its numeric sizes). CAPSULE_VERSION_* is the SDK release and does not
 *     gate loading.
 *   - `capsule_plugin` only grows at the end, within one ABI version: a plugin built
 *     against an older header of the same ABI version has a smaller `struct_size`, and the
 *     host reads the members after it as absent (NULL / 0). The layouts of ABI 1 end at
 *     `restore_state` (CAPSULE_PLUGIN_SIZE_1_0) and at `struct_type_count` (the current one).
 *   - `capsule_host_api` begins with `abi_version` and `size` and only ever grows at the
 *     end: a plugin built against an older header keeps working; a plugin that wants a
 *     newer member checks `size` first (CAPSULE_HOST_HAS).
 *   - Build with -fvisibility=hidden so the entry symbol is the only export.
 *
 * SIGNATURES
 *   Each export declares its C signature as text, parsed once at load, e.g.
 *   "(i64, i64) -> i64". Types: void bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 ptr
 *   str (const char*, NUL-terminated UTF-8, borrowed for the call), bytes (const
 *   uint8_t* then size_t, borrowed; as a result: a returned const uint8_t* plus a hidden
 *   last size_t* argument the length is written through), buf (uint8_t* then size_t: a
 *   mutable byte buffer),
 *   handle<Name> (a pointer the plugin created, typed by Name), value (any script value,
 *   as a capsule_value: see SCRIPT VALUES), and `out T` parameters, returned to the
 *   script as extra results. Every argument is checked against its declared type on every
 *   call before the function runs.
 *
 *     signature := '(' [params] ')' '->' type ['!errno']
 *     params    := param (',' param)* [',' '...']
 *     param     := ['out'] type
 *     type      := void | bool | i8 | i16 | i32 | i64 | u8 | u16 | u32 | u64 | f32 | f64
 *                | ptr | str | bytes | buf | handle '<' Name '>' | value
 *                | callback '<' signature '>'            (parameters only)
 *                | Name                                  (a struct type the plugin declares)
 *
 *   - `callback<(i64) -> i64>` is a C function pointer `int64_t (*)(int64_t)` that calls
 *     the script function passed for it. It is valid only until the export returns (do
 *     not keep it) and only on the calling thread. Its parameters are numbers, bool, ptr
 *     or str; its result a number, bool, ptr or void. If the script function raises, the
 *     pointer returns 0 and the call fails with that error once the export returns.
 *   - `...` (after at least one parameter) makes the export variadic: extra script ints
 *     arrive as int64_t, floats as double, bools as int, str/bytes/nil as pointers.
 *   - `!errno`: the host sets errno to 0 right before the call and reads it right after;
 *     the script gets `[result, out..., errno]`. As in C, errno means something only when
 *     the result says the call failed.
 *   - Struct types: the descriptor's `struct_types` declares named C structs by their
 *     fields, `{"point", "{f64 x, f64 y}"}` for `struct point { double x, y; }` (fields are
 *     numbers, bool, ptr or struct types declared earlier in the list; the host lays them
 *     out as the C compiler does). A signature then names them: `(point, point) -> point`
 *     passes and returns them by value, `out point` passes a `point *` the function fills.
 *     Scripts pass a map with exactly those fields (`{"x": 1.0, "y": 2.0}`) and receive
 *     one, the same as raw FFI's `ffi.struct`. A plugin running isolated cannot use them.
 *
 * MEMORY OWNERSHIP
 *   - Arguments of type str, bytes and buf point into VM-owned memory that is valid only
 *     for the duration of the call: copy what you keep.
 *   - A `str` or `bytes` result is copied by the host when the function returns; the
 *     plugin keeps ownership of the pointer it returned (return static or plugin-owned
 *     memory).
 *   - Handles: a function whose result type is handle<Name> returns a pointer the plugin
 *     allocated; from then on the VM owns it and calls the handle type's destructor
 *     exactly once, when the script's handle becomes unreachable (or earlier, when a
 *     function declared with CAPSULE_EXPORT_CLOSES_HANDLE is called with it). After that
 *     the pointer is never passed to the plugin again: a call with a closed handle is a
 *     script error.
 *   - Hot reload: the destructor that runs is the one of the version that made the handle,
 *     and that version stays loaded (its deinit has not run) until its last handle is
 *     destroyed. A handle is never passed to a different version of the plugin.
 *
 * SCRIPT VALUES
 *   A parameter or result of type `value` is a capsule_value: a reference to a script
 *   value of any type (nil, bool, int, float, string, bytes, list, map, …), lent for one
 *   call like a JNI local reference. The host API's value functions (value_kind …
 *   values_release, at the end of capsule_host_api) inspect references and make new ones;
 *   they work only during a call of an export whose signature mentions `value`.
 *   - Every reference the host hands out (the arguments, and each value_* / list_get /
 *     map_next / map_get / new_* result) keeps its value alive until the export returns,
 *     even across collections, unless released earlier with values_release. After that it
 *     is invalid: never keep one in plugin state (copy the data, or pin the value).
 *   - To keep a value between calls (a handler a script registered, called from a later
 *     export), pin it: value_pin gives an id that stays valid in later calls from the same
 *     VM until value_unpin; pinned_value lends it again in a later call. call_value calls
 *     a script function value (SDK 0.3).
 *   - A `value` result is one of the call's references (or CAPSULE_NO_VALUE for nil); the
 *     script receives the value it refers to.
 *   - A function given an invalid reference (from another call, released, or made up)
 *     raises and fails; a type mismatch (value_int on a string) only fails.
 *   - Building a large result: take values_mark() before each item, push the item into its
 *     list or map, then values_release(mark): the container keeps the item alive, and the
 *     references made for it are not held until the call returns.
 *
 * ERRORS
 *   A function reports failure by calling host->raise(message) and returning; whatever
 *   it returns is then ignored and the script sees a catchable error with that message.
 *
 * THREADING
 *   The host calls a plugin's functions and hooks from one thread at a time (the VM's
 *   thread), except exports flagged CAPSULE_EXPORT_BLOCKING: those may run on a pool thread
 *   while the VM's thread calls other exports, and several at once (one per fiber waiting on
 *   one). A blocking export must therefore touch shared plugin state only under its own
 *   lock, and from a pool thread call only these host API functions: raise, call_failed,
 *   log, alloc, free, open_file, getenv, check_capability, run_program, connect_tcp (each
 *   applies to that call). The value functions fail there (a blocking export has no
 *   `value` parameters). Host API functions may only be called from inside a call made by
 *   the host. Its str/bytes/buf arguments stay valid for the whole call (a bytes argument is
 *   a private copy, and a buf's contents are copied back when it returns).
 *
 * ISOLATION
 *   A host may run a plugin isolated (docs/security.md): in its own worker process, locked
 *   down by the kernel to what the plugin is granted. Capsule does so by default for a
 *   plugin whose `capabilities` include anything beyond "clock" and "random", unless the
 *   user trusts it (--trust=NAME); and for any plugin the user isolates (--isolate=NAME). The plugin's code is unchanged, but
 *   system calls outside its grants fail (EACCES, EPERM) or end the worker (execve, ptrace);
 *   open_file is open(2) under those rules, getenv sees only granted variables, log goes to
 *   the host's stderr, `value` arguments are deep copies (changing one does not change the
 *   script's value; functions, handles and instances pass through unchanged but opaque),
 *   and handles die with the worker if it crashes.
 */
#ifndef CAPSULE_H
#define CAPSULE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAPSULE_VERSION_MAJOR 0
#define CAPSULE_VERSION_MINOR 4
#define CAPSULE_VERSION_PATCH 0

/* Bumped on every incompatible change to the structs and rules in this header. */
#define CAPSULE_ABI_VERSION 1

/* The name of the one symbol a plugin exports. */
#define CAPSULE_ENTRY_SYMBOL "capsule_plugin_entry"

/* Export flags. */
#define CAPSULE_EXPORT_CLOSES_HANDLE 0x1u /* the first argument (a handle) is destroyed after the call */
/*
 * Added in SDK 0.4, within ABI 1: a host older than that ignores the bit and runs the
 * export on the VM's thread, as every export ran before. The export may block (a sleep, a blocking
 * read, a long computation): when a script fiber that can wait calls it, the host runs it on
 * one of its blocking-pool threads and other fibers run meanwhile; elsewhere (inside a
 * callback from native code, such as a sort comparator) it runs on the VM's thread as usual.
 * On a pool thread it may run at the same time as any other export of the plugin (blocking
 * or not), on other threads: see THREADING. Its signature may not use value or
 * callback<...> (they need the VM's thread), nor structs, `...` or `!errno` (not yet);
 * the loader refuses such an export.
 */
#define CAPSULE_EXPORT_BLOCKING 0x2u
/*
 * Added in SDK 0.4. The export may call host->park to finish the call later, from a thread of
 * its own (see park in capsule_host_api). Such an export is always called through the host's
 * general path, where park works. Not with CAPSULE_EXPORT_BLOCKING.
 */
#define CAPSULE_EXPORT_PARKS 0x4u

/*
 * A reference to a script value, lent for the current call (see SCRIPT VALUES). Opaque: only
 * compare it with CAPSULE_NO_VALUE, which is never a valid reference.
 */
typedef uint64_t capsule_value;
#define CAPSULE_NO_VALUE ((capsule_value)0)

/* A promise to finish one parked call (host->park, SDK 0.4). Opaque; completed exactly once. */
typedef struct capsule_token capsule_token;

/* What capsule_host_api.value_kind returns. */
#define CAPSULE_KIND_NIL 0
#define CAPSULE_KIND_BOOL 1
#define CAPSULE_KIND_INT 2      /* signed 64-bit */
#define CAPSULE_KIND_FLOAT 3    /* double */
#define CAPSULE_KIND_STRING 4   /* immutable UTF-8 text */
#define CAPSULE_KIND_BYTES 5
#define CAPSULE_KIND_LIST 6
#define CAPSULE_KIND_MAP 7      /* insertion-ordered; keys are any value but nil */
#define CAPSULE_KIND_FUNCTION 8
#define CAPSULE_KIND_HANDLE 9
#define CAPSULE_KIND_OTHER 10   /* class, instance, module, error: value_type_name tells which */

/* Log levels for capsule_host_api.log. */
#define CAPSULE_LOG_DEBUG 0
#define CAPSULE_LOG_INFO 1
#define CAPSULE_LOG_WARN 2
#define CAPSULE_LOG_ERROR 3

/* One exported function. `fn` is any C function pointer, cast; `signature` describes it. */
typedef struct capsule_export {
    const char *name;       /* script-visible name: [A-Za-z_][A-Za-z0-9_]* */
    const char *signature;  /* e.g. "(str, i64) -> f64" */
    void (*fn)(void);       /* must not be NULL */
    uint32_t flags;         /* CAPSULE_EXPORT_* */
    const char *doc;        /* one-line description, or NULL */
} capsule_export;

/* A kind of handle the plugin creates, with the destructor the VM runs for it. */
typedef struct capsule_handle_type {
    const char *name;                  /* as used in signatures: handle<name> */
    void (*destroy)(void *pointer);    /* called once per handle; may be NULL */
} capsule_handle_type;

/*
 * A struct type the plugin's signatures use by value (see SIGNATURES). `fields` is the field
 * list in declaration order, `{type name, type name, ...}`: each type a number, bool, ptr
 * or a struct type declared earlier in the same list.
 */
typedef struct capsule_struct_type {
    const char *name;    /* as used in signatures: [A-Za-z_][A-Za-z0-9_]*, not a built-in type */
    const char *fields;  /* e.g. "{f64 x, f64 y}" */
} capsule_struct_type;

/*
 * Services the host offers a plugin. Passed to `init`; valid until `deinit` returns.
 * Members are only ever added at the end.
 */
typedef struct capsule_host_api {
    uint32_t abi_version;  /* the host's CAPSULE_ABI_VERSION */
    uint32_t size;         /* sizeof(capsule_host_api) as the host knows it */

    /* Makes the current call fail with `message` (copied). Returns 0. The message is UTF-8
     * (invalid sequences become U+FFFD); control and bidirectional formatting characters in
     * it become '?' (it may reach a terminal), so it is one line. */
    int (*raise)(const char *message);

    /* Writes a line to the host's log (standard error), prefixed with the plugin's name;
     * made terminal-safe as raise's message is. */
    void (*log)(int level, const char *message);

    /* Memory the host can free: used for state handed over by save_state. */
    void *(*alloc)(size_t size);
    void (*free)(void *pointer);

    /*
     * Capability-mediated services, checked against the calling plugin's OWN grants
     * (the manifest's "plugins" section, --allow-plugin=NAME=CAP), never the script's.
     * When denied they fail the current call with the denial message (as raise does).
     *
     * open_file: opens `path` (relative paths: the process's current directory) with
     *   `flags` (O_RDONLY/O_WRONLY/O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND; others are
     *   ignored) and `mode` (with O_CREAT). Needs fs.read for read access and fs.write for
     *   write access or O_CREAT/O_TRUNC/O_APPEND. The path is resolved beneath the granted
     *   directory with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); only regular
     *   files with one link are opened. Returns a file descriptor the plugin owns (close
     *   it), or -1 when denied or when the open fails (the call fails with the reason).
     * getenv: needs env:NAME. Returns the value (valid until the environment changes;
     *   copy it), or NULL when unset, or NULL after failing the call when denied.
     */
    int (*open_file)(const char *path, int flags, int mode);
    const char *(*getenv)(const char *name);

    /*
     * Script values (see SCRIPT VALUES above). Callable only during a call of an export
     * whose signature uses `value`; anywhere else each one raises and fails. Any of them
     * given an invalid reference raises and fails. Failing means returning -1, NULL or
     * CAPSULE_NO_VALUE as the declaration says.
     */

    /* The value's kind, CAPSULE_KIND_*; -1 on failure. */
    int (*value_kind)(capsule_value v);
    /* The name type() gives the value's type ("int", "map", "instance", …): static text. */
    const char *(*value_type_name)(capsule_value v);
    /* Each stores the value in *out and returns 0 when v has that kind, else returns -1
     * without raising. value_float also takes an int, converted to double. */
    int (*value_bool)(capsule_value v, bool *out);
    int (*value_int)(capsule_value v, int64_t *out);
    int (*value_float)(capsule_value v, double *out);
    /*
     * A string's UTF-8 bytes, NUL-terminated after *length bytes (the text itself may
     * contain NUL bytes), and a bytes value's contents (never NULL, even when empty). NULL
     * without raising when v is of another kind. The memory is the VM's: read-only, valid
     * until the export returns (or v is released). `length` may be NULL.
     */
    const char *(*value_string)(capsule_value v, size_t *length);
    const uint8_t *(*value_bytes)(capsule_value v, size_t *length);
    /* Items of a list, entries of a map, bytes of a string or bytes value; -1 otherwise
     * (without raising). */
    int64_t (*value_length)(capsule_value v);
    /* A list's item at `index` (0-based); raises when v is not a list or index is out of range. */
    capsule_value (*list_get)(capsule_value list, size_t index);
    /*
     * Iterates a map in insertion order: set *cursor = 0, then each call stores the next
     * entry's references in *key and *value (either may be NULL) and returns 1, or returns 0
     * at the end. -1 (raising) when v is not a map. Don't change the map while iterating.
     */
    int (*map_next)(capsule_value map, size_t *cursor, capsule_value *key, capsule_value *value);
    /* The value under `key` (strings compare by text), or CAPSULE_NO_VALUE without raising
     * when absent; raises when `map` is not a map. A key that is an instance whose class
     * defines `hash` and `==` is looked up by calling them (docs/language.md); an error they
     * raise fails the call as a failed call_value does (so does map_set's). */
    capsule_value (*map_get)(capsule_value map, capsule_value key);

    /* New values. Each returns a new reference, or CAPSULE_NO_VALUE having raised. */
    capsule_value (*new_nil)(void);
    capsule_value (*new_bool)(bool b);
    capsule_value (*new_int)(int64_t i);
    capsule_value (*new_float)(double d);
    /* Copies `length` bytes (data may be NULL when length is 0); fails unless valid UTF-8. */
    capsule_value (*new_string)(const char *data, size_t length);
    /* Copies `length` bytes (data may be NULL when length is 0). */
    capsule_value (*new_bytes)(const uint8_t *data, size_t length);
    /* An empty list; `capacity` is a hint. */
    capsule_value (*new_list)(size_t capacity);
    /* Appends `item` to `list`. 0, or -1 having raised. */
    int (*list_push)(capsule_value list, capsule_value item);
    capsule_value (*new_map)(void);
    /* Sets map[key] = value (replacing). 0, or -1 having raised (not a map, nil key). */
    int (*map_set)(capsule_value map, capsule_value key, capsule_value value);

    /* How many references the call holds: a mark for values_release. */
    size_t (*values_mark)(void);
    /* Releases every reference made after `mark` (they become invalid); values still
     * reachable otherwise (pushed into a list, set in a map, an argument) stay alive. */
    void (*values_release)(size_t mark);

    /*
     * Programs and connections, checked against the calling plugin's OWN grants like
     * open_file (added in SDK 0.2: test with CAPSULE_HOST_HAS(host, run_program)).
     * Both block the VM's thread for at most `timeout_ms` (0: 30000); neither is available
     * to an isolated plugin (they fail the call).
     *
     * run_program: runs `program` to completion, as the `proc` module does for scripts
     *   (docs/security.md#proc-running-programs): a path (absolute, or relative to the
     *   current directory) needs run:PATH exactly; a bare name needs run:NAME, or a grant
     *   of the path the host's PATH finds. argv is `program` then the `arg_count` strings of
     *   `args`; the environment is exactly `env` ("NAME=VALUE" strings ending with NULL;
     *   NULL: empty), stdin is /dev/null, descriptors other than 0-2 are not inherited, and
     *   the program runs in its own process group, killed at the timeout. Its stdout and
     *   stderr (16 MiB each at most) are stored in *out / *err as NUL-terminated buffers
     *   from host->alloc that the plugin frees with host->free, with their lengths in
     *   *out_length / *err_length; any of the four may be NULL to discard. Returns the exit
     *   status (0-255), 128 + N when signal N ended it, or -1 after failing the call
     *   (denied, cannot run, timed out, too much output); nothing is stored then.
     * connect_tcp: connects to `host`:`port` (1-65535), needing net.connect:HOST:PORT with
     *   HOST as written (IPv6 addresses without brackets; matched in canonical form), and
     *   returns a connected, blocking TCP socket the plugin owns (close it), or -1 after
     *   failing the call (denied, refused, unreachable, timed out).
     */
    int (*run_program)(const char *program, const char *const *args, size_t arg_count,
                       const char *const *env, int timeout_ms,
                       char **out, size_t *out_length, char **err, size_t *err_length);
    int (*connect_tcp)(const char *host, int port, int timeout_ms);

    /*
     * Added in SDK 0.2. 1 when the current call has already failed: a script callback it
     * called raised (the host then reports that error when the export returns, and further
     * callbacks return 0 without running), or raise was called; else 0. Lets C code that
     * calls script functions clean up, e.g. roll back, instead of carrying on. 0 outside a call.
     */
    int (*call_failed)(void);

    /*
     * Added in SDK 0.3 (test with CAPSULE_HOST_HAS(host, call_value)). Values kept between
     * calls, and calling script functions: an event source pins the function a script
     * registered and calls it from a later export. Like the value functions above, callable
     * only during a call of an export whose signature uses `value`, on the calling thread;
     * none is available to an isolated plugin (each fails the call).
     *
     * value_pin: pins v's value in the calling VM and returns a nonzero id, valid in later
     *   calls from that VM until value_unpin (or the VM goes away); the value stays alive
     *   meanwhile. 0 having raised. An id is a number: keep it in plugin state, pass it
     *   through save_state across a hot reload.
     * pinned_value: a reference, for this call, to the value pinned under `id`;
     *   CAPSULE_NO_VALUE having raised for an id that was unpinned, never made, or pinned
     *   in another VM (a plugin's state is shared by every VM in the process).
     * value_unpin: releases a pin of the calling VM (other ids are ignored).
     * call_value: calls `function` (a script function, closure, native or bound method) with
     *   the `count` values of `args` (NULL when count is 0) and returns a reference to its
     *   result. When the function raises, returns CAPSULE_NO_VALUE: that error then fails
     *   the export when it returns (call_failed says 1 meanwhile, and further call_value
     *   calls return CAPSULE_NO_VALUE without running), as with a callback<…> parameter.
     *   The function may call this plugin's exports again.
     */
    uint64_t (*value_pin)(capsule_value v);
    capsule_value (*pinned_value)(uint64_t id);
    void (*value_unpin)(uint64_t id);
    capsule_value (*call_value)(capsule_value function, const capsule_value *args, size_t count);

    /*
     * Added after SDK 0.3 (test with CAPSULE_HOST_HAS(host, check_capability)). For a plugin
     * that reaches a resource by its own means, such as SQLite opening its database files
     * through its own VFS rather than open_file: asks whether the calling plugin is granted
     * `capability`, written as in a grant ("fs.write:/srv/db", "fs.read:data"; a relative
     * path is against the process's current directory, and symlinks and `..` in it are
     * resolved). In-process, the answer is recorded in the audit log (`--audit`) like the
     * host's own checks, so `capsule policy suggest` proposes what the plugin needed.
     * Returns 1 when granted; 0 when not, and then, with CAPSULE_CHECK_RAISE in `flags`, the
     * current call fails with the denial, which names the flag that grants it
     * (`plugin:NAME: denied: fs.write /srv/db (grant with --allow-plugin=NAME=fs.write:/srv/db
     * or under "plugins" in capsule.json)`); -1 after failing the call (NULL or a malformed
     * capability). A check grants nothing and stops nothing: a trusted plugin's own code can
     * still reach whatever the process can, an isolated one only what the kernel lets it.
     * In an isolated plugin the worker answers fs.read and fs.write from its path rules
     * (not recorded: the worker has no audit log) and 1 for other kinds (the kernel decides
     * when they are used).
     */
    int (*check_capability)(const char *capability, int flags);

    /*
     * Added in SDK 0.4 (test with CAPSULE_HOST_HAS(host, complete_error)). Finishing a call
     * later, from a thread of the plugin's own, while the script's other fibers run: an event
     * loop, a worker thread, a callback from a C library.
     *
     * park: only during a call of an export flagged CAPSULE_EXPORT_PARKS, on the thread the
     *   host called it on. Returns a token and parks the calling fiber: the export then
     *   returns at once (what it returns, writes to out parameters or raises afterwards is
     *   ignored), the script's other fibers run, and the script's call returns the value the
     *   token is completed with, whatever the export's declared result type (declare
     *   `-> void`). Returns NULL WITHOUT raising where the caller cannot wait (inside a
     *   callback from native code, such as a sort comparator): then do the work before
     *   returning, as an ordinary export. Returns NULL having raised (call_failed() says 1)
     *   when the calling fiber was cancelled, when called twice in one call, outside such an
     *   export or in an isolated plugin: return at once.
     * complete_*: from any thread (or inside the export itself), exactly once per token; the
     *   token is invalid afterwards. The data is copied before they return. The call returns
     *   nil, the int, the float, the string (UTF-8; other bytes make the call fail), the
     *   bytes, or fails with MODULE.FUNCTION: MESSAGE (complete_error). A token never
     *   completed leaves its fiber waiting for good (the deadlock check cannot see it: end
     *   the run with --timeout). If the fiber was cancelled meanwhile, the value is dropped.
     *   The plugin version stays loaded until every token it handed out is completed; stop
     *   your threads in deinit all the same.
     */
    capsule_token *(*park)(void);
    void (*complete_nil)(capsule_token *token);
    void (*complete_int)(capsule_token *token, int64_t value);
    void (*complete_float)(capsule_token *token, double value);
    void (*complete_str)(capsule_token *token, const char *data, size_t length);
    void (*complete_bytes)(capsule_token *token, const uint8_t *data, size_t length);
    void (*complete_error)(capsule_token *token, const char *message);
} capsule_host_api;

/* check_capability flags: fail the current call with the denial when not granted. */
#define CAPSULE_CHECK_RAISE 1

/* True when a host API table has the member `m` (for plugins built against newer headers). */
#define CAPSULE_HOST_HAS(api, m) \
    ((api)->size >= offsetof(capsule_host_api, m) + sizeof(((capsule_host_api *)0)->m))

/* The descriptor a plugin's entry point returns. */
typedef struct capsule_plugin {
    uint32_t abi_version;        /* CAPSULE_ABI_VERSION */
    uint32_t struct_size;        /* sizeof(capsule_plugin) */
    const char *name;            /* module name scripts import */
    const char *version;         /* semantic version "MAJOR.MINOR.PATCH" */
    const char *description;

    /*
     * Capabilities the plugin uses; NULL-terminated, or NULL. "fs.read:./data" is required:
     * the plugin is refused at load unless it is granted. "optional:fs.read" is used on
     * whatever the plugin is granted (it loads without a grant). Either way a kind beyond
     * "clock" and "random" makes the host run the plugin isolated unless it is trusted:
     * declare what your C code reaches for itself (open, socket, getenv, ...), not only what
     * it asks the host for (docs/security.md, "Which plugins run isolated").
     */
    const char *const *capabilities;

    const capsule_export *exports;
    size_t export_count;

    const capsule_handle_type *handle_types;
    size_t handle_type_count;

    /* Lifecycle hooks; each may be NULL. init returns 0 on success. */
    int (*init)(const capsule_host_api *host);
    void (*deinit)(void);

    /*
     * Hot reload: the old version's save_state returns state bytes allocated with
     * host->alloc (or NULL); the new version's restore_state receives them with the
     * version string they were saved by, and returns 0 on success.
     */
    void *(*save_state)(size_t *size);
    int (*restore_state)(const void *data, size_t size, const char *from_version);

    /* Added in SDK 0.2 (ABI 1, larger struct_size): struct types, or NULL and 0. */
    const capsule_struct_type *struct_types;
    size_t struct_type_count;
} capsule_plugin;

/* sizeof(capsule_plugin) as SDK 0.1 (ABI 1) had it: ending at restore_state. */
#define CAPSULE_PLUGIN_SIZE_1_0 (offsetof(capsule_plugin, restore_state) + sizeof(void (*)(void)))

/* The entry point's type. */
typedef const capsule_plugin *(*capsule_entry_fn)(void);

/* Declares the entry point: CAPSULE_PLUGIN(my_descriptor) */
#define CAPSULE_PLUGIN(descriptor) \
    __attribute__((visibility("default"))) const capsule_plugin *capsule_plugin_entry(void) { \
        return &(descriptor); \
    }

#ifdef __cplusplus
}
#endif

#endif /* CAPSULE_H */
