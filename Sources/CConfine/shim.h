// openat2(2) for the plugin host's path confinement. Swift cannot call the variadic
// syscall(2) nor see struct open_how through glibc, so this header wraps the one call.
#ifndef CAPSULE_CCONFINE_SHIM_H
#define CAPSULE_CCONFINE_SHIM_H

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>

/* O_PATH, which glibc's <fcntl.h> hides without _GNU_SOURCE (the Linux value). */
#define CCONFINE_O_PATH 010000000

/*
 * openat2(dirfd, path, {flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS}): every
 * component of `path` (including `..` and symlink targets) must stay beneath `dirfd`
 * (EXDEV otherwise; absolute paths too), and /proc magic links fail with ELOOP.
 * Returns the fd, or -1 with errno set (ENOSYS on kernels before 5.6).
 */
static inline int cconfine_open_beneath(int dirfd, const char *path, unsigned long long flags, unsigned long long mode) {
    struct open_how how = {0};
    how.flags = flags;
    how.mode = mode;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/*
 * openat2(dirfd, path, {flags, mode, resolve}) with the caller's RESOLVE_* flags: used to
 * open a grant's own path (resolved when it was given) with RESOLVE_NO_SYMLINKS, so that
 * it names the same place at every open (ELOOP when a symlink has appeared in it since).
 */
static inline int cconfine_open_resolve(int dirfd, const char *path, unsigned long long flags, unsigned long long mode,
                                        unsigned long long resolve) {
    struct open_how how = {0};
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* The RESOLVE_* flags, for Swift (the macros are not imported as typed constants). */
#define CCONFINE_RESOLVE_NO_SYMLINKS RESOLVE_NO_SYMLINKS
#define CCONFINE_RESOLVE_NO_MAGICLINKS RESOLVE_NO_MAGICLINKS
#define CCONFINE_RESOLVE_IN_ROOT RESOLVE_IN_ROOT

#endif
