// GNU readline for the REPL's line editing and history. readline.h uses FILE without
// including <stdio.h> itself, so the order of these includes matters.
#ifndef CAPSULE_CREADLINE_SHIM_H
#define CAPSULE_CREADLINE_SHIM_H

#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

#endif
