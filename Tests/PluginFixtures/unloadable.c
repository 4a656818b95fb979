/* Never unloadable by glibc: a thread-local variable and an STB_GNU_UNIQUE symbol (what C++
 * inline statics get). Linked with -z nodelete by the test as well. */
#include "capsule.h"

static __thread int64_t calls;

__asm__(".globl capsule_unique_counter\n"
        ".type capsule_unique_counter, @gnu_unique_object\n"
        ".section .bss\n"
        ".balign 8\n"
        "capsule_unique_counter: .zero 8\n"
        ".size capsule_unique_counter, 8\n"
        ".text\n");

static int64_t count(void) { return ++calls; }

static const capsule_export exports[] = {
    {"count", "() -> i64", (void (*)(void))count, 0, "calls so far on this thread"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "unloadable",
    .version = "1.0.0",
    .description = "Pinned in memory by TLS and a unique symbol",
    .exports = exports,
    .export_count = 1,
};

CAPSULE_PLUGIN(plugin)
