/*
 * capsule_isolation.h — the protocol between the plugin host and an isolated plugin's
 * worker process (`capsule-worker`). One definition, shared by the Swift host and the C
 * worker, as capsule.h is shared by the host and the plugins. docs/security.md (Isolated
 * plugins) describes the design; this file is the wire format.
 *
 * TRANSPORT
 *   The host creates a sealed memfd (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL: the worker
 *   cannot shrink it under the host, which would make the host fault) holding one
 *   `capsule_iso_shared`, followed by the data area, and a socketpair. posix_spawn gives the
 *   worker the memfd as fd 3 and its socket end as fd 4. The worker maps the memfd and
 *   closes fd 3.
 *
 *   Calls are synchronous, one in flight: a one-slot ring. The host writes a request, then
 *   bumps `request_seq`; the worker writes the response, then sets `response_seq` to the same
 *   number. Each side spins briefly on the other's sequence number, then sleeps: the worker
 *   in futex(FUTEX_WAIT) on `request_seq` (after setting `worker_idle`; the host then
 *   futex-wakes it), the host in poll() on its socket (after setting `host_waiting`; the
 *   worker then writes one CAPSULE_ISO_WAKE byte). The socket also carries death: when the
 *   worker exits, the host's poll sees POLLHUP; when the host exits, the worker's does.
 *   Before any of that, the worker's first byte is CAPSULE_ISO_LISTENER with its seccomp
 *   listener attached; the host reads it before it waits for the start's response.
 *
 * TRUST
 *   The worker runs plugin code, so the host treats everything in shared memory as hostile:
 *   it reads each field once, checks every offset and length against the data area, and
 *   copies payloads into its own memory before using them. A violation kills the worker.
 */
#ifndef CAPSULE_ISOLATION_H
#define CAPSULE_ISOLATION_H

#include <stdint.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#endif

#define CAPSULE_ISO_MAGIC 0x4f5349454c555350ull   /* "PSULEISO" */
#define CAPSULE_ISO_VERSION 2u

/* The fds the worker is started with. */
#define CAPSULE_ISO_SHARED_FD 3
#define CAPSULE_ISO_SOCKET_FD 4

/* The byte the worker writes to its socket to wake a sleeping host. */
#define CAPSULE_ISO_WAKE 0x57
/* The first byte the worker ever writes to its socket, in stage 1 before any plugin code
 * runs: it carries the listener of its seccomp filter (SCM_RIGHTS), through which the
 * host's supervisor decides every executable file mapping (CapsuleSupervisor). */
#define CAPSULE_ISO_LISTENER 0x4c

/* Limits of one call. */
#define CAPSULE_ISO_MAX_SLOTS 64      /* C argument slots (bytes/buf take two) */
#define CAPSULE_ISO_MAX_DESTROYS 256  /* handle destructions carried by one request */
#define CAPSULE_ISO_MAX_PATHS 64      /* Landlock path rules */
#define CAPSULE_ISO_MAX_PORTS 64      /* Landlock port rules */
#define CAPSULE_ISO_MESSAGE_MAX 4096  /* raise/log/error text */

/* Requests (`op`). */
enum {
    CAPSULE_ISO_OP_INIT = 1,     /* payload: the call plans; prepare calls, lock down, run init */
    CAPSULE_ISO_OP_CALL = 2,     /* call export `export_index` with `args` */
    CAPSULE_ISO_OP_DESTROY = 3,  /* only run the `destroys` */
    CAPSULE_ISO_OP_SAVE_STATE = 4,    /* hot reload, old worker: run `destroys`, then save_state;
                                       * the bytes are the response payload, result.a = 1 when
                                       * the plugin has save_state and returned data, else 0 */
    CAPSULE_ISO_OP_RESTORE_STATE = 5, /* hot reload, new worker: payload = from_version (args[0].a
                                       * bytes, no NUL) then the state (args[0].b bytes);
                                       * result.a = restore_state's status, result.b = 1 when the
                                       * plugin has restore_state (else nothing ran, status 0) */
};

/* Responses (`status`). */
enum {
    CAPSULE_ISO_OK = 1,          /* result/outs/payload are valid */
    CAPSULE_ISO_RAISED = 2,      /* the plugin raised: message in the payload */
    CAPSULE_ISO_FAILED = 3,      /* the worker refused the request: message in the payload */
    CAPSULE_ISO_LOADED = 4,      /* after start: the descriptor is in the payload */
};

