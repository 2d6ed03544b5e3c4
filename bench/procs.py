"""GOMAXPROCS study: W0-W3, a CPU-bound and a blocking workload at procs=1 and procs=2.

    PYTHONPATH=. python bench/procs.py [--repeat 3]

Each (workload, procs) runs in its own subprocess; the table shows medians.  This
is the measurement behind gort's default GOMAXPROCS (README, "Choosing GOMAXPROCS").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import gort

N0, N1, N2, HOPS, STAGES = 200_000, 100_000, 50_000, 2_000, 100


async def w0() -> float:
    wg = gort.WaitGroup()

    async def y() -> None:
        for _ in range(N0):
            await gort.gosched()
    t0 = time.perf_counter()
    wg.go(y)
    wg.go(y)
    await wg.wait()
    return (time.perf_counter() - t0) / (2 * N0) * 1e9


async def w1() -> float:
    wg = gort.WaitGroup()

    async def f() -> None:
        wg.done()
    t0 = time.perf_counter()
    for _ in range(N1):
        wg.add(1)
        gort.go(f)
    await wg.wait()
    return (time.perf_counter() - t0) / N1 * 1e6


async def w2() -> float:
    a, b = gort.Chan(), gort.Chan()

    async def pong() -> None:
        for _ in range(N2):
            await b.send(await a.recv())
    gort.go(pong)
    t0 = time.perf_counter()
    for i in range(N2):
        await a.send(i)
        await b.recv()
    return (time.perf_counter() - t0) / N2 * 1e6


async def w3() -> float:
    first = c = gort.Chan()

    async def fwd(i: gort.Chan, o: gort.Chan) -> None:
        async for v in i:
            await o.send(v)
        o.close()
    for _ in range(STAGES):
        o = gort.Chan()
        gort.go(fwd, c, o)
        c = o

    async def feed() -> None:
        for i in range(HOPS):
            await first.send(i)
        first.close()
    t0 = time.perf_counter()
    gort.go(feed)
    async for _ in c:
        pass
    return (time.perf_counter() - t0) / (HOPS * STAGES) * 1e9


def _work(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i
    return s


async def cpu() -> float:
    wg = gort.WaitGroup()

    async def g() -> None:
        for _ in range(10):
            _work(300_000)
            await gort.gosched()
    t0 = time.perf_counter()
    for _ in range(4):
        wg.go(g)
    await wg.wait()
    return time.perf_counter() - t0


async def blocking() -> float:
    wg = gort.WaitGroup()

    async def b() -> None:
        time.sleep(0.1)
    t0 = time.perf_counter()
    for _ in range(100):
        wg.go(b)
    await wg.wait()
    return time.perf_counter() - t0


WORKLOADS = {"W0 ns/yield": w0, "W1 us/goroutine": w1, "W2 us/round trip": w2,
             "W3 ns/hop": w3, "cpu 4x3M s": cpu, "100 time.sleep s": blocking}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(gort.run(WORKLOADS[sys.argv[2]], procs=int(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    print(f"# {sys.version.split()[0]} gil={gort.program.gil_enabled()} ncpu={os.cpu_count()}")
    print(f"{'workload':18} {'procs=1':>10} {'procs=2':>10}")
    for name in WORKLOADS:
        row = []
        for procs in (1, 2):
            vals = [json.loads(subprocess.run([sys.executable, __file__, "--child", name, str(procs)],
                                              capture_output=True, text=True, env=env, check=True).stdout)
                    for _ in range(args.repeat)]
            row.append(statistics.median(vals))
        print(f"{name:18} {row[0]:10.3f} {row[1]:10.3f}")


if __name__ == "__main__":
    main()
