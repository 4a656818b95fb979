/*
 * Resource limits, no_new_privs, Landlock and seccomp for the worker (see lockdown.h).
 * The seccomp filter is classic BPF written by hand (no libseccomp): one comparison per
 * system call, each followed by its verdict, so no jump is longer than a few instructions.
 */
#define _GNU_SOURCE
#include "lockdown.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sched.h>
#include <time.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/* ---- Landlock. The installed kernel headers (6.1) stop at ABI 2, so everything is
 * defined here from the kernel's uapi/linux/landlock.h. ---- */

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

#define LL_FS_EXECUTE (1ull << 0)
#define LL_FS_WRITE_FILE (1ull << 1)
#define LL_FS_READ_FILE (1ull << 2)
#define LL_FS_READ_DIR (1ull << 3)
#define LL_FS_REMOVE_DIR (1ull << 4)
#define LL_FS_REMOVE_FILE (1ull << 5)
#define LL_FS_MAKE_CHAR (1ull << 6)
#define LL_FS_MAKE_DIR (1ull << 7)
#define LL_FS_MAKE_REG (1ull << 8)
#define LL_FS_MAKE_SOCK (1ull << 9)
#define LL_FS_MAKE_FIFO (1ull << 10)
#define LL_FS_MAKE_BLOCK (1ull << 11)
#define LL_FS_MAKE_SYM (1ull << 12)
#define LL_FS_REFER (1ull << 13)      /* ABI 2 */
#define LL_FS_TRUNCATE (1ull << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ull << 15)  /* ABI 5 */

#define LL_NET_BIND_TCP (1ull << 0)     /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ull << 1)  /* ABI 4 */

#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0)  /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ull << 1)                /* ABI 6 */

/* The oldest Landlock ABI isolation runs on: before ABI 3, truncate(2) is not confined. */
#define LL_MINIMUM_ABI 3

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;  /* ABI 4 */
    uint64_t scoped;              /* ABI 6 */
};

struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

static int fail(char *error, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(error, size, format, args);
    va_end(args);
    return -1;
}

static int landlock_abi(void) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    return abi < 0 ? -errno : (int)abi;
}

/* Every filesystem right the running kernel knows. */
static uint64_t fs_rights(int abi) {
    uint64_t rights = (LL_FS_MAKE_SYM << 1) - 1;  /* ABI 1: EXECUTE … MAKE_SYM */
    if (abi >= 2) rights |= LL_FS_REFER;
    if (abi >= 3) rights |= LL_FS_TRUNCATE;
    if (abi >= 5) rights |= LL_FS_IOCTL_DEV;
    return rights;
}

static const uint64_t file_only_rights = LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV;

/* The rights a grant gives. Reading never includes EXECUTE; writing is creating, changing,
 * renaming and removing files and directories, never devices, sockets or fifos. */
static uint64_t rights_for(uint32_t access) {
    uint64_t r = 0;
    if (access & CAPSULE_ISO_READ) r |= LL_FS_READ_FILE | LL_FS_READ_DIR;
    if (access & CAPSULE_ISO_WRITE)
        r |= LL_FS_WRITE_FILE | LL_FS_TRUNCATE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR
           | LL_FS_MAKE_REG | LL_FS_MAKE_SYM | LL_FS_REFER;
    return r;
}

/* Adds a path rule. A path that does not exist is skipped: Landlock attaches rules to
 * existing files and directories, so a grant for a file yet to be created gives nothing. */
static int add_path(int ruleset, const uint8_t *data, uint64_t data_size, const capsule_iso_path_rule *rule,
                    uint64_t handled, char *error, size_t error_size) {
    if ((uint64_t)rule->offset + rule->length >= data_size || rule->length >= 4096)
        return fail(error, error_size, "a path rule lies outside the shared buffer");
    char path[4096];
    memcpy(path, data + rule->offset, rule->length);
    path[rule->length] = 0;
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat info;
    if (fstat(fd, &info) != 0) { close(fd); return 0; }
    uint64_t rights = rights_for(rule->access) & handled;
    if (!S_ISDIR(info.st_mode)) rights &= file_only_rights;
    int status = 0;
    if (rights != 0) {
        struct ll_path_beneath_attr attr = { .allowed_access = rights, .parent_fd = fd };
        if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &attr, 0) != 0)
            status = fail(error, error_size, "landlock_add_rule(%s): %s", path, strerror(errno));
    }
    close(fd);
    return status;
}

