/* Claims a descriptor size other than the host's sizeof(capsule_plugin). */
#include "capsule.h"

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin) - 8,
    .name = "wrong_size",
    .version = "1.0.0",
};

CAPSULE_PLUGIN(plugin)
