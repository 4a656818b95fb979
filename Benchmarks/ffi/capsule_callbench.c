/*
 * The Capsule plugin of the call benchmark: libcapsule_callbench.so, whose exports are
 * libcallee.so's functions and libm's hypot themselves (no wrappers), so the host calls
 * exactly what Lua and Python call.
 *
 *   import "callbench"
 *   print(callbench.add(2, 3), callbench.hypot(3, 4), callbench.count_bytes("abc"))
 */
#include <math.h>
#include "capsule.h"
#include "callee.h"

static const capsule_export exports[] = {
    {"add", "(i64, i64) -> i64", (void (*)(void))bench_add, 0, "a + b"},
    {"hypot", "(f64, f64) -> f64", (void (*)(void))hypot, 0, "libm's hypot"},
    {"count_bytes", "(str) -> u64", (void (*)(void))bench_count_bytes, 0, "strlen"},
    {"cpu_time", "() -> f64", (void (*)(void))bench_cpu_time, 0, "process CPU time in seconds"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "callbench",
    .version = "1.0.0",
    .description = "The script-to-C call benchmark's functions",
    .capabilities = NULL,
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = NULL,
    .handle_type_count = 0,
    .init = NULL,
};

CAPSULE_PLUGIN(plugin)
