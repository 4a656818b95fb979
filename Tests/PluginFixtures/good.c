/* A valid plugin: loaded after each refusal to show the host keeps working. It also tries
 * the denied host services. */
#include "capsule.h"

static const capsule_host_api *host;

static int init(const capsule_host_api *api) {
    host = api;
    return 0;
}

static int64_t triple(int64_t v) { return 3 * v; }

static int64_t read_secret(void) {
    return host->open_file("/etc/passwd", 0, 0);
}

static int64_t host_abi(void) { return host->abi_version; }

static const capsule_export exports[] = {
    {"triple", "(i64) -> i64", (void (*)(void))triple, 0, "3 * v"},
    {"read_secret", "() -> i64", (void (*)(void))read_secret, 0, "tries host->open_file"},
    {"host_abi", "() -> i64", (void (*)(void))host_abi, 0, "the host's ABI version"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "good",
    .version = "2.1.0",
    .description = "A valid fixture",
    .exports = exports,
    .export_count = 3,
    .init = init,
};

CAPSULE_PLUGIN(plugin)
