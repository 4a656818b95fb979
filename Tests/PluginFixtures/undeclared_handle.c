/* An export takes handle<Socket>, but the plugin declares no handle types. */
#include "capsule.h"

static int64_t use(void *socket) { (void)socket; return 0; }

static const capsule_export exports[] = {
    {"use", "(handle<Socket>) -> i64", (void (*)(void))use, 0, NULL},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "undeclared_handle",
    .version = "1.0.0",
    .exports = exports,
    .export_count = 1,
};

CAPSULE_PLUGIN(plugin)
