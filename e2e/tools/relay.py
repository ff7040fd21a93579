#!/usr/bin/env python3
"""relay.py LISTEN_PORT TARGET_HOST TARGET_PORT - a TCP relay that can be cut.

A network partition for one reloadd replica, on loopback only: bytes are
relayed both ways until SIGUSR1, after which the relay goes silent (every
connection, old and new, is held open but nothing is forwarded: what a
dropped route looks like to the client). SIGUSR2 heals it: held
connections are closed so clients reconnect. SIGTERM stops it.
"""
import asyncio
import signal
import sys

cut = False
held = set()


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if cut:
                continue  # dropped on the floor
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_r, client_w, host, port):
    held.add(client_w)
    try:
        if cut:
            await asyncio.Event().wait()  # never answers
        server_r, server_w = await asyncio.open_connection(host, port)
        held.add(server_w)
        await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        client_w.close()
        held.discard(client_w)


def set_cut(value):
    global cut
    cut = value
    if not value:
        for w in list(held):
            w.close()
        held.clear()
    print("relay: cut" if value else "relay: healed", flush=True)


async def main():
    listen, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, set_cut, True)
    loop.add_signal_handler(signal.SIGUSR2, set_cut, False)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(lambda r, w: handle(r, w, host, port), "127.0.0.1", listen)
    print(f"relay: 127.0.0.1:{listen} -> {host}:{port}", flush=True)
    async with server:
        await stop.wait()


asyncio.run(main())
