"""examples/http_hello.py's equivalents for bench/net.py's wrk runs.

    python bench/http_peers.py KIND PORT      # KIND: uvloop (asyncio streams on uvloop), gevent

Same protocol handling as http_hello (read a head up to CRLFCRLF, parse the
request line and Content-Length / Connection, read the body, answer
"Hello, World!" with keep-alive) so the runs compare the runtimes, not the
parsers.  Prints "listening PORT" when ready.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

from http_hello import MAX_HEAD, response  # noqa: E402  (the response bytes, shared)


def parse(head: bytes) -> tuple[bool, int, bool]:
    """(ok, content length, keep alive) of a request head (without its CRLFCRLF)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return False, 0, False
    version = parts[2]
    keep_alive = version == b"HTTP/1.1"
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            v = value.strip().lower()
            keep_alive = v == b"keep-alive" if version == b"HTTP/1.0" else v != b"close"
    return True, length, keep_alive


def run_uvloop(port: int) -> None:
    import asyncio

    import uvloop

    async def handle(reader, writer):
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                ok, length, keep_alive = parse(head[:-4])
                if not ok:
                    writer.write(response(400, b"bad request line\n", False))
                    return
                if length:
                    await reader.readexactly(length)
                writer.write(response(200, b"Hello, World!\n", keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        finally:
            writer.close()

    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", port, limit=MAX_HEAD)
        print(f"listening {port}", flush=True)
        async with srv:
            await srv.serve_forever()

    uvloop.install()
    asyncio.run(main())


def run_gevent(port: int) -> None:
    from gevent.server import StreamServer

    def handle(sock, addr):
        buf = b""
        recv, sendall = sock.recv, sock.sendall
        try:
            while True:
                i = buf.find(b"\r\n\r\n")
                while i < 0:
                    data = recv(65536)
                    if not data or len(buf) > MAX_HEAD:
                        return
                    buf += data
                    i = buf.find(b"\r\n\r\n")
                head, buf = buf[:i], buf[i + 4:]
                ok, length, keep_alive = parse(head)
                if not ok:
                    sendall(response(400, b"bad request line\n", False))
                    return
                while len(buf) < length:
                    data = recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[length:]
                sendall(response(200, b"Hello, World!\n", keep_alive))
                if not keep_alive:
                    return
        except ConnectionError:
            return
        finally:
            sock.close()

    srv = StreamServer(("127.0.0.1", port), handle)
    srv.start()
    print(f"listening {port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "uvloop":
        run_uvloop(port)
    elif kind == "gevent":
        run_gevent(port)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
