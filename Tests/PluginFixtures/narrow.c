/* Narrow integer and float parameters (for the range checks), a u64 result too big for a
 * script int, and a second handle type (for the wrong-handle-type check). */
#include <stdlib.h>
#include "capsule.h"

static int64_t take_u8(uint8_t v) { return v; }
static int64_t take_i8(int8_t v) { return v; }
static int64_t take_u32(uint32_t v) { return v; }
static double take_f32(float v) { return v; }
static uint64_t big_u64(void) { return UINT64_MAX; }

typedef struct { int64_t id; } token;
static token *token_new(void) { token *t = malloc(sizeof *t); t->id = 7; return t; }
static int64_t token_id(token *t) { return t->id; }
static void token_destroy(void *t) { free(t); }

static const capsule_export exports[] = {
    {"take_u8", "(u8) -> i64", (void (*)(void))take_u8, 0, NULL},
    {"take_i8", "(i8) -> i64", (void (*)(void))take_i8, 0, NULL},
    {"take_u32", "(u32) -> i64", (void (*)(void))take_u32, 0, NULL},
    {"take_f32", "(f32) -> f64", (void (*)(void))take_f32, 0, NULL},
    {"big_u64", "() -> u64", (void (*)(void))big_u64, 0, NULL},
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
