/*
 * The worker's lockdown, in two stages (docs/security.md#isolated-plugins):
 *
 *   stage 1, before dlopen: rlimits, PR_SET_NO_NEW_PRIVS, a Landlock layer allowing the
 *   plugin's grants plus read access to what loading needs (the private copy, the library
 *   files the host resolved for it, /etc/ld.so.cache), and the seccomp allow-list. The
 *   plugin's constructors and its entry function already run confined. It refuses to run
 *   in a worker with more than one thread.
 *
 *   stage 2, after dlopen and before init: refuses to go on if a constructor left a thread
 *   running (Landlock would not bind it) or executable memory the loader did not map from a
 *   library; then a second Landlock layer allowing only the grants (layers intersect, so the
 *   library files are gone), and a second seccomp filter, on every thread (TSYNC), refusing
 *   mmap/mprotect/pkey_mprotect with PROT_EXEC, seccomp, landlock_* and every prctl but the
 *   names and queries: after init no thread can add code or change its confinement.
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
