#!/usr/bin/env python3
"""hostrelay.py BIND_ADDR TARGET_PORT PORT_FILE - lets a pod of the kind
cluster reach a server that a case runs on the host's loopback.

Listens on BIND_ADDR (an address of the host that the pods reach: the kind
network's gateway), on a free port that it writes to PORT_FILE once it
listens, and relays each connection both ways to 127.0.0.1:TARGET_PORT.
A connection the target never answers stays open (a "hang" receiver hangs
for the pod too). SIGTERM stops it.
"""
import asyncio
import os
import signal
import sys


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except ConnectionError:
            pass


async def handle(client_r, client_w, port):
    try:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        client_w.close()
        return
    await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))


async def main():
    bind, port, port_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    server = await asyncio.start_server(lambda r, w: handle(r, w, port), bind, 0)
    listen = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(listen))
    os.rename(port_file + ".tmp", port_file)
    async with server:
        await stop.wait()


asyncio.run(main())
