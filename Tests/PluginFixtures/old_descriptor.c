/* Not a refusal: a descriptor of the SDK 0.1 layout (ABI 1, ending at restore_state, no
 * struct types), as a plugin built against the older header has. It loads. */
#include "capsule.h"

static int64_t twice(int64_t v) { return 2 * v; }

static const capsule_export exports[] = {
    {"twice", "(i64) -> i64", (void (*)(void))twice, 0, "2 * v"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = CAPSULE_PLUGIN_SIZE_1_0,
    .name = "old_descriptor",
    .version = "0.1.0",
    .exports = exports,
    .export_count = 1,
};

CAPSULE_PLUGIN(plugin)
