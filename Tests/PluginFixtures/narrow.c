/* Narrow integer and float parameters (for the range checks), a u64 result too big for a
 * script int, buf/bytes/ptr/NULL-str/out conversions, callbacks, errno, variadic arguments,
 * and a second handle type (for the wrong-handle-type check). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "capsule.h"

static int64_t take_u8(uint8_t v) { return v; }
static int64_t take_i8(int8_t v) { return v; }
static int64_t take_u32(uint32_t v) { return v; }
static double take_f32(float v) { return v; }
static uint64_t big_u64(void) { return UINT64_MAX; }

/* buf: the script's bytes, written in place. */
static void fill(uint8_t *data, size_t size, uint8_t value) {
    for (size_t i = 0; i < size; i++) data[i] = value;
}
static uint64_t length_of(const uint8_t *data, size_t size) { (void)data; return size; }
static const char *maybe_text(bool give) { return give ? "text" : NULL; }

/* A bytes result: the pointer is returned, the length written through the hidden size_t *. */
static const uint8_t *repeat_byte(uint8_t value, int64_t count, size_t *size) {
    /* Thread-local: tests run VMs on several threads at once, all calling this. */
    static _Thread_local uint8_t data[16];
    if (count < 0) return NULL;
    if (count > 16) count = 16;
    memset(data, value, (size_t)count);
    *size = (size_t)count;
    return data;
}

/* A bytes result alongside an out parameter: the hidden length comes after it. */
static const uint8_t *halves(const uint8_t *p, size_t n, uint64_t *rest, size_t *size) {
    *rest = n - n / 2;
    *size = n / 2;
    return p;
}
static void *same_ptr(void *p) { return p; }
/* Out-parameters of several types; the result says whether x was negative. */
static bool split(double x, int64_t *whole, double *fraction, bool *even) {
    *whole = (int64_t)x;
    *fraction = x - (double)*whole;
    *even = *whole % 2 == 0;
    return x < 0;
}

typedef struct { int64_t id; } token;
static token *token_new(void) { token *t = malloc(sizeof *t); t->id = 7; return t; }
static int64_t token_id(token *t) { return t->id; }
static void token_destroy(void *t) { free(t); }

/* Callbacks, errno and variadic arguments work for plugin exports as for raw FFI. */
static int64_t apply_twice(int64_t (*f)(int64_t), int64_t x) { return f(f(x)); }
static int32_t fail_with(int32_t code) { errno = code; return -1; }
static int64_t sum_ints(int64_t count, ...) {
    va_list ap;
    va_start(ap, count);
    int64_t total = 0;
    for (int64_t i = 0; i < count; i++) total += va_arg(ap, int64_t);
    va_end(ap);
    return total;
}

static const capsule_export exports[] = {
    {"apply_twice", "(callback<(i64) -> i64>, i64) -> i64", (void (*)(void))apply_twice, 0, NULL},
    {"fail_with", "(i32) -> i32 !errno", (void (*)(void))fail_with, 0, NULL},
    {"sum_ints", "(i64, ...) -> i64", (void (*)(void))sum_ints, 0, NULL},
    {"take_u8", "(u8) -> i64", (void (*)(void))take_u8, 0, NULL},
    {"take_i8", "(i8) -> i64", (void (*)(void))take_i8, 0, NULL},
    {"take_u32", "(u32) -> i64", (void (*)(void))take_u32, 0, NULL},
    {"take_f32", "(f32) -> f64", (void (*)(void))take_f32, 0, NULL},
    {"big_u64", "() -> u64", (void (*)(void))big_u64, 0, NULL},
    {"fill", "(buf, u8) -> void", (void (*)(void))fill, 0, NULL},
    {"length_of", "(bytes) -> u64", (void (*)(void))length_of, 0, NULL},
    {"maybe_text", "(bool) -> str", (void (*)(void))maybe_text, 0, NULL},
    {"repeat_byte", "(u8, i64) -> bytes", (void (*)(void))repeat_byte, 0, NULL},
    {"halves", "(bytes, out u64) -> bytes", (void (*)(void))halves, 0, NULL},
    {"same_ptr", "(ptr) -> ptr", (void (*)(void))same_ptr, 0, NULL},
    {"split", "(f64, out i64, out f64, out bool) -> bool", (void (*)(void))split, 0, NULL},
    {"token_new", "() -> handle<Token>", (void (*)(void))token_new, 0, NULL},
    {"token_id", "(handle<Token>) -> i64", (void (*)(void))token_id, 0, NULL},
};

static const capsule_handle_type handle_types[] = {{"Token", token_destroy}};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "narrow",
    .version = "1.0.0",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = handle_types,
    .handle_type_count = 1,
};

CAPSULE_PLUGIN(plugin)
