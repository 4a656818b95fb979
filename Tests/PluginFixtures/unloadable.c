/* Never unloadable by glibc: a thread-local destructor (what a C++ `thread_local` object with
 * a destructor registers) and an STB_GNU_UNIQUE symbol (what C++ inline statics get). Linked
 * with -z nodelete by the test as well. */
#include "capsule.h"

static __thread int64_t calls;

extern void *__dso_handle;
extern int __cxa_thread_atexit_impl(void (*destructor)(void *), void *object, void *dso);
static void forget(void *object) { *(int64_t *)object = 0; }

__asm__(".globl capsule_unique_counter\n"
        ".type capsule_unique_counter, @gnu_unique_object\n"
        ".section .bss\n"
        ".balign 8\n"
        "capsule_unique_counter: .zero 8\n"
        ".size capsule_unique_counter, 8\n"
        ".text\n");

static int64_t count(void) {
    if (calls == 0) __cxa_thread_atexit_impl(forget, &calls, &__dso_handle);
    return ++calls;
}

static const capsule_export exports[] = {
    {"count", "() -> i64", (void (*)(void))count, 0, "calls so far on this thread"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "unloadable",
    .version = "1.0.0",
    .description = "Pinned in memory by a TLS destructor and a unique symbol",
    .exports = exports,
    .export_count = 1,
};

CAPSULE_PLUGIN(plugin)
