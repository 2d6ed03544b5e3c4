"""Many concurrent HTTP GETs from goroutines, against a local server.

    python examples/fetch.py                       # starts examples/http_hello.py's server in-process
    python examples/fetch.py --workers 200 --requests 20000 --new-conn
    python examples/fetch.py --url http://127.0.0.1:8080/   # a server you started yourself

Each worker goroutine writes its request and reads the answer as blocking
code would (a status line, headers, a Content-Length body) through a
gort.io.Reader; by default it keeps its connection alive, with --new-conn it
dials for every request.  Prints the count, the status codes and the rate.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from typing import Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gort  # noqa: E402
from gort import io as gio  # noqa: E402
from gort import net  # noqa: E402


def parse_url(url: str) -> tuple[str, str, str]:
    """http://host:port/path -> (dial address, Host header, path)."""
    if not url.startswith("http://"):
        raise SystemExit("only http:// URLs")
    rest = url[len("http://"):]
    hostport, _, path = rest.partition("/")
    if ":" not in hostport.rsplit("]", 1)[-1]:
        hostport += ":80"
    return hostport, hostport, "/" + path


async def get(conn: net.Conn, r: gio.Reader, host: str, path: str, close: bool) -> tuple[int, bytes, bool]:
    """One GET on an open connection: (status, body, server keeps it alive)."""
    extra = "Connection: close\r\n" if close else ""
    await conn.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gort-fetch\r\n{extra}\r\n".encode())
    head = await r.read_until(b"\r\n\r\n", limit=64 * 1024)
    if not head.endswith(b"\r\n\r\n"):
        raise gio.UnexpectedEOF("connection closed before the response head", head)
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length: Optional[int] = None
    alive = not close
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            alive = False
    body = await gio.read_full(r, length) if length else (b"" if length == 0 else await gio.read_all(r))
    return status, body, alive and length is not None


async def worker(address: str, host: str, path: str, n: int, new_conn: bool,
                 results: list[Counter[int | str]], wg: gort.WaitGroup) -> None:
    stats: Counter[int | str] = Counter()    # this worker's own: goroutines run on several threads at once
    conn: Optional[net.Conn] = None
    r: Optional[gio.Reader] = None
    try:
        for _ in range(n):
            if conn is None:
                conn = await net.dial("tcp", address, timeout=10)
                r = gio.Reader(conn)
            assert r is not None
            try:
                status, body, alive = await get(conn, r, host, path, close=new_conn)
            except (OSError, EOFError) as e:
                stats[type(e).__name__] += 1
                conn.close()
                conn = None
                continue
            stats[status] += 1
            stats["bytes"] += len(body)
            if not alive:
                conn.close()
                conn = None
    finally:
        if conn is not None:
            conn.close()
        results.append(stats)     # list.append is atomic
        wg.done()


async def main(url: Optional[str], workers: int, requests: int, new_conn: bool) -> Counter[int | str]:
    ln = None
    if url is None:
        import http_hello
        ln = net.listen("tcp", "127.0.0.1:0")
        gort.go(http_hello.serve, ln)
        url = f"http://{ln.addr}/"
    address, host, path = parse_url(url)
    results: list[Counter[int | str]] = []
    wg = gort.WaitGroup()
    wg.add(workers)
    t0 = time.monotonic()
    for i in range(workers):
        share = requests // workers + (1 if i < requests % workers else 0)
        gort.go(worker, address, host, path, share, new_conn, results, wg)
    await wg.wait()
    took = time.monotonic() - t0
    stats: Counter[int | str] = sum(results, Counter())
    if ln is not None:
        ln.close()
    done = sum(v for k, v in stats.items() if isinstance(k, int))
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(stats.items(), key=str) if k != "bytes")
    print(f"{done:,} GETs of {url} by {workers} goroutines in {took:.2f} s ({done / took:,.0f}/s, "
          f"{'a new connection each' if new_conn else 'keep-alive'}); {codes}; "
          f"{stats['bytes']:,} body bytes; {gort.num_thread()} threads")
    return stats


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None, help="default: an in-process examples/http_hello.py server")
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--new-conn", action="store_true", help="dial for every request")
    ap.add_argument("--procs", type=int, default=None)
    a = ap.parse_args()
    st = gort.run(main, a.url, a.workers, a.requests, a.new_conn, procs=a.procs)
    if sum(v for k, v in st.items() if isinstance(k, int)) != a.requests:
        sys.exit(1)
