"""The benchmark workloads, one function per (workload, runtime family).

Run one measurement in this process and print it as a `RESULT {json}` line:

    python bench/workloads.py W0 gort-p1 [--quick] [--cprofile FILE]

bench/run.py starts one such process per workload x runtime x repeat, so
gevent never monkeypatches (nor even imports into) another run and every
memory measurement (W4) starts from a fresh interpreter.  Nothing here
monkeypatches: gevent runs are deliberately unpatched (S1 measures exactly a
plain `time.sleep`).

Every timing is taken inside the program (after the runtime has started, before
it shuts down), from the first spawn to the last completion, with
time.perf_counter().  Each workload returns {metric: value} in the unit of
`UNITS[metric]`; all metrics are lower-is-better.
"""
from __future__ import annotations

import collections
import gc
import hashlib
import inspect
import json
import os
import random
import sys
import threading
import time
import types
from typing import Any, Callable

# ------------------------------------------------------------------ sizes

FULL = {
    "W0": 1_000_000,   # gosched per goroutine (2 goroutines)
    "W1": 100_000,     # goroutines
    "W2": 200_000,     # round trips
    "W3": 10_000,      # ints through the pipeline
    "W3_stages": 100,
    "W4": 100_000,     # parked goroutines
    "W5": 100_000,     # sleeping goroutines
    "W5_max": 0.1,     # uniform 0..100 ms
    "S1": 100,         # goroutines doing time.sleep(0.1)
    "S1_sleep": 0.1,
    "S2": 100,
    "S2b": 100_000,    # syscall round trips
    "S3": 4,           # hashing goroutines
    "S3_mb": 64,
}
QUICK = dict(FULL, W0=100_000, W1=20_000, W2=20_000, W3=1_000, W4=20_000, W5=20_000,
             S1=20, S2=20, S2b=10_000, S3_mb=16)

UNITS = {
    "W0": "ns/yield", "W1": "us/goroutine", "W2": "us/round trip", "W3": "ns/hop",
    "W4": "B/goroutine", "W4x": "B/goroutine", "W5": "s", "S1": "s", "S2": "s",
    "S2b": "us/call", "S3": "s", "S3s": "s",
}

# which metrics a workload produces (W4 also reports W4x: the task alone,
# without its channel)
METRICS = {"W4": ["W4", "W4x"]}

# gort-pN: gort as installed (the C accelerator when built); gortpy-pN: the same with
# GORT_PUREPY=1, the pure-Python modules (issue #11)
RUNTIMES_ALL = ["gort-p1", "gort-p2", "gortpy-p1", "gortpy-p2", "floor", "asyncio", "uvloop", "trio", "gevent"]
RUNTIMES = {
    "W0": RUNTIMES_ALL,
    "W1": RUNTIMES_ALL,
    "W2": RUNTIMES_ALL,
    "W3": RUNTIMES_ALL,
    "W4": RUNTIMES_ALL,
    "W5": ["gort-p1", "gort-p2", "gortpy-p1", "gortpy-p2", "asyncio", "uvloop", "trio", "gevent"],
    "S1": ["gort-p1", "gort-p2", "gortpy-p1", "gortpy-p2", "asyncio", "uvloop", "trio", "gevent"],
    "S2": ["gort-p1", "gort-p2", "gortpy-p1", "gortpy-p2", "threads", "asyncio", "uvloop", "trio", "gevent"],
    "S2b": ["gort-p1", "gort-p2", "gortpy-p1", "gortpy-p2", "floor", "asyncio", "uvloop", "trio", "gevent"],
    "S3": ["gort-p1", "gort-p2", "gortpy-p1", "gortpy-p2", "floor"],
    "S3s": ["gort-p1", "gort-p2", "gortpy-p1", "gortpy-p2", "threads", "asyncio", "uvloop", "trio", "gevent"],
}
WORKLOADS = list(RUNTIMES)

