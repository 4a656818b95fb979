#!/usr/bin/env python3
"""Turns the raw measurements written by run.sh into the Markdown results table.

Usage: report.py MEASUREMENTS.tsv PROGRAM...

Each line of MEASUREMENTS.tsv is tab-separated:
    program  language  status  seconds  peak_rss_kb
where status is OK, WRONG (output differs from .expected), FAIL (non-zero exit or no
binary) or TIMEOUT. The program `(empty)` holds the start-up runs on an empty file.
Programs are listed in the order given on the command line. Standard library only.
"""

import statistics
import sys

LANGS = ("capsule", "lua5.4", "python3")


def load(path):
    runs = {}  # (program, language) -> list of (status, seconds, rss_kb)
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            program, lang, status, secs, rss = line.rstrip("\n").split("\t")
            secs = float(secs) if secs else None
            rss = int(rss) if rss.isdigit() else None
            runs.setdefault((program, lang), []).append((status, secs, rss))
    return runs


def summarize(samples):
    """(status, median seconds, max peak RSS in KB) for one program in one language.

    Any run that is not OK makes the whole cell that status: a wrong answer is not timed.
    """
    if not samples:
        return ("n/a", None, None)
    for bad in ("WRONG", "TIMEOUT", "FAIL"):
        if any(s == bad for s, _, _ in samples):
            return (bad, None, None)
    secs = statistics.median(t for _, t, _ in samples)
    rss = [r for _, _, r in samples if r is not None]
    return ("OK", secs, max(rss) if rss else None)


def fmt_secs(cell):
    status, secs, _ = cell
    return f"{secs:.3f}" if status == "OK" else f"**{status}**"


def ratio(a, b):
    if a[0] == "OK" and b[0] == "OK" and b[1] > 0:
        return a[1] / b[1]
    return None


def geomean(values):
    return statistics.geometric_mean(values) if values else None


def fmt_ratio(r):
    return f"{r:.2f}" if r is not None else "—"


def main():
    path, programs = sys.argv[1], sys.argv[2:]
    runs = load(path)
    out = []
    out.append("| program | capsule s | lua5.4 s | python3 s | capsule/lua | python/lua "
               "| capsule peak RSS MB |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    cap_ratios, py_ratios = [], []
    for program in programs:
        cap, lua, py = (summarize(runs.get((program, lang), [])) for lang in LANGS)
        cr, pr = ratio(cap, lua), ratio(py, lua)
        if cr is not None:
            cap_ratios.append(cr)
        if pr is not None:
            py_ratios.append(pr)
        rss = f"{cap[2] / 1024:.1f}" if cap[0] == "OK" and cap[2] is not None else "—"
        out.append(f"| {program} | {fmt_secs(cap)} | {fmt_secs(lua)} | {fmt_secs(py)} "
                   f"| {fmt_ratio(cr)} | {fmt_ratio(pr)} | {rss} |")
    out.append("")
    n = len(programs)
    out.append(f"Geometric mean capsule/lua: **{fmt_ratio(geomean(cap_ratios))}** "
               f"({len(cap_ratios)} of {n} programs); "
               f"python/lua: **{fmt_ratio(geomean(py_ratios))}** "
               f"({len(py_ratios)} of {n} programs)")
    out.append("")

    startup = []
    for lang in LANGS:
        status, secs, rss = summarize(runs.get(("(empty)", lang), []))
        if status == "OK":
            rss_text = f"{rss / 1024:.1f} MB" if rss is not None else "? MB"
            startup.append(f"{lang} {secs * 1000:.1f} ms, {rss_text}")
        else:
            startup.append(f"{lang} **{status}**")
    out.append("Start-up, `capsule run` on an empty .cap file (median wall, peak RSS): "
               + startup[0] + f" (for comparison: {startup[1]}; {startup[2]})")
    print("\n".join(out))


if __name__ == "__main__":
    main()
