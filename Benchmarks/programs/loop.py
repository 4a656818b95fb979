# Integer loop: a tight `for` over a range with int remainder and add.
def run(n):
    s = 0
    for i in range(n):
        s = s + i % 7
    return s


print(run(100_000_000))