DESCRIPTIONS = {
    "W0": "2 goroutines x N yields (gosched / sleep(0)); per yield",
    "W1": "spawn N goroutines that signal completion; per goroutine",
    "W2": "ping-pong over 2 unbuffered channels; per round trip",
    "W3": "100-stage pipeline of unbuffered channels; per hop",
    "W4": "RSS per goroutine parked on its own channel recv (goroutine + channel)",
    "W4x": "as W4, the goroutine alone (RSS after parking minus RSS after making the channels)",
    "W5": "N goroutines sleep U(0,100ms); wall s to the last wake-up",
    "S1": "100 goroutines x raw time.sleep(0.1); wall s",
    "S2": "100 goroutines x gort.syscall(time.sleep, 0.1) (peers: their thread offload); wall s",
    "S2b": "await gort.syscall(f) with f returning at once (peers: thread offload); per call",
    "S3": "4 goroutines hash 64 MB each with sha256 in the goroutine (floor: serial); wall s",
    "S3s": "as S3 via gort.syscall (peers: thread offload; threads: 4 raw threads); wall s",
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def quiet_rss() -> int:
    gc.collect()
    gc.collect()
    return rss_bytes()


# ================================================================== floor
# The least a single-threaded Python scheduler can do: a deque of coroutines
# driven by coro.send(None), and a rendezvous channel.  No locks, no timers,
# no fairness: a lower bound on the interpreter cost of each operation.

_PARK = object()


class Floor:
    def __init__(self) -> None:
        self.ready: collections.deque = collections.deque()
        self.cur: Any = None

    def go(self, coro: Any) -> None:
        self.ready.append(coro)

    def run(self) -> None:
        ready = self.ready
        pop = ready.popleft
        push = ready.append
        while ready:
            c = pop()
            self.cur = c
            try:
                r = c.send(None)
            except StopIteration:
                continue
            if r is None:
                push(c)


FLOOR = Floor()


@types.coroutine
def fyield() -> Any:
    yield None


class FChan:
    """Unbuffered rendezvous channel for the floor scheduler."""

    __slots__ = ("recvq", "sendq", "closed")

    def __init__(self) -> None:
        self.recvq: collections.deque = collections.deque()
        self.sendq: collections.deque = collections.deque()
        self.closed = False

    @types.coroutine
    def send(self, v: Any) -> Any:
        if self.recvq:
            c, box = self.recvq.popleft()
            box[0] = v
            FLOOR.ready.append(c)
            return
        self.sendq.append((FLOOR.cur, v))
        yield _PARK

    @types.coroutine
    def recv(self) -> Any:
        if self.sendq:
            c, v = self.sendq.popleft()
            FLOOR.ready.append(c)
            return v
        if self.closed:
            return None
        box = [None]
        self.recvq.append((FLOOR.cur, box))
        yield _PARK
        return box[0]

    def close(self) -> None:
        self.closed = True
        while self.recvq:
            c, box = self.recvq.popleft()
            FLOOR.ready.append(c)


def floor_W0(n: int, cfg: dict) -> dict:
    async def yielder() -> None:
        for _ in range(n):
            await fyield()
    t0 = time.perf_counter()
    FLOOR.go(yielder())
    FLOOR.go(yielder())
    FLOOR.run()
    return {"W0": (time.perf_counter() - t0) / (2 * n) * 1e9}


def floor_W1(n: int, cfg: dict) -> dict:
    left = [n]

    async def worker() -> None:
        left[0] -= 1
    t0 = time.perf_counter()
    for _ in range(n):
        FLOOR.go(worker())
    FLOOR.run()
    assert left[0] == 0
    return {"W1": (time.perf_counter() - t0) / n * 1e6}


def floor_W2(n: int, cfg: dict) -> dict:
    ping, pong = FChan(), FChan()

    async def pinger() -> None:
        for i in range(n):
            await ping.send(i)
            await pong.recv()

    async def ponger() -> None:
        for _ in range(n):
            v = await ping.recv()
            await pong.send(v)
    t0 = time.perf_counter()
    FLOOR.go(pinger())
    FLOOR.go(ponger())
    FLOOR.run()
    return {"W2": (time.perf_counter() - t0) / n * 1e6}


def floor_W3(n: int, cfg: dict) -> dict:
    stages = cfg["W3_stages"]
    chans = [FChan() for _ in range(stages + 1)]
    got = [0]

    async def source() -> None:
        c = chans[0]
        for i in range(n):
            await c.send(i)
        await c.send(None)

    async def stage(cin: FChan, cout: FChan) -> None:
        while True:
            v = await cin.recv()
            await cout.send(v)
            if v is None:
                return

    async def sink() -> None:
        c = chans[-1]
        while (await c.recv()) is not None:
            got[0] += 1
    t0 = time.perf_counter()
    FLOOR.go(source())
    for i in range(stages):
        FLOOR.go(stage(chans[i], chans[i + 1]))
    FLOOR.go(sink())
    FLOOR.run()
    assert got[0] == n
    return {"W3": (time.perf_counter() - t0) / (n * stages) * 1e9}


def floor_W4(n: int, cfg: dict) -> dict:
    async def waiter(c: FChan) -> None:
        await c.recv()
    base = quiet_rss()
    chans = [FChan() for _ in range(n)]
    mid = quiet_rss()
    for c in chans:
        FLOOR.go(waiter(c))
    FLOOR.run()                       # all park on their channel
    after = quiet_rss()
    for c in chans:
        c.close()
    FLOOR.run()
    return {"W4": (after - base) / n, "W4x": (after - mid) / n}


def floor_S2b(n: int, cfg: dict) -> dict:
    f = _nop
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return {"S2b": (time.perf_counter() - t0) / n * 1e6}


def _nop() -> None:
    return None


def floor_S3(n: int, cfg: dict) -> dict:
    data = _hash_data(cfg)
    t0 = time.perf_counter()
    for _ in range(n):
        hashlib.sha256(data).digest()
    return {"S3": time.perf_counter() - t0}


def _hash_data(cfg: dict) -> bytes:
    return bytes(range(256)) * (cfg["S3_mb"] * 4096)


def threads_S2(n: int, cfg: dict) -> dict:
    d = cfg["S1_sleep"]
    ts = [threading.Thread(target=time.sleep, args=(d,)) for _ in range(n)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"S2": time.perf_counter() - t0}


def threads_S3s(n: int, cfg: dict) -> dict:
    data = _hash_data(cfg)
    ts = [threading.Thread(target=lambda: hashlib.sha256(data).digest()) for _ in range(n)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"S3s": time.perf_counter() - t0}


# ================================================================== gort

def _gort() -> Any:
    import gort
    return gort


def _gort_done(n: int) -> tuple[Any, Callable[..., Any], Callable[[], Any], str]:
    """A completion signal for n goroutines: (token, async done(token), async wait(), mechanism).

    gort.WaitGroup when the package has it, else a buffered channel of cap n.
    """
    gort = _gort()
    if hasattr(gort, "WaitGroup"):
        wg = gort.WaitGroup()
        wg.add(n)
        if inspect.iscoroutinefunction(type(wg).done):
            async def done(w: Any) -> None:
                await w.done()
        else:
            async def done(w: Any) -> None:
                w.done()

        async def wait() -> None:
            await wg.wait()
        return wg, done, wait, "WaitGroup"
    ch = gort.Chan(n)

    async def done_ch(c: Any) -> None:
        await c.send(None)

    async def wait_ch() -> None:
        recv = ch.recv
        for _ in range(n):
            await recv()
    return ch, done_ch, wait_ch, f"Chan(cap={n})"


def gort_W0(n: int, cfg: dict) -> Any:
    gort = _gort()
    gosched = gort.gosched

    async def main() -> dict:
        done = gort.Chan(2)

        async def yielder() -> None:
            for _ in range(n):
                await gosched()
            await done.send(None)
        t0 = time.perf_counter()
        gort.go(yielder)
        gort.go(yielder)
        await done.recv()
        await done.recv()
        return {"W0": (time.perf_counter() - t0) / (2 * n) * 1e9}
    return main


def gort_W1(n: int, cfg: dict) -> Any:
    gort = _gort()

    async def main() -> dict:
        tok, done, wait, mech = _gort_done(n)
        go = gort.go
        t0 = time.perf_counter()
        for _ in range(n):
            go(done, tok)
        await wait()
        return {"W1": (time.perf_counter() - t0) / n * 1e6, "_mech": mech}
    return main


def gort_W2(n: int, cfg: dict) -> Any:
    gort = _gort()

    async def main() -> dict:
        ping, pong = gort.Chan(), gort.Chan()

        async def ponger() -> None:
            for _ in range(n):
                v = await ping.recv()
                await pong.send(v)
        t0 = time.perf_counter()
        gort.go(ponger)
        for i in range(n):
            await ping.send(i)
            await pong.recv()
        return {"W2": (time.perf_counter() - t0) / n * 1e6}
    return main


def gort_W3(n: int, cfg: dict) -> Any:
    gort = _gort()
    stages = cfg["W3_stages"]

    async def main() -> dict:
        chans = [gort.Chan() for _ in range(stages + 1)]

        async def source(c: Any) -> None:
            for i in range(n):
                await c.send(i)
            await c.send(None)

        async def stage(cin: Any, cout: Any) -> None:
            while True:
                v = await cin.recv()
                await cout.send(v)
                if v is None:
                    return
        t0 = time.perf_counter()
        gort.go(source, chans[0])
        for i in range(stages):
            gort.go(stage, chans[i], chans[i + 1])
        c = chans[-1]
        got = 0
        while (await c.recv()) is not None:
            got += 1
        assert got == n, got
        return {"W3": (time.perf_counter() - t0) / (n * stages) * 1e9}
    return main


def gort_W4(n: int, cfg: dict) -> Any:
    gort = _gort()

    async def main() -> dict:
        tok, done, wait, mech = _gort_done(n)

        async def waiter(c: Any, t: Any) -> None:
            await c.recv()
            await done(t)
        # warm the free lists/caches a little so the base is not too low
        base = quiet_rss()
        chans = [gort.Chan() for _ in range(n)]
        mid = quiet_rss()
        for c in chans:
            gort.go(waiter, c, tok)
        for _ in range(5):
            await gort.gosched()
        ng = gort.num_goroutine()
        after = quiet_rss()
        t0 = time.perf_counter()
        for c in chans:
            c.close()
        await wait()
        return {"W4": (after - base) / n, "W4x": (after - mid) / n, "_parked": ng - 1,
                "_finish_s": time.perf_counter() - t0, "_mech": mech}
    return main


def gort_W5(n: int, cfg: dict) -> Any:
    gort = _gort()
    rnd = random.Random(5)
    ds = [rnd.uniform(0.0, cfg["W5_max"]) for _ in range(n)]

    async def main() -> dict:
        tok, done, wait, mech = _gort_done(n)
        last = [0.0]
        sleep = gort.sleep
        pc = time.perf_counter

        async def sleeper(d: float, t: Any) -> None:
            await sleep(d)
            now = pc()
            if now > last[0]:
                last[0] = now
            await done(t)
        go = gort.go
        t0 = pc()
        for d in ds:
            go(sleeper, d, tok)
        await wait()
        return {"W5": last[0] - t0, "_wait_s": pc() - t0, "_mech": mech}
    return main


def gort_S1(n: int, cfg: dict) -> Any:
    gort = _gort()
    d = cfg["S1_sleep"]

    async def main() -> dict:
        tok, done, wait, mech = _gort_done(n)

        async def sleeper(t: Any) -> None:
            time.sleep(d)
            await done(t)
        t0 = time.perf_counter()
        for _ in range(n):
            gort.go(sleeper, tok)
        await wait()
        return {"S1": time.perf_counter() - t0, "_threads": gort.num_thread(), "_mech": mech}
    return main


def gort_S2(n: int, cfg: dict) -> Any:
    gort = _gort()
    d = cfg["S1_sleep"]

    async def main() -> dict:
        tok, done, wait, mech = _gort_done(n)

        async def sleeper(t: Any) -> None:
            await gort.syscall(time.sleep, d)
            await done(t)
        t0 = time.perf_counter()
        for _ in range(n):
            gort.go(sleeper, tok)
        await wait()
        return {"S2": time.perf_counter() - t0, "_threads": gort.num_thread(), "_mech": mech}
    return main


def gort_S2b(n: int, cfg: dict) -> Any:
    gort = _gort()

    async def main() -> dict:
        syscall = gort.syscall
        f = _nop
        t0 = time.perf_counter()
        for _ in range(n):
            await syscall(f)
        return {"S2b": (time.perf_counter() - t0) / n * 1e6}
    return main


def _gort_S3(n: int, cfg: dict, via_syscall: bool, key: str) -> Any:
    gort = _gort()
    data = _hash_data(cfg)

    async def main() -> dict:
        tok, done, wait, mech = _gort_done(n)

        async def hasher(t: Any) -> None:
            if via_syscall:
                await gort.syscall(lambda: hashlib.sha256(data).digest())
            else:
                hashlib.sha256(data).digest()
            await done(t)
        t0 = time.perf_counter()
        for _ in range(n):
            gort.go(hasher, tok)
        await wait()
        return {key: time.perf_counter() - t0, "_mech": mech}
    return main


def gort_S3(n: int, cfg: dict) -> Any:
    return _gort_S3(n, cfg, False, "S3")


def gort_S3s(n: int, cfg: dict) -> Any:
    return _gort_S3(n, cfg, True, "S3s")


# ================================================================== asyncio / uvloop
# The same coroutines run on asyncio's default loop and on uvloop.


def aio_W0(n: int, cfg: dict) -> Any:
    import asyncio

    async def main() -> dict:
        async def yielder() -> None:
            sleep = asyncio.sleep
            for _ in range(n):
                await sleep(0)
        t0 = time.perf_counter()
        await asyncio.gather(asyncio.create_task(yielder()), asyncio.create_task(yielder()))
        return {"W0": (time.perf_counter() - t0) / (2 * n) * 1e9}
    return main


class _AioDone:
    """Counter + Event: the closest asyncio analogue of a WaitGroup."""

    def __init__(self, n: int) -> None:
        import asyncio
        self.n = n
        self.ev = asyncio.Event()

    def done(self) -> None:
        self.n -= 1
        if self.n == 0:
            self.ev.set()


def aio_W1(n: int, cfg: dict) -> Any:
    import asyncio

    async def main() -> dict:
        wg = _AioDone(n)

        async def worker() -> None:
            wg.done()
        create = asyncio.get_running_loop().create_task
        t0 = time.perf_counter()
        for _ in range(n):
            create(worker())
        await wg.ev.wait()
        return {"W1": (time.perf_counter() - t0) / n * 1e6}
    return main


def aio_W2(n: int, cfg: dict) -> Any:
    import asyncio

    async def main() -> dict:
        ping: asyncio.Queue = asyncio.Queue(maxsize=1)
        pong: asyncio.Queue = asyncio.Queue(maxsize=1)

        async def ponger() -> None:
            for _ in range(n):
                v = await ping.get()
                await pong.put(v)
        t0 = time.perf_counter()
        t = asyncio.create_task(ponger())
        for i in range(n):
            await ping.put(i)
            await pong.get()
        await t
        return {"W2": (time.perf_counter() - t0) / n * 1e6}
    return main


def aio_W3(n: int, cfg: dict) -> Any:
    import asyncio
    stages = cfg["W3_stages"]

    async def main() -> dict:
        qs: list[asyncio.Queue] = [asyncio.Queue(maxsize=1) for _ in range(stages + 1)]

        async def source(q: Any) -> None:
            for i in range(n):
                await q.put(i)
            await q.put(None)

        async def stage(qin: Any, qout: Any) -> None:
            while True:
                v = await qin.get()
                await qout.put(v)
                if v is None:
                    return
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(source(qs[0]))]
        for i in range(stages):
            tasks.append(asyncio.create_task(stage(qs[i], qs[i + 1])))
        q = qs[-1]
        got = 0
        while (await q.get()) is not None:
            got += 1
        assert got == n
        return {"W3": (time.perf_counter() - t0) / (n * stages) * 1e9}
    return main


