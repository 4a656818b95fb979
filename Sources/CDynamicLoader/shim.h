// Which loaded object an address belongs to, for raw FFI's per-library grants. glibc
// declares dladdr1 and dlinfo only under _GNU_SOURCE, which Swift's Glibc module is built
// without; this header declares them under its own names (asm labels, so nothing clashes
// with <dlfcn.h>) and wraps them.
#ifndef CAPSULE_CDYNAMICLOADER_SHIM_H
#define CAPSULE_CDYNAMICLOADER_SHIM_H

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>

/* Dl_info's layout (glibc, every architecture). */
typedef struct {
    const char *fname;
    void *fbase;
    const char *sname;
    void *saddr;
} cloader_dl_info;

extern int cloader_dladdr1(const void *address, cloader_dl_info *info, void **extra, int flags) __asm__("dladdr1");
extern int cloader_dlinfo(void *handle, int request, void *arg) __asm__("dlinfo");

/* RTLD_DL_LINKMAP and RTLD_DI_LINKMAP (both 2 in glibc's <dlfcn.h>). */
enum { CLOADER_DL_LINKMAP = 2, CLOADER_DI_LINKMAP = 2 };

/* The loader's record (link map) of the object whose mapping contains `address`, and that
 * object's file name in *file; NULL when no loaded object contains it. */
static inline const void *cloader_object_containing(const void *address, const char **file) {
    cloader_dl_info info = {0};
    void *map = NULL;
    if (cloader_dladdr1(address, &info, &map, CLOADER_DL_LINKMAP) == 0) return NULL;
    if (file) *file = info.fname;
    return map;
}

/* The link map of the object `handle` (from dlopen) names, and its file name in *file;
 * NULL on failure. */
static inline const void *cloader_object_of_handle(void *handle, const char **file) {
    struct link_map *map = NULL;
    if (cloader_dlinfo(handle, CLOADER_DI_LINKMAP, &map) != 0 || map == NULL) return NULL;
    if (file) *file = map->l_name;
    return map;
}

#endif
