/* Built for an ABI version this host does not implement. */
#include "capsule.h"

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION + 1,
    .struct_size = sizeof(capsule_plugin),
    .name = "wrong_abi",
    .version = "1.0.0",
};

CAPSULE_PLUGIN(plugin)
