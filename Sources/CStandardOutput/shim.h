// C's `stdout` for the VM's `print`. Swift 6 refuses to read the C global `stdout` (a mutable
// `var` to the importer) outside an actor; glibc never reassigns it after start-up, so a C
// function reading it is safe from any thread (stdio locks the stream itself).
#ifndef CAPSULE_CSTANDARDOUTPUT_SHIM_H
#define CAPSULE_CSTANDARDOUTPUT_SHIM_H

#include <stdio.h>

static inline FILE *capsule_standard_output(void) { return stdout; }

#endif
