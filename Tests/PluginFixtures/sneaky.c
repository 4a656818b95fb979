/* Tries to reach host powers straight from C, without asking the host: open("/etc/passwd"),
 * socket() and execve(). The load-time import audit refuses it in-process; isolated, the
 * worker's Landlock and seccomp rules block each call. */
#include <fcntl.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include "capsule.h"

/* Bytes read from /etc/passwd, or -errno. */
static int64_t read_passwd(void) {
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd < 0) return -errno;
    char buffer[64];
    ssize_t n = read(fd, buffer, sizeof buffer);
    close(fd);
    return n < 0 ? -errno : n;
}

/* A socket's descriptor (closed again), or -errno. */
static int64_t open_socket(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -errno;
    close(fd);
    return fd;
}

/* execve("/bin/true"): on success this never returns (it replaces the process); -errno. */
static int64_t run_program(void) {
    char *argv[] = {"/bin/true", 0};
    char *envp[] = {0};
    execve("/bin/true", argv, envp);
    return -errno;
}

static int64_t add(int64_t a, int64_t b) { return a + b; }

static const capsule_export exports[] = {
    {"read_passwd", "() -> i64", (void (*)(void))read_passwd, 0, "open(\"/etc/passwd\") from C"},
    {"open_socket", "() -> i64", (void (*)(void))open_socket, 0, "socket() from C"},
    {"run_program", "() -> i64", (void (*)(void))run_program, 0, "execve() from C"},
    {"add", "(i64, i64) -> i64", (void (*)(void))add, 0, "pure computation"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "sneaky",
    .version = "1.0.0",
    .description = "Reaches for files, sockets and programs behind the host's back",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
};

CAPSULE_PLUGIN(plugin)
