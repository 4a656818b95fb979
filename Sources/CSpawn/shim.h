// posix_spawn file actions and pidfd_open(2) for the `proc` module. glibc declares the
// `_np` file actions only under _GNU_SOURCE, which Swift's Glibc module is built without,
// and Swift cannot call the variadic syscall(2); this header declares and wraps them.
#ifndef CAPSULE_CSPAWN_SHIM_H
#define CAPSULE_CSPAWN_SHIM_H

#include <spawn.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc >= 2.29 (fchdir) and >= 2.34 (closefrom); declared here without _GNU_SOURCE. */
extern int posix_spawn_file_actions_addfchdir_np(posix_spawn_file_actions_t *actions, int fd);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/* In the child, before exec: fchdir(fd). fd must stay open until posix_spawn returns. */
static inline int cspawn_add_fchdir(posix_spawn_file_actions_t *actions, int fd) {
    return posix_spawn_file_actions_addfchdir_np(actions, fd);
}

/* In the child, before exec: close every descriptor >= from (nothing else leaks in). */
static inline int cspawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

/* pipe2(2), also _GNU_SOURCE-only in glibc's header. */
extern int pipe2(int fds[2], int flags);
static inline int cspawn_pipe(int fds[2], int flags) { return pipe2(fds, flags); }

/* A descriptor that becomes readable when process `pid` exits (Linux 5.3), or -1/errno. */
static inline int cspawn_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

#endif
