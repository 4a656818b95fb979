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
 *     `struct_size` differs from sizeof(capsule_plugin) as the host knows it (the way Lua
 *     checks its numeric sizes). CAPSULE_VERSION_* is the SDK release and does not gate
 *     loading.
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
 *   handle<Name> (a pointer the plugin created, typed by Name), and `out T` parameters,
 *   returned to the script as extra results. Every argument is checked against its
 *   declared type on every call before the function runs.
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
 *
 * ERRORS
 *   A function reports failure by calling host->raise(message) and returning; whatever
 *   it returns is then ignored and the script sees a catchable error with that message.
 *
 * THREADING
 *   The host calls a plugin's functions and hooks from one thread at a time (the VM's
 *   thread). Host API functions may only be called from inside a call made by the host.
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
#define CAPSULE_VERSION_MINOR 1
#define CAPSULE_VERSION_PATCH 0

/* Bumped on every incompatible change to the structs and rules in this header. */
#define CAPSULE_ABI_VERSION 1

/* The name of the one symbol a plugin exports. */
#define CAPSULE_ENTRY_SYMBOL "capsule_plugin_entry"

/* Export flags. */
#define CAPSULE_EXPORT_CLOSES_HANDLE 0x1u /* the first argument (a handle) is destroyed after the call */

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
 * Services the host offers a plugin. Passed to `init`; valid until `deinit` returns.
 * Members are only ever added at the end.
 */
typedef struct capsule_host_api {
    uint32_t abi_version;  /* the host's CAPSULE_ABI_VERSION */
    uint32_t size;         /* sizeof(capsule_host_api) as the host knows it */

    /* Makes the current call fail with `message` (copied). Returns 0. */
    int (*raise)(const char *message);

    /* Writes a line to the host's log, prefixed with the plugin's name. */
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
} capsule_host_api;

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

    /* Capabilities the plugin requires, e.g. "fs.read:./data"; NULL-terminated, or NULL. */
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
} capsule_plugin;

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
