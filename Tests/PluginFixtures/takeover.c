/* Simulates a plugin that has taken over its worker: its code runs after the host sent INIT
 * but before the worker's stage 2 (a constructor that subverts the worker can make stage 2
 * never run at all), and tries to map code then (docs/security.md#every-thread-is-confined).
 *
 * The constructor maps its own private copy executable (a listed file, one thread, still
 * loading: the host allows it), finds the worker's shared memory (the worker's `shared`
 * pointer, among the words of its writable segment, probed through a pipe so a bad guess
 * is an EFAULT rather than a crash), and arms a 20 µs interval timer. Its SIGALRM handler,
 * on the worker's only thread, waits until the worker has answered LOADED, then holds that
 * thread — so the worker cannot start stage 2 — until the host sends INIT, and maps the copy
 * again: the host refuses (EPERM), though nothing in the worker changed since it allowed
 * the same mapping. It notes whether the worker was still dumpable then (stage 2 turns that
 * off), and `report` says all of it. Built with -I for capsule_isolation.h. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "capsule.h"
#include "capsule_isolation.h"

static int copy_fd = -1;
static capsule_iso_shared *volatile found;
static int probe[2] = { -1, -1 };
static long while_loading = 1, after_init = 1;
static int dumpable_then = -1, missed;
static volatile sig_atomic_t done;
static char report_text[256] = "the handler never ran after LOADED";

static long try_map(void) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, copy_fd, 0);
    if (p == MAP_FAILED) return -errno;
    munmap(p, 4096);
    return 0;
}

/* True when `address` is readable and starts with the protocol's magic. */
static int is_shared(uintptr_t address) {
    if (address == 0 || address % 4096 != 0) return 0;
    uint64_t magic = 0;
    if (write(probe[1], (const void *)address, sizeof magic) != (ssize_t)sizeof magic) return 0;
    if (read(probe[0], &magic, sizeof magic) != (ssize_t)sizeof magic) return 0;
    return magic == CAPSULE_ISO_MAGIC;
}

/* The main program (the worker) comes first: scan its writable segments for `shared`. */
static int scan(struct dl_phdr_info *info, size_t size, void *unused) {
    (void)size; (void)unused;
    for (int i = 0; i < info->dlpi_phnum && !found; i++) {
        const ElfW(Phdr) *h = &info->dlpi_phdr[i];
        if (h->p_type != PT_LOAD || !(h->p_flags & PF_W)) continue;
        uintptr_t *word = (uintptr_t *)(info->dlpi_addr + h->p_vaddr);
        uintptr_t *end = (uintptr_t *)(info->dlpi_addr + h->p_vaddr + h->p_memsz);
        for (; word + 1 <= end; word++)
            if (is_shared(*word)) { found = (capsule_iso_shared *)*word; break; }
    }
    return 1;  /* only the first object */
}

static void stop_timer(void) {
    struct itimerval off = {0};
    setitimer(ITIMER_REAL, &off, NULL);
}

static void tick(int signal) {
    (void)signal;
    capsule_iso_shared *s = found;
    if (done || !s) return;
    int saved = errno;
    uint32_t answered = capsule_iso_load(&s->response_seq), status = s->status;
    if (answered == 1 && status == CAPSULE_ISO_LOADED) {
        /* LOADED is out; INIT not yet handled: hold the worker's only thread here until the
         * host sends it (at most 5 s). */
        struct timespec start, now, pause = { 0, 100000 };
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (capsule_iso_load(&s->request_seq) == 1) {
            nanosleep(&pause, NULL);
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec > 5) break;
        }
        after_init = try_map();
        dumpable_then = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        done = 1;
        stop_timer();
    } else if (answered > 1) {
        missed = 1;  /* the worker handled INIT between two ticks */
        done = 1;
        stop_timer();
    }
    errno = saved;
}

__attribute__((constructor)) static void take_over(void) {
    Dl_info self;
    if (!dladdr((void *)&take_over, &self) || !self.dli_fname) return;
    copy_fd = open(self.dli_fname, O_RDONLY | O_CLOEXEC);
    if (copy_fd < 0) return;
    while_loading = try_map();
    if (pipe2(probe, O_CLOEXEC) != 0) return;
    dl_iterate_phdr(scan, NULL);
    if (!found) { snprintf(report_text, sizeof report_text, "the worker's shared memory was not found"); return; }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = tick;
    action.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &action, NULL);
    struct itimerval every = { { 0, 20 }, { 0, 20 } };
    setitimer(ITIMER_REAL, &every, NULL);
}

static const char *report(void) {
    if (missed) return "the worker handled INIT between two ticks";
    if (done)
        snprintf(report_text, sizeof report_text, "while loading %ld, after INIT before stage 2 %ld, dumpable then %d",
                 while_loading, after_init, dumpable_then);
    return report_text;
}

static const capsule_export exports[] = {
    {"report", "() -> str", (void (*)(void))report, 0, "the mappings before and after INIT"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "takeover",
    .version = "1.0.0",
    .description = "Runs code after INIT and before stage 2, and maps code then",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
};

CAPSULE_PLUGIN(plugin)
