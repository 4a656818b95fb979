// getrandom(2) for the `random` module: Swift's Glibc module does not include <sys/random.h>.
#ifndef CAPSULE_CRANDOM_SHIM_H
#define CAPSULE_CRANDOM_SHIM_H

#include <sys/random.h>

#endif
