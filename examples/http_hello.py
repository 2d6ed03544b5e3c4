"""An HTTP/1.1 server with keep-alive, written as sync-style goroutines over gort.net and gort.io.

    python examples/http_hello.py [ADDRESS] [--procs N]    # default 127.0.0.1:8080
    python -m gort run --processes 2 examples/http_hello.py [ADDRESS]   # one process per core
    wrk -t1 -c50 -d10s http://127.0.0.1:8080/

GET / answers "Hello, World!"; GET /pid answers which process served it
("pid 1234 worker 0/2"); POST /echo returns the body; anything else is 404.
Under `gort run --processes N` every worker listens on the same address with
reuse_port=True and the kernel spreads the connections over them.

One goroutine per connection reads a request head, answers, and loops
while the client keeps the connection alive.  `handle` is also used by
examples/fetch.py.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gort  # noqa: E402
from gort import io as gio  # noqa: E402
from gort import net  # noqa: E402

HELLO = b"Hello, World!\n"
MAX_HEAD = 64 * 1024
MAX_BODY = 1 << 20
REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 413: b"Payload Too Large",
           431: b"Request Header Fields Too Large", 501: b"Not Implemented"}

_date_at = 0.0
_date = b""


def http_date() -> bytes:
    """The Date header's value, formatted at most once a second."""
    global _date_at, _date
    now = time.time()
    if now - _date_at >= 1.0:
        _date_at = now
        _date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)).encode()
    return _date


def response(status: int, body: bytes, keep_alive: bool, ctype: bytes = b"text/plain") -> bytes:
    return b"".join([
        b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status]),
        b"Server: gort\r\nDate: ", http_date(),
        b"\r\nContent-Type: ", ctype,
        b"\r\nContent-Length: %d\r\n" % len(body),
        b"" if keep_alive else b"Connection: close\r\n",
        b"\r\n", body,
    ])


async def handle(conn: net.Conn) -> None:
    """Serve requests on conn until the client closes or asks to."""
    async with conn:
        r = gio.Reader(conn)
        while True:
            try:
                head = await r.read_until(b"\r\n\r\n", limit=MAX_HEAD)
            except gio.ErrBufferFull:
                await conn.write(response(431, b"", False))
                return
            except (ConnectionResetError, net.ErrClosed):
                return
            if not head.endswith(b"\r\n\r\n"):      # EOF (between requests, or mid-head)
                return
            lines = head[:-4].split(b"\r\n")
            parts = lines[0].split(b" ")
            if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
                await conn.write(response(400, b"bad request line\n", False))
                return
            method, target, version = parts
            keep_alive = version == b"HTTP/1.1"
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        length = -1
                elif name == b"connection":
                    v = value.strip().lower()
                    keep_alive = v == b"keep-alive" if version == b"HTTP/1.0" else v != b"close"
                elif name == b"transfer-encoding":
                    await conn.write(response(501, b"chunked bodies are not supported\n", False))
                    return
            if length < 0 or length > MAX_BODY:
                await conn.write(response(413 if length > 0 else 400, b"", False))
                return
            try:
                body = await gio.read_full(r, length) if length else b""
            except EOFError:
                return
            if method == b"GET" and target == b"/":
                out = response(200, HELLO, keep_alive)
            elif method == b"GET" and target == b"/pid":
                out = response(200, whoami(), keep_alive)
            elif method == b"POST" and target == b"/echo":
                out = response(200, body, keep_alive, b"application/octet-stream")
            else:
                out = response(404, b"not found\n", keep_alive)
            await conn.write(out)
            if not keep_alive:
                return


def whoami() -> bytes:
    """The serving process: "pid 1234 worker 0/2" (worker -/- outside `gort run --processes`)."""
    w = gort.worker()
    return b"pid %d worker %s\n" % (os.getpid(), f"{w.index}/{w.count}".encode() if w else b"-/-")


async def serve(ln: net.Listener) -> None:
    """Accept until the listener is closed, one goroutine per connection."""
    while True:
        try:
            conn = await ln.accept()
        except net.ErrClosed:
            return
        gort.go(handle, conn)


async def main(address: Optional[str] = None) -> None:
    """Serve on address (under `python -m gort run`: the script's first argument)."""
    if address is None:
        address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8080"
    w = gort.worker()
    ln = net.listen("tcp", address, reuse_port=w is not None)   # workers share the port
    who = f", pid {os.getpid()}, worker {w.index}/{w.count}" if w else ""
    print(f"http_hello on http://{ln.addr}/ (procs={gort.gomaxprocs()}{who}, Ctrl-C to stop)", flush=True)
    await serve(ln)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("address", nargs="?", default="127.0.0.1:8080")
    ap.add_argument("--procs", type=int, default=None)
    a = ap.parse_args()
    try:
        gort.run(main, a.address, procs=a.procs)
    except KeyboardInterrupt:
        pass
