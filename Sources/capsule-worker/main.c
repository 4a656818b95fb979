/*
 * capsule-worker: runs one isolated plugin for one host (docs/security.md#isolated-plugins).
 *
 * Started by the host with posix_spawn (never fork: the host is multithreaded), with the
 * sealed shared memory as fd 3 and its end of a socketpair as fd 4 (capsule_isolation.h).
 * It locks itself down (lockdown.h, stage 1), dlopens the plugin's private copy, sends the
 * descriptor, and on the host's INIT request locks down further (stage 2), prepares one
 * ffi_cif per export and runs the plugin's init. Then it serves calls until the host goes
 * away. It trusts the host, never the plugin; the host trusts nothing it sends.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ffi.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capsule.h"
#include "capsule_isolation.h"
#include "lockdown.h"
#include "values.h"

static capsule_iso_shared *shared;
static uint8_t *data;
static uint64_t data_size;
static capsule_iso_config config;
static const capsule_plugin *plugin;
static char plugin_name[128] = "plugin";

/* ---- the host API the plugin sees ---- */

static int in_call;
static int has_raised;
static char raised[CAPSULE_ISO_MESSAGE_MAX];

/* The worker's copy of the host's TerminalText.safe: `text` (NUL-terminated) into `out`
 * (`size` bytes, NUL-terminated, truncated at a character boundary), with C0 controls, DEL,
 * C1 controls (U+0080-U+009F), the bidirectional formatting characters (U+061C, U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069) and every byte of an invalid UTF-8 sequence written
 * as '?'. A plugin's log line cannot drive the terminal through host->log. */
