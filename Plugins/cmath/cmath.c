/*
 * cmath — the bundled example plugin, used by the tests and the docs.
 *
 *   import "cmath"
 *   print(cmath.add(2, 3))            // 5
 *   print(cmath.hypot(3, 4))          // 5.0
 *   let c = cmath.counter_new()
 *   print(cmath.counter_incr(c))      // 1
 *
 * Built by `swift build` as libcapsule_cmath.so (the `capsule_cmath` dynamic library
 * product) with -fvisibility=hidden, so capsule_plugin_entry is its only export.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "capsule.h"

static const capsule_host_api *host;

static int cmath_init(const capsule_host_api *api) {
    host = api;
    return 0;
}

static int64_t cmath_add(int64_t a, int64_t b) { return a + b; }

static double cmath_hypot(double a, double b) { return hypot(a, b); }

static uint64_t cmath_strlen(const char *s) { return (uint64_t)strlen(s); }

static uint8_t cmath_clamp_u8(int64_t v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v; }

static int64_t cmath_checked_div(int64_t a, int64_t b) {
    if (b == 0) {
        host->raise("division by zero");
        return 0;
    }
    return a / b;
}

/* divmod(a, b, out q, out r): the quotient and remainder as out-parameters. */
static void cmath_divmod(int64_t a, int64_t b, int64_t *q, int64_t *r) {
    if (b == 0) {
        host->raise("division by zero");
        return;
    }
    *q = a / b;
    *r = a % b;
}

static const char *cmath_greeting(void) { return "hello from C"; }

static bool cmath_is_even(int64_t v) { return v % 2 == 0; }

/* Sums a byte string (a `bytes` parameter is a pointer and a length). */
static uint64_t cmath_byte_sum(const uint8_t *data, size_t size) {
    uint64_t sum = 0;
    for (size_t i = 0; i < size; i++) sum += data[i];
    return sum;
}

/* Counter: a handle type whose destructions are counted. */
typedef struct { int64_t value; } counter;

static int64_t destroyed;

static void counter_destroy(void *pointer) {
    destroyed++;
    free(pointer);
}

static counter *cmath_counter_new(void) { return calloc(1, sizeof(counter)); }

static int64_t cmath_counter_incr(counter *c) { return ++c->value; }

static void cmath_counter_close(counter *c) { (void)c; }

static int64_t cmath_destroyed_count(void) { return destroyed; }

static const capsule_export exports[] = {
    {"add", "(i64, i64) -> i64", (void (*)(void))cmath_add, 0, "a + b"},
    {"hypot", "(f64, f64) -> f64", (void (*)(void))cmath_hypot, 0, "sqrt(a*a + b*b)"},
    {"strlen", "(str) -> u64", (void (*)(void))cmath_strlen, 0, "the length of a string in bytes"},
    {"clamp_u8", "(i64) -> u8", (void (*)(void))cmath_clamp_u8, 0, "v clamped to 0...255"},
    {"checked_div", "(i64, i64) -> i64", (void (*)(void))cmath_checked_div, 0, "a / b; raises on zero"},
    {"divmod", "(i64, i64, out i64, out i64) -> void", (void (*)(void))cmath_divmod, 0, "[a / b, a % b]"},
    {"greeting", "() -> str", (void (*)(void))cmath_greeting, 0, "a static string"},
    {"is_even", "(i64) -> bool", (void (*)(void))cmath_is_even, 0, "whether v is even"},
    {"byte_sum", "(bytes) -> u64", (void (*)(void))cmath_byte_sum, 0, "the sum of the bytes"},
    {"counter_new", "() -> handle<Counter>", (void (*)(void))cmath_counter_new, 0, "a new counter at 0"},
    {"counter_incr", "(handle<Counter>) -> i64", (void (*)(void))cmath_counter_incr, 0, "adds 1 and returns the value"},
    {"counter_close", "(handle<Counter>) -> void", (void (*)(void))cmath_counter_close,
     CAPSULE_EXPORT_CLOSES_HANDLE, "destroys the counter now"},
    {"destroyed_count", "() -> i64", (void (*)(void))cmath_destroyed_count, 0, "counters destroyed so far"},
};

static const capsule_handle_type handle_types[] = {
    {"Counter", counter_destroy},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "cmath",
    .version = "1.0.0",
    .description = "Small math and string functions, and a Counter handle (the example plugin)",
    .capabilities = NULL,
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = handle_types,
    .handle_type_count = sizeof handle_types / sizeof handle_types[0],
    .init = cmath_init,
};

CAPSULE_PLUGIN(plugin)