def aio_W4(n: int, cfg: dict) -> Any:
    import asyncio

    async def main() -> dict:
        async def waiter(q: Any) -> None:
            await q.get()
        base = quiet_rss()
        qs: list[asyncio.Queue] = [asyncio.Queue(maxsize=1) for _ in range(n)]
        mid = quiet_rss()
        tasks = [asyncio.create_task(waiter(q)) for q in qs]
        for _ in range(5):
            await asyncio.sleep(0)
        after = quiet_rss()
        for q in qs:
            q.put_nowait(None)
        await asyncio.gather(*tasks)
        return {"W4": (after - base) / n, "W4x": (after - mid) / n}
    return main


def aio_W5(n: int, cfg: dict) -> Any:
    import asyncio
    rnd = random.Random(5)
    ds = [rnd.uniform(0.0, cfg["W5_max"]) for _ in range(n)]

    async def main() -> dict:
        wg = _AioDone(n)
        last = [0.0]
        pc = time.perf_counter

        async def sleeper(d: float) -> None:
            await asyncio.sleep(d)
            now = pc()
            if now > last[0]:
                last[0] = now
            wg.done()
        create = asyncio.get_running_loop().create_task
        t0 = pc()
        for d in ds:
            create(sleeper(d))
        await wg.ev.wait()
        return {"W5": last[0] - t0}
    return main


