# pingpong_buffered: a producer puts 2,000,000 ints into an asyncio.Queue(maxsize=64), a
# consumer sums them. A None in the queue stands for "closed".
import asyncio


async def producer(q, n):
    for i in range(n):
        await q.put(i)
    await q.put(None)


async def consumer(q):
    total = 0
    while True:
        v = await q.get()
        if v is None:
            break
        total = (total * 31 + v) % 1000003
    return total


async def main(n):
    q = asyncio.Queue(maxsize=64)
    c = asyncio.create_task(consumer(q))
    p = asyncio.create_task(producer(q, n))
    print(await c)
    await p


asyncio.run(main(2_000_000))
