/* A constructor that tries to leave executable memory behind for after init, when mmap
 * and mprotect with PROT_EXEC are refused (docs/security.md#every-thread-is-confined).
 * Built once per case (Fixtures.variants):
 *   -DWRITABLE   code_leftover_writable: anonymous memory mapped read, write and execute
 *                (the first-stage filter refuses it: `attempt` says -EPERM)
 *   -DANONYMOUS  code_leftover_anonymous: anonymous memory made read and execute with
 *                mprotect (refused the same way)
 *   -DFILE_CASE  code_leftover_file: a file it wrote under $CODE_DIR, mapped executable
 *                (the file could be rewritten after init, and the mapping with it): the
 *                worker refuses to run init
 *   -DSTACK      code_leftover_stack: linked with -z execstack, so the loader would make
 *                the stack executable: it does not load */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "capsule.h"

#if defined(WRITABLE)
#define NAME "code_leftover_writable"
#elif defined(ANONYMOUS)
#define NAME "code_leftover_anonymous"
#elif defined(FILE_CASE)
#define NAME "code_leftover_file"
#else
#define NAME "code_leftover_stack"
#endif

void *code_leftover;
static int64_t status = 1;  /* 0: it has executable memory of its own; -errno: refused */

__attribute__((constructor)) static void leave_code(void) {
#if defined(WRITABLE)
    code_leftover = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    status = code_leftover == MAP_FAILED ? -errno : 0;
#elif defined(ANONYMOUS)
    code_leftover = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code_leftover != MAP_FAILED) {
        memset(code_leftover, 0xc3, 4096);  /* ret */
        status = mprotect(code_leftover, 4096, PROT_READ | PROT_EXEC) == 0 ? 0 : -errno;
    }
#elif defined(FILE_CASE)
    const char *dir = getenv("CODE_DIR");
    if (!dir) return;
    char path[4096];
    strcpy(path, dir);
    strcat(path, "/code.bin");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return;
    unsigned char ret[4096];
    memset(ret, 0xc3, sizeof ret);
    if (write(fd, ret, sizeof ret) == (ssize_t)sizeof ret)
        code_leftover = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    status = code_leftover == MAP_FAILED ? -errno : 0;
    close(fd);
#endif
}

static int64_t add(int64_t a, int64_t b) { return a + b; }
static int64_t attempt(void) { return status; }

static const capsule_export exports[] = {
    {"add", "(i64, i64) -> i64", (void (*)(void))add, 0, "a + b"},
    {"attempt", "() -> i64", (void (*)(void))attempt, 0, "0: the constructor got executable memory; -errno: refused"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = NAME,
    .version = "1.0.0",
    .description = "Leaves executable memory from a constructor",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
};

CAPSULE_PLUGIN(plugin)