def aio_S1(n: int, cfg: dict) -> Any:
    import asyncio
    d = cfg["S1_sleep"]

    async def main() -> dict:
        async def sleeper() -> None:
            time.sleep(d)
        t0 = time.perf_counter()
        await asyncio.gather(*[asyncio.create_task(sleeper()) for _ in range(n)])
        return {"S1": time.perf_counter() - t0}
    return main


def aio_S2(n: int, cfg: dict) -> Any:
    import asyncio
    d = cfg["S1_sleep"]

    async def main() -> dict:
        async def sleeper() -> None:
            await asyncio.to_thread(time.sleep, d)
        t0 = time.perf_counter()
        await asyncio.gather(*[asyncio.create_task(sleeper()) for _ in range(n)])
        return {"S2": time.perf_counter() - t0}
    return main


def aio_S2b(n: int, cfg: dict) -> Any:
    import asyncio

    async def main() -> dict:
        to_thread = asyncio.to_thread
        f = _nop
        await to_thread(f)    # start the default executor's first thread
        t0 = time.perf_counter()
        for _ in range(n):
            await to_thread(f)
        return {"S2b": (time.perf_counter() - t0) / n * 1e6}
    return main


def aio_S3s(n: int, cfg: dict) -> Any:
    import asyncio
    data = _hash_data(cfg)

    async def main() -> dict:
        t0 = time.perf_counter()
        await asyncio.gather(*[asyncio.to_thread(lambda: hashlib.sha256(data).digest())
                               for _ in range(n)])
        return {"S3s": time.perf_counter() - t0}
    return main


