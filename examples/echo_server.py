"""A TCP echo server in gort: one goroutine per connection, blocking-style code.

    python examples/echo_server.py [ADDRESS] [--procs N]     # default 127.0.0.1:8007
    python examples/echo_server.py --selftest                # 200 clients against itself, then exit

Each connection's goroutine calls `read` and `write` as if they blocked; they
park only the goroutine (in "IO wait" on the netpoller), so 10,000 idle
connections cost 10,000 parked goroutines, not 10,000 threads.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gort  # noqa: E402
from gort import net  # noqa: E402


async def handle(conn: net.Conn) -> None:
    async with conn:                                  # closes on exit
        while True:
            try:
                data = await conn.read()
            except ConnectionResetError:
                return
            if not data:                              # EOF: the client is done
                return
            await conn.write(data)                    # writes everything


async def serve(ln: net.Listener) -> None:
    while True:
        try:
            conn = await ln.accept()
        except net.ErrClosed:                         # ln.close() ends the loop
            return
        gort.go(handle, conn)


async def main(address: str) -> None:
    ln = net.listen("tcp", address)
    print(f"echo server on {ln.addr} (procs={gort.gomaxprocs()}, Ctrl-C to stop)", flush=True)
    await serve(ln)


async def selftest(clients: int = 200, rounds: int = 50) -> None:
    ln = net.listen("tcp", "127.0.0.1:0")
    gort.go(serve, ln)
    wg = gort.WaitGroup()
    totals = []

    async def client(i: int) -> None:
        async with await net.dial("tcp", str(ln.addr)) as c:
            n = 0
            for r in range(rounds):
                msg = f"client {i} round {r}\n".encode()
                await c.write(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = await c.read()
                    if not chunk:
                        raise EOFError("server closed early")
                    got += chunk
                assert got == msg, (got, msg)
                n += len(got)
            totals.append(n)
        wg.done()

    t0 = time.monotonic()
    wg.add(clients)
    for i in range(clients):
        gort.go(client, i)
    await wg.wait()
    took = time.monotonic() - t0
    ln.close()
    print(f"{clients} clients x {rounds} round trips: {sum(totals):,} bytes echoed in {took:.2f} s "
          f"({clients * rounds / took:,.0f} round trips/s), {gort.num_thread()} threads")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("address", nargs="?", default="127.0.0.1:8007")
    ap.add_argument("--procs", type=int, default=None)
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    try:
        if a.selftest:
            gort.run(selftest, procs=a.procs)
        else:
            gort.run(main, a.address, procs=a.procs)
    except KeyboardInterrupt:
        pass
