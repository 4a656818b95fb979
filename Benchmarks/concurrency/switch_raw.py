# switch_raw: a bare generator switch, for comparison with Lua's coroutine floor:
# 10,000,000 next() calls on a generator that yields at once. asyncio adds its event loop
# on top of this; switch.py measures that.
def main(n):
    def gen():
        while True:
            yield

    g = gen()
    count = 0
    for _ in range(n):
        next(g)
        count += 1
    print(count)


main(10_000_000)
