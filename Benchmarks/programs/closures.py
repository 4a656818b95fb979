# Closures: calling closures that read and assign variables captured from enclosing
# functions.
def make_adder(k):
    def add(x):
        return x + k
    return add


def make_counter():
    n = 0

    def next():
        nonlocal n
        n = n + 1
        return n
    return next


def main(n):
    adders = []
    for k in range(10):
        adders.append(make_adder(k))
    next = make_counter()
    acc = 0

    def bump(x):
        nonlocal acc
        acc = (acc + x) % 1000003

    for i in range(n):
        add = adders[i % 10]
        bump(add(next()))
    print(f"{acc} {next()}")


main(15_000_000)
