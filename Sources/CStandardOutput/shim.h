// C's `stdout` (and `stderr`) for the VM's `print` (and `eprint`). Swift 6 refuses to read the C global `stdout` (a mutable
// `var` to the importer) outside an actor; glibc never reassigns it after start-up, so a C
// function reading it is safe from any thread (stdio locks the stream itself).
#ifndef CAPSULE_CSTANDARDOUTPUT_SHIM_H
#define CAPSULE_CSTANDARDOUTPUT_SHIM_H

#include <stdio.h>

static inline FILE *capsule_standard_output(void) { return stdout; }
/* C's `stderr`, for `eprint` and the host's messages (same reasoning). */
static inline FILE *capsule_standard_error(void) { return stderr; }

#endif