/* One Landlock layer's ruleset, not yet applied: the granted paths and ports, plus the
 * read-only load paths when `with_load_paths`. Returns its descriptor, or -1. */
static int landlock_ruleset(const capsule_iso_config *c, const uint8_t *data, uint64_t data_size, int with_load_paths,
                          char *error, size_t error_size) {
    int abi = landlock_abi();
    if (abi < 0) return fail(error, error_size, "Landlock is not available (%s)", strerror(-abi));
    if (abi < LL_MINIMUM_ABI)
        return fail(error, error_size, "the kernel's Landlock ABI is %d; isolation needs ABI %d or later", abi, LL_MINIMUM_ABI);
    struct ll_ruleset_attr attr = { .handled_access_fs = fs_rights(abi) };
    size_t attr_size = sizeof attr.handled_access_fs;
    int wants_ports = (c->net_flags & CAPSULE_ISO_NET_SOCKETS)
        && (c->net_flags & (CAPSULE_ISO_NET_ANY_CONNECT | CAPSULE_ISO_NET_ANY_BIND)) != (CAPSULE_ISO_NET_ANY_CONNECT | CAPSULE_ISO_NET_ANY_BIND);
    if (abi >= 4) {
        if (!(c->net_flags & CAPSULE_ISO_NET_ANY_CONNECT)) attr.handled_access_net |= LL_NET_CONNECT_TCP;
        if (!(c->net_flags & CAPSULE_ISO_NET_ANY_BIND)) attr.handled_access_net |= LL_NET_BIND_TCP;
        attr_size = offsetof(struct ll_ruleset_attr, scoped);
    } else if (wants_ports) {
        return fail(error, error_size, "the kernel's Landlock ABI is %d; restricting TCP ports needs ABI 4", abi);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (ruleset < 0) return fail(error, error_size, "landlock_create_ruleset: %s", strerror(errno));
    uint32_t count = c->path_count + (with_load_paths ? c->load_path_count : 0);
    if (count > CAPSULE_ISO_MAX_PATHS) count = CAPSULE_ISO_MAX_PATHS;
    for (uint32_t i = 0; i < count; i++) {
        capsule_iso_path_rule rule = c->paths[i];
        if (i >= c->path_count) rule.access = CAPSULE_ISO_READ;  /* load paths: read only */
        if (add_path(ruleset, data, data_size, &rule, attr.handled_access_fs, error, error_size) != 0) {
            close(ruleset);
            return -1;
        }
    }
    if (abi >= 4) {
        for (uint32_t i = 0; i < c->port_count && i < CAPSULE_ISO_MAX_PORTS; i++) {
            struct ll_net_port_attr port = { .port = c->ports[i].port };
            if (c->ports[i].connect) port.allowed_access |= LL_NET_CONNECT_TCP;
            if (c->ports[i].bind) port.allowed_access |= LL_NET_BIND_TCP;
            port.allowed_access &= attr.handled_access_net;
            if (port.allowed_access == 0) continue;
            if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &port, 0) != 0) {
                close(ruleset);
                return fail(error, error_size, "landlock_add_rule(port %u): %s", c->ports[i].port, strerror(errno));
            }
        }
    }
    return ruleset;
}

/* Applies a ruleset to the calling thread (and the threads it starts afterwards). */
static int landlock_restrict(int ruleset, char *error, size_t error_size) {
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)
        return fail(error, error_size, "landlock_restrict_self: %s", strerror(errno));
    return 0;
}

/* ---- seccomp ---- */

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#else
#error "capsule-worker's seccomp filter is written for x86-64"
#endif

#define MAX_FILTER 1024

typedef struct program {
    struct sock_filter code[MAX_FILTER];
    unsigned length;
    int overflow;
} program;

static void emit(program *p, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
    if (p->length >= MAX_FILTER) { p->overflow = 1; return; }
    p->code[p->length++] = (struct sock_filter){ code, jt, jf, k };
}

