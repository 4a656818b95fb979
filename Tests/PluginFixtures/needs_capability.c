/* Requires a capability; none can be granted yet, so the host refuses it. */
#include "capsule.h"

static const char *const capabilities[] = {"fs.read:./data", NULL};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "needs_capability",
    .version = "1.0.0",
    .capabilities = capabilities,
};

CAPSULE_PLUGIN(plugin)
