/*
 * The floors of the call benchmark, in C: a direct call through a function pointer (the
 * least any caller can pay) and a call through libffi's ffi_call with a prepared ffi_cif and
 * preallocated argument storage (what a plain libffi bridge pays). Each loop's time minus
 * the empty loop's, divided by N, is printed as "floor/direct FUNCTION NS" lines.
 *
 *   floor N
 */
#include <ffi.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "callee.h"

static double now(void) { return bench_cpu_time(); }

/* volatile: the compiler may neither inline the callee nor drop the loop. */
static int64_t (*volatile add_fn)(int64_t, int64_t) = bench_add;
static double (*volatile hypot_fn)(double, double) = hypot;
static uint64_t (*volatile count_fn)(const char *) = bench_count_bytes;
static volatile int64_t sink_i;
static volatile double sink_d;
static const char *volatile text = "hello, world";

static void report(const char *lang, const char *function, double seconds, double empty, long n) {
    printf("%s\t%s\t%.3f\n", lang, function, (seconds - empty) * 1e9 / (double)n);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    double t0, empty;

    t0 = now();
    for (long i = 0; i < n; i++) sink_i = i;
    empty = now() - t0;

    t0 = now();
    for (long i = 0; i < n; i++) sink_i = add_fn(i, 1);
    report("direct", "add", now() - t0, empty, n);
    t0 = now();
    for (long i = 0; i < n; i++) sink_d = hypot_fn((double)i, 1.5);
    report("direct", "hypot", now() - t0, empty, n);
    t0 = now();
    for (long i = 0; i < n; i++) sink_i = (int64_t)count_fn(text);
    report("direct", "str", now() - t0, empty, n);

    /* ffi_call: one prepared cif per signature, argument storage set up once. */
    ffi_cif cif_add, cif_hypot, cif_str;
    ffi_type *add_args[] = {&ffi_type_sint64, &ffi_type_sint64};
    ffi_type *hypot_args[] = {&ffi_type_double, &ffi_type_double};
    ffi_type *str_args[] = {&ffi_type_pointer};
    if (ffi_prep_cif(&cif_add, FFI_DEFAULT_ABI, 2, &ffi_type_sint64, add_args) != FFI_OK ||
        ffi_prep_cif(&cif_hypot, FFI_DEFAULT_ABI, 2, &ffi_type_double, hypot_args) != FFI_OK ||
        ffi_prep_cif(&cif_str, FFI_DEFAULT_ABI, 1, &ffi_type_uint64, str_args) != FFI_OK) {
        fprintf(stderr, "ffi_prep_cif failed\n");
        return 1;
    }
    int64_t a, b, ri;
    double x, y, rd;
    const char *s;
    void *ii[] = {&a, &b}, *dd[] = {&x, &y}, *ss[] = {&s};

    t0 = now();
    for (long i = 0; i < n; i++) {
        a = i; b = 1;
        ffi_call(&cif_add, FFI_FN(add_fn), &ri, ii);
        sink_i = ri;
    }
    report("ffi_call", "add", now() - t0, empty, n);
    t0 = now();
    for (long i = 0; i < n; i++) {
        x = (double)i; y = 1.5;
        ffi_call(&cif_hypot, FFI_FN(hypot_fn), &rd, dd);
        sink_d = rd;
    }
    report("ffi_call", "hypot", now() - t0, empty, n);
    t0 = now();
    for (long i = 0; i < n; i++) {
        s = text;
        ffi_call(&cif_str, FFI_FN(count_fn), &ri, ss);
        sink_i = ri;
    }
    report("ffi_call", "str", now() - t0, empty, n);
    return 0;
}