#define RET(p, v) emit(p, BPF_RET | BPF_K, (v), 0, 0)
#define ALLOW SECCOMP_RET_ALLOW
#define DENY(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define KILL SECCOMP_RET_KILL_PROCESS

static const uint32_t nr_offset = offsetof(struct seccomp_data, nr);
static const uint32_t arch_offset = offsetof(struct seccomp_data, arch);
static uint32_t arg_low(int i) { return offsetof(struct seccomp_data, args) + 8 * i; }
static uint32_t arg_high(int i) { return offsetof(struct seccomp_data, args) + 8 * i + 4; }

/* Checks the architecture (and refuses the x32 ABI), then loads the call number. */
static void prologue(program *p) {
    emit(p, BPF_LD | BPF_W | BPF_ABS, arch_offset, 0, 0);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0);
    RET(p, KILL);
    emit(p, BPF_LD | BPF_W | BPF_ABS, nr_offset, 0, 0);
    emit(p, BPF_JMP | BPF_JSET | BPF_K, 0x40000000u, 0, 1);  /* __X32_SYSCALL_BIT */
    RET(p, KILL);
}

/* if nr == n: return verdict */
static void verdict(program *p, uint32_t n, uint32_t v) {
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, n, 0, 1);
    RET(p, v);
}

/* if nr == n: allow when the 64-bit argument `arg` equals `value`, else deny with EPERM. */
static void allow_if_arg_equals(program *p, uint32_t n, int arg, uint64_t value) {
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, n, 0, 6);
    emit(p, BPF_LD | BPF_W | BPF_ABS, arg_low(arg), 0, 0);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)value, 0, 3);
    emit(p, BPF_LD | BPF_W | BPF_ABS, arg_high(arg), 0, 0);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(value >> 32), 0, 1);
    RET(p, ALLOW);
    RET(p, DENY(EPERM));
}

/* if nr == n: allow when the low 32 bits of `arg` are one of `values`, else EPERM. (For
 * int-typed arguments, of which the kernel reads only the low 32 bits.) */
static void allow_if_arg_in(program *p, uint32_t n, int arg, const uint32_t *values, unsigned count) {
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, n, 0, (uint8_t)(count + 3));
    emit(p, BPF_LD | BPF_W | BPF_ABS, arg_low(arg), 0, 0);
    for (unsigned i = 0; i < count; i++) emit(p, BPF_JMP | BPF_JEQ | BPF_K, values[i], (uint8_t)(count - i), 0);
    RET(p, DENY(EPERM));
    RET(p, ALLOW);
}

/* if nr == n: deny with EPERM when `arg` has any of `bits` (low 32 bits), else allow. */
static void deny_if_arg_has(program *p, uint32_t n, int arg, uint32_t bits) {
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, n, 0, 4);
    emit(p, BPF_LD | BPF_W | BPF_ABS, arg_low(arg), 0, 0);
    emit(p, BPF_JMP | BPF_JSET | BPF_K, bits, 0, 1);
    RET(p, DENY(EPERM));
    RET(p, ALLOW);
}

/* System calls that end the worker: running programs and reaching into other processes are
 * never a plugin's business, so an attempt is loud (SIGSYS) rather than an error to probe. */
static const uint32_t killed[] = {
    __NR_execve, __NR_execveat, __NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev,
    __NR_kexec_load, __NR_kexec_file_load, __NR_init_module, __NR_finit_module, __NR_delete_module,
};

/* The allow-list: memory, threads, time, signals to itself, and files and sockets as far as
 * Landlock lets them be opened. Not here (so EPERM): fork/vfork and clone without
 * CLONE_THREAD, socket() without a network grant, socketpair, chmod/chown/utime/xattr
 * (Landlock does not confine metadata), mount and namespaces, bpf, perf, keyrings, io_uring,
 * userfaultfd, memfd_create, personality, reboot, pkey_mprotect, seccomp (this filter is the
 * last one: installing it needed no rule), landlock_create_ruleset and landlock_add_rule,
 * and everything else. */
