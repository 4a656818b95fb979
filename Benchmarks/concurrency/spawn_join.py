# spawn/join: start 100,000 asyncio tasks that each compute a small int, then await them
# all. Measures creating, scheduling and finishing a task, with all of them alive at once.
import asyncio


async def work(i):
    return i * i % 1009


async def main(n):
    tasks = [asyncio.create_task(work(i)) for i in range(n)]
    total = 0
    for t in tasks:
        total += await t
    print(total)


asyncio.run(main(100_000))
