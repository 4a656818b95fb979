/* Export `missing` has no function. */
#include "capsule.h"

static const capsule_export exports[] = {
    {"missing", "() -> i64", NULL, 0, NULL},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "null_function",
    .version = "1.0.0",
    .exports = exports,
    .export_count = 1,
};

CAPSULE_PLUGIN(plugin)
