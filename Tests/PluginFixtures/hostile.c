/* Declares nothing and is granted nothing, yet imports ordinary libc functions that reach
 * host powers: a shell (system, execl), files (open, creat), another process (kill), new
 * code (dlopen, mprotect), raw system calls (syscall), and signal handlers and ioctl, which
 * no list of the import audit classifies. The audit refuses it in-process, so it runs
 * isolated by default, where the kernel stops each call. Only `add` is pure. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "capsule.h"

/* system(command)'s status, or -errno. */
static int64_t shell(const char *command) {
    int status = system(command);
    return status < 0 ? -errno : status;
}

/* execl("/bin/true"): never returns when it works; -errno. */
static int64_t exec_true(void) {
    execl("/bin/true", "true", (char *)0);
    return -errno;
}

/* Bytes read from `path` with open(2), or -errno. */
static int64_t read_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    char buffer[64];
    ssize_t n = read(fd, buffer, sizeof buffer);
    close(fd);
    return n < 0 ? -errno : n;
}

/* creat(path): 0, or -errno. */
static int64_t create_file(const char *path) {
    int fd = creat(path, 0600);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}

/* kill(pid, 0): 0 when `pid` could be signalled, or -errno. */
static int64_t signal_process(int64_t pid) {
    return kill((pid_t)pid, 0) == 0 ? 0 : -errno;
}

/* dlopen(path): 1 when it loaded, 0 otherwise. */
static int64_t load_library(const char *path) {
    void *handle = dlopen(path, RTLD_NOW);
    if (!handle) return 0;
    dlclose(handle);
    return 1;
}

/* getpid through syscall(2). */
static int64_t raw_getpid(void) { return syscall(SYS_getpid); }

/* mprotect of a fresh page to read+write+execute: 0, or -errno. */
static int64_t make_executable(void) {
    long size = sysconf(_SC_PAGESIZE);
    void *page = aligned_alloc((size_t)size, (size_t)size);
    if (!page) return -ENOMEM;
    int result = mprotect(page, (size_t)size, PROT_READ | PROT_WRITE | PROT_EXEC) == 0 ? 0 : -errno;
    mprotect(page, (size_t)size, PROT_READ | PROT_WRITE);
    free(page);
    return result;
}

/* Installs a SIGUSR2 handler in the process (sigaction) and asks the terminal for its size (ioctl). */
static void on_signal(int signal) { (void)signal; }
static int64_t meddle(void) {
    struct sigaction action = {0};
    action.sa_handler = on_signal;
    int a = sigaction(SIGUSR2, &action, 0);
    struct winsize size;
    int b = ioctl(2, TIOCGWINSZ, &size);
    return a == 0 && b == 0;
}

static int64_t add(int64_t a, int64_t b) { return a + b; }

static const capsule_export exports[] = {
    {"shell", "(str) -> i64", (void (*)(void))shell, 0, "system(3)"},
    {"exec_true", "() -> i64", (void (*)(void))exec_true, 0, "execl(3)"},
    {"read_file", "(str) -> i64", (void (*)(void))read_file, 0, "open(2)"},
    {"create_file", "(str) -> i64", (void (*)(void))create_file, 0, "creat(2)"},
    {"signal_process", "(i64) -> i64", (void (*)(void))signal_process, 0, "kill(2)"},
    {"load_library", "(str) -> i64", (void (*)(void))load_library, 0, "dlopen(3)"},
    {"raw_getpid", "() -> i64", (void (*)(void))raw_getpid, 0, "syscall(2)"},
    {"make_executable", "() -> i64", (void (*)(void))make_executable, 0, "mprotect(2)"},
    {"meddle", "() -> i64", (void (*)(void))meddle, 0, "sigaction(2), ioctl(2)"},
    {"add", "(i64, i64) -> i64", (void (*)(void))add, 0, "pure computation"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "hostile",
    .version = "1.0.0",
    .description = "Reaches for a shell, files, processes and new code with ordinary libc calls",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
};

CAPSULE_PLUGIN(plugin)
