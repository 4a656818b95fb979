/* Uses the capability-mediated host services: host->open_file, host->getenv,
 * host->run_program and host->connect_tcp, which the host checks against this plugin's own
 * grants (not the script's). */
#include "capsule.h"
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

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

/* Overwrites the start of the existing file at `path` with `text` through one O_RDWR
 * open (fs.read and fs.write); returns the bytes written or -1. */
static int64_t update_text(const char *path, const char *text) {
    int fd = host->open_file(path, O_RDWR, 0);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n;
}

static const char *get(const char *name) {
    const char *value = host->getenv(name);
    return value ? value : "(unset)";
}

/* Runs `program` with one argument and the environment {GREETING=hello}; returns
 * "STATUS|STDOUT|STDERR", or "" after the host raised. */
static char run_buffer[4096];
static const char *run(const char *program, const char *arg) {
    if (!CAPSULE_HOST_HAS(host, run_program)) return "(no run_program)";
    const char *args[] = {arg};
    const char *env[] = {"GREETING=hello", NULL};
    char *out = NULL, *err = NULL;
    size_t out_length = 0;
    int status = host->run_program(program, args, 1, env, 5000, &out, &out_length, &err, NULL);
    if (status < 0) return "";
    snprintf(run_buffer, sizeof run_buffer, "%d|%.*s|%s", status, (int)out_length, out, err);
    host->free(out);
    host->free(err);
    return run_buffer;
}

/* Runs `program` with no arguments and the one variable `assignment` ("NAME=VALUE"):
 * "STATUS|STDOUT", or "" after the host raised (a loader variable not granted by name). */
static const char *run_env(const char *program, const char *assignment) {
    const char *env[] = {assignment, NULL};
    char *out = NULL;
    size_t out_length = 0;
    int status = host->run_program(program, NULL, 0, env, 5000, &out, &out_length, NULL, NULL);
    if (status < 0) return "";
    snprintf(run_buffer, sizeof run_buffer, "%d|%.*s", status, (int)out_length, out);
    host->free(out);
    return run_buffer;
}

/* Connects to host:port, writes `text` and closes; returns the bytes written or -1. */
static int64_t send_text(const char *target, int64_t port, const char *text) {
    int fd = host->connect_tcp(target, (int)port, 2000);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n;
}

static const capsule_export exports[] = {
    {"read_head", "(str) -> str", (void (*)(void))read_head, 0, "host->open_file for reading"},
    {"write_text", "(str, str) -> i64", (void (*)(void))write_text, 0, "host->open_file for writing"},
    {"get", "(str) -> str", (void (*)(void))get, 0, "host->getenv"},
    {"run", "(str, str) -> str", (void (*)(void))run, 0, "host->run_program"},
    {"send_text", "(str, i64, str) -> i64", (void (*)(void))send_text, 0, "host->connect_tcp"},
    {"run_env", "(str, str) -> str", (void (*)(void))run_env, 0, "host->run_program with one variable"},
    {"update_text", "(str, str) -> i64", (void (*)(void))update_text, 0, "host->open_file for reading and writing"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "host_services",
    .version = "1.0.0",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .init = init,
};

CAPSULE_PLUGIN(plugin)