# ================================================================== trio

def trio_W0(n: int, cfg: dict) -> Any:
    import trio

    async def main() -> dict:
        async def yielder() -> None:
            sleep = trio.sleep
            for _ in range(n):
                await sleep(0)
        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(yielder)
            nursery.start_soon(yielder)
        return {"W0": (time.perf_counter() - t0) / (2 * n) * 1e9}
    return main


def trio_W1(n: int, cfg: dict) -> Any:
    import trio

    async def main() -> dict:
        left = [n]

        async def worker() -> None:
            left[0] -= 1
        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            start = nursery.start_soon
            for _ in range(n):
                start(worker)
        assert left[0] == 0
        return {"W1": (time.perf_counter() - t0) / n * 1e6}
    return main


def trio_W2(n: int, cfg: dict) -> Any:
    import trio

    async def main() -> dict:
        ping_s, ping_r = trio.open_memory_channel(0)
        pong_s, pong_r = trio.open_memory_channel(0)

        async def ponger() -> None:
            for _ in range(n):
                v = await ping_r.receive()
                await pong_s.send(v)
        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ponger)
            for i in range(n):
                await ping_s.send(i)
                await pong_r.receive()
        return {"W2": (time.perf_counter() - t0) / n * 1e6}
    return main


def trio_W3(n: int, cfg: dict) -> Any:
    import trio
    stages = cfg["W3_stages"]

    async def main() -> dict:
        chans = [trio.open_memory_channel(0) for _ in range(stages + 1)]

        async def source(s: Any) -> None:
            for i in range(n):
                await s.send(i)
            await s.send(None)

        async def stage(r: Any, s: Any) -> None:
            while True:
                v = await r.receive()
                await s.send(v)
                if v is None:
                    return
        t0 = time.perf_counter()
        got = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(source, chans[0][0])
            for i in range(stages):
                nursery.start_soon(stage, chans[i][1], chans[i + 1][0])
            r = chans[-1][1]
            while (await r.receive()) is not None:
                got += 1
        assert got == n
        return {"W3": (time.perf_counter() - t0) / (n * stages) * 1e9}
    return main


