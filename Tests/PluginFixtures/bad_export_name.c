/* Export 1 has a name scripts cannot write. */
#include "capsule.h"

static int64_t one(void) { return 1; }

static const capsule_export exports[] = {
    {"fine", "() -> i64", (void (*)(void))one, 0, NULL},
    {"2fast", "() -> i64", (void (*)(void))one, 0, NULL},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "bad_export_name",
    .version = "1.0.0",
    .exports = exports,
    .export_count = 2,
};

CAPSULE_PLUGIN(plugin)
