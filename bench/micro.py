"""Micro-benchmarks of single operations: uncontended Mutex lock+unlock, WaitGroup add+done.

    PYTHONPATH=. python bench/micro.py

Medians of 5 runs of 300,000 operations in one goroutine (procs=1); the empty
loop is printed for reference (it is not subtracted).
"""
from __future__ import annotations

import statistics
import time

import gort

N = 300_000


async def bench() -> tuple[float, float, float]:
    mu = gort.Mutex()
    t0 = time.perf_counter()
    for _ in range(N):
        await mu.lock()
        mu.unlock()
    t1 = time.perf_counter()
    for _ in range(N):
        pass
    t2 = time.perf_counter()
    wg = gort.WaitGroup()
    for _ in range(N):
        wg.add(1)
        wg.done()
    t3 = time.perf_counter()
    return (t1 - t0) / N * 1e9, (t2 - t1) / N * 1e9, (t3 - t2) / N * 1e9


def main() -> None:
    runs = [gort.run(bench, procs=1) for _ in range(5)]
    names = ("Mutex lock+unlock", "empty loop", "WaitGroup add+done")
    for i, name in enumerate(names):
        print(f"{name:20} {statistics.median(r[i] for r in runs):8.0f} ns")


if __name__ == "__main__":
    main()