static const uint32_t allowed[] = {
    /* files and descriptors (Landlock decides which paths open) */
    __NR_read, __NR_write, __NR_readv, __NR_writev, __NR_pread64, __NR_pwrite64, __NR_preadv, __NR_pwritev,
    __NR_preadv2, __NR_pwritev2, __NR_lseek, __NR_close, __NR_close_range, __NR_open, __NR_openat, __NR_openat2,
    __NR_creat, __NR_stat, __NR_fstat, __NR_lstat, __NR_newfstatat, __NR_statx, __NR_statfs, __NR_fstatfs,
    __NR_access, __NR_faccessat, __NR_faccessat2, __NR_getdents64, __NR_fcntl, __NR_flock, __NR_dup, __NR_dup2,
    __NR_dup3, __NR_pipe, __NR_pipe2, __NR_fsync, __NR_fdatasync, __NR_truncate, __NR_ftruncate, __NR_fallocate,
    __NR_getcwd, __NR_readlink, __NR_readlinkat, __NR_mkdir, __NR_mkdirat, __NR_rmdir, __NR_unlink, __NR_unlinkat,
    __NR_rename, __NR_renameat, __NR_renameat2, __NR_link, __NR_linkat, __NR_symlink, __NR_symlinkat,
    __NR_umask, __NR_sendfile, __NR_copy_file_range, __NR_splice, __NR_tee, __NR_poll, __NR_ppoll, __NR_select,
    __NR_pselect6, __NR_epoll_create1, __NR_epoll_ctl, __NR_epoll_wait, __NR_epoll_pwait, __NR_eventfd2,
    __NR_timerfd_create, __NR_timerfd_settime, __NR_timerfd_gettime,
    /* sockets already open (the worker's socketpair; TCP sockets when net is granted) */
    __NR_connect, __NR_bind, __NR_listen, __NR_accept, __NR_accept4, __NR_recvfrom, __NR_recvmsg, __NR_shutdown, __NR_getsockname, __NR_getpeername, __NR_setsockopt, __NR_getsockopt,
    /* memory (mmap and mprotect below: PROT_EXEC only through the host's supervisor) */
    __NR_munmap, __NR_mremap, __NR_madvise, __NR_brk, __NR_msync, __NR_mincore,
    /* threads, synchronisation, scheduling */
    __NR_futex, __NR_set_robust_list, __NR_get_robust_list, __NR_set_tid_address, __NR_rseq, __NR_sched_yield,
    __NR_sched_getaffinity, __NR_membarrier, __NR_getcpu, __NR_exit, __NR_exit_group, __NR_restart_syscall,
    /* signals (kill and tgkill only to itself, below) */
    __NR_rt_sigaction, __NR_rt_sigprocmask, __NR_rt_sigreturn, __NR_rt_sigpending, __NR_rt_sigsuspend,
    __NR_rt_sigtimedwait, __NR_sigaltstack,
    /* time and identity */
    __NR_clock_gettime, __NR_clock_getres, __NR_clock_nanosleep, __NR_nanosleep, __NR_gettimeofday, __NR_time,
    __NR_getitimer, __NR_setitimer, __NR_alarm, __NR_times, __NR_getrusage, __NR_getrlimit, __NR_sysinfo,
    __NR_uname, __NR_getpid, __NR_gettid, __NR_getppid, __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid,
    __NR_getgroups, __NR_getpgrp, __NR_getrandom,
};

/* Installs the filter with a listener for its SECCOMP_RET_USER_NOTIF verdicts and returns
 * the listener's descriptor, or -1. The worker is one thread here (stage 1 checked), and
 * every thread it starts inherits the filter. */
static int install_with_listener(program *p, char *error, size_t error_size) {
    if (p->overflow) return fail(error, error_size, "the seccomp filter is too long");
    struct sock_fprog prog = { .len = (unsigned short)p->length, .filter = p->code };
    long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0)
        return fail(error, error_size, "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER): %s", strerror(errno));
    return (int)listener;
}

/* The worker's one seccomp filter, for its whole life. `layer2` is the descriptor of the
 * prepared second Landlock ruleset, the only one landlock_restrict_self may apply. */
