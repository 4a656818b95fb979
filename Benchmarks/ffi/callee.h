/* The C functions every language in the call benchmark calls (hypot comes from libm). */
#ifndef CALLBENCH_CALLEE_H
#define CALLBENCH_CALLEE_H
#include <stdint.h>

int64_t bench_add(int64_t a, int64_t b);
uint64_t bench_count_bytes(const char *s);
/* The CPU time this process has used, in seconds: every caller times its loops with it. */
double bench_cpu_time(void);

#endif