def trio_W4(n: int, cfg: dict) -> Any:
    import trio

    async def main() -> dict:
        async def waiter(r: Any) -> None:
            async for _ in r:
                pass
        res: dict = {}
        base = quiet_rss()
        chans = [trio.open_memory_channel(0) for _ in range(n)]
        mid = quiet_rss()
        async with trio.open_nursery() as nursery:
            for _, r in chans:
                nursery.start_soon(waiter, r)
            for _ in range(5):
                await trio.sleep(0)
            after = quiet_rss()
            res = {"W4": (after - base) / n, "W4x": (after - mid) / n}
            for s, _ in chans:
                s.close()
        return res
    return main


def trio_W5(n: int, cfg: dict) -> Any:
    import trio
    rnd = random.Random(5)
    ds = [rnd.uniform(0.0, cfg["W5_max"]) for _ in range(n)]

    async def main() -> dict:
        last = [0.0]
        pc = time.perf_counter

        async def sleeper(d: float) -> None:
            await trio.sleep(d)
            now = pc()
            if now > last[0]:
                last[0] = now
        t0 = pc()
        async with trio.open_nursery() as nursery:
            for d in ds:
                nursery.start_soon(sleeper, d)
        return {"W5": last[0] - t0}
    return main


def trio_S1(n: int, cfg: dict) -> Any:
    import trio
    d = cfg["S1_sleep"]

    async def main() -> dict:
        async def sleeper() -> None:
            time.sleep(d)
        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(sleeper)
        return {"S1": time.perf_counter() - t0}
    return main