static int seccomp_allow_list(const capsule_iso_config *c, int layer2, char *error, size_t error_size) {
    static program p;
    p.length = 0;
    p.overflow = 0;
    prologue(&p);
    for (size_t i = 0; i < sizeof killed / sizeof killed[0]; i++) verdict(&p, killed[i], KILL);
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) verdict(&p, allowed[i], ALLOW);
    /* threads only: clone must carry CLONE_THREAD and no namespace flag; clone3 (flags in
     * memory, which a filter cannot read) says ENOSYS, and glibc falls back to clone. */
    const uint32_t namespaces = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                              | CLONE_NEWUTS | CLONE_NEWCGROUP;
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 5);
    emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(0), 0, 0);
    emit(&p, BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 2);
    emit(&p, BPF_JMP | BPF_JSET | BPF_K, namespaces, 1, 0);
    RET(&p, ALLOW);
    RET(&p, DENY(EPERM));
    verdict(&p, __NR_clone3, DENY(ENOSYS));
    /* Executable memory only from a file mapped so from the start (as the dynamic loader
     * maps code), and each such mapping is decided outside the worker: the host's
     * supervisor (CapsuleSupervisor) approves it only while the host has not yet sent INIT,
     * the worker has one thread, and the descriptor is one of the library files the host
     * listed. No anonymous code, and no mprotect adding PROT_EXEC, so no code makes memory
     * executable (or writes to code and makes it executable again), and an object needing
     * an executable stack does not load. */
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 7);
    emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(2), 0, 0);
    emit(&p, BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 4);
    emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(3), 0, 0);
    emit(&p, BPF_JMP | BPF_JSET | BPF_K, MAP_ANONYMOUS, 1, 0);
    RET(&p, SECCOMP_RET_USER_NOTIF);
    RET(&p, DENY(EPERM));
    RET(&p, ALLOW);
    deny_if_arg_has(&p, __NR_mprotect, 2, PROT_EXEC);
    /* Landlock: only stage 2 applying the ruleset stage 1 prepared, which narrows the
     * worker to its grants; no new ruleset can be made. */
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, __NR_landlock_restrict_self, 0, 6);
    emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(0), 0, 0);
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)layer2, 0, 3);
    emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(1), 0, 0);
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
    RET(&p, ALLOW);
    RET(&p, DENY(EPERM));
    /* sending, but not TCP Fast Open, which connects from inside sendto/sendmsg */
    deny_if_arg_has(&p, __NR_sendto, 3, MSG_FASTOPEN);
    deny_if_arg_has(&p, __NR_sendmsg, 2, MSG_FASTOPEN);
    /* signals only to itself (abort() is tgkill(getpid(), tid, SIGABRT)) */
    uint64_t self = (uint64_t)getpid();
    allow_if_arg_equals(&p, __NR_kill, 0, self);
    allow_if_arg_equals(&p, __NR_tgkill, 0, self);
    /* its own limits only; it can lower them, never raise past the hard limit */
    allow_if_arg_equals(&p, __NR_prlimit64, 0, 0);
    static const uint32_t ioctls[] = { TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX };
    allow_if_arg_in(&p, __NR_ioctl, 1, ioctls, sizeof ioctls / sizeof ioctls[0]);
    /* prctl: names and queries, and making itself not dumpable (stage 2 does; never the
     * other way); no further filter, no_new_privs or other state. */
    static const uint32_t prctls[] = { PR_SET_NAME, PR_GET_NAME, PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP,
                                       PR_GET_DUMPABLE, 0x53564d41 /* PR_SET_VMA */ };
    const unsigned count = sizeof prctls / sizeof prctls[0];
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, (uint8_t)(count + 7));
    emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(0), 0, 0);
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, PR_SET_DUMPABLE, 0, 3);
    emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(1), 0, 0);
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, (uint8_t)(count + 1));
    RET(&p, ALLOW);
    for (unsigned i = 0; i < count; i++) emit(&p, BPF_JMP | BPF_JEQ | BPF_K, prctls[i], (uint8_t)(count - i), 0);
    RET(&p, DENY(EPERM));
    RET(&p, ALLOW);
    if (c->net_flags & CAPSULE_ISO_NET_SOCKETS) {
        /* TCP over IPv4/IPv6 only (protocol 0 or IPPROTO_TCP: not SCTP or MPTCP): Landlock
         * restricts TCP ports, nothing restricts UDP. */
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 11);
        emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(0), 0, 0);
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 1, 0);
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 7);
        emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(1), 0, 0);
        emit(&p, BPF_ALU | BPF_AND | BPF_K, 0xf, 0, 0);
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, SOCK_STREAM, 0, 4);
        emit(&p, BPF_LD | BPF_W | BPF_ABS, arg_low(2), 0, 0);
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 1);
        RET(&p, ALLOW);
        RET(&p, DENY(EPERM));
    }
    RET(&p, DENY(EPERM));  /* everything else */
    return install_with_listener(&p, error, error_size);
}

