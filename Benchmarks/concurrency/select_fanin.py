# select_fanin: 8 producers each put 50,000 ints on their own queue; one consumer takes
# them with asyncio.wait(FIRST_COMPLETED) over one pending get() per queue until all are
# closed. Prints the count and a checksum that weighs each value by its queue's number.
#
# asyncio has no select: the consumer keeps one get() task per open queue, waits for the
# first to finish, and starts a new get() only on the queue that answered, so no value is
# taken and lost. Queues have maxsize=1 (the nearest to an unbuffered channel); a None in
# the queue stands for "closed".
import asyncio


async def producer(q, base, n):
    for i in range(n):
        await q.put(base + i)
    await q.put(None)


async def main(n):
    queues = [asyncio.Queue(maxsize=1) for _ in range(8)]
    producers = [asyncio.create_task(producer(q, p * n, n)) for p, q in enumerate(queues)]
    pending = {asyncio.create_task(q.get()): p for p, q in enumerate(queues)}
    count = 0
    total = 0
    while pending:
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            p = pending.pop(t)
            v = t.result()
            if v is None:
                continue
            count += 1
            total = (total + (p + 1) * v) % 1000003
            pending[asyncio.create_task(queues[p].get())] = p
    for t in producers:
        await t
    print(count, total)


asyncio.run(main(50_000))