/* Access bits of a path rule (the worker maps them to Landlock rights). */
#define CAPSULE_ISO_READ 0x1u
#define CAPSULE_ISO_WRITE 0x2u
#define CAPSULE_ISO_LOAD 0x4u   /* a load path the worker dlopens, in order, before the plugin */

/* Network flags of the configuration. */
#define CAPSULE_ISO_NET_SOCKETS 0x1u      /* socket(AF_INET/AF_INET6, SOCK_STREAM) allowed */
#define CAPSULE_ISO_NET_ANY_CONNECT 0x2u  /* TCP connect to any port */
#define CAPSULE_ISO_NET_ANY_BIND 0x4u     /* TCP bind to any port */

/* A 16-byte value slot: a scalar in its first bytes (little-endian, as C stores it), or an
 * (offset, length) pair into the data area for str/bytes/buf, or a handle id. */
typedef struct capsule_iso_slot {
    uint64_t a;
    uint64_t b;
} capsule_iso_slot;

/* A Landlock path rule: `length` bytes at `offset` in the data area (no NUL). */
typedef struct capsule_iso_path_rule {
    uint32_t access;   /* CAPSULE_ISO_READ | CAPSULE_ISO_WRITE, or CAPSULE_ISO_LOAD */
    uint32_t offset;
    uint32_t length;
    uint32_t reserved;
} capsule_iso_path_rule;

/* A Landlock port rule. */
typedef struct capsule_iso_port_rule {
    uint16_t port;
    uint16_t connect;  /* 1: connect allowed */
    uint16_t bind;     /* 1: bind allowed */
    uint16_t reserved;
} capsule_iso_port_rule;

/* What the worker is told before it starts: read once at start, before any plugin code. */
typedef struct capsule_iso_config {
    int32_t host_pid;              /* the worker exits if its parent is not this */
    uint32_t plugin_path_offset;   /* the private copy to dlopen, in the data area */
    uint32_t plugin_path_length;
    uint32_t net_flags;            /* CAPSULE_ISO_NET_* */
    uint64_t memory_limit;         /* RLIMIT_AS, bytes */
    uint64_t open_files_limit;     /* RLIMIT_NOFILE */
    uint64_t file_size_limit;      /* RLIMIT_FSIZE, bytes */
    uint32_t path_count;           /* the plugin's granted paths */
    uint32_t load_path_count;      /* then read-only paths needed only to load: the libraries the
                                    * host resolved for the plugin (CAPSULE_ISO_LOAD, dependencies
                                    * first), /etc/ld.so.cache and the private copy */
    uint32_t port_count;
    uint32_t reserved;
    capsule_iso_path_rule paths[CAPSULE_ISO_MAX_PATHS];  /* granted first, then load-only */
    capsule_iso_port_rule ports[CAPSULE_ISO_MAX_PORTS];
} capsule_iso_config;

/*
 * The shared region. The data area follows at `data_offset` (`data_size` bytes): request
 * payloads from its start, response payloads from `response_offset` (set by the host in
 * each request, 16-byte aligned, after the request's payload).
 */
typedef struct capsule_iso_shared {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;          /* sizeof(capsule_iso_shared) */
    uint64_t data_offset;
    uint64_t data_size;

    uint8_t pad0[32];                    /* (explicit padding: Swift imports no _Alignas) */

    /* Synchronisation words, each pair on its own cache line (offsets 64 and 128). */
    uint32_t request_seq;                /* host writes */
    uint32_t worker_idle;                /* worker writes: 1 while in futex wait */
    uint8_t pad1[56];
    uint32_t response_seq;               /* worker writes */
    uint32_t host_waiting;               /* host writes: 1 while in poll */
    uint8_t pad2[56];

    /* The request (host → worker), from offset 192. */
    uint32_t op;
    uint32_t export_index;
    uint32_t destroy_count;
    uint32_t response_offset;            /* where the worker writes response payloads */
    uint64_t destroys[CAPSULE_ISO_MAX_DESTROYS];  /* handle ids to destroy before the call */
    capsule_iso_slot args[CAPSULE_ISO_MAX_SLOTS];

    /* The response (worker → host). */
    uint32_t status;
    uint32_t payload_length;             /* bytes at response_offset */
    capsule_iso_slot result;             /* str/bytes results: (offset, length) */
    capsule_iso_slot outs[CAPSULE_ISO_MAX_SLOTS];

    capsule_iso_config config;
} capsule_iso_shared;