/* ---- every thread confined: threads and executable memory ----
 *
 * Landlock domains are per thread: landlock_restrict_self binds the calling thread and the
 * threads it starts afterwards, never a thread already running (this kernel's Landlock has
 * no TSYNC). So the worker installs each stage while it is the only thread:
 *
 *   - stage 1 runs before dlopen, in a process that has never had a second thread;
 *   - stage 2 first counts the threads (Threads: in /proc/self/status, the kernel's
 *     nr_threads, which counts a thread from the moment clone creates it until it is
 *     reaped) and refuses to go on unless the count is 1. A count of 1 means the caller is
 *     the only thread, so no other thread exists that could start one: every thread from
 *     then on descends from the caller after its restrict_self and inherits both stages.
 *     A thread started by a constructor (the plugin's or a library's) therefore ends the
 *     worker, whether it still runs, sleeps, or started another before exiting.
 *   - the seccomp filter, the worker's only one, is installed in stage 1 while the worker
 *     is one thread, so every thread inherits it; the count is checked again at the end of
 *     stage 2: it cannot find anything then, but it keeps the argument from resting on one
 *     line.
 *
 * The descriptor was opened before stage 1 (Landlock checks at open, not at read).
 *
 * Executable memory is not the worker's to decide: the filter sends every executable file
 * mapping to the host's supervisor, which refuses all of them once the host has sent INIT,
 * so a constructor that subverts the worker and skips stage 2 gains no code either. Stage 2
 * still reads /proc/self/maps and refuses executable memory the loader did not map from a
 * library (writable and executable, shared, anonymous but [vdso]/[vsyscall], or a file
 * other than those mapped before stage 1 and the ones the host listed): nothing can get
 * past the filter and the supervisor to leave such memory, so this is defence in depth. */

static int status_fd = -1, maps_fd = -1;

/* The worker's thread count, or -1. */
static int thread_count(char *error, size_t error_size) {
    char text[4096];
    ssize_t n = pread(status_fd, text, sizeof text - 1, 0);
    if (n <= 0) return fail(error, error_size, "cannot read /proc/self/status: %s", n < 0 ? strerror(errno) : "empty");
    text[n] = 0;
    const char *line = strstr(text, "\nThreads:");
    int threads = 0;
    if (!line || sscanf(line + 9, "%d", &threads) != 1 || threads < 1)
        return fail(error, error_size, "no thread count in /proc/self/status");
    return threads;
}

/* A thread that was joined may still be counted for a moment while the kernel finishes its
 * exit; one that lives on is still there after 100 ms. Waiting is safe: any reading of 1
 * means no other thread existed at that moment. */
static int only_thread(char *error, size_t error_size) {
    int threads = thread_count(error, error_size);
    for (int i = 0; i < 50 && threads > 1; i++) {
        struct timespec pause = { 0, 2000000 };
        nanosleep(&pause, NULL);
        threads = thread_count(error, error_size);
    }
    if (threads < 0) return -1;
    if (threads > 1)
        return fail(error, error_size,
                    "the plugin left %d other thread%s running after it was loaded (started by its constructors or "
                    "its libraries'), which the final lockdown cannot bind; an isolated plugin may start threads "
                    "from init on", threads - 1, threads == 2 ? "" : "s");
    return 0;
}

/* Paths whose executable mappings stage 2 accepts: files mapped before stage 1 (the worker,
 * libc, libffi, the loader) and the files the host listed for loading, resolved. */
#define MAX_CODE_FILES (CAPSULE_ISO_MAX_PATHS + 64)
static char *code_files[MAX_CODE_FILES];
static unsigned code_file_count;

static void add_code_file(const char *path) {
    for (unsigned i = 0; i < code_file_count; i++) if (strcmp(code_files[i], path) == 0) return;
    if (code_file_count < MAX_CODE_FILES) {
        char *copy = strdup(path);
        if (copy) code_files[code_file_count++] = copy;
    }
}

