"""What GOMAXPROCS caps in gort: CPU-bound goroutines that never await.

    PYTHONPATH=. python bench/busy.py [--repeat 3]

Four goroutines each run a pure-Python loop (no await) while a fifth ticks
every 5 ms and records its worst gap.  Each (procs, busyhandoff) runs in its own
subprocess:

- busyhandoff=1 (gort's default): a goroutine that runs a whole time slice
  without reaching a trap is treated as blocked and its P handed off, so the
  others keep running: the ticker's gap stays near the time slice, and on a
  free-threaded build the loops run in parallel on more threads than GOMAXPROCS.
- busyhandoff=0 (GORT_DEBUG=busyhandoff=0): sysmon tells a goroutine executing
  Python (its frame moves between two looks) from one blocked in a call, and
  leaves the busy one its P, as Go's GOMAXPROCS would cap it; the others wait
  until it awaits (Go would preempt it asynchronously; Python cannot).

The table shows medians: wall time, the serial time of the same loops, Ms
created, and the ticker's worst gap.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

N_LOOP = 3_000_000
N_HOGS = 4


def spin(n: int) -> int:
    x = 0
    for i in range(n):
        x += i & 7
    return x


def child(procs: int) -> dict:
    import gort

    async def main() -> dict:
        done = gort.Chan(N_HOGS)
        stop = [False]
        worst = [0.0]

        async def hog() -> None:
            spin(N_LOOP)
            await done.send(1)

        last = [time.monotonic()]

        async def ticker() -> None:
            while not stop[0]:
                await gort.sleep(0.005)
                now = time.monotonic()
                worst[0] = max(worst[0], now - last[0])
                last[0] = now

        gort.go(ticker)
        await gort.sleep(0.02)
        t0 = time.perf_counter()
        for _ in range(N_HOGS):
            gort.go(hog)
        for _ in range(N_HOGS):
            await done.recv()
        wall = time.perf_counter() - t0
        worst[0] = max(worst[0], time.monotonic() - last[0])   # a ticker that never got back
        stop[0] = True
        st = gort.stats()
        return {"wall": wall, "ms": st["mcreated"], "worst_tick_ms": worst[0] * 1000,
                "retakes": st["retakes"]}

    return gort.run(main, procs=procs)


def serial() -> float:
    t0 = time.perf_counter()
    for _ in range(N_HOGS):
        spin(N_LOOP)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2, type=int)
    a = ap.parse_args()
    if a.child:
        procs, _ = a.child
        print(json.dumps(child(procs)))
        return
    import gort.program
    print(f"# {sys.version.split()[0]} gil={gort.program.gil_enabled()} ncpu={os.cpu_count()} "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"serial: {statistics.median(serial() for _ in range(a.repeat)):.3f} s")
    print("| procs | busyhandoff | wall s | Ms made | worst tick gap ms |")
    print("|---|---|---|---|---|")
    for procs in (1, 2):
        for bh in ("1", "0"):
            runs = []
            for _ in range(a.repeat):
                env = dict(os.environ, GORT_DEBUG=f"busyhandoff={bh}")
                out = subprocess.run([sys.executable, __file__, "--child", str(procs), "0"], env=env,
                                     capture_output=True, text=True, timeout=600)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"| {procs} | {bh} | {med['wall']:.3f} | {med['ms']:.0f} | {med['worst_tick_ms']:.0f} |")


if __name__ == "__main__":
    main()
