/* The plugin the hot-reload example rebuilds: edit `step` (or the version), then
 * `capsule plugin build examples/hot-reload/counter` while app.cap runs. */
#include "capsule.h"
#include <string.h>

static const capsule_host_api *host;
static int64_t total;

static int init(const capsule_host_api *api) { host = api; return 0; }

/* Change this and rebuild: the running script picks it up, and `total` carries over. */
static int64_t step(void) { return 1; }

static int64_t next(void) { total += step(); return total; }

static void *save_state(size_t *size) {
    int64_t *data = host->alloc(sizeof total);
    if (data) *data = total;
    *size = sizeof total;
    return data;
}

static int restore_state(const void *data, size_t size, const char *from_version) {
    (void)from_version;
    if (data && size == sizeof total) memcpy(&total, data, sizeof total);
    return 0;
}

static const capsule_export exports[] = {
    {"next", "() -> i64", (void (*)(void))next, 0, "adds step() to the total and returns it"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "counter",
    .version = "1.0.0",
    .description = "The hot-reload example's counter",
    .exports = exports,
    .export_count = 1,
    .init = init,
    .save_state = save_state,
    .restore_state = restore_state,
};

CAPSULE_PLUGIN(plugin)
