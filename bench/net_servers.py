"""Echo servers for bench/net.py: `python bench/net_servers.py KIND PORT`.

Each prints "listening PORT" once it accepts connections, then echoes until
killed.  Every server echoes what one read returned, as the Go reference does
(netload -serve): read up to 64 KB, write it all back.

KIND: gort-p1, gort-p2 (sync-style read/write goroutines), asyncio (streams),
uvloop (streams), uvloop-proto (Protocol.data_received -> transport.write),
trio (SocketStream), gevent (StreamServer, gevent sockets, no monkeypatching).
"""
from __future__ import annotations

import sys


def ready(port: int) -> None:
    print(f"listening {port}", flush=True)


def run_gort(port: int, procs: int) -> None:
    import gort

    async def handle(conn):
        async with conn:
            read, write = conn.read, conn.write
            while True:
                data = await read(65536)
                if not data:
                    return
                await write(data)

    async def main():
        ln = gort.net.listen("tcp", f"127.0.0.1:{port}")
        ready(port)
        while True:
            gort.go(handle, await ln.accept())

    gort.run(main, procs=procs)


def run_asyncio(port: int, loop: str) -> None:
    import asyncio
    if loop == "uvloop":
        import uvloop
        uvloop.install()

    async def handle(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", port)
        ready(port)
        async with srv:
            await srv.serve_forever()

    asyncio.run(main())


def run_uvloop_proto(port: int) -> None:
    import asyncio

    import uvloop

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.t = transport

        def data_received(self, data):
            self.t.write(data)

    async def main():
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(Echo, "127.0.0.1", port)
        ready(port)
        async with srv:
            await srv.serve_forever()

    uvloop.install()
    asyncio.run(main())


def run_trio(port: int) -> None:
    import trio

    async def handle(stream):
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            await stream.send_all(data)

    async def main():
        async with trio.open_nursery() as n:
            await n.start(trio.serve_tcp, handle, port)
            ready(port)

    trio.run(main)


def run_gevent(port: int) -> None:
    from gevent.server import StreamServer

    def handle(sock, addr):
        recv, sendall = sock.recv, sock.sendall
        while True:
            data = recv(65536)
            if not data:
                break
            sendall(data)
        sock.close()

    srv = StreamServer(("127.0.0.1", port), handle)
    srv.start()
    ready(port)
    srv.serve_forever()


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind.startswith("gort-p"):
        run_gort(port, int(kind[len("gort-p"):]))
    elif kind in ("asyncio", "uvloop"):
        run_asyncio(port, kind)
    elif kind == "uvloop-proto":
        run_uvloop_proto(port)
    elif kind == "trio":
        run_trio(port)
    elif kind == "gevent":
        run_gevent(port)
    else:
        raise SystemExit(f"unknown server kind {kind!r}")


if __name__ == "__main__":
    main()
