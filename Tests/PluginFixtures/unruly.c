/* Misbehaves in every way an isolated plugin's worker must survive: crashes, aborts, exits,
 * loops forever, scribbles over the shared-memory ring, writes junk to or closes the
 * worker's socket. Also reads and writes files (for grants), raises, logs, and passes
 * bytes and buffers both ways. Only ever run isolated. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "capsule.h"

static const capsule_host_api *host;
static int init(const capsule_host_api *api) { host = api; return 0; }

static int64_t add(int64_t a, int64_t b) { return a + b; }
static int64_t worker_pid(void) { return getpid(); }

static int64_t segfault(void) { return *(volatile int64_t *)16; }
static int64_t abort_now(void) { abort(); }
static int64_t exit_now(int64_t code) { _exit((int)code); }
static int64_t spin(void) { for (volatile int64_t i = 0;; i++) {} return 0; }

static void nap(int milliseconds) {
    struct timespec t = { milliseconds / 1000, (milliseconds % 1000) * 1000000L };
    nanosleep(&t, 0);
}

/* Finds the ring's header from a str argument (which lives in the shared data area, after
 * the header) by its magic, and writes a bogus response sequence number into it. */
static int64_t scribble(const char *inside) {
    const uint64_t magic = 0x4f5349454c555350ull;
    uintptr_t p = (uintptr_t)inside & ~(uintptr_t)7;
    for (int i = 0; i < 65536; i++, p -= 8) {
        if (*(const uint64_t *)p == magic) {
            *(volatile uint32_t *)(p + 128) = 0xdeadbeefu;  /* response_seq */
            nap(2000);
            return 1;
        }
    }
    return 0;
}

/* Writes junk to the worker's socket (fd 4), then dawdles. */
static int64_t noise(void) {
    ssize_t n = write(4, "junk", 4);
    nap(2000);
    return n;
}

/* Closes the worker's socket and dawdles. */
static int64_t hangup(void) {
    close(4);
    nap(2000);
    return 0;
}

static int64_t fail(const char *message) { host->raise(message); return 0; }
static void note(const char *message) { host->log(CAPSULE_LOG_INFO, message); }

/* Bytes read from `path` (at most 64 KiB), or -errno. */
static int64_t read_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    static char buffer[65536];
    ssize_t n = read(fd, buffer, sizeof buffer);
    close(fd);
    return n < 0 ? -errno : n;
}

/* Writes `data` to `path` (created or truncated): bytes written, or -errno. */
static int64_t write_file(const char *path, const uint8_t *data, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -errno;
    ssize_t n = write(fd, data, size);
    close(fd);
    return n < 0 ? -errno : n;
}

/* Connects to 127.0.0.1:port over TCP: 0, or -errno (of socket() or connect()). */
static int64_t connect_port(int64_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = connect(fd, (struct sockaddr *)&address, sizeof address) == 0 ? 0 : -errno;
    close(fd);
    return status;
}

/* A UDP socket's descriptor (closed again), or -errno. */
static int64_t udp_socket(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -errno;
    close(fd);
    return fd;
}

/* Sets every byte of `buffer` to `value`. */
static void fill(uint8_t *buffer, size_t size, int64_t value) { memset(buffer, (int)value, size); }

/* `data` repeated `times` times (plugin-owned memory, reused by the next call). */
static const uint8_t *repeat(const uint8_t *data, size_t size, int64_t times, size_t *out_size) {
    static uint8_t *result;
    free(result);
    result = malloc(size * (size_t)times + 1);
    for (int64_t i = 0; i < times; i++) memcpy(result + (size_t)i * size, data, size);
    *out_size = size * (size_t)times;
    return result;
}

static const char *upper(const char *s) {
    static char buffer[4096];
    size_t i = 0;
    for (; s[i] && i < sizeof buffer - 1; i++) buffer[i] = (s[i] >= 'a' && s[i] <= 'z') ? s[i] - 32 : s[i];
    buffer[i] = 0;
    return buffer;
}

