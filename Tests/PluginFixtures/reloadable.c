/* A plugin rebuilt during the hot-reload tests, with -DVERSION=1 or 2 and optional breakage:
 *   -DVERSION=N          value() answers N * 100 + calls; from 2 on, adds export twice()
 *   -DCHANGE_SIGNATURE   value takes an argument
 *   -DDROP_VALUE         no value export
 *   -DINIT_FAILS         init returns 1
 *   -DRESTORE_FAILS      restore_state returns 1
 *   -DNEEDS_CAPABILITY   requires fs.read:/ (not granted)
 *   -DWRONG_ABI          built for ABI version 99
 *   -DWITH_HANDLE        handle type Box: make() -> handle<Box>, peek(handle<Box>) -> i64,
 *                        make_tracked(ptr) -> handle<Box>: destroying it stores VERSION at ptr
 *   -DWITH_SLOW          slow(ptr started, i64 ms) -> i64: stores 1 at started, sleeps ms, returns VERSION
 *   -DWITH_NAP           nap(i64 ms) -> i64: sleeps ms, returns VERSION (a blocking export of the
 *                        shape the host calls without libffi)
 *   -DWITH_PIN           remember(value f) -> i64 pins f (SDK 0.3), recall(value x) -> value
 *                        calls it with x; the pin's id is part of the saved state
 *   -DWITH_CALLBACK      call_back(callback<() -> i64>) -> i64: VERSION * 1000 + what cb returned,
 *                        computed by this version's code after cb returns; with WITH_HANDLE
 *                        also make_after(callback<() -> i64>, ptr) -> handle<Box>: calls cb,
 *                        then returns make_tracked(ptr)
 * The counter (calls so far) is the state saved by save_state and restored by restore_state. */
#include "capsule.h"
#include <string.h>

#ifndef VERSION
#define VERSION 1
#endif

static const capsule_host_api *host;
static int64_t calls;

static int init(const capsule_host_api *api) {
    host = api;
#ifdef INIT_FAILS
    return 1;
#else
    return 0;
#endif
}

#ifdef CHANGE_SIGNATURE
static int64_t value(int64_t x) { return x; }
#else
static int64_t value(void) { calls++; return VERSION * 100 + calls; }
#endif
static int64_t version(void) { return VERSION; }
#if defined(WITH_SLOW) || defined(WITH_NAP)
#include <time.h>
#endif
#ifdef WITH_NAP
static int64_t nap(int64_t ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
    return VERSION;
}
#endif
#ifdef WITH_SLOW
static int64_t slow(volatile int64_t *started, int64_t ms) {
    if (started) *started = 1;
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
    return VERSION;
}
#endif
#ifdef WITH_CALLBACK
static int64_t call_back(int64_t (*cb)(void)) {
    int64_t r = cb();
    return VERSION * 1000 + r;
}
#endif
#if VERSION >= 2
static int64_t twice(int64_t x) { return 2 * x; }
#endif

#ifdef WITH_HANDLE
#include <stdlib.h>
struct box { int64_t value; int64_t *record; };
static void destroy_box(void *p) {
    struct box *b = p;
    if (b->record) *b->record = VERSION; /* proves which version's destructor ran */
    free(b);
}
static void *make_tracked(void *record) {
    struct box *b = malloc(sizeof *b);
    b->value = VERSION;
    b->record = record;
    return b;
}
static void *make(void) { return make_tracked(NULL); }
static int64_t peek(void *b) { return ((struct box *)b)->value; }
static const capsule_handle_type handle_types[] = {{"Box", destroy_box}};
#endif
#if defined(WITH_HANDLE) && defined(WITH_CALLBACK)
static void *make_after(int64_t (*cb)(void), void *record) {
    cb();
    return make_tracked(record);
}
#endif

/* The pinned function's id: a number, carried over a reload with the counter. */
static uint64_t pinned;
#ifdef WITH_PIN
static int64_t remember(capsule_value f) {
    pinned = host->value_pin(f);
    return pinned != 0;
}
static capsule_value recall(capsule_value x) {
    capsule_value f = host->pinned_value(pinned);
    return f == CAPSULE_NO_VALUE ? f : host->call_value(f, &x, 1);
}
#endif

static void *save_state(size_t *size) {
    int64_t *data = host->alloc(2 * sizeof(int64_t));
    data[0] = calls;
    data[1] = (int64_t)pinned;
    *size = 2 * sizeof(int64_t);
    return data;
}

static int restore_state(const void *data, size_t size, const char *from_version) {
    (void)from_version;
#ifdef RESTORE_FAILS
    return 1;
#endif
    if (data && size == 2 * sizeof(int64_t)) {
        const int64_t *d = data;
        calls = d[0];
        pinned = (uint64_t)d[1];
    }
    return 0;
}

static const capsule_export exports[] = {
#ifndef DROP_VALUE
#ifdef CHANGE_SIGNATURE
    {"value", "(i64) -> i64", (void (*)(void))value, 0, "x"},
#else
    {"value", "() -> i64", (void (*)(void))value, 0, "VERSION * 100 + calls"},
#endif
#endif
    {"version", "() -> i64", (void (*)(void))version, 0, "VERSION"},
#ifdef WITH_HANDLE
    {"make", "() -> handle<Box>", (void (*)(void))make, 0, "a Box holding VERSION"},
    {"peek", "(handle<Box>) -> i64", (void (*)(void))peek, 0, "what the Box holds"},
    {"make_tracked", "(ptr) -> handle<Box>", (void (*)(void))make_tracked, 0, "a Box recording its destructor's VERSION"},
#endif
#ifdef WITH_PIN
    {"remember", "(value) -> i64", (void (*)(void))remember, 0, "pins f"},
    {"recall", "(value) -> value", (void (*)(void))recall, 0, "the pinned f(x)"},
#endif
#ifdef WITH_NAP
    {"nap", "(i64) -> i64", (void (*)(void))nap, 0, "VERSION, after ms milliseconds"},
#endif
#ifdef WITH_SLOW
    {"slow", "(ptr, i64) -> i64", (void (*)(void))slow, 0, "VERSION, after ms milliseconds"},
#endif
#ifdef WITH_CALLBACK
    {"call_back", "(callback<() -> i64>) -> i64", (void (*)(void))call_back, 0, "VERSION * 1000 + cb()"},
#ifdef WITH_HANDLE
    {"make_after", "(callback<() -> i64>, ptr) -> handle<Box>", (void (*)(void))make_after, 0, "cb(), then make_tracked(ptr)"},
#endif
#endif
#if VERSION >= 2
    {"twice", "(i64) -> i64", (void (*)(void))twice, 0, "2 * x"},
#endif
};

#ifdef NEEDS_CAPABILITY
static const char *const capabilities[] = {"fs.read:/", NULL};
#endif

static const capsule_plugin plugin = {
#ifdef WRONG_ABI
    .abi_version = 99,
#else
    .abi_version = CAPSULE_ABI_VERSION,
#endif
    .struct_size = sizeof(capsule_plugin),
    .name = "reloadable",
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
    .version = STRINGIFY(VERSION) ".0.0",
    .description = "Rebuilt by the hot-reload tests",
#ifdef NEEDS_CAPABILITY
    .capabilities = capabilities,
#endif
#ifdef WITH_HANDLE
    .handle_types = handle_types,
    .handle_type_count = 1,
#endif
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .init = init,
    .save_state = save_state,
    .restore_state = restore_state,
};

CAPSULE_PLUGIN(plugin)
