"""gort showcase: watch Go's scheduler work in Python.

Runs: the bootstrap sequence, a concurrent prime sieve, a fan-out/fan-in over
4 Ps (what each P ran, how many Gs were stolen), blocking calls that do not
stall anyone (threads rise and fall), the same fan-out under Go 1.0's single
global queue (lock contention counted), and deadlock detection.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import gort  # noqa: E402


def title(s: str) -> None:
    print(f"\n=== {s} " + "=" * max(0, 66 - len(s)))


# ---------------------------------------------------------------- prime sieve (Go's classic)

async def generate(ch: gort.Chan[int]) -> None:
    i = 2
    while True:
        await ch.send(i)
        i += 1


async def filter_(inp: gort.Chan[int], out: gort.Chan[int], prime: int) -> None:
    async for i in inp:
        if i % prime:
            await out.send(i)


async def sieve(n: int) -> list[int]:
    ch: gort.Chan[int] = gort.Chan()
    gort.go(generate, ch)
    primes = []
    for _ in range(n):
        prime = await ch.recv()
        assert prime is not None           # None only from a closed channel
        primes.append(prime)
        ch1: gort.Chan[int] = gort.Chan()
        gort.go(filter_, ch, ch1, prime)
        ch = ch1
    return primes


# ---------------------------------------------------------------- fan-out / fan-in

async def fan(workers: int, jobs: int) -> dict[str, Any]:
    work: gort.Chan[int] = gort.Chan(64)
    results: gort.Chan[int] = gort.Chan(64)
    threads: set[int] = set()

    async def worker() -> None:
        async for n in work:
            threads.add(threading.get_ident())
            s = 0
            for k in range(2000):          # some CPU per job
                s += k * n
            if n % 10 == 0:
                await gort.gosched()
            await results.send(n)

    async def feeder() -> None:
        for n in range(jobs):
            await work.send(n)
        work.close()

    for _ in range(workers):
        gort.go(worker)
    gort.go(feeder)
    total = 0
    for _ in range(jobs):
        v = await results.recv()
        assert v is not None               # results is never closed
        total += v
    st = gort.stats()
    st["sum"] = total
    st["os_threads_used"] = len(threads)
    return st


# ---------------------------------------------------------------- blocking calls

async def blocking() -> dict[str, Any]:
    out: gort.Chan[int] = gort.Chan(100)
    peak = [0]

    async def sleeper(i: int) -> None:
        time.sleep(0.1)                    # a plain blocking call, not even marked
        await out.send(i)

    async def watch() -> None:
        for _ in range(40):
            peak[0] = max(peak[0], gort.num_thread())
            await gort.sleep(0.005)
    before = gort.num_thread()
    gort.go(watch)
    t0 = time.monotonic()
    for i in range(100):
        gort.go(sleeper, i)
    for _ in range(100):
        await out.recv()
    wall = time.monotonic() - t0
    t1 = time.monotonic()
    for i in range(100):
        gort.go(lambda_syscall, i, out)
    for _ in range(100):
        await out.recv()
    return {"unmarked_wall": wall, "syscall_wall": time.monotonic() - t1, "threads_before": before,
            "threads_peak": peak[0], "stats": gort.stats()}


async def lambda_syscall(i: int, out: gort.Chan[int]) -> None:
    await gort.syscall(time.sleep, 0.1)
    await out.send(i)


async def deadlocked() -> None:
    ch: gort.Chan[int] = gort.Chan()

    async def waiter() -> None:
        await ch.recv()
    gort.go(waiter)
    await ch.recv()


def main() -> None:
    title("1. Bootstrap (Go: schedinit -> newproc(main) -> mstart -> schedule)")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  [gort] %(message)s"))
    log = logging.getLogger("gort")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)

    async def hello() -> str:
        return f"main goroutine id {gort.goid()}, GOMAXPROCS={gort.gomaxprocs()}"
    print(" ", gort.run(hello))
    log.removeHandler(handler)
    log.setLevel(logging.WARNING)

    title("2. Concurrent prime sieve (one goroutine per prime)")
    primes = gort.run(sieve, 25, procs=2)
    print("  first 25 primes:", primes)

    title("3. Fan-out / fan-in: 16 workers, 4,000 jobs on 4 Ps")
    st = gort.run(fan, 16, 4000, procs=4)
    print(f"  sum of results: {st['sum']} (expected {sum(range(4000))})")
    print(f"  {'P':>3} {'status':>8} {'schedtick':>10} {'stolen Gs':>10}")
    for p in st["ps"]:
        print(f"  {p['id']:>3} {p['status']:>8} {p['schedtick']:>10} {p['stolen']:>10}")
    print(f"  steals: {st['steals']}, OS threads (Ms): {st['threads']}, "
          f"goroutines resumed on {st['os_threads_used']} different threads")
    print(f"  M wake-ups by startm: {st['mwakeups']}, M parks by stopm: {st['mparks']} "
          "(spinning Ms found work, or gave up their P and slept on their note)")

    title("4. Blocking calls never stall gort (100 x time.sleep(0.1))")
    b = gort.run(blocking, procs=2)
    print(f"  unmarked time.sleep: {b['unmarked_wall']:.2f} s wall (a stalled worker: 10 s)")
    print(f"  via gort.syscall:    {b['syscall_wall']:.2f} s wall")
    print(f"  threads: {b['threads_before']} before, peak {b['threads_peak']} while blocked; "
          f"P hand-offs {b['stats']['handoffs']}, retakes {b['stats']['retakes']}")

    title("5. Why P? Go 1.0's one global queue versus per-P queues (same fan-out)")
    os.environ["GORT_LOCKSTATS"] = "1"
    got = {}
    for mode, label in (("global", "Go 1.0: one global queue"), ("gmp", "GMP: per-P queues")):
        os.environ["GORT_SCHED"] = mode
        t0 = time.perf_counter()
        st = gort.run(fan, 16, 4000, procs=4)
        got[mode] = (time.perf_counter() - t0, st)
        print(f"  {label:26} {got[mode][0]:6.3f} s  sched.lock taken {st['lock_acquires']:6}"
              f" times, {st['lock_contended']:5} of them contended, {st['steals']:4} steals")
    del os.environ["GORT_SCHED"], os.environ["GORT_LOCKSTATS"]
    (tg, g), (tp, p) = got["global"], got["gmp"]
    print(f"  P took sched.lock {g['lock_acquires'] / max(1, p['lock_acquires']):.1f}x less often"
          if p["lock_acquires"] < g["lock_acquires"] else "  P did not take sched.lock less often this run")
    if gort.program.gil_enabled():
        print(f"  wall time: {tp:.3f} s vs {tg:.3f} s. With the GIL one thread runs Python at a time, so the "
              "lock is rarely contended and costs little time either way; the gain shows in the counts, "
              "and in time without the GIL (python -m gort explain why-p).")
    else:
        print(f"  wall time: {tp:.3f} s with P vs {tg:.3f} s with one global queue "
              "(python -m gort explain why-p repeats it and explains).")

    title("6. Deadlock detection (Go's checkdead)")
    try:
        gort.run(deadlocked)
    except gort.Deadlock as e:
        for line in str(e).splitlines()[:8]:
            print("  " + line)


if __name__ == "__main__":
    main()
