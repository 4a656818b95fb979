/* Declares struct type `point` twice. */
#include "capsule.h"

static void noop(void) {}

static const capsule_struct_type struct_types[] = {
    {"point", "{f64 x, f64 y}"},
    {"point", "{i32 x, i32 y}"},
};

static const capsule_export exports[] = {
    {"use", "(point) -> void", (void (*)(void))noop, 0, NULL},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "bad_struct_duplicate_name",
    .version = "1.0.0",
    .exports = exports,
    .export_count = 1,
    .struct_types = struct_types,
    .struct_type_count = sizeof struct_types / sizeof struct_types[0],
};

CAPSULE_PLUGIN(plugin)
