/* A constructor that starts a thread, which waits until the plugin's init has run and then
 * tries what the final lockdown forbids: reading a file outside every grant and mapping
 * executable memory. Landlock binds a thread only from when it is started, so the worker
 * must refuse to run init while such a thread lives (docs/security.md#every-thread-is-confined).
 * Built once per case, each a plugin of its own name (Fixtures.variants):
 *   (none)      thread_escape: the thread is still running when init is due
 *   -DHOP       thread_escape_hop: the thread starts another one and exits
 *   -DJOINED    thread_escape_joined: the constructor waits for its thread to finish, so
 *               nothing is left running and the plugin loads */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "capsule.h"

#if defined(HOP)
#define NAME "thread_escape_hop"
#elif defined(JOINED)
#define NAME "thread_escape_joined"
#else
#define NAME "thread_escape"
#endif

static volatile int init_ran;
static char report[128] = "the thread never got past init";

static void *escape(void *unused) {
    (void)unused;
#if defined(JOINED)
    snprintf(report, sizeof report, "the thread finished before init");
    return NULL;
#endif
    for (int i = 0; i < 500 && !init_ran; i++) usleep(10000);
    int fd = open("/etc/hostname", O_RDONLY);
    int read_errno = fd >= 0 ? 0 : errno;
    if (fd >= 0) close(fd);
    void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int exec_errno = code != MAP_FAILED ? 0 : errno;
    snprintf(report, sizeof report, "read %d, mmap exec %d", -read_errno, -exec_errno);
    return NULL;
}

#if defined(HOP)
static void *hop(void *unused) {
    (void)unused;
    pthread_t next;
    if (pthread_create(&next, NULL, escape, NULL) == 0) pthread_detach(next);
    return NULL;
}
#endif

__attribute__((constructor)) static void start_thread(void) {
    pthread_t thread;
#if defined(HOP)
    if (pthread_create(&thread, NULL, hop, NULL) == 0) pthread_join(thread, NULL);
#elif defined(JOINED)
    if (pthread_create(&thread, NULL, escape, NULL) == 0) pthread_join(thread, NULL);
#else
    if (pthread_create(&thread, NULL, escape, NULL) == 0) pthread_detach(thread);
#endif
}

static int init(const capsule_host_api *host) {
    (void)host;
    init_ran = 1;
    return 0;
}

/* What the constructor's thread managed after init (waits up to a second for it). */
static const char *escape_report(void) {
    for (int i = 0; i < 100 && report[0] == 't'; i++) usleep(10000);
    return report;
}

static const capsule_export exports[] = {
    {"escape_report", "() -> str", (void (*)(void))escape_report, 0, "what the constructor's thread did after init"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = NAME,
    .version = "1.0.0",
    .description = "Starts a thread from a constructor",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .init = init,
};

CAPSULE_PLUGIN(plugin)
