/* Export `use` names struct type pointt, which is not declared (point is). */
#include "capsule.h"

static void noop(void) {}

static const capsule_struct_type struct_types[] = {
    {"point", "{f64 x, f64 y}"},
};

static const capsule_export exports[] = {
    {"use", "(point, pointt) -> void", (void (*)(void))noop, 0, NULL},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "bad_struct_unknown_name",
    .version = "1.0.0",
    .exports = exports,
    .export_count = 1,
    .struct_types = struct_types,
    .struct_type_count = sizeof struct_types / sizeof struct_types[0],
};

CAPSULE_PLUGIN(plugin)
