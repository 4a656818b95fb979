/*
 * The call loop: the host API the plugin sees, the handle table, one prepared libffi call
 * per export, hot reload's state hooks, and `serve`, which answers requests until the host
 * goes away (INIT: lockdown stage 2, prepare, init; then CALL, DESTROY, SAVE_STATE,
 * RESTORE_STATE).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockdown.h"
#include "values.h"
#include "worker.h"

/* ---- the host API the plugin sees ---- */

static int in_call;
static int has_raised;
static char raised[CAPSULE_ISO_MESSAGE_MAX];

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

/* The configuration's strings (serve sets them before INIT): the granted paths. */
static const uint8_t *grant_strings;
static uint64_t grant_strings_size;

/* Whether a grant is the file `st` itself (same device and inode) or every path (`/`):
 * then a hard link of it reaches nothing outside the grants. */
static int granted_as_itself(const struct stat *st) {
    for (uint32_t i = 0; i < config.path_count && i < CAPSULE_ISO_MAX_PATHS; i++) {
        const capsule_iso_path_rule *rule = &config.paths[i];
        char granted[4096];
        if (!grant_strings || rule->length >= sizeof granted || (uint64_t)rule->offset + rule->length >= grant_strings_size) continue;
        memcpy(granted, grant_strings + rule->offset, rule->length);
        granted[rule->length] = 0;
        if (strcmp(granted, "/") == 0) return 1;
        struct stat g;
        if (stat(granted, &g) == 0 && g.st_dev == st->st_dev && g.st_ino == st->st_ino) return 1;
    }
    return 0;
}

/* In the worker, the kernel enforces the grants: open_file is open(2) under Landlock. Landlock
 * cannot see hard links, so the in-process rule is applied on the descriptor: a regular file
 * with more than one link is refused unless a grant is that file itself (or every path), and
 * O_TRUNC is applied only after that check. */
static int host_open_file(const char *path, int flags, int mode) {
    if (!path) { host_raise("open_file(NULL)"); return -1; }
    char message[CAPSULE_ISO_MESSAGE_MAX];
    int fd = open(path, (flags & ~O_TRUNC) | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(message, sizeof message, "open_file('%.1000s') denied: %s", path, strerror(errno));
        host_raise(message);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(message, sizeof message, "open_file('%.1000s'): %s", path, strerror(errno));
        close(fd);
        host_raise(message);
        return -1;
    }
    if (S_ISREG(st.st_mode) && st.st_nlink > 1 && !granted_as_itself(&st)) {
        snprintf(message, sizeof message, "open_file('%.1000s') denied: the file has %lu hard links, and the others may be outside the grant",
                 path, (unsigned long)st.st_nlink);
        close(fd);
        host_raise(message);
        errno = EACCES;
        return -1;
    }
    if ((flags & O_TRUNC) && S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) {
        snprintf(message, sizeof message, "open_file('%.1000s'): %s", path, strerror(errno));
        close(fd);
        host_raise(message);
        return -1;
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

/* Whether `path` (absolute, resolved) is at or beneath a path rule with `access`. */
static int rule_covers(const char *path, uint32_t access) {
    for (uint32_t i = 0; i < config.path_count && i < CAPSULE_ISO_MAX_PATHS; i++) {
        const capsule_iso_path_rule *rule = &config.paths[i];
        if (!(rule->access & access) || !grant_strings) continue;
        if ((uint64_t)rule->offset + rule->length > grant_strings_size) continue;
        const char *granted = (const char *)grant_strings + rule->offset;
        size_t n = rule->length;
        if (n == 1 && granted[0] == '/') return 1;
        if (strncmp(path, granted, n) == 0 && (path[n] == 0 || path[n] == '/')) return 1;
    }
    return 0;
}

/* check_capability in the worker: fs.read and fs.write answered from the path rules (the
 * grants Landlock enforces), with the path made absolute and resolved as far as it exists;
 * other kinds are left to the kernel (1). Not recorded: the worker has no audit log. */
static int host_check_capability(const char *capability, int flags) {
    if (!capability) { host_raise("check_capability(NULL)"); return -1; }
    uint32_t access;
    const char *kind, *path;
    if (strncmp(capability, "fs.read:", 8) == 0) { access = CAPSULE_ISO_READ; kind = "fs.read"; path = capability + 8; }
    else if (strncmp(capability, "fs.write:", 9) == 0) { access = CAPSULE_ISO_WRITE; kind = "fs.write"; path = capability + 9; }
    else return 1;
    char joined[4096], resolved[PATH_MAX];
    if (path[0] == '/') snprintf(joined, sizeof joined, "%s", path);
    else {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd)) { host_raise("check_capability: cannot read the current directory"); return -1; }
        snprintf(joined, sizeof joined, "%s/%s", cwd, path);
    }
    const char *absolute = realpath(joined, resolved) ? resolved : joined;
    if (rule_covers(absolute, access)) return 1;
    if (flags & CAPSULE_CHECK_RAISE) {
        char message[CAPSULE_ISO_MESSAGE_MAX], shown[1024];
        terminal_safe(absolute, shown, sizeof shown);
        snprintf(message, sizeof message,
                 "plugin:%s: denied: %s %s (grant with --allow-plugin=%s=%s:%s or under \"plugins\" in capsule.json)",
                 plugin_name, kind, shown, plugin_name, kind, shown);
        host_raise(message);
    }
    return 0;
}

/* park and the complete_* functions in the worker: calls cannot finish later across the
 * process boundary, so park fails the call; no token can exist to complete. */
static capsule_token *host_park(void) {
    host_raise("park is not available to an isolated plugin (trust it to run it in-process)");
    return NULL;
}
static void host_complete_nil(capsule_token *t) { (void)t; }
static void host_complete_int(capsule_token *t, int64_t v) { (void)t; (void)v; }
static void host_complete_float(capsule_token *t, double v) { (void)t; (void)v; }
static void host_complete_str(capsule_token *t, const char *d, size_t n) { (void)t; (void)d; (void)n; }
static void host_complete_bytes(capsule_token *t, const uint8_t *d, size_t n) { (void)t; (void)d; (void)n; }
static void host_complete_error(capsule_token *t, const char *m) { (void)t; (void)m; }

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
    .check_capability = host_check_capability,
    .park = host_park, .complete_nil = host_complete_nil, .complete_int = host_complete_int,
    .complete_float = host_complete_float, .complete_str = host_complete_str,
    .complete_bytes = host_complete_bytes, .complete_error = host_complete_error,
};
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

/* ---- the request loop ---- */

_Noreturn void serve(const uint8_t *strings, uint64_t strings_size) {
    char error[1024];
    grant_strings = strings;
    grant_strings_size = strings_size;
    worker_values_init(raise_for_values);
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