def trio_S2(n: int, cfg: dict) -> Any:
    import trio
    d = cfg["S1_sleep"]

    async def main() -> dict:
        async def sleeper() -> None:
            await trio.to_thread.run_sync(time.sleep, d)
        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(sleeper)
        return {"S2": time.perf_counter() - t0}
    return main


def trio_S2b(n: int, cfg: dict) -> Any:
    import trio

    async def main() -> dict:
        run_sync = trio.to_thread.run_sync
        f = _nop
        await run_sync(f)
        t0 = time.perf_counter()
        for _ in range(n):
            await run_sync(f)
        return {"S2b": (time.perf_counter() - t0) / n * 1e6}
    return main


def trio_S3s(n: int, cfg: dict) -> Any:
    import trio
    data = _hash_data(cfg)

    async def main() -> dict:
        async def hasher() -> None:
            await trio.to_thread.run_sync(lambda: hashlib.sha256(data).digest())
        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(hasher)
        return {"S3s": time.perf_counter() - t0}
    return main


# ================================================================== gevent (never monkeypatched)

def gevent_W0(n: int, cfg: dict) -> dict:
    import gevent

    def yielder() -> None:
        sleep = gevent.sleep
        for _ in range(n):
            sleep(0)
    t0 = time.perf_counter()
    gevent.joinall([gevent.spawn(yielder), gevent.spawn(yielder)])
    return {"W0": (time.perf_counter() - t0) / (2 * n) * 1e9}


def gevent_W1(n: int, cfg: dict) -> dict:
    import gevent
    from gevent.event import Event
    left = [n]
    ev = Event()

    def worker() -> None:
        left[0] -= 1
        if left[0] == 0:
            ev.set()
    spawn = gevent.spawn
    t0 = time.perf_counter()
    for _ in range(n):
        spawn(worker)
    ev.wait()
    return {"W1": (time.perf_counter() - t0) / n * 1e6}


def gevent_W2(n: int, cfg: dict) -> dict:
    import gevent
    from gevent.queue import Channel
    ping, pong = Channel(), Channel()

    def ponger() -> None:
        for _ in range(n):
            v = ping.get()
            pong.put(v)
    t0 = time.perf_counter()
    g = gevent.spawn(ponger)
    for i in range(n):
        ping.put(i)
        pong.get()
    g.join()
    return {"W2": (time.perf_counter() - t0) / n * 1e6}


def gevent_W3(n: int, cfg: dict) -> dict:
    import gevent
    from gevent.queue import Channel
    stages = cfg["W3_stages"]
    chans = [Channel() for _ in range(stages + 1)]

    def source(c: Any) -> None:
        for i in range(n):
            c.put(i)
        c.put(None)

    def stage(cin: Any, cout: Any) -> None:
        while True:
            v = cin.get()
            cout.put(v)
            if v is None:
                return
    t0 = time.perf_counter()
    gs = [gevent.spawn(source, chans[0])]
    for i in range(stages):
        gs.append(gevent.spawn(stage, chans[i], chans[i + 1]))
    c = chans[-1]
    got = 0
    while c.get() is not None:
        got += 1
    assert got == n
    return {"W3": (time.perf_counter() - t0) / (n * stages) * 1e9}


def gevent_W4(n: int, cfg: dict) -> dict:
    import gevent
    from gevent.queue import Channel

    def waiter(c: Any) -> None:
        c.get()
    base = quiet_rss()
    chans = [Channel() for _ in range(n)]
    mid = quiet_rss()
    gs = [gevent.spawn(waiter, c) for c in chans]
    for _ in range(5):
        gevent.sleep(0)
    after = quiet_rss()
    gevent.killall(gs)
    return {"W4": (after - base) / n, "W4x": (after - mid) / n}


def gevent_W5(n: int, cfg: dict) -> dict:
    import gevent
    rnd = random.Random(5)
    ds = [rnd.uniform(0.0, cfg["W5_max"]) for _ in range(n)]
    last = [0.0]
    pc = time.perf_counter

    def sleeper(d: float) -> None:
        gevent.sleep(d)
        now = pc()
        if now > last[0]:
            last[0] = now
    t0 = pc()
    gs = [gevent.spawn(sleeper, d) for d in ds]
    gevent.joinall(gs)
    return {"W5": last[0] - t0}


