/*
 * capsule-worker: runs one isolated plugin for one host (docs/security.md#isolated-plugins).
 *
 * Started by the host with posix_spawn (never fork: the host is multithreaded), with the
 * sealed shared memory as fd 3 and its end of a socketpair as fd 4 (capsule_isolation.h).
 * It locks itself down (lockdown.h, stage 1), dlopens the plugin's private copy, sends the
 * descriptor, and on the host's INIT request locks down further (stage 2), prepares one
 * ffi_cif per export and runs the plugin's init. Then it serves calls until the host goes
 * away. It trusts the host, never the plugin; the host trusts nothing it sends.
 *
 * The files, one stage each, in the order a worker lives them:
 *   main.c       start-up: map the shared memory, copy the configuration, lockdown stage 1,
 *                dlopen the plugin's libraries and the plugin, send its descriptor (LOADED)
 *   lockdown.c   rlimits, no_new_privs, Landlock and seccomp: stage 1 and stage 2
 *   call_loop.c  the request loop (INIT: stage 2, prepare, init; CALL; DESTROY; hot
 *                reload's SAVE_STATE/RESTORE_STATE), the host API the plugin sees, handles
 *   protocol.c   protocol I/O: responses, waiting for requests, the descriptor's encoding
 *   values.c     `value` arguments and results: deep copies and their wire encoding
 *   worker.h     what the files share
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockdown.h"
#include "worker.h"

capsule_iso_shared *shared;
uint8_t *data;
uint64_t data_size;
capsule_iso_config config;
const capsule_plugin *plugin;
char plugin_name[128] = "plugin";

static void start_failed(const char *format, ...) {
    char text[CAPSULE_ISO_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    payload_text(text);
    respond(CAPSULE_ISO_FAILED);
    _exit(0);
}
int main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct stat info;
    if (fstat(CAPSULE_ISO_SHARED_FD, &info) != 0 || (uint64_t)info.st_size < sizeof(capsule_iso_shared)) {
        fprintf(stderr, "capsule-worker: started without the host's shared memory on fd %d (this program is started by the Capsule host)\n", CAPSULE_ISO_SHARED_FD);
        return 64;
    }
    void *mapping = mmap(NULL, (size_t)info.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, CAPSULE_ISO_SHARED_FD, 0);
    if (mapping == MAP_FAILED) return 71;
    close(CAPSULE_ISO_SHARED_FD);
    shared = mapping;
    if (shared->magic != CAPSULE_ISO_MAGIC || shared->version != CAPSULE_ISO_VERSION
        || shared->header_size != sizeof(capsule_iso_shared) || shared->data_offset > (uint64_t)info.st_size
        || shared->data_size > (uint64_t)info.st_size - shared->data_offset) {
        fprintf(stderr, "capsule-worker: the host speaks another protocol version\n");
        return 65;
    }
    data = (uint8_t *)mapping + shared->data_offset;
    data_size = shared->data_size;
    config = shared->config;
    current_seq = capsule_iso_load(&shared->request_seq);

    /* Die with the host; and if it is already gone, do not start. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != config.host_pid) _exit(0);
    /* Nothing but stdio, the shared memory mapping and the socket. */
    syscall(SYS_close_range, 5, ~0u, 0);

    char path[4096];
    if (config.plugin_path_length >= sizeof path || (uint64_t)config.plugin_path_offset + config.plugin_path_length > data_size)
        start_failed("bad plugin path");
    memcpy(path, data + config.plugin_path_offset, config.plugin_path_length);
    path[config.plugin_path_length] = 0;

    /* The configuration's strings, copied: responses reuse the data area. */
    uint64_t strings_size = (uint64_t)config.plugin_path_offset + config.plugin_path_length + 1;
    for (uint32_t i = 0; i < config.path_count + config.load_path_count && i < CAPSULE_ISO_MAX_PATHS; i++) {
        uint64_t end = (uint64_t)config.paths[i].offset + config.paths[i].length + 1;
        if (end > strings_size) strings_size = end;
    }
    if (strings_size > data_size) start_failed("bad configuration strings");
    uint8_t *strings = malloc(strings_size);
    if (!strings) start_failed("out of memory");
    memcpy(strings, data, strings_size);

    char error[1024];
    if (capsule_lockdown_stage1(&config, strings, strings_size, error, sizeof error) != 0)
        start_failed("cannot lock down the worker: %s", error);

    /* The libraries the host resolved for the plugin, dependencies first: loaded by path, so
     * the dynamic loader finds each of the plugin's DT_NEEDED already loaded and never
     * searches a directory (PluginLibraries.swift). Their constructors run confined. */
    for (uint32_t i = config.path_count; i < config.path_count + config.load_path_count && i < CAPSULE_ISO_MAX_PATHS; i++) {
        const capsule_iso_path_rule *rule = &config.paths[i];
        if (!(rule->access & CAPSULE_ISO_LOAD)) continue;
        if ((uint64_t)rule->offset + rule->length >= strings_size) start_failed("bad library path");
        char library_path[4096];
        if (rule->length >= sizeof library_path) start_failed("bad library path");
        memcpy(library_path, strings + rule->offset, rule->length);
        library_path[rule->length] = 0;
        if (!dlopen(library_path, RTLD_NOW | RTLD_LOCAL)) {
            const char *message = dlerror();
            start_failed("cannot load %s, which the plugin needs: %s", library_path, message ? message : "dlopen failed");
        }
    }

    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *message = dlerror();
        start_failed("%s", message ? message : "dlopen failed");
    }
    capsule_entry_fn entry = (capsule_entry_fn)(uintptr_t)dlsym(library, CAPSULE_ENTRY_SYMBOL);
    if (!entry)
        start_failed("no '" CAPSULE_ENTRY_SYMBOL "' symbol (declare the descriptor with CAPSULE_PLUGIN(...) and build with -fvisibility=hidden)");
    plugin = entry();
    if (!plugin) start_failed("capsule_plugin_entry returned NULL");
    if (write_descriptor(plugin) != 0) start_failed("the plugin's descriptor does not fit in the isolation buffer");
    if (plugin->abi_version == CAPSULE_ABI_VERSION && known_size(plugin->struct_size) && plugin->name)
        terminal_safe(plugin->name, plugin_name, sizeof plugin_name);
    respond(CAPSULE_ISO_LOADED);
    serve(strings, strings_size);
}
