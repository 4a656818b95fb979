/* The isolation protocol is header-only (include/capsule_isolation.h); SwiftPM wants one
 * source file per C target, and this one checks that the header compiles on its own. */
#include "capsule_isolation.h"
