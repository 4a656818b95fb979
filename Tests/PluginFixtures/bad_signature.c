/* Export `add` has a malformed signature: a missing parameter type after the comma. */
#include "capsule.h"

static int64_t add(int64_t a, int64_t b) { return a + b; }

static const capsule_export exports[] = {
    {"add", "(i64, ) -> i64", (void (*)(void))add, 0, NULL},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "bad_signature",
    .version = "1.0.0",
    .exports = exports,
    .export_count = 1,
};

CAPSULE_PLUGIN(plugin)
