/*
 * libcallee.so: the functions the call benchmark calls from every language. They live in
 * their own shared object so that every caller (C, Capsule, Lua, Python) reaches the same
 * code through the same kind of cross-library call. hypot is libm's.
 */
#include <time.h>
#include "callee.h"

int64_t bench_add(int64_t a, int64_t b) { return a + b; }

/* strlen, written out so every caller pays for the same loop. */
uint64_t bench_count_bytes(const char *s) {
    const char *p = s;
    while (*p) p++;
    return (uint64_t)(p - s);
}

/* Process CPU time rather than wall time: the machine is shared, and time spent waiting for a
 * core is not the call's. */
double bench_cpu_time(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
