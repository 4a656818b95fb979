/* The floor under an isolated call: two processes bouncing a sequence number through shared
 * memory, spinning with pause for 512 rounds and then with sched_yield, as the host and the
 * worker do. No marshalling, no script. Prints ns per round trip: best and median batch. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void await(volatile uint32_t *word, uint32_t value) {
    for (unsigned spins = 0; __atomic_load_n(word, __ATOMIC_ACQUIRE) != value; spins++) {
        if (spins < 512) __builtin_ia32_pause(); else sched_yield();
    }
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    enum { BATCHES = 200, CALLS = 2000 };
    volatile uint32_t *shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (fork() == 0) {
        for (uint32_t i = 1; i <= BATCHES * CALLS; i++) {
            await(&shared[0], i);
            __atomic_store_n(&shared[16], i, __ATOMIC_RELEASE);  /* another cache line */
        }
        _exit(0);
    }
    double batches[BATCHES];
    uint32_t i = 0;
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = now();
        for (int c = 0; c < CALLS; c++) {
            i++;
            __atomic_store_n(&shared[0], i, __ATOMIC_RELEASE);
            await(&shared[16], i);
        }
        batches[b] = (double)(now() - t0) / CALLS;
    }
    wait(0);
    qsort(batches, BATCHES, sizeof batches[0], compare);
    printf("best %.0f median %.0f\n", batches[0], batches[BATCHES / 2]);
    return 0;
}
