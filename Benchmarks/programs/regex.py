# Regular expressions: extract ten fields from each of 300k generated log lines with one
# compiled pattern, then a global replace over a 30k-line block (Python's re).
# Prints the sum of one field, a count, per-user counts and the replaced block's length.
import re


def make_lines(n):
    levels = ["INFO", "WARN", "ERROR", "DEBUG"]
    users = ["alice", "bob", "carol", "dave", "eve"]
    lines = []
    seed = 42
    for i in range(n):
        seed = (seed * 1103515245 + 12345) % 2147483648
        h = seed % 24
        m = seed // 24 % 60
        s = seed // 1440 % 60
        level = levels[seed // 7 % 4]
        user = users[seed // 11 % 5]
        lines.append(f"2026-12-07 {h}:{m}:{s} {level} user={user} id={i} took={seed % 1000}ms")
    return lines


def main(n):
    lines = make_lines(n)
    p = re.compile(r"^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+) (\w+) user=(\w+) id=(\d+) took=(\d+)ms$")
    total = 0
    errors = 0
    per_user = {}
    for line in lines:
        g = p.match(line)
        total += int(g.group(10)) + int(g.group(4))
        if g.group(7) == "ERROR":
            errors += 1
        per_user[g.group(8)] = per_user.get(g.group(8), 0) + 1
    print(total, errors)
    for name in sorted(per_user):
        print(name, per_user[name])
    block = "\n".join(lines[0:30000])
    print(len(re.sub(r"took=(\d+)ms", r"\1 ms", block)))


main(300000)