static void terminal_safe(const char *text, char *out, size_t size) {
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    while (*s && o + 1 < size) {
        unsigned char b = s[0];
        size_t len = 0;
        unsigned int cp = 0;
        if (b < 0x80) { len = 1; cp = b; }
        else if (b >= 0xC2 && b <= 0xDF && (s[1] & 0xC0) == 0x80) { len = 2; cp = ((b & 0x1Fu) << 6) | (s[1] & 0x3Fu); }
        else if (b >= 0xE0 && b <= 0xEF && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
            cp = ((b & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
            if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) len = 3;
        } else if (b >= 0xF0 && b <= 0xF4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) {
            cp = ((b & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
            if (cp >= 0x10000 && cp <= 0x10FFFF) len = 4;
        }
        int unsafe = len == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x61C || cp == 0x200E
            || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
        if (unsafe) { out[o++] = '?'; s += len ? len : 1; continue; }
        if (o + len >= size) break;
        memcpy(out + o, s, len);
        o += len;
        s += len;
    }
    out[o] = 0;
}

static void log_line(const char *level, const char *message) {
    char safe[CAPSULE_ISO_MESSAGE_MAX];
    terminal_safe(message ? message : "", safe, sizeof safe);
    char line[CAPSULE_ISO_MESSAGE_MAX + 200];
    int n = snprintf(line, sizeof line, "[%s] %s: %s\n", plugin_name, level, safe);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    if (n > 0) { ssize_t ignored = write(2, line, (size_t)n); (void)ignored; }
}

static int host_raise(const char *message) {
    if (!in_call) {
        char safe[CAPSULE_ISO_MESSAGE_MAX - 64], text[CAPSULE_ISO_MESSAGE_MAX];
        terminal_safe(message ? message : "(no message)", safe, sizeof safe);
        snprintf(text, sizeof text, "plugin raised an error outside a call: %s", safe);
        ssize_t ignored = write(2, text, strlen(text)); (void)ignored;
        ignored = write(2, "\n", 1); (void)ignored;
        return 0;
    }
    if (!has_raised) {
        snprintf(raised, sizeof raised, "%s", message ? message : "(no message)");
        has_raised = 1;
    }
    return 0;
}

static void host_log(int level, const char *message) {
    static const char *levels[] = {"debug", "info", "warn", "error"};
    log_line(level >= 0 && level < 4 ? levels[level] : "log", message);
}

static void raise_for_values(const char *message) { host_raise(message); }

static void *host_alloc(size_t size) { return malloc(size); }
static void host_free(void *pointer) { free(pointer); }

/* In the worker, the kernel enforces the grants: open_file is open(2) under Landlock. */
static int host_open_file(const char *path, int flags, int mode) {
    if (!path) { host_raise("open_file(NULL)"); return -1; }
    int fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0) {
        char message[CAPSULE_ISO_MESSAGE_MAX];
        snprintf(message, sizeof message, "open_file('%.1000s') denied: %s", path, strerror(errno));
        host_raise(message);
    }
    return fd;
}

/* Whether the current call has raised (no export the worker runs calls script callbacks). */
static int worker_call_failed(void) { return in_call && has_raised; }

/* The worker's environment holds only the variables the plugin is granted. */
static const char *host_getenv(const char *name) { return name ? getenv(name) : NULL; }

/* Programs and connections are the host's services; an isolated plugin cannot have them
 * (its seccomp filter forbids execve, and its grants are not passed to the worker). */
static int host_run_program(const char *program, const char *const *args, size_t arg_count,
                            const char *const *env, int timeout_ms,
                            char **out, size_t *out_length, char **err, size_t *err_length) {
    (void)program; (void)args; (void)arg_count; (void)env; (void)timeout_ms;
    (void)out; (void)out_length; (void)err; (void)err_length;
    host_raise("run_program is not available to an isolated plugin");
    return -1;
}

static int host_connect_tcp(const char *host, int port, int timeout_ms) {
    (void)host; (void)port; (void)timeout_ms;
    host_raise("connect_tcp is not available to an isolated plugin");
    return -1;
}

/* Pinning and calling script functions need the VM, which is in the host process. */
static uint64_t host_value_pin(capsule_value v) {
    (void)v;
    host_raise("value_pin is not available to an isolated plugin");
    return 0;
}
static capsule_value host_pinned_value(uint64_t id) {
    (void)id;
    host_raise("pinned_value is not available to an isolated plugin");
    return CAPSULE_NO_VALUE;
}
static void host_value_unpin(uint64_t id) { (void)id; }
static capsule_value host_call_value(capsule_value function, const capsule_value *args, size_t count) {
    (void)function; (void)args; (void)count;
    host_raise("call_value is not available to an isolated plugin");
    return CAPSULE_NO_VALUE;
}

static capsule_host_api host_api = {
    .abi_version = CAPSULE_ABI_VERSION,
    .size = sizeof(capsule_host_api),
    .raise = host_raise,
    .log = host_log,
    .alloc = host_alloc,
    .free = host_free,
    .open_file = host_open_file,
    .getenv = host_getenv,
    .value_kind = worker_value_kind, .value_type_name = worker_value_type_name,
    .value_bool = worker_value_bool, .value_int = worker_value_int, .value_float = worker_value_float,
    .value_string = worker_value_string, .value_bytes = worker_value_bytes,
    .value_length = worker_value_length, .list_get = worker_list_get, .map_next = worker_map_next,
    .map_get = worker_map_get, .new_nil = worker_new_nil, .new_bool = worker_new_bool,
    .new_int = worker_new_int, .new_float = worker_new_float, .new_string = worker_new_string,
    .new_bytes = worker_new_bytes, .new_list = worker_new_list, .list_push = worker_list_push,
    .new_map = worker_new_map, .map_set = worker_map_set, .values_mark = worker_values_mark,
    .values_release = worker_values_release,
    .run_program = host_run_program, .connect_tcp = host_connect_tcp,
    .call_failed = worker_call_failed,
    .value_pin = host_value_pin, .pinned_value = host_pinned_value,
    .value_unpin = host_value_unpin, .call_value = host_call_value,
};

/* ---- responses ---- */

static uint32_t current_seq;

static void respond(uint32_t status) {
    shared->status = status;
    capsule_iso_store(&shared->response_seq, current_seq);
    if (capsule_iso_load(&shared->host_waiting)) {
        char wake = CAPSULE_ISO_WAKE;
        ssize_t ignored = send(CAPSULE_ISO_SOCKET_FD, &wake, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
    }
}

/* Writes `text` as the response payload. */
static void payload_text(const char *text) {
    uint64_t at = shared->response_offset;
    size_t n = strlen(text);
    if (n > CAPSULE_ISO_MESSAGE_MAX) n = CAPSULE_ISO_MESSAGE_MAX;
    if (at > data_size || n > data_size - at) n = 0;
    if (n) memcpy(data + at, text, n);
    shared->payload_length = (uint32_t)n;
}

static void respond_text(uint32_t status, const char *format, ...) {
    char text[CAPSULE_ISO_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    payload_text(text);
    respond(status);
}

/* ---- waiting for requests ---- */

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* How long the worker spins for the next request before it sleeps, and how many of the
 * first spins are a bare pause instruction (~2 µs). */
#define SPIN_NS 100000u
#define PURE_SPINS 512u

static void exit_if_host_gone(void) {
    struct pollfd p = { .fd = CAPSULE_ISO_SOCKET_FD, .events = POLLIN };
    if (getppid() != config.host_pid) _exit(0);
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) _exit(0);
}

static uint32_t wait_request(uint32_t last) {
    uint64_t start = now_ns();
    for (unsigned i = 1;; i++) {
        uint32_t seq = capsule_iso_load_acquire(&shared->request_seq);
        if (seq != last) return seq;
        /* Pure spinning first (the host answers within microseconds when it has a core);
         * then yielding, so a host waiting for this core gets it. */
        if (i < PURE_SPINS) {
            capsule_iso_pause();
        } else {
            sched_yield();
            if ((i & 15) == 0 && now_ns() - start > SPIN_NS) break;
        }
    }
    for (;;) {
        capsule_iso_store(&shared->worker_idle, 1);
        uint32_t seq = capsule_iso_load(&shared->request_seq);
        if (seq == last) capsule_iso_futex_wait(&shared->request_seq, last, 1000000000L);
        capsule_iso_store(&shared->worker_idle, 0);
        seq = capsule_iso_load_acquire(&shared->request_seq);
        if (seq != last) return seq;
        exit_if_host_gone();
    }
}

/* ---- the descriptor ---- */

typedef struct writer {
    uint8_t *base;
    uint64_t at, limit;
    int overflow;
} writer;

static void put(writer *w, const void *bytes, uint64_t n) {
    if (w->overflow || n > w->limit - w->at) { w->overflow = 1; return; }
    memcpy(w->base + w->at, bytes, n);
    w->at += n;
}
static void put32(writer *w, uint32_t v) { put(w, &v, 4); }
static void put64(writer *w, uint64_t v) { put(w, &v, 8); }
/* A string: u32 length then the bytes; 0xFFFFFFFF for NULL. */
static void put_string(writer *w, const char *s) {
    if (!s) { put32(w, 0xFFFFFFFFu); return; }
    size_t n = strnlen(s, 1 << 16);
    put32(w, (uint32_t)n);
    put(w, s, n);
}

/* True for the sizes of the capsule_plugin layouts of this ABI version (it grows at the end;
 * the worker reads nothing past restore_state). */
static int known_size(uint32_t size) {
    return size == sizeof(capsule_plugin) || size == CAPSULE_PLUGIN_SIZE_1_0;
}

/* The descriptor as the host's PluginManifest check reads it: abi, size, and only if both
 * match, the rest. Layout documented in IsolatedDescriptor.swift. */
static int write_descriptor(const capsule_plugin *d) {
    writer w = { data + shared->response_offset, 0, data_size - shared->response_offset, 0 };
    put32(&w, d->abi_version);
    put32(&w, d->struct_size);
    if (d->abi_version == CAPSULE_ABI_VERSION && known_size(d->struct_size)) {
        put_string(&w, d->name);
        put_string(&w, d->version);
        put_string(&w, d->description);
        uint32_t capabilities = 0;
        if (d->capabilities) while (d->capabilities[capabilities] && capabilities < 4096) capabilities++;
        put32(&w, capabilities);
        for (uint32_t i = 0; i < capabilities; i++) put_string(&w, d->capabilities[i]);
        put64(&w, d->handle_type_count);
        put32(&w, d->handle_types != NULL);
        if (d->handle_types && d->handle_type_count <= 65535) {
            for (size_t i = 0; i < d->handle_type_count; i++) {
                put_string(&w, d->handle_types[i].name);
                put32(&w, d->handle_types[i].destroy != NULL);
            }
        }
        put64(&w, d->export_count);
        put32(&w, d->exports != NULL);
        if (d->exports && d->export_count <= 65535) {
            for (size_t i = 0; i < d->export_count; i++) {
                const capsule_export *e = &d->exports[i];
                put_string(&w, e->name);
                put_string(&w, e->signature);
                put32(&w, e->fn != NULL);
                put32(&w, e->flags);
                put_string(&w, e->doc);
            }
        }
        put32(&w, d->init != NULL);
    }
    if (w.overflow) return -1;
    shared->payload_length = (uint32_t)w.at;
    return 0;
}

/* ---- handles: id → pointer. An id is (serial << 32) | (index + 1); a slot's serial
 * changes on every reuse, so a stale id never names a newer handle. ---- */

typedef struct handle_entry {
    void *pointer;
    uint32_t serial;
    uint16_t type;
    uint8_t used;
    uint32_t next_free;
} handle_entry;

static handle_entry *handles;
static uint32_t handle_capacity, handle_count, free_head = UINT32_MAX;

static uint64_t handle_new(void *pointer, uint16_t type) {
    uint32_t index;
    if (free_head != UINT32_MAX) {
        index = free_head;
        free_head = handles[index].next_free;
    } else {
        if (handle_count == handle_capacity) {
            uint32_t capacity = handle_capacity ? handle_capacity * 2 : 64;
            handle_entry *grown = realloc(handles, capacity * sizeof *grown);
            if (!grown) return 0;
            handles = grown;
            handle_capacity = capacity;
        }
        index = handle_count++;
        handles[index].serial = 0;
    }
    handle_entry *h = &handles[index];
    h->serial++;
    h->pointer = pointer;
    h->type = type;
    h->used = 1;
    return ((uint64_t)h->serial << 32) | (index + 1);
}

static handle_entry *handle_find(uint64_t id) {
    uint64_t index = (id & 0xFFFFFFFFu) - 1;
    if ((id & 0xFFFFFFFFu) == 0 || index >= handle_count) return NULL;
    handle_entry *h = &handles[index];
    return h->used && h->serial == (uint32_t)(id >> 32) ? h : NULL;
}

static void handle_destroy(uint64_t id) {
    handle_entry *h = handle_find(id);
    if (!h) return;
    void (*destroy)(void *) = h->type < plugin->handle_type_count ? plugin->handle_types[h->type].destroy : NULL;
    void *pointer = h->pointer;
    h->used = 0;
    h->pointer = NULL;
    uint32_t index = (uint32_t)(h - handles);
    h->next_free = free_head;
    free_head = index;
    if (destroy) destroy(pointer);
}

/* ---- calls ---- */

typedef struct prepared {
    capsule_iso_plan_header header;
    capsule_iso_plan_parameter *parameters;
    ffi_cif cif;
    ffi_type **types;
    unsigned c_arguments;
    int uses_values;
    void (*fn)(void);
} prepared;

static prepared *exports;
static size_t export_count;

static ffi_type *ffi_type_of(uint8_t kind) {
    switch (kind) {
    case CAPSULE_ISO_KIND_VOID: return &ffi_type_void;
    case CAPSULE_ISO_KIND_BOOL: case CAPSULE_ISO_KIND_U8: return &ffi_type_uint8;
    case CAPSULE_ISO_KIND_I8: return &ffi_type_sint8;
    case CAPSULE_ISO_KIND_I16: return &ffi_type_sint16;
    case CAPSULE_ISO_KIND_U16: return &ffi_type_uint16;
    case CAPSULE_ISO_KIND_I32: return &ffi_type_sint32;
    case CAPSULE_ISO_KIND_U32: return &ffi_type_uint32;
    case CAPSULE_ISO_KIND_I64: case CAPSULE_ISO_KIND_VALUE: return &ffi_type_sint64;
    case CAPSULE_ISO_KIND_U64: return &ffi_type_uint64;
    case CAPSULE_ISO_KIND_F32: return &ffi_type_float;
    case CAPSULE_ISO_KIND_F64: return &ffi_type_double;
    default: return &ffi_type_pointer;
    }
}

/* Reads the INIT payload (the host's call plans) and prepares every export. */
static int prepare(uint64_t length, char *error, size_t error_size) {
    export_count = plugin->export_count;
    exports = calloc(export_count ? export_count : 1, sizeof *exports);
    if (!exports) { snprintf(error, error_size, "out of memory"); return -1; }
    uint64_t at = 0;
    for (size_t i = 0; i < export_count; i++) {
        prepared *p = &exports[i];
        if (length - at < sizeof p->header || at > length) { snprintf(error, error_size, "truncated call plans"); return -1; }
        memcpy(&p->header, data + at, sizeof p->header);
        at += sizeof p->header;
        size_t n = p->header.parameter_count;
        if (n * sizeof(capsule_iso_plan_parameter) > length - at) { snprintf(error, error_size, "truncated call plans"); return -1; }
        p->parameters = calloc(n ? n : 1, sizeof *p->parameters);
        p->types = calloc(CAPSULE_ISO_MAX_SLOTS, sizeof *p->types);
        if (!p->parameters || !p->types) { snprintf(error, error_size, "out of memory"); return -1; }
        memcpy(p->parameters, data + at, n * sizeof *p->parameters);
        at += n * sizeof *p->parameters;
        unsigned c = 0;
        p->uses_values = p->header.result_kind == CAPSULE_ISO_KIND_VALUE;
        for (size_t k = 0; k < n; k++) {
            uint8_t kind = p->parameters[k].kind;
            if (kind == CAPSULE_ISO_KIND_VALUE) p->uses_values = 1;
            if (c + 2 >= CAPSULE_ISO_MAX_SLOTS) { snprintf(error, error_size, "too many arguments"); return -1; }
            if (p->parameters[k].is_out) p->types[c++] = &ffi_type_pointer;
            else if (kind == CAPSULE_ISO_KIND_BYTES || kind == CAPSULE_ISO_KIND_BUF) {
                p->types[c++] = &ffi_type_pointer;
                p->types[c++] = &ffi_type_uint64;
            } else p->types[c++] = ffi_type_of(kind);
        }
        if (p->header.result_kind == CAPSULE_ISO_KIND_BYTES) p->types[c++] = &ffi_type_pointer;
        p->c_arguments = c;
        p->fn = plugin->exports[i].fn;
        if (ffi_prep_cif(&p->cif, FFI_DEFAULT_ABI, c, ffi_type_of(p->header.result_kind), p->types) != FFI_OK) {
            snprintf(error, error_size, "libffi cannot prepare export %zu", i);
            return -1;
        }
    }
    return 0;
}

/* Copies `n` bytes at `from` into the response payload; returns its offset or -1 when the
 * buffer is too small. */
static int64_t copy_out(uint64_t *used, const void *from, uint64_t n) {
    uint64_t at = shared->response_offset + *used;
    if (at > data_size || n > data_size - at) return -1;
    if (n) memcpy(data + at, from, n);
    *used += (n + 15) & ~(uint64_t)15;
    return (int64_t)at;
}

static void call(uint32_t index) {
    if (index >= export_count) { respond_text(CAPSULE_ISO_FAILED, "no export %u", index); return; }
    prepared *p = &exports[index];
    capsule_iso_slot values[CAPSULE_ISO_MAX_SLOTS];
    capsule_iso_slot outs[CAPSULE_ISO_MAX_SLOTS];
    void *arguments[CAPSULE_ISO_MAX_SLOTS];
    uint64_t bytes_length = 0;
    unsigned c = 0, out = 0;
    if (p->uses_values) worker_values_begin();
    for (unsigned k = 0; k < p->header.parameter_count; k++) {
        capsule_iso_plan_parameter *q = &p->parameters[k];
        capsule_iso_slot s = shared->args[c];
        if (q->is_out) {
            outs[out] = (capsule_iso_slot){0, 0};
            values[c].a = (uint64_t)(uintptr_t)&outs[out++];
            arguments[c] = &values[c];
            c++;
            continue;
        }
        switch (q->kind) {
        case CAPSULE_ISO_KIND_STR:
            if (s.a > data_size || s.b >= data_size - s.a || data[s.a + s.b] != 0) {
                if (p->uses_values) worker_values_end();
                respond_text(CAPSULE_ISO_FAILED, "argument %u: bad str payload", k + 1);
                return;
            }
            values[c].a = (uint64_t)(uintptr_t)(data + s.a);
            break;
        case CAPSULE_ISO_KIND_BYTES: case CAPSULE_ISO_KIND_BUF:
            if (s.a > data_size || s.b > data_size - s.a) {
                if (p->uses_values) worker_values_end();
                respond_text(CAPSULE_ISO_FAILED, "argument %u: bad bytes payload", k + 1);
                return;
            }
            values[c].a = (uint64_t)(uintptr_t)(data + s.a);
            arguments[c] = &values[c];
            c++;
            values[c].a = s.b;
            break;
        case CAPSULE_ISO_KIND_VALUE:
            if (s.a > data_size || s.b > data_size - s.a
                || (values[c].a = worker_values_decode(data + s.a, s.b)) == CAPSULE_NO_VALUE) {
                if (p->uses_values) worker_values_end();
                respond_text(CAPSULE_ISO_FAILED, "argument %u: malformed value", k + 1);
                return;
            }
            break;
        case CAPSULE_ISO_KIND_HANDLE: {
            handle_entry *h = handle_find(s.a);
            if (!h || h->type != q->handle_type) {
                if (p->uses_values) worker_values_end();
                respond_text(CAPSULE_ISO_FAILED, "argument %u: unknown handle", k + 1);
                return;
            }
            values[c].a = (uint64_t)(uintptr_t)h->pointer;
            break;
        }
        default:
            values[c] = s;
        }
        arguments[c] = &values[c];
        c++;
    }
    if (p->header.result_kind == CAPSULE_ISO_KIND_BYTES) {
        values[c].a = (uint64_t)(uintptr_t)&bytes_length;
        arguments[c] = &values[c];
        c++;
    }

    capsule_iso_slot result = {0, 0};
    has_raised = 0;
    in_call = 1;
    ffi_call(&p->cif, p->fn, &result, arguments);
    in_call = 0;
    if (p->header.flags & CAPSULE_EXPORT_CLOSES_HANDLE) handle_destroy(shared->args[0].a);
    if (has_raised) {
        if (p->uses_values) worker_values_end();
        payload_text(raised);
        respond(CAPSULE_ISO_RAISED);
        return;
    }

    uint64_t used = 0;
    switch (p->header.result_kind) {
    case CAPSULE_ISO_KIND_VALUE: {
        capsule_value ref = result.a;
        if (ref == CAPSULE_NO_VALUE) { worker_values_end(); result = (capsule_iso_slot){0, 0}; break; }
        uint64_t at = shared->response_offset;
        const char *why = "";
        int64_t n = at <= data_size ? worker_values_encode(ref, data + at, data_size - at, &why) : -1;
        worker_values_end();
        if (n < 0) {
            respond_text(CAPSULE_ISO_FAILED, "%s", why);
            return;
        }
        result = (capsule_iso_slot){1, 0};
        used = (uint64_t)n;
        break;
    }
    case CAPSULE_ISO_KIND_STR: case CAPSULE_ISO_KIND_BYTES: {
        const void *pointer = (const void *)(uintptr_t)result.a;
        if (!pointer) { result = (capsule_iso_slot){0, UINT64_MAX}; break; }
        uint64_t n = p->header.result_kind == CAPSULE_ISO_KIND_STR ? strlen(pointer) : bytes_length;
        int64_t at = copy_out(&used, pointer, n);
        if (at < 0) {
            uint64_t start = shared->response_offset;
            respond_text(CAPSULE_ISO_FAILED, "the %s result of %llu bytes does not fit in the isolation buffer (%llu bytes left of %llu; raise IsolationSettings.bufferSize)",
                         p->header.result_kind == CAPSULE_ISO_KIND_STR ? "str" : "bytes", (unsigned long long)n,
                         (unsigned long long)(start < data_size ? data_size - start : 0), (unsigned long long)data_size);
            return;
        }
        result = (capsule_iso_slot){(uint64_t)at, n};
        break;
    }
    case CAPSULE_ISO_KIND_HANDLE: {
        void *pointer = (void *)(uintptr_t)result.a;
        result = (capsule_iso_slot){pointer ? handle_new(pointer, p->header.result_handle_type) : 0, 0};
        break;
    }
    default:
        break;
    }
    if (p->uses_values && p->header.result_kind != CAPSULE_ISO_KIND_VALUE) worker_values_end();
    shared->result = result;
    for (unsigned k = 0; k < out; k++) shared->outs[k] = outs[k];
    shared->payload_length = (uint32_t)used;
    respond(CAPSULE_ISO_OK);
}

static void run_destroys(void) {
    uint32_t n = shared->destroy_count;
    if (n > CAPSULE_ISO_MAX_DESTROYS) n = CAPSULE_ISO_MAX_DESTROYS;
    for (uint32_t i = 0; i < n; i++) handle_destroy(shared->destroys[i]);
}

/* ---- start ---- */

static void start_failed(const char *format, ...) {
    char text[CAPSULE_ISO_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    payload_text(text);
    respond(CAPSULE_ISO_FAILED);
    _exit(0);
}

/* ---- hot reload: state migration between an old and a new worker ---- */

/* SAVE_STATE: the plugin's save_state bytes as the response payload (result.a = 1), or
 * result.a = 0 when it has none. Bytes that do not fit the data area are a FAILED response. */
static void save_state(void) {
    shared->result = (capsule_iso_slot){0, 0};
    shared->payload_length = 0;
    if (!plugin->save_state) { respond(CAPSULE_ISO_OK); return; }
    size_t size = 0;
    has_raised = 0;
    in_call = 1;
    void *bytes = plugin->save_state(&size);
    in_call = 0;
    if (!bytes) { respond(CAPSULE_ISO_OK); return; }
    uint64_t at = shared->response_offset;
    if (at > data_size || size > data_size - at) {
        free(bytes);
        respond_text(CAPSULE_ISO_FAILED, "save_state returned %zu bytes, more than the isolation buffer holds", size);
        return;
    }
    memcpy(data + at, bytes, size);
    free(bytes);
    shared->payload_length = (uint32_t)size;
    shared->result = (capsule_iso_slot){1, 0};
    respond(CAPSULE_ISO_OK);
}

/* RESTORE_STATE: hands the state in the request payload to restore_state. */
static void restore_state(void) {
    uint64_t version_length = shared->args[0].a, size = shared->args[0].b;
    if (version_length > 255 || size > data_size || version_length + size > data_size) {
        respond_text(CAPSULE_ISO_FAILED, "bad restore_state request");
        return;
    }
    if (!plugin->restore_state) {
        shared->result = (capsule_iso_slot){0, 0};
        payload_text("");
        respond(CAPSULE_ISO_OK);
        return;
    }
    char version[256];
    memcpy(version, data, version_length);
    version[version_length] = 0;
    void *state = NULL;
    if (size > 0) {
        state = malloc(size);
        if (!state) { respond_text(CAPSULE_ISO_FAILED, "out of memory"); return; }
        memcpy(state, data + version_length, size);
    }
    has_raised = 0;
    in_call = 1;
    int status = plugin->restore_state(state, size, version);
    in_call = 0;
    free(state);
    shared->result = (capsule_iso_slot){(uint64_t)(int64_t)status, 1};
    payload_text(has_raised ? raised : "");
    respond(CAPSULE_ISO_OK);
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct stat info;
    if (fstat(CAPSULE_ISO_SHARED_FD, &info) != 0 || (uint64_t)info.st_size < sizeof(capsule_iso_shared)) {
        fprintf(stderr, "capsule-worker: started without the host's shared memory on fd %d (this program is started by the Capsule host)\n", CAPSULE_ISO_SHARED_FD);
        return 64;
    }
    void *mapping = mmap(NULL, (size_t)info.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, CAPSULE_ISO_SHARED_FD, 0);
    if (mapping == MAP_FAILED) return 71;
    close(CAPSULE_ISO_SHARED_FD);
    shared = mapping;
    if (shared->magic != CAPSULE_ISO_MAGIC || shared->version != CAPSULE_ISO_VERSION
        || shared->header_size != sizeof(capsule_iso_shared) || shared->data_offset > (uint64_t)info.st_size
        || shared->data_size > (uint64_t)info.st_size - shared->data_offset) {
        fprintf(stderr, "capsule-worker: the host speaks another protocol version\n");
        return 65;
    }
    data = (uint8_t *)mapping + shared->data_offset;
    data_size = shared->data_size;
    config = shared->config;
    current_seq = capsule_iso_load(&shared->request_seq);

    /* Die with the host; and if it is already gone, do not start. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != config.host_pid) _exit(0);
    /* Nothing but stdio, the shared memory mapping and the socket. */
    syscall(SYS_close_range, 5, ~0u, 0);

    char path[4096];
    if (config.plugin_path_length >= sizeof path || (uint64_t)config.plugin_path_offset + config.plugin_path_length > data_size)
        start_failed("bad plugin path");
    memcpy(path, data + config.plugin_path_offset, config.plugin_path_length);
    path[config.plugin_path_length] = 0;

    /* The configuration's strings, copied: responses reuse the data area. */
    uint64_t strings_size = (uint64_t)config.plugin_path_offset + config.plugin_path_length + 1;
    for (uint32_t i = 0; i < config.path_count + config.load_path_count && i < CAPSULE_ISO_MAX_PATHS; i++) {
        uint64_t end = (uint64_t)config.paths[i].offset + config.paths[i].length + 1;
        if (end > strings_size) strings_size = end;
    }
    if (strings_size > data_size) start_failed("bad configuration strings");
    uint8_t *strings = malloc(strings_size);
    if (!strings) start_failed("out of memory");
    memcpy(strings, data, strings_size);

    worker_values_init(raise_for_values);
    char error[1024];
    if (capsule_lockdown_stage1(&config, strings, strings_size, error, sizeof error) != 0)
        start_failed("cannot lock down the worker: %s", error);

    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *message = dlerror();
        start_failed("%s", message ? message : "dlopen failed");
    }
    capsule_entry_fn entry = (capsule_entry_fn)(uintptr_t)dlsym(library, CAPSULE_ENTRY_SYMBOL);
    if (!entry)
        start_failed("no '" CAPSULE_ENTRY_SYMBOL "' symbol (declare the descriptor with CAPSULE_PLUGIN(...) and build with -fvisibility=hidden)");
    plugin = entry();
    if (!plugin) start_failed("capsule_plugin_entry returned NULL");
    if (write_descriptor(plugin) != 0) start_failed("the plugin's descriptor does not fit in the isolation buffer");
    if (plugin->abi_version == CAPSULE_ABI_VERSION && plugin->struct_size == sizeof(capsule_plugin) && plugin->struct_type_count > 0)
        start_failed("the plugin declares struct types, which an isolated plugin cannot use (struct values do not cross the worker protocol)");
    if (plugin->abi_version == CAPSULE_ABI_VERSION && known_size(plugin->struct_size) && plugin->name)
        terminal_safe(plugin->name, plugin_name, sizeof plugin_name);
    respond(CAPSULE_ISO_LOADED);

    for (;;) {
        uint32_t seq = wait_request(current_seq);
        current_seq = seq;
        switch (shared->op) {
        case CAPSULE_ISO_OP_INIT: {
            if (capsule_lockdown_stage2(&config, strings, strings_size, error, sizeof error) != 0) {
                respond_text(CAPSULE_ISO_FAILED, "cannot lock down the worker: %s", error);
                _exit(0);
            }
            if (prepare(shared->response_offset, error, sizeof error) != 0) {
                respond_text(CAPSULE_ISO_FAILED, "%s", error);
                _exit(0);
            }
            int status = 0;
            has_raised = 0;
            if (plugin->init) {
                in_call = 1;
                status = plugin->init(&host_api);
                in_call = 0;
            }
            shared->result = (capsule_iso_slot){(uint64_t)(int64_t)status, 0};
            payload_text(has_raised ? raised : "");
            respond(CAPSULE_ISO_OK);
            break;
        }
        case CAPSULE_ISO_OP_CALL:
            run_destroys();
            call(shared->export_index);
            break;
        case CAPSULE_ISO_OP_DESTROY:
            run_destroys();
            shared->payload_length = 0;
            respond(CAPSULE_ISO_OK);
            break;
        case CAPSULE_ISO_OP_SAVE_STATE:
            run_destroys();
            save_state();
            break;
        case CAPSULE_ISO_OP_RESTORE_STATE:
            restore_state();
            break;
        default:
            respond_text(CAPSULE_ISO_FAILED, "unknown request %u", shared->op);
            break;
        }
    }
}
