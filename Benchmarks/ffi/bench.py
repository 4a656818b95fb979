"""The call benchmark in Python: N calls to each function through ctypes, cffi's ABI mode
(ffi.dlopen) and, when its extension could be built, cffi's API mode, minus an empty loop of
N, in ns per call.

    python3 bench.py N BUILD_DIR    (BUILD_DIR holds libcallee.so and the cffi extension)
"""
import ctypes
import sys
import time

now = time.process_time  # CPU time, as libcallee.bench_cpu_time measures it


def empty(n):
    r = 0
    t0 = now()
    for i in range(n):
        r = i
    return now() - t0


def ints(f, n):
    r = 0
    t0 = now()
    for i in range(n):
        r = f(i, 1)
    return now() - t0


def floats(f, n):
    r = x = 0.0
    t0 = now()
    for i in range(n):
        r = f(x, 1.5)
    return now() - t0


def strs(f, n):
    r = 0
    s = b"hello, world"
    t0 = now()
    for i in range(n):
        r = f(s)
    return now() - t0


def measure(lang, add, hypot, count_bytes, n):
    assert add(2, 3) == 5 and hypot(3, 4) == 5.0 and count_bytes(b"hello, world") == 12
    e = empty(n)
    print(f"{lang}\tadd\t{(ints(add, n) - e) * 1e9 / n:.3f}")
    print(f"{lang}\thypot\t{(floats(hypot, n) - e) * 1e9 / n:.3f}")
    print(f"{lang}\tstr\t{(strs(count_bytes, n) - e) * 1e9 / n:.3f}")


def main():
    n = int(sys.argv[1])
    build = sys.argv[2]
    callee_path = f"{build}/libcallee.so"

    lib = ctypes.CDLL(callee_path)
    libm = ctypes.CDLL("libm.so.6")
    add, hypot, count_bytes = lib.bench_add, libm.hypot, lib.bench_count_bytes
    add.argtypes, add.restype = [ctypes.c_int64, ctypes.c_int64], ctypes.c_int64
    hypot.argtypes, hypot.restype = [ctypes.c_double, ctypes.c_double], ctypes.c_double
    count_bytes.argtypes, count_bytes.restype = [ctypes.c_char_p], ctypes.c_uint64
    measure("ctypes", add, hypot, count_bytes, n)

    import cffi
    ffi = cffi.FFI()
    ffi.cdef("int64_t bench_add(int64_t, int64_t); uint64_t bench_count_bytes(const char *);"
             "double hypot(double, double);")
    lib = ffi.dlopen(callee_path)
    libm = ffi.dlopen("libm.so.6")
    measure("cffi-abi", lib.bench_add, libm.hypot, lib.bench_count_bytes, n)

    sys.path.insert(0, build)
    try:
        from _callbench_cffi import lib as api
    except ImportError as error:
        print(f"cffi API mode skipped: {error}", file=sys.stderr)
        return
    measure("cffi-api", api.bench_add, api.hypot, api.bench_count_bytes, n)


main()
