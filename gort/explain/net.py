"""Topics multiprocess (Q11) and netpoll (Q12)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from typing import Any

import gort
from gort import net

from . import Report, topic

LO = "127.0.0.1"

_CHILD = textwrap.dedent("""
    import os, sys, threading
    import gort
    from gort import net

    async def main(port):
        ln = net.listen("tcp", f"127.0.0.1:{port}", reuse_port=True)
        print("ready", flush=True)
        threading.Thread(target=lambda: (sys.stdin.read(), ln.close()), daemon=True).start()
        while True:
            try:
                c = await ln.accept()
            except net.ErrClosed:
                return
            await c.write(str(os.getpid()).encode())
            c.close()

    gort.run(main, int(sys.argv[1]), procs=1)
""")


@topic("multiprocess", "Does Go support several processes, and how are they scheduled? (Q11)")
def multiprocess(r: Report, scale: float) -> None:
    nproc = 3
    conns = max(30, int(120 * scale))
    r.say(f"Set-up: {nproc} processes, each its own gort program (its own Ps, Ms and netpoller), listen "
          f"on one port with reuse_port=True; a client program dials {conns} times and records which "
          "process answered.")
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind((LO, 0))
    port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(gort.__file__)))
    kids = [subprocess.Popen([sys.executable, "-c", _CHILD, str(port)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env) for _ in range(nproc)]
    try:
        for k in kids:
            assert k.stdout is not None and k.stdout.readline().strip() == "ready"

        async def main() -> dict[int, int]:
            seen: dict[int, int] = {}
            for _ in range(conns):
                c = await net.dial("tcp", f"{LO}:{port}", timeout=10)
                data = b""
                while True:
                    chunk = await c.read()
                    if not chunk:
                        break
                    data += chunk
                c.close()
                pid = int(data)
                seen[pid] = seen.get(pid, 0) + 1
            return seen
        seen = gort.run(main, procs=1)
    finally:
        for k in kids:
            if k.stdin is not None:
                k.stdin.close()
        for k in kids:
            try:
                k.wait(10)
            except subprocess.TimeoutExpired:
                k.kill()
        probe.close()
    r.section("Measured")
    for pid, n in sorted(seen.items()):
        r.say(f"  process {pid}: {n} connections")
    r.figures.update(pids=sorted(seen), per_pid=seen, processes=nproc, connections=conns)
    r.section("Answer")
    r.say(f"Each process has its own runtime: Go's scheduler (and gort's) never schedules across "
          f"processes; the operating system schedules the processes' threads. Sharing one listening "
          f"port with SO_REUSEPORT lets the kernel spread connections over them: {len(seen)} of "
          f"{nproc} processes answered here. With the GIL this is how gort uses every core for "
          "serving: one process per core, each a full gort program; `python -m gort run --processes N "
          "app.py` runs an app that way (it starts the workers, restarts a crashed one and stops them "
          "all on Ctrl-C; gort.worker() tells each its index).")


@topic("netpoll", "How does the net package give synchronous-looking I/O over epoll? (Q12)")
def netpoll(r: Report, scale: float) -> None:
    n = max(50, int(1000 * scale))
    r.say(f"Set-up: GOMAXPROCS=2; a server goroutine per connection doing a plain `await conn.read()`; "
          f"{n} client connections are opened and left silent, then each sends one line; the thread "
          "count and the goroutines' wait reasons are read while they wait.")

    async def main() -> dict[str, Any]:
        ln = net.listen("tcp", f"{LO}:0")
        got: gort.Chan[int] = gort.Chan(n)

        async def serve(c: Any) -> None:
            data = await c.read()                   # parks the goroutine, not the thread
            await c.write(data)
            c.close()
            await got.send(len(data))

        async def acceptor() -> None:
            for _ in range(n):
                c = await ln.accept()
                gort.go(serve, c)
        gort.trace.start()
        t_before = gort.num_thread()
        gort.go(acceptor)
        clients = [await net.dial("tcp", str(ln.addr), timeout=10) for _ in range(n)]
        deadline = time.monotonic() + 10
        s = gort.proc.cursched()
        while time.monotonic() < deadline:
            io_wait = sum(1 for g in list(s.allgs) if g.status == 4 and g.waitreason == "IO wait")
            if io_wait >= n:
                break
            await gort.sleep(0.005)
        t_waiting = gort.num_thread()
        for c in clients:
            await c.write(b"ping\n")
        total = 0
        for _ in range(n):
            total += await got.recv() or 0
        for c in clients:
            await c.read()
            c.close()
        ln.close()
        ev = gort.trace.stop()
        ready = sum(len(e.arg or []) for e in ev if e.kind == "NetpollReady")
        return {"threads_before": t_before, "threads_waiting": t_waiting, "io_wait": io_wait,
                "bytes": total, "ready_events": ready, "threads_after": gort.num_thread()}
    f = gort.run(main, procs=2)
    r.section("Measured")
    r.say(f"  {f['io_wait']} goroutines in 'IO wait' at once, on {f['threads_waiting']} threads "
          f"({f['threads_before']} before the connections); the poller readied {f['ready_events']} "
          f"goroutines; {f['bytes']} bytes echoed")
    r.figures.update(f)
    r.section("Answer")
    flat = f["threads_waiting"] <= f["threads_before"] + 2
    r.say("A read on a non-blocking socket that has no data gets EAGAIN; the goroutine registers with "
          "the program's one epoll (edge-triggered, each fd once), parks in 'IO wait' and gives its "
          "thread to other goroutines. When data arrives, the scheduler's netpoll (or sysmon's, or the "
          "one M blocked in epoll_wait until the next timer) readies it and it retries the read. So "
          f"{f['io_wait']} waiting connections cost goroutines, not threads: the thread count "
          f"{'stayed flat' if flat else 'grew (unexpected)'} ({f['threads_before']} -> "
          f"{f['threads_waiting']}).")
