#!/usr/bin/env python3
"""Reload latency through `capsule run --watch`, the watcher's debounce included: from the
plugin file being replaced to the new code answering a call in the running script.

usage: latency.py CAPSULE [COUNT] [--in-place] [--debounce 1ms]

Builds v1, v2 and v3 of Tests/PluginFixtures/reloadable.c, starts app.cap watching v1,
then COUNT times replaces the file with v2 or v3 (alternating) -- by writing a temporary
file and renaming it over (as build tools do), or with --in-place by truncating and
rewriting it -- and waits for the CLI's log line before the next. app.cap records the
CLOCK_MONOTONIC time its call first answers with the new version; latency is that minus
the time just before the rename (or the open for writing). The first 4 reloads are warm-up.
"""
import os, shutil, subprocess, sys, tempfile, time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
args = [a for a in sys.argv[1:]]
in_place = "--in-place" in args
debounce = None
if "--debounce" in args:
    debounce = args[args.index("--debounce") + 1]
    del args[args.index("--debounce"):args.index("--debounce") + 2]
args = [a for a in args if a != "--in-place"]
capsule = os.path.abspath(args[0])
count = int(args[1]) if len(args) > 1 else 300
warmup = 4

work = tempfile.mkdtemp(prefix="capsule-reload-bench-")
plugin = os.path.join(work, "libcapsule_reloadable.so")
builds = {}
for version in (1, 2, 3):
    out = os.path.join(work, f"v{version}.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-I", os.path.join(root, "sdk/include"),
                    "-o", out, os.path.join(root, "Tests/PluginFixtures/reloadable.c"), f"-DVERSION={version}"], check=True)
    builds[version] = open(out, "rb").read()
shutil.copyfile(os.path.join(work, "v1.so"), plugin)

command = [capsule, "run", "--watch"] + (["--watch-debounce", debounce] if debounce else []) + \
    ["--plugin-path", work, os.path.join(here, "app.cap"), str(count + warmup)]
proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.5)  # the script imports the plugin and starts its loop

starts, logged, refused = [], [], 0
for i in range(count + warmup):
    data = builds[2 + i % 2]
    if in_place:
        start = time.monotonic_ns()
        with open(plugin, "wb") as f:
            f.write(data)
    else:
        staging = plugin + ".tmp"
        with open(staging, "wb") as f:
            f.write(data)
        start = time.monotonic_ns()
        os.rename(staging, plugin)
    starts.append(start)
    while True:
        line = proc.stderr.readline()
        if not line:
            sys.exit("capsule exited early: " + proc.stdout.read() + proc.stderr.read())
        if "refused" in line:
            refused += 1
            sys.exit("refused: " + line)
        if line.startswith("capsule: reloaded"):
            logged.append(float(line.rsplit(" in ", 1)[1].split()[0]))
            break

out, err = proc.communicate(timeout=30)
answered = [int(x) * 1000 for x in out.split()]
latencies = sorted((a - s) / 1e6 for a, s in zip(answered[warmup:], starts[warmup:]))
swaps = sorted(logged[warmup:])

def pct(xs, p): return xs[min(len(xs) - 1, int(len(xs) * p / 100))]
mode = "in-place rewrite" if in_place else "rename-over"
print(f"{count} reloads ({mode}, debounce {debounce or 'default'}): "
      f"file replaced -> new code answering: median {pct(latencies, 50):.2f} ms, p99 {pct(latencies, 99):.2f} ms, max {latencies[-1]:.2f} ms; "
      f"watcher report -> swap (the log's 'in'): median {pct(swaps, 50):.2f} ms, p99 {pct(swaps, 99):.2f} ms")
shutil.rmtree(work)
