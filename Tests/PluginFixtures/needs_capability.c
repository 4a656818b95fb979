/* Requires a capability: refused unless fs.read:./data is granted to this plugin. */
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