static int is_code_file(const char *path) {
    for (unsigned i = 0; i < code_file_count; i++) if (strcmp(code_files[i], path) == 0) return 1;
    return 0;
}

/* Reads /proc/self/maps; calls `visit` for each executable mapping until it returns -1. */
static int each_executable_mapping(int (*visit)(const char *range, const char *perms, const char *path, char *error, size_t error_size),
                                   char *error, size_t error_size) {
    static char text[1 << 20];
    size_t length = 0;
    if (lseek(maps_fd, 0, SEEK_SET) != 0) return fail(error, error_size, "cannot read /proc/self/maps: %s", strerror(errno));
    for (;;) {
        if (length == sizeof text - 1) return fail(error, error_size, "/proc/self/maps is larger than %zu bytes", sizeof text);
        ssize_t n = read(maps_fd, text + length, sizeof text - 1 - length);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(error, error_size, "cannot read /proc/self/maps: %s", strerror(errno));
        if (n == 0) break;
        length += (size_t)n;
    }
    text[length] = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        /* start-end perms offset dev inode [path] */
        char range[64], perms[8];
        int path_at = 0;
        if (sscanf(line, "%63s %7s %*s %*s %*s %n", range, perms, &path_at) != 2 || path_at == 0)
            return fail(error, error_size, "cannot parse /proc/self/maps");
        if (strlen(perms) != 4 || perms[2] != 'x') continue;
        if (visit(range, perms, line + path_at, error, error_size) != 0) return -1;
    }
    return 0;
}

static int record_code_file(const char *range, const char *perms, const char *path, char *error, size_t error_size) {
    (void)range; (void)perms; (void)error; (void)error_size;
    if (path[0] == '/') add_code_file(path);
    return 0;
}

static int check_code(const char *range, const char *perms, const char *path, char *error, size_t error_size) {
    static const char deleted[] = " (deleted)";
    char file[4096];
    snprintf(file, sizeof file, "%s", path);
    size_t n = strlen(file);
    if (n > sizeof deleted - 1 && strcmp(file + n - (sizeof deleted - 1), deleted) == 0) file[n - (sizeof deleted - 1)] = 0;
    const char *why = NULL;
    if (perms[1] == 'w') why = "writable and executable memory";
    else if (perms[3] != 'p') why = "shared executable memory";
    else if (strcmp(path, "[vdso]") == 0 || strcmp(path, "[vsyscall]") == 0) return 0;
    else if (path[0] != '/') why = "executable memory that is not a file's";
    else if (!is_code_file(file)) why = "executable memory mapped from a file the loader was not given";
    if (!why) return 0;
    return fail(error, error_size, "the plugin left %s at %s (%s %s); an isolated plugin's code is what the loader "
                "maps from its file and libraries", why, range, perms, path[0] ? path : "anonymous");
}

/* Opens what stage 2 reads, and records the code files, before stage 1 closes the filesystem. */
static int prepare_checks(const capsule_iso_config *c, const uint8_t *data, uint64_t data_size, char *error, size_t error_size) {
    status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (status_fd < 0 || maps_fd < 0) return fail(error, error_size, "cannot open /proc/self: %s", strerror(errno));
    if (each_executable_mapping(record_code_file, error, error_size) != 0) return -1;
    for (uint32_t i = c->path_count; i < c->path_count + c->load_path_count && i < CAPSULE_ISO_MAX_PATHS; i++) {
        const capsule_iso_path_rule *rule = &c->paths[i];
        if ((uint64_t)rule->offset + rule->length >= data_size || rule->length >= 4096)
            return fail(error, error_size, "a path rule lies outside the shared buffer");
        char path[4096], resolved[PATH_MAX];
        memcpy(path, data + rule->offset, rule->length);
        path[rule->length] = 0;
        if (realpath(path, resolved)) add_code_file(resolved);
    }
    return 0;
}

/* ---- resource limits ---- */

