/* Uses the capability-mediated host services: host->open_file and host->getenv, which the
 * host checks against this plugin's own grants (not the script's). */
#include "capsule.h"
#include <fcntl.h>
#include <unistd.h>

static const capsule_host_api *host;
static char buffer[256];

static int init(const capsule_host_api *api) {
    host = api;
    return 0;
}

/* The first bytes of the file at `path`, or "" after the host raised the denial. */
static const char *read_head(const char *path) {
    int fd = host->open_file(path, O_RDONLY, 0);
    if (fd < 0) return "";
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    buffer[n < 0 ? 0 : n] = 0;
    return buffer;
}

/* Writes `text` to `path` (created or truncated); returns the bytes written or -1. */
static int64_t write_text(const char *path, const char *text) {
    int fd = host->open_file(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    size_t length = 0;
    while (text[length]) length++;
    ssize_t n = write(fd, text, length);
    close(fd);
    return n;
}

static const char *get(const char *name) {
    const char *value = host->getenv(name);
    return value ? value : "(unset)";
}

static const capsule_export exports[] = {
    {"read_head", "(str) -> str", (void (*)(void))read_head, 0, "host->open_file for reading"},
    {"write_text", "(str, str) -> i64", (void (*)(void))write_text, 0, "host->open_file for writing"},
    {"get", "(str) -> str", (void (*)(void))get, 0, "host->getenv"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "host_services",
    .version = "1.0.0",
    .exports = exports,
    .export_count = 3,
    .init = init,
};

CAPSULE_PLUGIN(plugin)
