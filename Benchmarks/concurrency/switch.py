# switch: the cost of a task switch. A sender puts 500,000 ints on an
# asyncio.Queue(maxsize=1) (the nearest to an unbuffered channel) and a receiver counts
# them; a None in the queue stands for "closed".
import asyncio


async def sender(q, n):
    for i in range(n):
        await q.put(i)
    await q.put(None)


async def main(n):
    q = asyncio.Queue(maxsize=1)
    s = asyncio.create_task(sender(q, n))
    count = 0
    while True:
        v = await q.get()
        if v is None:
            break
        count += 1
    await s
    print(count)


asyncio.run(main(500_000))
