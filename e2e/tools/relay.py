#!/usr/bin/env python3
"""relay.py [--bind ADDR] [--port-file F] LISTEN_PORT TARGET_HOST TARGET_PORT - a TCP
relay that can be cut.

A network partition for one reloadd replica, on loopback only: bytes are
relayed both ways until SIGUSR1, after which the relay goes silent (every
connection, old and new, is held open but nothing is forwarded: what a
dropped route looks like to the client). SIGUSR2 heals it: held
connections are closed so clients reconnect. SIGTERM (or SIGINT) stops it.

It listens on 127.0.0.1 unless --bind names another address of the host (the
kind e2e: the kind network's gateway, so that pods reach a receiver a case runs
on the host's loopback). LISTEN_PORT 0 takes a free port; --port-file F gets
the port once the relay listens (written atomically).
"""
import argparse
import os
import asyncio
import signal

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
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("listen", type=int)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    a = ap.parse_args()
    host, port = a.host, a.port
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, set_cut, True)
    loop.add_signal_handler(signal.SIGUSR2, set_cut, False)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    server = await asyncio.start_server(lambda r, w: handle(r, w, host, port), a.bind, a.listen)
    listen = server.sockets[0].getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(listen))
        os.rename(a.port_file + ".tmp", a.port_file)
    print(f"relay: {a.bind}:{listen} -> {host}:{port}", flush=True)
    async with server:
        await stop.wait()


asyncio.run(main())
