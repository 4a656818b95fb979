/*
 * The worker's lockdown, in two stages (docs/security.md#isolated-plugins):
 *
 *   stage 1, before dlopen: rlimits, PR_SET_NO_NEW_PRIVS, a Landlock layer allowing the
 *   plugin's grants plus read access to what loading needs (the private copy, the system
 *   library directories), and the seccomp allow-list. The plugin's constructors and its
 *   entry function already run confined.
 *
 *   stage 2, after dlopen and before init: a second Landlock layer allowing only the
 *   grants (layers intersect, so the library directories are gone), and a second seccomp
 *   filter refusing mmap/mprotect/pkey_mprotect with PROT_EXEC (no new executable memory).
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
