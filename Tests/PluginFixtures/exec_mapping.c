/* Tries to map files executable the way the dynamic loader does (mmap of a descriptor with
 * PROT_EXEC), where the host's supervisor decides (docs/security.md#every-thread-is-confined):
 * only before the host's INIT, only with one thread, only the files the host listed.
 *
 * The constructor, while loading, maps its own private copy (a listed file: allowed), the
 * same copy while a second thread lives (refused: Threads > 1) and again after that thread
 * is gone (allowed), and the file $EXEC_DATA, which a read grant lets it open (not listed:
 * refused, though mapping it read-only works). `constructor_report` says how each ended: 0
 * or -errno. After init, `after_init(where)` maps the same copy from the calling thread (0)
 * or a new thread (1): refused, since loading is over. `flood(n)` tries n times and returns
 * how many were refused. `copy_mode` is the permission bits of its private copy (read-only,
 * so a worker not running as root cannot rewrite the code it mapped). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "capsule.h"

static int copy_fd = -1;
static char report[512] = "constructor did not run";

/* 0 when `fd` maps with `prot`, else -errno. */
static long try_map(int fd, int prot) {
    void *p = mmap(NULL, 4096, prot, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return -errno;
    munmap(p, 4096);
    return 0;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t release = PTHREAD_COND_INITIALIZER;
static int released;

static void *wait_for_release(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    while (!released) pthread_cond_wait(&release, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

__attribute__((constructor)) static void map_files(void) {
    Dl_info self;
    if (!dladdr((void *)&map_files, &self) || !self.dli_fname) { snprintf(report, sizeof report, "dladdr failed"); return; }
    copy_fd = open(self.dli_fname, O_RDONLY | O_CLOEXEC);
    if (copy_fd < 0) { snprintf(report, sizeof report, "open copy %d", -errno); return; }
    long alone = try_map(copy_fd, PROT_READ | PROT_EXEC);

    pthread_t thread;
    long with_thread = 1, after_thread = 1;
    if (pthread_create(&thread, NULL, wait_for_release, NULL) == 0) {
        with_thread = try_map(copy_fd, PROT_READ | PROT_EXEC);
        pthread_mutex_lock(&lock);
        released = 1;
        pthread_cond_signal(&release);
        pthread_mutex_unlock(&lock);
        pthread_join(thread, NULL);
        /* The kernel may count a joined thread for a moment longer. */
        for (int i = 0; i < 50; i++) {
            after_thread = try_map(copy_fd, PROT_READ | PROT_EXEC);
            if (after_thread == 0) break;
            struct timespec pause = { 0, 2000000 };
            nanosleep(&pause, NULL);
        }
    }

    long data_read = 1, data_exec = 1;
    const char *data = getenv("EXEC_DATA");
    if (data) {
        int fd = open(data, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            data_read = data_exec = -errno;
        } else {
            data_read = try_map(fd, PROT_READ);
            data_exec = try_map(fd, PROT_READ | PROT_EXEC);
            close(fd);
        }
    }
    snprintf(report, sizeof report, "copy %ld, copy with a thread %ld, copy after it %ld, data read %ld, data exec %ld",
             alone, with_thread, after_thread, data_read, data_exec);
}

static const char *constructor_report(void) { return report; }

static int64_t copy_mode(void) {
    struct stat info;
    return fstat(copy_fd, &info) == 0 ? (int64_t)(info.st_mode & 07777) : -errno;
}

static long in_thread;
static void *map_in_thread(void *unused) {
    (void)unused;
    in_thread = try_map(copy_fd, PROT_READ | PROT_EXEC);
    return NULL;
}

static int64_t after_init(int64_t where) {
    if (where == 0) return try_map(copy_fd, PROT_READ | PROT_EXEC);
    pthread_t thread;
    if (pthread_create(&thread, NULL, map_in_thread, NULL) != 0) return 1000;
    pthread_join(thread, NULL);
    return in_thread;
}

static int64_t flood(int64_t n) {
    int64_t refused = 0;
    for (int64_t i = 0; i < n; i++)
        if (try_map(copy_fd, PROT_READ | PROT_EXEC) == -EPERM) refused++;
    return refused;
}

static const capsule_export exports[] = {
    {"constructor_report", "() -> str", (void (*)(void))constructor_report, 0, "what the constructor's mappings gave"},
    {"after_init", "(i64) -> i64", (void (*)(void))after_init, 0, "maps its copy executable: 0 here, 1 in a new thread"},
    {"flood", "(i64) -> i64", (void (*)(void))flood, 0, "tries n executable mappings; how many were refused"},
    {"copy_mode", "() -> i64", (void (*)(void))copy_mode, 0, "the permission bits of its private copy"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "exec_mapping",
    .version = "1.0.0",
    .description = "Maps files executable while loading and after init",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
};

CAPSULE_PLUGIN(plugin)
