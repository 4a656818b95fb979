#!/usr/bin/env python3
"""Turns the raw measurements written by run.sh into the Markdown tables.

Usage: report.py MEASUREMENTS.tsv ECHO.tsv ECHO_CONNS ECHO_SECONDS PROGRAM...

Each line of MEASUREMENTS.tsv is tab-separated:
    program  language  status  seconds  peak_rss_kb
where status is OK, WRONG (output differs from .expected), FAIL (non-zero exit or no
binary) or TIMEOUT. Each line of ECHO.tsv is one echo-server run:
    language  status  connections  messages  rate  p50_us  p99_us  max_us  errors
Programs are listed in the order given on the command line. Standard library only.
"""

import os
import statistics
import sys

# The measurement file has the format of Benchmarks/run.sh's: its reader is shared.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from report import load  # noqa: E402

LANGS = ("capsule", "lua5.4", "python3", "node", "go")
# Ratios shown, as (numerator, denominator): Capsule against each of the others, then the
# others against Lua 5.4 so the table still places them when Capsule's cells fail.
RATIOS = (("capsule", "lua5.4"), ("capsule", "python3"), ("capsule", "node"), ("capsule", "go"),
          ("python3", "lua5.4"), ("node", "lua5.4"), ("go", "lua5.4"))
SHORT = {"capsule": "capsule", "lua5.4": "lua", "python3": "python", "node": "node", "go": "go"}


def summarize(samples):
    """(status, median seconds, max peak RSS in KB) for one program in one language.

    No samples means the runtime or that program's version in it is missing ("—"). Any run
    that is not OK makes the whole cell that status: a wrong answer is not timed.
    """
    if not samples:
        return ("—", None, None)
    for bad in ("WRONG", "TIMEOUT", "FAIL"):
        if any(s == bad for s, _, _ in samples):
            return (bad, None, None)
    secs = statistics.median(t for _, t, _ in samples)
    rss = [r for _, _, r in samples if r is not None]
    return ("OK", secs, max(rss) if rss else None)


def fmt_secs(cell):
    status, secs, _ = cell
    if status == "OK":
        return f"{secs:.3f}"
    return status if status == "—" else f"**{status}**"


def ratio(a, b):
    if a[0] == "OK" and b[0] == "OK" and b[1] > 0:
        return a[1] / b[1]
    return None


def fmt_ratio(r):
    return f"{r:.2f}" if r is not None else "—"


def program_tables(runs, programs):
    out = []
    head = " | ".join(f"{lang} s" for lang in LANGS)
    ratio_head = " | ".join(f"{SHORT[a]}/{SHORT[b]}" for a, b in RATIOS)
    out.append(f"| program | {head} | {ratio_head} |")
    out.append("|---|" + "---:|" * (len(LANGS) + len(RATIOS)))
    geo = {pair: [] for pair in RATIOS}
    for program in programs:
        cells = {lang: summarize(runs.get((program, lang), [])) for lang in LANGS}
        row = [fmt_secs(cells[lang]) for lang in LANGS]
        for pair in RATIOS:
            r = ratio(cells[pair[0]], cells[pair[1]])
            if r is not None:
                geo[pair].append(r)
            row.append(fmt_ratio(r))
        out.append(f"| {program} | " + " | ".join(row) + " |")
    out.append("")
    parts = []
    for pair in RATIOS:
        values = geo[pair]
        g = fmt_ratio(statistics.geometric_mean(values) if values else None)
        parts.append(f"{SHORT[pair[0]]}/{SHORT[pair[1]]} **{g}** ({len(values)})")
    out.append("Geometric means (programs where both ran correctly): " + ", ".join(parts))
    out.append("")
    out.append("Peak RSS, MB (the highest over the runs):")
    out.append("")
    out.append("| program | " + " | ".join(LANGS) + " |")
    out.append("|---|" + "---:|" * len(LANGS))
    for program in programs:
        row = []
        for lang in LANGS:
            status, _, rss = summarize(runs.get((program, lang), []))
            row.append(f"{rss / 1024:.1f}" if status == "OK" and rss is not None else "—")
        out.append(f"| {program} | " + " | ".join(row) + " |")
    return out


def echo_table(path, conns, seconds):
    rows = {}  # language -> list of rows (status, fields...)
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            rows.setdefault(fields[0], []).append(fields[1:])
    if not rows:
        return []
    out = [f"Echo server: {conns} connections, 64-byte messages, {seconds} s per run; "
           "median over the runs of each column.", ""]
    out.append("| server | messages/s | p50 µs | p99 µs | max µs | errors | connections "
               "| capsule/this (messages/s) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for lang in ("capsule", "python3", "node", "go"):
        samples = rows.get(lang)
        if not samples:
            continue
        if any(s[0] != "OK" for s in samples):
            summary[lang] = None
            continue

        def med(i):
            return statistics.median(float(s[i]) for s in samples)

        summary[lang] = {"rate": med(3), "p50": med(4), "p99": med(5), "max": med(6),
                         "errors": max(int(s[7]) for s in samples),
                         "conns": min(int(s[1]) for s in samples)}
    for lang, s in summary.items():
        if s is None:
            out.append(f"| {lang} | **FAIL** | — | — | — | — | — | — |")
            continue
        cap = summary.get("capsule")
        rel = fmt_ratio(cap["rate"] / s["rate"]) if cap and s["rate"] > 0 else "—"
        out.append(f"| {lang} | {s['rate']:.0f} | {s['p50']:.0f} | {s['p99']:.0f} | {s['max']:.0f} "
                   f"| {s['errors']} | {s['conns']} | {rel} |")
    return out


def main():
    measurements, echo, conns, seconds = sys.argv[1:5]
    programs = sys.argv[5:]
    out = []
    if programs:
        out += program_tables(load(measurements), programs)
    table = echo_table(echo, conns, seconds)
    if table:
        out += [""] + table
    print("\n".join(out))


if __name__ == "__main__":
    main()