/* Box: a handle type whose destructions are counted. */
typedef struct box { int64_t value; } box;
static int64_t boxes_destroyed;
static void box_destroy(void *pointer) { free(pointer); boxes_destroyed++; }
static box *box_new(int64_t value) {
    box *b = malloc(sizeof *b);
    b->value = value;
    return b;
}
static int64_t box_get(box *b) { return b->value; }
static int64_t box_destroyed(void) { return boxes_destroyed; }

/* The worker's own environment variable `name` (getenv(3), not the host API), or "(unset)". */
static const char *env_get(const char *name) {
    const char *value = getenv(name);
    return value ? value : "(unset)";
}

static const capsule_export exports[] = {
#ifdef WITH_ERRNO_EXPORT
    {"close_fd", "(i32) -> i32 !errno", (void (*)(void))close, 0, "close(2), with errno: in-process only"},
#endif
    {"env_get", "(str) -> str", (void (*)(void))env_get, 0, "getenv(name) in the worker, or \"(unset)\""},
    {"add", "(i64, i64) -> i64", (void (*)(void))add, 0, "a + b"},
    {"worker_pid", "() -> i64", (void (*)(void))worker_pid, 0, "the process the plugin runs in"},
    {"segfault", "() -> i64", (void (*)(void))segfault, 0, "reads address 16"},
    {"abort_now", "() -> i64", (void (*)(void))abort_now, 0, "abort()"},
    {"exit_now", "(i64) -> i64", (void (*)(void))exit_now, 0, "_exit(code)"},
    {"spin", "() -> i64", (void (*)(void))spin, 0, "loops forever"},
    {"scribble", "(str) -> i64", (void (*)(void))scribble, 0, "corrupts the ring"},
    {"noise", "() -> i64", (void (*)(void))noise, 0, "junk on the worker's socket"},
    {"hangup", "() -> i64", (void (*)(void))hangup, 0, "closes the worker's socket"},
    {"fail", "(str) -> i64", (void (*)(void))fail, 0, "raises the message"},
    {"note", "(str) -> void", (void (*)(void))note, 0, "logs the message"},
    {"read_file", "(str) -> i64", (void (*)(void))read_file, 0, "bytes read, or -errno"},
    {"write_file", "(str, bytes) -> i64", (void (*)(void))write_file, 0, "bytes written, or -errno"},
    {"connect_port", "(i64) -> i64", (void (*)(void))connect_port, 0, "TCP connect to 127.0.0.1:port"},
    {"udp_socket", "() -> i64", (void (*)(void))udp_socket, 0, "socket(AF_INET, SOCK_DGRAM)"},
    {"fill", "(buf, i64) -> void", (void (*)(void))fill, 0, "memset"},
    {"repeat", "(bytes, i64) -> bytes", (void (*)(void))repeat, 0, "data * times"},
    {"upper", "(str) -> str", (void (*)(void))upper, 0, "ASCII upper case"},
    {"box_new", "(i64) -> handle<Box>", (void (*)(void))box_new, 0, "a box holding the value"},
    {"box_get", "(handle<Box>) -> i64", (void (*)(void))box_get, 0, "the value"},
    {"box_destroyed", "() -> i64", (void (*)(void))box_destroyed, 0, "boxes destroyed so far in this worker"},
};

static const capsule_handle_type handle_types[] = {
    {"Box", box_destroy},
};

/* What it reaches for, on whatever it is granted: so it runs isolated by default. */
static const char *const capabilities[] = {"optional:fs.read", "optional:fs.write", "optional:net.connect", "optional:env", NULL};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .capabilities = capabilities,
    .struct_size = sizeof(capsule_plugin),
    .name = "unruly",
    .version = "1.0.0",
    .description = "Misbehaves; only ever run isolated",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = handle_types,
    .handle_type_count = 1,
    .init = init,
};

CAPSULE_PLUGIN(plugin)
