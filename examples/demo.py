"""gort demo: Go's classic concurrent programs, run on Go's scheduler and watched while they run.

    make demo                    # or: python examples/demo.py [--small] [--procs N] [--out HTML]

One gort program (one `gort.run`) in four parts; each prints what it measured and a
conclusion (the lines starting with "=>") computed from those numbers:

1. a concurrent prime sieve: one goroutine per prime, chained by channels;
2. a pipeline: a source, a fan-out to worker goroutines, a fan-in, a sink;
3. an echo server on 127.0.0.1 (gort.net) and client goroutines that check every echo;
4. a blocking call (time.sleep, wrapped in gort.syscall, then unwrapped) under GOMAXPROCS=1
   while a ticker goroutine counts its ticks.

Meanwhile sysmon prints Go's schedtrace line (GODEBUG=schedtrace=MS) every 250 ms, and the
whole run is traced; at the end the trace is written as Chrome JSON (Perfetto opens it) and
as gort's one-file HTML viewer, whose path is printed last.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gort  # noqa: E402
from gort import net, viewer  # noqa: E402

# Each part should last long enough for a schedtrace line or two, while the trace stays
# near 70,000 events (Chrome's; about 25,000 of gort's): writing it and making the viewer
# take some 50 µs an event.  The sieve is the costly part: a few events per value passed.
SIZES = {
    "default": dict(primes=60, items=1000, work=30_000, workers=8, clients=40, rounds=30, think=0.02,
                    block=0.5),
    "small": dict(primes=30, items=200, work=1000, workers=4, clients=10, rounds=5, think=0.02, block=0.2),
}
TICK = 0.01                 # the ticker's period in part 4


def say(*lines: str) -> None:
    """Print lines with one write: sysmon's schedtrace lines, written from its own
    thread, then never land inside one of ours."""
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def head(s: str) -> None:
    say("", f"== {s}")


def states() -> Counter[str]:
    """How many goroutines are in each state now ("chan receive", "IO wait", ...),
    read from the goroutine dump (gort.stack(), Go's runtime.Stack)."""
    return Counter(re.findall(r"^goroutine \d+ \[([^,\]]+)", gort.stack(), re.M))


def show(c: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in c.most_common()) or "none"


# ---------------------------------------------------------------- 1. prime sieve

async def generate(ch: gort.Chan[int], quit: gort.Chan[None], sent: list[int]) -> None:
    """Send 2, 3, 4, ... on ch (Go's generate) until quit is closed; then close ch."""
    i = 2
    try:
        while True:
            k, _, _ = await gort.select(gort.send(ch, i), gort.recv(quit))
            if k == 1:
                return
            sent[0] += 1
            i += 1
    finally:
        ch.close()


async def filter_(inp: gort.Chan[int], out: gort.Chan[int], prime: int, quit: gort.Chan[None],
                  sent: list[int], threads: set[int]) -> None:
    """Pass on what prime does not divide (Go's filter); stop when quit or inp is closed."""
    try:
        async for i in inp:
            threads.add(threading.get_ident())
            if i % prime:
                k, _, _ = await gort.select(gort.send(out, i), gort.recv(quit))
                if k == 1:
                    return
                sent[0] += 1        # each goroutine has its own counter: no lock needed
    finally:
        out.close()                 # the next filter's `async for` ends


def trial_division(n: int) -> list[int]:
    """The first n primes, the plain way: what the sieve must agree with."""
    out: list[int] = []
    k = 2
    while len(out) < n:
        if all(k % p for p in out if p * p <= k):
            out.append(k)
        k += 1
    return out


async def part_sieve(n: int) -> dict[str, Any]:
    head(f"1. Concurrent prime sieve: {n} primes, one goroutine per prime, chained by channels")
    before = gort.num_goroutine()
    t0 = time.monotonic()
    quit: gort.Chan[None] = gort.Chan()     # Go's sieve never stops its goroutines; this one does
    wg = gort.WaitGroup()
    threads: set[int] = set()
    sent: list[list[int]] = []

    async def tracked(fn: Any, *args: Any) -> None:
        try:
            await fn(*args)
        finally:
            wg.done()

    ch: gort.Chan[int] = gort.Chan()
    sent.append([0])
    wg.add(1)
    gort.go(tracked, generate, ch, quit, sent[-1])
    primes = []
    for _ in range(n):
        prime = await ch.recv()
        primes.append(prime)
        out: gort.Chan[int] = gort.Chan()
        sent.append([0])
        wg.add(1)
        gort.go(tracked, filter_, ch, out, prime, quit, sent[-1], threads)
        ch = out
    took = time.monotonic() - t0
    values = sum(c[0] for c in sent)        # what went along the chain in `took`
    peak = gort.num_goroutine()
    waiting = states()
    quit.close()                    # every select on quit fires; each filter closes its out
    await wg.wait()
    # a goroutine is counted until it has returned, a moment after its wg.done()
    for _ in range(1000):
        if gort.num_goroutine() <= before:
            break
        await gort.gosched()
    after = gort.num_goroutine()
    right = primes == trial_division(n)
    shown = " ".join(map(str, primes[:10])) + " ... " + " ".join(map(str, primes[-3:]))
    say(f"   primes: {shown}",
        f"   trial division agrees: {'yes' if right else 'NO'}",
        f"   {values:,} values sent along the chain in {took:.2f} s; the filters ran on {len(threads)} "
        "OS threads",
        f"   goroutines: {before} before, {peak} with the generator and the {n} filters, {after} after quit "
        f"was closed",
        f"   their states at the end: {show(waiting)}")
    claims = [f"{n + 1} sieve goroutines shared {len(threads)} OS threads (M:N)"
              if len(threads) < n + 1 else f"the {n + 1} sieve goroutines did not share threads this run"]
    claims.append("closing quit stopped all of them" if after <= before
                  else f"{after - before} goroutines had not exited yet")
    say(f"=> {'; '.join(claims)}")
    return {"primes": primes, "right": right, "before": before, "peak": peak, "after": after,
            "threads": len(threads)}


# ---------------------------------------------------------------- 2. pipeline

def work(n: int, spin: int) -> int:
    """n squared, after some CPU (so the workers take time and Ps have something to steal)."""
    busy = 0
    for k in range(spin):
        busy += k
    return n * n


async def part_pipeline(items: int, spin: int, workers: int) -> dict[str, Any]:
    head(f"2. Pipeline: source -> fan-out to {workers} workers -> fan-in -> sink, {items:,} items")
    st0 = gort.stats()
    t0 = time.monotonic()
    nums: gort.Chan[int] = gort.Chan(16)
    per_worker = [0] * workers
    wthreads: list[set[int]] = [set() for _ in range(workers)]

    async def source() -> None:
        for n in range(items):
            await nums.send(n)
        nums.close()

    async def square(i: int, out: gort.Chan[int]) -> None:
        # fan-out: every worker reads the same channel; each has its own output
        async for n in nums:
            wthreads[i].add(threading.get_ident())
            per_worker[i] += 1
            await out.send(work(n, spin))
        out.close()

    def merge(cs: list[gort.Chan[int]]) -> gort.Chan[int]:
        # fan-in: one forwarding goroutine per input; the output closes when all are done
        merged: gort.Chan[int] = gort.Chan(16)
        wg = gort.WaitGroup()

        async def forward(c: gort.Chan[int]) -> None:
            async for v in c:
                await merged.send(v)
            wg.done()

        async def closer() -> None:
            await wg.wait()
            merged.close()

        wg.add(len(cs))
        for c in cs:
            gort.go(forward, c)
        gort.go(closer)
        return merged

    gort.go(source)
    outs: list[gort.Chan[int]] = [gort.Chan(16) for _ in range(workers)]
    for i, c in enumerate(outs):
        gort.go(square, i, c)
    total = got = 0
    async for v in merge(outs):     # the sink
        total += v
        got += 1
    took = time.monotonic() - t0
    st1 = gort.stats()
    expected = sum(n * n for n in range(items))
    steals = st1["steals"] - st0["steals"]
    used = set().union(*wthreads)
    say(f"   the sink got {got:,} results summing to {total:,} (the squares of 0..{items - 1}: {expected:,}) "
        f"in {took:.2f} s",
        f"   items per worker: {' '.join(map(str, per_worker))}",
        f"   the workers ran on {len(used)} OS threads; a P with an empty queue stole half of another's "
        f"{times(steals)}")
    if got == items and total == expected:
        claim = f"every item went through exactly once; the fan-out gave each worker {min(per_worker)}-" \
                f"{max(per_worker)}"
    else:
        claim = f"the pipeline LOST or changed items ({got:,} of {items:,} arrived)"
    if min(per_worker) == 0:
        claim += f" ({per_worker.count(0)} workers got none)"
    say(f"=> {claim}")
    return {"got": got, "items": items, "total": total, "expected": expected, "per_worker": per_worker,
            "steals": steals}


# ---------------------------------------------------------------- 3. echo server

async def handle(conn: net.Conn) -> None:
    async with conn:
        while True:
            data = await conn.read()        # parks this goroutine ("IO wait"), not the thread
            if not data:                    # the client closed: done
                return
            await conn.write(data)


async def serve(ln: net.Listener) -> None:
    while True:
        try:
            conn = await ln.accept()
        except net.ErrClosed:               # ln.close() ends the loop
            return
        gort.go(handle, conn)


async def part_echo(clients: int, rounds: int, think: float) -> dict[str, Any]:
    ln = net.listen("tcp", "127.0.0.1:0")
    head(f"3. Echo server on {ln.addr}: {clients} client goroutines x {rounds} round trips, "
         f"{think * 1000:.0f} ms apart")
    gort.go(serve, ln)
    ok = [0] * clients      # one slot per client: without the GIL a shared `+= 1` loses counts
    bad = [0] * clients
    done = gort.WaitGroup()
    peak: dict[str, Any] = {"threads": 0, "goroutines": 0, "io": 0, "states": Counter()}
    watching = [True]

    async def client(i: int) -> None:
        try:
            async with await net.dial("tcp", str(ln.addr)) as c:
                for r in range(rounds):
                    msg = f"client {i} round {r}\n".encode()
                    await c.write(msg)
                    got = b""
                    while len(got) < len(msg):
                        chunk = await c.read()
                        if not chunk:
                            break
                        got += chunk
                    if got == msg:
                        ok[i] += 1
                    else:
                        bad[i] += 1
                    await gort.sleep(think)     # the client "thinks" before its next request
        finally:
            done.done()

    async def watch() -> None:
        # sample the counts while the clients run
        while watching[0]:
            peak["threads"] = max(peak["threads"], gort.num_thread())
            peak["goroutines"] = max(peak["goroutines"], gort.num_goroutine())
            st = states()
            if st["IO wait"] > peak["io"]:
                peak["io"], peak["states"] = st["IO wait"], st
            await gort.sleep(0.025)

    gort.go(watch)
    t0 = time.monotonic()
    done.add(clients)
    for i in range(clients):
        gort.go(client, i)
    await done.wait()
    took = time.monotonic() - t0
    watching[0] = False
    ln.close()
    total = clients * rounds
    say(f"   echoes checked: {sum(ok):,} of {total:,} came back intact, {total - sum(ok)} wrong or missing, "
        f"in {took:.2f} s",
        f"   peak while serving: {peak['goroutines']} goroutines (clients, connection handlers, ...), "
        f"{peak['threads']} OS threads (sysmon included)",
        f"   the most parked on sockets at once: {peak['io']} (every goroutine then: {show(peak['states'])})")
    claims = [f"all {total:,} echoes came back" if sum(ok) == total
              else f"{total - sum(ok):,} echoes did NOT come back"]
    if peak["io"] > peak["threads"]:
        claims.append(f"{peak['io']} goroutines waited on sockets at once with {peak['threads']} threads "
                      "in all: a read parks the goroutine, not the thread")
    else:
        claims.append(f"at most {peak['io']} goroutines waited on sockets at once, no more than the "
                      f"{peak['threads']} threads: this run does not show that waits do not take threads")
    say(f"=> {'; '.join(claims)}")
    return {"ok": sum(ok), "bad": sum(bad), "total": total, "threads": peak["threads"], "io": peak["io"]}


# ---------------------------------------------------------------- 4. a blocking call

async def part_blocking(block: float) -> dict[str, Any]:
    head(f"4. A blocking call, time.sleep({block}), with GOMAXPROCS=1, while a ticker goroutine counts "
         f"{TICK * 1000:.0f} ms ticks")
    prev = gort.gomaxprocs(1)           # one P: the call holds the only one there is
    ticks: list[float] = []
    stop: gort.Chan[None] = gort.Chan()

    async def ticker() -> None:
        t = gort.Ticker(TICK)
        try:
            while True:
                k, _, _ = await gort.select(gort.recv(t.c), gort.recv(stop))
                if k == 1:
                    return
                ticks.append(time.monotonic())
        finally:
            t.stop()

    gort.go(ticker)
    await gort.sleep(5 * TICK)          # let it start ticking
    results = []
    for how in ("gort.syscall(time.sleep)", "time.sleep, unwrapped"):
        st0 = gort.stats()
        t0 = time.monotonic()
        if how.startswith("gort.syscall"):
            await gort.syscall(time.sleep, block)   # entersyscall: sysmon may hand the P off
        else:
            time.sleep(block)                       # sysmon sees the P stuck and retakes it
        t1 = time.monotonic()
        st1 = gort.stats()
        during = [t for t in ticks if t0 <= t <= t1]
        results.append({"how": how, "wall": t1 - t0, "ticks": len(during), "due": (t1 - t0) / TICK,
                        "first": (during[0] - t0) * 1000 if during else None,
                        "retakes": st1["retakes"] - st0["retakes"]})
        await gort.sleep(5 * TICK)
    stop.close()
    gort.gomaxprocs(prev)
    for r in results:
        say(f"   {r['how']:26} {r['wall']:.2f} s: the ticker ticked {r['ticks']} times meanwhile "
            f"(one per {TICK * 1000:.0f} ms makes {r['due']:.0f}); "
            f"sysmon took the P away {times(r['retakes'])}")
    for r in results:
        if r["ticks"] == 0:
            claim = "the other goroutines did not run at all: the call held the only P"
        else:
            # with one P, a tick during the call means the P had left the blocked thread by then
            claim = (f"the other goroutines kept running: {r['ticks']} ticks, the first {r['first']:.0f} ms "
                     "into the call, so by then the only P had left the blocked thread")
            if r["retakes"] and r["how"].startswith("gort.syscall"):
                claim += "; sysmon took it from the thread in the syscall and handed it to another"
            elif r["retakes"]:
                claim += ("; sysmon saw it stuck and put a fresh P in its place (same id, queue and timers) "
                          "on another thread")
        say(f"=> {r['how']}: {claim}")
    return {"results": results}


# ---------------------------------------------------------------- the program

async def main(sizes: dict[str, Any]) -> dict[str, Any]:
    say(f"gort demo: GOMAXPROCS={gort.gomaxprocs()}, GIL {'on' if gort.program.gil_enabled() else 'off'}, "
        f"Python {sys.version.split()[0]}, "
        + ("the C accelerator" if gort.accelerated() else "pure Python (GORT_PUREPY=1 or no build)"))
    t0 = time.monotonic()
    figures: dict[str, Any] = {
        "sieve": await part_sieve(sizes["primes"]),
        "pipeline": await part_pipeline(sizes["items"], sizes["work"], sizes["workers"]),
        "echo": await part_echo(sizes["clients"], sizes["rounds"], sizes["think"]),
        "blocking": await part_blocking(sizes["block"]),
    }
    figures["ran"] = time.monotonic() - t0
    return figures


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """The demo, as `make demo` runs it; returns what it measured."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="small sizes (the test's)")
    ap.add_argument("--procs", type=int, default=None, help="GOMAXPROCS (default: gort's)")
    ap.add_argument("--schedtrace", type=int, default=250, metavar="MS", help="schedtrace period (250)")
    ap.add_argument("--out", default="demo-trace.html",
                    help="the trace viewer page to write (demo-trace.html); the JSON trace goes next to it")
    a = ap.parse_args(argv)
    html_path = os.path.abspath(a.out)
    json_path = os.path.splitext(html_path)[0] + ".json"
    # sysmon prints the schedtrace lines; GORT_DEBUG is read when gort.run starts
    old = os.environ.get("GORT_DEBUG")
    os.environ["GORT_DEBUG"] = ",".join(x for x in (old, f"schedtrace={a.schedtrace}") if x)
    say(f"schedtrace every {a.schedtrace} ms: SCHED <ms since start>: gomaxprocs idleprocs threads "
        "spinningthreads needspinning idlethreads runqueue=<global queue> [<each P's local queue>]")
    t0 = time.monotonic()
    try:
        figures = gort.run(main, SIZES["small" if a.small else "default"], procs=a.procs, trace=json_path)
    finally:
        if old is None:
            del os.environ["GORT_DEBUG"]
        else:
            os.environ["GORT_DEBUG"] = old
    extra = time.monotonic() - t0 - figures["ran"]
    # gort.run wrote the JSON trace as the program ended; the viewer is made from it
    t0 = time.monotonic()
    with open(json_path) as f:
        doc = json.load(f)
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(viewer.render(doc, title="gort demo"))
    took = time.monotonic() - t0
    other = doc.get("otherData", {})
    dropped = other.get("dropped_events", 0)
    events = sum(1 for e in doc.get("traceEvents", []) if e.get("ph") != "M")     # "M": lane names
    head("Trace")
    ngs = len(other.get("goroutines", {}))
    say(f"   the four parts ran {figures['ran']:.1f} s; gort.run took {extra:.1f} s more to start and to "
        f"write the trace, the viewer {took:.1f} s",
        f"   {events:,} trace events, {ngs:,} goroutines, {dropped:,} events dropped"
        + (" (the buffers kept the end of the run)" if dropped else ""),
        f"   Chrome trace JSON (ui.perfetto.dev, chrome://tracing): {json_path}",
        f"   open the viewer: file://{html_path}")
    figures.update(html=html_path, json=json_path, dropped=dropped)
    return figures


if __name__ == "__main__":
    run()
