"""Builds cffi's API-mode extension _callbench_cffi in BUILD_DIR (needs a C compiler and
Python's headers).  python3 build_cffi.py SOURCE_DIR BUILD_DIR"""
import sys

import cffi

source, build = sys.argv[1], sys.argv[2]
ffi = cffi.FFI()
ffi.cdef("int64_t bench_add(int64_t, int64_t); uint64_t bench_count_bytes(const char *);"
         "double hypot(double, double);")
ffi.set_source("_callbench_cffi", '#include <math.h>\n#include "callee.h"',
               include_dirs=[source], library_dirs=[build], libraries=["callee", "m"],
               extra_link_args=[f"-Wl,-rpath,{build}"], extra_compile_args=["-O2"])
ffi.compile(tmpdir=build, verbose=False)