def gevent_S1(n: int, cfg: dict) -> dict:
    import gevent
    d = cfg["S1_sleep"]
    t0 = time.perf_counter()
    gevent.joinall([gevent.spawn(time.sleep, d) for _ in range(n)])   # unpatched time.sleep
    return {"S1": time.perf_counter() - t0}


def gevent_S2(n: int, cfg: dict) -> dict:
    import gevent
    d = cfg["S1_sleep"]
    pool = gevent.get_hub().threadpool
    t0 = time.perf_counter()
    gevent.joinall([gevent.spawn(pool.apply, time.sleep, (d,)) for _ in range(n)])
    return {"S2": time.perf_counter() - t0}


def gevent_S2b(n: int, cfg: dict) -> dict:
    import gevent
    pool = gevent.get_hub().threadpool
    f = _nop
    pool.apply(f)
    t0 = time.perf_counter()
    for _ in range(n):
        pool.apply(f)
    return {"S2b": (time.perf_counter() - t0) / n * 1e6}


def gevent_S3s(n: int, cfg: dict) -> dict:
    import gevent
    data = _hash_data(cfg)
    pool = gevent.get_hub().threadpool
    t0 = time.perf_counter()
    gevent.joinall([gevent.spawn(pool.apply, lambda: hashlib.sha256(data).digest())
                    for _ in range(n)])
    return {"S3s": time.perf_counter() - t0}


# ================================================================== driver

def size_for(workload: str, cfg: dict) -> int:
    return cfg["S3"] if workload in ("S3", "S3s") else cfg[workload]


def runtime_version(rt: str) -> str:
    try:
        if rt.startswith("gort"):
            return _gort().__version__
        if rt in ("asyncio", "floor", "threads"):
            return sys.version.split()[0]
        mod = __import__(rt)
        return getattr(mod, "__version__", "?")
    except Exception as e:   # noqa: BLE001
        return f"? ({e})"


def measure(workload: str, rt: str, quick: bool = False, cprofile: str = "") -> dict:
    cfg = QUICK if quick else FULL
    n = size_for(workload, cfg)
    fam = {"uvloop": "aio", "asyncio": "aio"}.get(rt, rt.split("-")[0])
    if fam == "gortpy":                  # gort's pure-Python modules: set before gort is imported
        os.environ["GORT_PUREPY"] = "1"
        fam = "gort"
    fn = globals().get(f"{fam}_{workload}")
    if fn is None:
        raise SystemExit(f"no {workload} for {rt}")
    prof = None
    if cprofile:
        import cProfile
        prof = cProfile.Profile()
    if fam == "gort":
        gort = _gort()
        procs = int(rt.split("-p")[1])
        main = fn(n, cfg)
        if prof is not None:
            prof.enable()
        res = gort.run(main, procs=procs)
    elif fam == "aio":
        main = fn(n, cfg)
        if rt == "uvloop":
            import uvloop
            if prof is not None:
                prof.enable()
            res = uvloop.run(main())
        else:
            import asyncio
            if prof is not None:
                prof.enable()
            res = asyncio.run(main())
    elif fam == "trio":
        import trio
        main = fn(n, cfg)
        if prof is not None:
            prof.enable()
        res = trio.run(main)
    else:
        if prof is not None:
            prof.enable()
        res = fn(n, cfg)
    if prof is not None:
        prof.disable()
        prof.dump_stats(cprofile)
    res = dict(res)
    extra = {k[1:]: v for k, v in res.items() if k.startswith("_")}
    metrics = {k: v for k, v in res.items() if not k.startswith("_")}
    out = {"workload": workload, "runtime": rt, "n": n, "metrics": metrics, "extra": extra,
           "version": runtime_version(rt), "python": sys.version.split()[0]}
    if fam == "gort":
        out["gort_file"] = _gort().__file__
        out["accelerated"] = _gort().accelerated()
    return out


def main(argv: list[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=WORKLOADS)
    ap.add_argument("runtime")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cprofile", default="", help="write cProfile stats of the run to this file")
    a = ap.parse_args(argv)
    out = measure(a.workload, a.runtime, a.quick, a.cprofile)
    sys.stdout.write("RESULT " + json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
