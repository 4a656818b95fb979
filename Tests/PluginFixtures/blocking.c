/* Exports flagged CAPSULE_EXPORT_BLOCKING, run on the host's blocking pool (BlockingPoolTests).
 * Every blocking export may run on several pool threads at once: shared state is atomic. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "capsule.h"

static const capsule_host_api *host;
static atomic_long running, most;

static int blocking_init(const capsule_host_api *api) { host = api; return 0; }

static void sleep_ms(int64_t ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {}
}

/* Counts how many calls run at once, for most_at_once(). */
static void enter(void) {
    long now = atomic_fetch_add(&running, 1) + 1;
    long seen = atomic_load(&most);
    while (now > seen && !atomic_compare_exchange_weak(&most, &seen, now)) {}
}
static void leave(void) { atomic_fetch_sub(&running, 1); }

/* (i64) -> i64: sleeps ms milliseconds, returns ms. */
static int64_t slow_ms(int64_t ms) { enter(); sleep_ms(ms); leave(); return ms; }

/* (i64, str) -> i64: sleeps, then raises message. */
static int64_t fail_after(int64_t ms, const char *message) {
    sleep_ms(ms);
    host->raise(message);
    return 0;
}

/* (str, i64) -> str: sleeps, then returns s reversed (from a thread-local buffer: the host
 * copies it on this thread before the next call can reuse it). */
static const char *reverse_later(const char *s, int64_t ms) {
    static _Thread_local char out[256];
    sleep_ms(ms);
    size_t n = strlen(s);
    if (n >= sizeof out) { host->raise("too long"); return NULL; }
    for (size_t i = 0; i < n; i++) out[i] = s[n - 1 - i];
    out[n] = 0;
    return out;
}

/* (bytes, i64) -> i64: sleeps, then sums the bytes. */
static int64_t sum_later(const uint8_t *p, size_t n, int64_t ms) {
    sleep_ms(ms);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += p[i];
    return sum;
}

/* (buf, i64) -> void: sleeps, then fills the buffer with 'x'. */
static void fill_later(uint8_t *p, size_t n, int64_t ms) { sleep_ms(ms); memset(p, 'x', n); }

/* (i64, out i64) -> i64: sleeps, returns ms and writes ms * 2. */
static int64_t twice_later(int64_t ms, int64_t *out) { sleep_ms(ms); *out = ms * 2; return ms; }

typedef struct { int64_t n; } box;
static atomic_long destroyed;
static void box_destroy(void *p) { atomic_fetch_add(&destroyed, 1); free(p); }
static box *box_new(int64_t n) { box *b = malloc(sizeof *b); if (b) b->n = n; return b; }
/* (handle<Box>, i64) -> i64: sleeps, then reads the box. */
static int64_t box_read_later(box *b, int64_t ms) { sleep_ms(ms); return b->n; }
static void box_close(box *b) { (void)b; }
static int64_t boxes_destroyed(void) { return atomic_load(&destroyed); }

static int64_t most_at_once(void) { return atomic_exchange(&most, 0); }

/* Completion tokens (host->park): a thread of the plugin's own completes the call. */
typedef struct { capsule_token *token; int64_t ms, v; int kind; } job;
static void *finish_later(void *p) {
    job *j = p;
    sleep_ms(j->ms);
    if (j->kind == 1) host->complete_str(j->token, "done", 4);
    else if (j->kind == 2) host->complete_error(j->token, "it went wrong");
    else if (j->kind == 3) host->complete_str(j->token, "\xff", 1);
    else host->complete_int(j->token, j->v);
    free(j);
    return NULL;
}
static int64_t start_later(int64_t ms, int64_t v, int kind) {
    capsule_token *t = host->park();
    if (!t) {
        if (host->call_failed()) return 0;
        /* Cannot wait here (a comparator): do it now. */
        sleep_ms(ms);
        return v;
    }
    job *j = malloc(sizeof *j);
    pthread_t thread;
    if (!j) { host->complete_error(t, "out of memory"); return 0; }
    *j = (job){t, ms, v, kind};
    if (pthread_create(&thread, NULL, finish_later, j) != 0) { free(j); host->complete_error(t, "no thread"); return 0; }
    pthread_detach(thread);
    return 0;
}
/* (i64, i64) -> i64: v after ms, completed from a new thread. */
static int64_t later(int64_t ms, int64_t v) { return start_later(ms, v, 0); }
/* (i64, i64) -> void: kind 1 "done", 2 an error, 3 invalid UTF-8, after ms. */
static void later_kind(int64_t ms, int64_t kind) { start_later(ms, 0, (int)kind); }
/* () -> i64: park twice in one call (refused). */
static int64_t park_twice(void) {
    capsule_token *t = host->park();
    if (t) { host->complete_int(t, 1); host->park(); }
    return 0;
}

#define B CAPSULE_EXPORT_BLOCKING
static const capsule_export exports[] = {
    {"slow_ms", "(i64) -> i64", (void (*)(void))slow_ms, B, "sleeps ms milliseconds"},
    {"fail_after", "(i64, str) -> i64", (void (*)(void))fail_after, B, "sleeps, then raises"},
    {"reverse_later", "(str, i64) -> str", (void (*)(void))reverse_later, B, "s reversed, after ms"},
    {"sum_later", "(bytes, i64) -> i64", (void (*)(void))sum_later, B, "the bytes' sum, after ms"},
    {"fill_later", "(buf, i64) -> void", (void (*)(void))fill_later, B, "fills with x, after ms"},
    {"twice_later", "(i64, out i64) -> i64", (void (*)(void))twice_later, B, "[ms, ms * 2], after ms"},
    {"box_new", "(i64) -> handle<Box>", (void (*)(void))box_new, 0, "a box holding n"},
    {"box_read_later", "(handle<Box>, i64) -> i64", (void (*)(void))box_read_later, B, "the box's n, after ms"},
    {"box_close", "(handle<Box>) -> void", (void (*)(void))box_close, CAPSULE_EXPORT_CLOSES_HANDLE, "closes a box"},
    {"boxes_destroyed", "() -> i64", (void (*)(void))boxes_destroyed, 0, "boxes destroyed so far"},
    {"most_at_once", "() -> i64", (void (*)(void))most_at_once, 0, "most slow_ms calls at once since the last call"},
    {"later", "(i64, i64) -> i64", (void (*)(void))later, CAPSULE_EXPORT_PARKS, "v after ms, from a thread"},
    {"later_kind", "(i64, i64) -> void", (void (*)(void))later_kind, CAPSULE_EXPORT_PARKS, "a str, an error or bad UTF-8 after ms"},
    {"park_twice", "() -> i64", (void (*)(void))park_twice, CAPSULE_EXPORT_PARKS, "parks twice: refused"},
    {"park_unflagged", "() -> i64", (void (*)(void))park_twice, 0, "parks without the flag: refused"},
#ifdef BAD_VALUE
    {"bad", "(value) -> i64", (void (*)(void))most_at_once, B, "refused: value needs the VM's thread"},
#endif
};

static const capsule_handle_type handle_types[] = {{"Box", box_destroy}};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
#ifdef BAD_VALUE
    .name = "blocking_bad",
#else
    .name = "blocking",
#endif
    .version = "1.0.0",
    .description = "blocking exports for the pool tests",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = handle_types,
    .handle_type_count = 1,
    .init = blocking_init,
};

CAPSULE_PLUGIN(plugin)
