/* A hostile plugin for the vetting tools: its constructor writes the file MARK_PATH (a
 * string literal the test defines with -DMARK_PATH=...) the moment the library is loaded.
 * `capsule plugin inspect` and `capsule plugin build` must read its descriptor without
 * running that in the capsule process (docs/security.md#inspecting-a-plugin). */
#include <fcntl.h>
#include <unistd.h>
#include "capsule.h"

#ifndef MARK_PATH
#error "build with -DMARK_PATH='\"/path/to/marker\"'"
#endif

__attribute__((constructor)) static void write_marker(void) {
    int fd = open(MARK_PATH, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        ssize_t ignored = write(fd, "constructor ran\n", 16);
        (void)ignored;
        close(fd);
    }
}

static int64_t add(int64_t a, int64_t b) { return a + b; }

static const capsule_export exports[] = {
    {"add", "(i64, i64) -> i64", (void (*)(void))add, 0, "a + b"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "ctor_writes",
    .version = "1.0.0",
    .description = "Writes a file from its constructor",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
};

CAPSULE_PLUGIN(plugin)
