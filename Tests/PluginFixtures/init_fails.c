/* init raises a message and returns a non-zero status. */
#include "capsule.h"

static int init(const capsule_host_api *host) {
    host->raise("no configuration found");
    return 3;
}

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "init_fails",
    .version = "1.0.0",
    .init = init,
};

CAPSULE_PLUGIN(plugin)
