#!/usr/bin/env python3
"""The call benchmark's table from the lines its programs print: `caller<TAB>function<TAB>ns`
(one line per caller, function and run). Prints the median ns per call of every caller and
function, and its ratio to Lua 5.4's.  report.py MEASUREMENTS.tsv  (standard library only)"""

import statistics
import sys

CALLERS = [
    ("direct", "direct C call (floor)"),
    ("ffi_call", "raw `ffi_call` from C"),
    ("capsule-plugin", "Capsule, plugin export"),
    ("capsule-ffi", "Capsule, raw `ffi.bind`"),
    ("lua5.4", "Lua 5.4 C API"),
    ("ctypes", "Python ctypes"),
    ("cffi-abi", "Python cffi, ABI mode"),
    ("cffi-api", "Python cffi, API mode"),
]
FUNCTIONS = [("add", "add(i64, i64)"), ("hypot", "hypot(f64, f64)"), ("str", "count_bytes(str)")]

samples = {}
with open(sys.argv[1]) as f:
    for line in f:
        parts = line.split("\t")
        if len(parts) == 3:
            samples.setdefault((parts[0], parts[1]), []).append(float(parts[2]))

median = {key: statistics.median(values) for key, values in samples.items()}
header = "| caller |" + "".join(f" {label} ns |" for _, label in FUNCTIONS) + "".join(
    f" {name} / Lua |" for name, _ in FUNCTIONS)
print(header)
print("|---|" + "---:|" * (2 * len(FUNCTIONS)))
for caller, label in CALLERS:
    if not any((caller, name) in median for name, _ in FUNCTIONS):
        continue
    cells = []
    for name, _ in FUNCTIONS:
        value = median.get((caller, name))
        cells.append(f"{value:.1f}" if value is not None else "n/a")
    for name, _ in FUNCTIONS:
        value, lua = median.get((caller, name)), median.get(("lua5.4", name))
        cells.append(f"{value / lua:.2f}" if value is not None and lua else "n/a")
    print(f"| {label} | " + " | ".join(cells) + " |")
