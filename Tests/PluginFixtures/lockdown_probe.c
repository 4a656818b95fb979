/* Tries, after init, what no thread of an isolated plugin's worker may do: read a file
 * outside every grant, map or make executable memory, and change its own confinement
 * (seccomp, Landlock, prctl, setns, unshare). `probe(where)` runs the attempts in the
 * calling thread (0), in a thread it starts (1), or in the thread init started (2), and
 * says how each ended: "ok" or -errno. `constructor_read` is what opening a system file the
 * plugin does not need gave in its constructor, under the first-stage lockdown, and
 * `constructor_probe` what the same attempts gave there: a constructor that skipped the
 * second stage would be left with these. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "capsule.h"

static int64_t ctor_read;
static char ctor_results[512];
static void attempt(char *out, size_t size);

__attribute__((constructor)) static void read_system_file(void) {
    int fd = open("/usr/lib/os-release", O_RDONLY);
    ctor_read = fd >= 0 ? 0 : -errno;
    if (fd >= 0) close(fd);
    attempt(ctor_results, sizeof ctor_results);
}

static int64_t constructor_read(void) { return ctor_read; }
static const char *constructor_probe(void) { return ctor_results; }

static void note(char *out, size_t size, const char *what, long status) {
    size_t n = strlen(out);
    if (status >= 0) snprintf(out + n, size - n, "%s%s ok", n ? ", " : "", what);
    else snprintf(out + n, size - n, "%s%s %d", n ? ", " : "", what, -errno);
}

static char results[3][512];

static void attempt(char *out, size_t size) {
    out[0] = 0;
    int fd = open("/etc/hostname", O_RDONLY);
    note(out, size, "read", fd);
    if (fd >= 0) close(fd);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    note(out, size, "mmap", p == MAP_FAILED ? -1 : 0);
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    note(out, size, "mprotect", page == MAP_FAILED ? -1 : mprotect(page, 4096, PROT_READ | PROT_EXEC));
    uint64_t ruleset[3] = { 1, 0, 0 };  /* handled_access_fs = EXECUTE */
    long ll = syscall(444 /* landlock_create_ruleset */, ruleset, 8, 0);
    note(out, size, "landlock_create_ruleset", ll);
    if (ll >= 0) close((int)ll);
    note(out, size, "landlock_restrict_self", syscall(446 /* landlock_restrict_self */, -1, 0));
    struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
    struct sock_fprog prog = { 1, allow };
    note(out, size, "seccomp", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog));
    note(out, size, "prctl_seccomp", prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0));
    note(out, size, "prctl_no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    note(out, size, "prctl_dumpable", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
    note(out, size, "setns", setns(0, 0));
    note(out, size, "unshare", unshare(CLONE_NEWUSER));
}

static void *attempt_in_thread(void *slot) {
    attempt(results[(intptr_t)slot], sizeof results[0]);
    return NULL;
}

/* The thread init starts: waits for probe(2) to ask, then tries. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t asked = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static int ask, answered;

static void *waiting_thread(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    while (!ask) pthread_cond_wait(&asked, &lock);
    pthread_mutex_unlock(&lock);
    attempt(results[2], sizeof results[2]);
    pthread_mutex_lock(&lock);
    answered = 1;
    pthread_cond_signal(&done);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int init(const capsule_host_api *host) {
    (void)host;
    pthread_t thread;
    if (pthread_create(&thread, NULL, waiting_thread, NULL) != 0) return 1;
    pthread_detach(thread);
    return 0;
}

static const char *probe(int64_t where) {
    if (where == 0) {
        attempt(results[0], sizeof results[0]);
    } else if (where == 1) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, attempt_in_thread, (void *)(intptr_t)1) != 0) return "pthread_create failed";
        pthread_join(thread, NULL);
    } else {
        pthread_mutex_lock(&lock);
        ask = 1;
        pthread_cond_signal(&asked);
        while (!answered) pthread_cond_wait(&done, &lock);
        pthread_mutex_unlock(&lock);
    }
    return results[where == 0 ? 0 : where == 1 ? 1 : 2];
}

static const capsule_export exports[] = {
    {"probe", "(i64) -> str", (void (*)(void))probe, 0, "tries to escape: 0 here, 1 in a new thread, 2 in init's thread"},
    {"constructor_read", "() -> i64", (void (*)(void))constructor_read, 0, "opening /usr/lib/os-release from the constructor"},
    {"constructor_probe", "() -> str", (void (*)(void))constructor_probe, 0, "the attempts of `probe`, from the constructor"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "lockdown_probe",
    .version = "1.0.0",
    .description = "Tries to widen its own confinement after init",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .init = init,
};

CAPSULE_PLUGIN(plugin)
