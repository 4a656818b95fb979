/*
 * The worker's lockdown, in two stages (docs/security.md#isolated-plugins):
 *
 *   stage 1, before dlopen: rlimits, PR_SET_NO_NEW_PRIVS, a Landlock layer allowing the
 *   plugin's grants plus read access to what loading needs (the private copy, the library
 *   files the host resolved for it, /etc/ld.so.cache), and the worker's one seccomp filter,
 *   for its whole life: the allow-list, no seccomp, no new Landlock ruleset, prctl only for
 *   names, queries and turning dumpable off, no mprotect/pkey_mprotect adding PROT_EXEC, no
 *   anonymous executable memory, and every executable file mapping sent to the host
 *   (SECCOMP_RET_USER_NOTIF), whose supervisor approves it only before the host sends INIT,
 *   while the worker is one thread, for a library file the host listed. The listener goes
 *   to the host over the socket; the worker keeps no copy. The plugin's constructors and
 *   its entry function already run confined. It refuses to run in a worker with more than
 *   one thread.
 *
 *   stage 2, on INIT: refuses to go on if a constructor left a thread running (Landlock
 *   would not bind it) or executable memory the loader did not map from a library; then
 *   the second Landlock layer prepared in stage 1, allowing only the grants (layers
 *   intersect, so the library files are gone), and dumpable off. Stage 2 runs in the
 *   worker, after plugin code did: a constructor that subverts the worker can skip it, and
 *   then keeps the library files readable, but gains no code and no confinement change,
 *   which the filter and the host decide.
 *
 * Each function returns 0, or -1 with a message in `error`.
 */
#ifndef CAPSULE_WORKER_LOCKDOWN_H
#define CAPSULE_WORKER_LOCKDOWN_H

#include <stddef.h>
#include <stdint.h>
#include "capsule_isolation.h"

int capsule_lockdown_stage1(const capsule_iso_config *config, const uint8_t *data, uint64_t data_size,
                            char *error, size_t error_size);
int capsule_lockdown_stage2(const capsule_iso_config *config, const uint8_t *data, uint64_t data_size,
                            char *error, size_t error_size);

#endif