static int limit(int resource, uint64_t value, const char *name, char *error, size_t error_size) {
    struct rlimit l = { (rlim_t)value, (rlim_t)value };
    struct rlimit current;
    if (getrlimit(resource, &current) == 0 && current.rlim_max != RLIM_INFINITY && current.rlim_max < l.rlim_max)
        l.rlim_cur = l.rlim_max = current.rlim_max;  /* never try to raise a hard limit */
    if (setrlimit(resource, &l) != 0) return fail(error, error_size, "setrlimit(%s): %s", name, strerror(errno));
    return 0;
}

static int limits(const capsule_iso_config *c, char *error, size_t error_size) {
    if (limit(RLIMIT_CORE, 0, "RLIMIT_CORE", error, error_size) != 0) return -1;
    if (c->memory_limit && limit(RLIMIT_AS, c->memory_limit, "RLIMIT_AS", error, error_size) != 0) return -1;
    if (c->open_files_limit && limit(RLIMIT_NOFILE, c->open_files_limit, "RLIMIT_NOFILE", error, error_size) != 0) return -1;
    if (c->file_size_limit && limit(RLIMIT_FSIZE, c->file_size_limit, "RLIMIT_FSIZE", error, error_size) != 0) return -1;
    if (limit(RLIMIT_MEMLOCK, 0, "RLIMIT_MEMLOCK", error, error_size) != 0) return -1;
    if (limit(RLIMIT_MSGQUEUE, 0, "RLIMIT_MSGQUEUE", error, error_size) != 0) return -1;
    return 0;
}

/* The second Landlock layer, prepared in stage 1 (the filter then refuses to make another)
 * and applied in stage 2. */
static int layer2_ruleset = -1;

/* Hands the filter's listener to the host over the worker's socket: one byte,
 * CAPSULE_ISO_LISTENER, carrying the descriptor (SCM_RIGHTS). The worker keeps no copy, so
 * nothing that runs in it later can answer its own notifications. */
static int send_listener(int listener, char *error, size_t error_size) {
    char byte = CAPSULE_ISO_LISTENER;
    struct iovec part = { .iov_base = &byte, .iov_len = 1 };
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control.space,
                              .msg_controllen = sizeof control.space };
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &listener, sizeof(int));
    ssize_t sent;
    do sent = sendmsg(CAPSULE_ISO_SOCKET_FD, &message, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    close(listener);
    if (sent != 1) return fail(error, error_size, "cannot hand the seccomp listener to the host: %s", sent < 0 ? strerror(errno) : "short write");
    return 0;
}

int capsule_lockdown_stage1(const capsule_iso_config *config, const uint8_t *data, uint64_t data_size,
                            char *error, size_t error_size) {
    if (prepare_checks(config, data, data_size, error, error_size) != 0) return -1;
    if (only_thread(error, error_size) != 0) return -1;
    if (limits(config, error, error_size) != 0) return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail(error, error_size, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
    /* NOTE: the worker stays dumpable while it loads: the host's supervisor identifies the
     * descriptor of each executable mapping through /proc/PID/fd, which the kernel shows a
     * process of the same user only while the target is dumpable. Stage 2 ends it. */
    layer2_ruleset = landlock_ruleset(config, data, data_size, 0, error, error_size);
    if (layer2_ruleset < 0) return -1;
    int layer1 = landlock_ruleset(config, data, data_size, 1, error, error_size);
    if (layer1 < 0) return -1;
    int status = landlock_restrict(layer1, error, error_size);
    close(layer1);
    if (status != 0) return -1;
    int listener = seccomp_allow_list(config, layer2_ruleset, error, error_size);
    if (listener < 0) return -1;
    return send_listener(listener, error, error_size);
}

/* The order is the argument above: one thread, no foreign code, then the second layer. */
int capsule_lockdown_stage2(const capsule_iso_config *config, const uint8_t *data, uint64_t data_size,
                            char *error, size_t error_size) {
    (void)config; (void)data; (void)data_size;
    if (only_thread(error, error_size) != 0) return -1;
    if (each_executable_mapping(check_code, error, error_size) != 0) return -1;
    if (landlock_restrict(layer2_ruleset, error, error_size) != 0) return -1;
    close(layer2_ruleset);
    layer2_ruleset = -1;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return fail(error, error_size, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
    if (only_thread(error, error_size) != 0) return -1;
    close(maps_fd);
    close(status_fd);
    maps_fd = status_fd = -1;
    return 0;
}
