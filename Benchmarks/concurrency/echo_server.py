# Echo server: accepts TCP connections on 127.0.0.1:PORT (argv[1]) and serves each in its
# own asyncio task (asyncio streams), which writes back whatever it reads until the client
# closes. Runs until killed.
import asyncio
import sys


async def serve(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # a client that resets its connection ends only its own task
    writer.close()


async def main(port):
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
