# pingpong: two asyncio tasks bounce an int over a pair of queues, 400,000 round trips.
# asyncio has no unbuffered channel: asyncio.Queue(maxsize=1) is the nearest, and since the
# two tasks strictly alternate it behaves the same here (put never waits, get always does).
# A None in the queue stands for "closed".
import asyncio


async def pinger(ping, pong, n):
    v = 0
    for _ in range(n):
        await ping.put(v)
        v = await pong.get()
    await ping.put(None)
    return v


async def ponger(ping, pong):
    while True:
        v = await ping.get()
        if v is None:
            break
        await pong.put(v + 1)


async def main(n):
    ping = asyncio.Queue(maxsize=1)
    pong = asyncio.Queue(maxsize=1)
    b = asyncio.create_task(ponger(ping, pong))
    a = asyncio.create_task(pinger(ping, pong, n))
    print(await a)
    await b


asyncio.run(main(400_000))
