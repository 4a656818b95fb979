/* Two exports share the name `twice`. */
#include "capsule.h"

static int64_t one(void) { return 1; }
static int64_t two(void) { return 2; }

static const capsule_export exports[] = {
    {"twice", "() -> i64", (void (*)(void))one, 0, NULL},
    {"twice", "() -> i64", (void (*)(void))two, 0, NULL},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "duplicate_export",
    .version = "1.0.0",
    .exports = exports,
    .export_count = 2,
};

CAPSULE_PLUGIN(plugin)
