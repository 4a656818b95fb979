/*
 * capsule_supervisor.h — the host's decision on every executable file mapping an isolated
 * plugin's worker makes (docs/security.md#every-thread-is-confined).
 *
 * The worker's seccomp filter (Sources/capsule-worker/lockdown.c) answers mmap with
 * PROT_EXEC of a file with SECCOMP_RET_USER_NOTIF: the calling thread waits while the
 * supervisor, a thread of the host, decides. The worker hands the filter's listener to the
 * host in stage 1 of its lockdown, before any plugin code runs, and keeps no copy, so the
 * decision is made outside everything the plugin's code can touch.
 *
 * A mapping is allowed (SECCOMP_USER_NOTIF_FLAG_CONTINUE) only when all of these hold:
 *   - the host has not yet ended loading (capsule_supervisor_end_loading, called before the
 *     host's first request, INIT): loading is over when the host says so, not the worker;
 *   - the worker has exactly one thread (Threads: in /proc/PID/status) and it is the one
 *     asking: the caller waits in this mmap, and no other process shares its descriptor
 *     table (its filter refuses clone without CLONE_THREAD), so nothing can swap the
 *     descriptor between the check and the kernel's use of it;
 *   - the descriptor is a regular file whose st_dev and st_ino are one of the files the
 *     host listed (the plugin's private copy and the libraries it resolved for it), the
 *     mapping is private and not writable, the offset page-aligned and inside the file;
 *   - the notification is still valid (SECCOMP_IOCTL_NOTIF_ID_VALID) after those checks.
 * Everything else fails with EPERM in the worker. If the supervisor is gone, the kernel
 * fails the worker's waiting and later executable mappings with ENOSYS: nothing hangs.
 *
 * THREADING: each supervisor runs on a thread of its own, so a worker that floods it never
 * blocks the host's other work; the functions below may be called from any one thread.
 */
#ifndef CAPSULE_SUPERVISOR_H
#define CAPSULE_SUPERVISOR_H

#include <stdint.h>

typedef struct capsule_supervisor capsule_supervisor;

/* A file whose executable mappings may be approved while loading. */
typedef struct capsule_supervisor_file {
    uint64_t device;
    uint64_t inode;
} capsule_supervisor_file;

/* Waits at most `timeout_ms` for the worker's first message on `socket`: one
 * CAPSULE_ISO_LISTENER byte carrying its seccomp listener. Returns the listener (close-on-
 * exec), -1 when the socket closed first or the time ran out (the worker failed before its
 * lockdown, or is stuck; its response or death tells which), or -2 when the worker sent
 * anything else (a protocol violation). */
int capsule_supervisor_receive_listener(int socket, int timeout_ms);

/* Starts supervising `listener` (which it owns from now on, and closes) for the worker
 * `pid`, approving mappings of the `count` `files` (copied) while loading. Returns NULL
 * when the thread cannot be started (the listener is closed: the worker's executable
 * mappings then fail with ENOSYS). */
capsule_supervisor *capsule_supervisor_start(int listener, int32_t pid, const capsule_supervisor_file *files,
                                             uint32_t count);

/* Ends loading: from the return on, every executable mapping is refused. A mapping
 * approved before has been answered before this returns. */
void capsule_supervisor_end_loading(capsule_supervisor *supervisor);

/* Stops the thread, closes the listener and frees the supervisor. Call it after the worker
 * was killed and reaped (a supervisor waiting for a live worker's next request is woken
 * too, but its worker's later executable mappings then fail with ENOSYS). */
void capsule_supervisor_stop(capsule_supervisor *supervisor);

/* How many mappings it approved and refused so far (for tests and messages). */
uint64_t capsule_supervisor_approved(const capsule_supervisor *supervisor);
uint64_t capsule_supervisor_refused(const capsule_supervisor *supervisor);

#endif /* CAPSULE_SUPERVISOR_H */