/* Call plans (the INIT payload): for each export in descriptor order, one
 * capsule_iso_plan_header, then `parameter_count` capsule_iso_plan_parameter. Kinds are the
 * CAPSULE_ISO_KIND_* below (the host's TypeKind raw values). */
typedef struct capsule_iso_plan_header {
    uint8_t parameter_count;
    uint8_t result_kind;
    uint16_t result_handle_type;  /* for handle results: the handle type's index */
    uint32_t flags;               /* CAPSULE_EXPORT_* */
} capsule_iso_plan_header;

typedef struct capsule_iso_plan_parameter {
    uint8_t kind;
    uint8_t is_out;
    uint16_t handle_type;         /* for handle parameters: the handle type's index */
} capsule_iso_plan_parameter;

enum {
    CAPSULE_ISO_KIND_VOID, CAPSULE_ISO_KIND_BOOL, CAPSULE_ISO_KIND_I8, CAPSULE_ISO_KIND_I16,
    CAPSULE_ISO_KIND_I32, CAPSULE_ISO_KIND_I64, CAPSULE_ISO_KIND_U8, CAPSULE_ISO_KIND_U16,
    CAPSULE_ISO_KIND_U32, CAPSULE_ISO_KIND_U64, CAPSULE_ISO_KIND_F32, CAPSULE_ISO_KIND_F64,
    CAPSULE_ISO_KIND_PTR, CAPSULE_ISO_KIND_STR, CAPSULE_ISO_KIND_BYTES, CAPSULE_ISO_KIND_BUF,
    CAPSULE_ISO_KIND_HANDLE,
    CAPSULE_ISO_KIND_STRUCT, CAPSULE_ISO_KIND_CALLBACK, /* never sent: the host refuses them */
    CAPSULE_ISO_KIND_VALUE
};

/*
 * `value` arguments and results (the worker's values.c; IsolatedPlugin+Values.swift): a
 * deep copy, each value a CAPSULE_KIND_* byte, then
 *   nil: nothing; bool: u8; int: i64; float: f64; string, bytes: u32 length, bytes;
 *   list: u32 count, items; map: u32 count, key and value per entry;
 *   function, handle, other: u32 index into the host's opaque values of this call,
 *   u32 length and the type name (they cannot be copied; they come back as themselves).
 * A value argument's slot is (offset, length) in the data area; a value result is the
 * response payload (result.a = 1), or nil (result.a = 0).
 */
#define CAPSULE_ISO_VALUE_DEPTH 64   /* deeper values (or cyclic ones) are refused */

/* Atomics and futexes on shared memory (process-shared: no FUTEX_PRIVATE_FLAG). */
static inline uint32_t capsule_iso_load(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline uint32_t capsule_iso_load_acquire(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void capsule_iso_store(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline void capsule_iso_store_release(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void capsule_iso_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
/* Sleeps while *word == expected, at most `nanoseconds` (0: no limit). */
static inline long capsule_iso_futex_wait(uint32_t *word, uint32_t expected, long nanoseconds) {
    struct timespec t = { nanoseconds / 1000000000L, nanoseconds % 1000000000L };
    return syscall(SYS_futex, word, FUTEX_WAIT, expected, nanoseconds > 0 ? &t : NULL, NULL, 0);
}
static inline long capsule_iso_futex_wake(uint32_t *word) {
    return syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Host-side helpers for calls Swift cannot make (variadic C functions). */
static inline int capsule_iso_memfd(const char *name) {
    return (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}
/* Fixes the memfd's size for good: the worker can neither shrink it (which would make the
 * host fault on access) nor grow it, and no one can remove the seals. */
static inline int capsule_iso_seal(int fd) {
    return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}
/* A close-on-exec copy of `fd` numbered 10 or above (clear of the worker's fds 0-4). */
static inline int capsule_iso_dup_high(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 10); }
/* waitpid's status decoded (the macros are not visible to Swift). */
static inline int capsule_iso_exited(int status) { return WIFEXITED(status); }
static inline int capsule_iso_exit_status(int status) { return WEXITSTATUS(status); }
static inline int capsule_iso_signaled(int status) { return WIFSIGNALED(status); }
static inline int capsule_iso_term_signal(int status) { return WTERMSIG(status); }

_Static_assert(offsetof(capsule_iso_shared, request_seq) == 64, "sync words on their own cache line");
_Static_assert(offsetof(capsule_iso_shared, response_seq) == 128, "sync words on their own cache line");
_Static_assert(offsetof(capsule_iso_shared, op) == 192, "the request on its own cache line");

#endif /* CAPSULE_ISOLATION_H */
