"""The hang hunter: random programs that mix everything that has hung gort before.

Each seed builds a program from: CPU-bound goroutines with multi-ms gaps
between awaits, unmarked time.sleep calls, gomaxprocs changes from several
goroutines, channel traffic (unbuffered and buffered, select with timeouts),
mutexes, wait groups and timers (sleep, Ticker, Timer.reset).  Every value sent
must arrive exactly once, every program must finish (run_bounded turns a hang
into a failure), and gort.run must return promptly after main, even with a
goroutine still stuck in a blocking call.

Seeds run for GORT_HUNT_SECONDS (default 60) across procs 1, 2 and 4 at a
1 us switch interval; GORT_HUNT_SEED=N replays one seed.  The seeds and procs
that ran are printed (pytest -s shows them).
"""
from __future__ import annotations

import os
import random
import time

import pytest

import gort
from helpers import run_bounded

HUNT_SECONDS = float(os.environ.get("GORT_HUNT_SECONDS", "60"))
PROCS = (1, 2, 4)


def cpu_for(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def make_program(seed: int):
    rnd = random.Random(seed)
    n_prod = rnd.randint(2, 6)
    per = rnd.randint(10, 40)
    n_cons = rnd.randint(1, 4)
    cap = rnd.choice([0, 0, 1, 4, 16])
    resizers = rnd.randint(0, 3)
    stuck_at_exit = rnd.random() < 0.5
    # per-goroutine behaviour, drawn now so the program is a function of the seed
    prod_plans = [[(rnd.random(), rnd.random(), rnd.random()) for _ in range(per)] for _ in range(n_prod)]
    cons_plans = [rnd.random() for _ in range(n_cons)]
    resize_plans = [[rnd.randint(1, 4) for _ in range(rnd.randint(1, 6))] for _ in range(resizers)]

    async def main():
        ch = gort.Chan(cap)
        out = gort.Chan(n_cons)
        mu = gort.Mutex()
        wg = gort.WaitGroup()
        shared = [0]
        stop = [False]

        async def producer(k):
            for i, (a, b, c) in enumerate(prod_plans[k]):
                if a < 0.15:
                    cpu_for(0.002 + 0.018 * b)        # multi-ms without a runtime call
                elif a < 0.30:
                    time.sleep(0.001 + 0.02 * b)      # unmarked blocking
                elif a < 0.40:
                    await gort.sleep(0.0005 * c)
                elif a < 0.45:
                    await gort.syscall(time.sleep, 0.002 * c)
                if c < 0.2:
                    await mu.lock()
                    shared[0] += 1
                    mu.unlock()
                if b < 0.3:
                    # send through select with a timeout case; retry until sent
                    while True:
                        j, _, _ = await gort.select(gort.send(ch, k * per + i),
                                                    gort.recv(gort.after(0.005)))
                        if j == 0:
                            break
                else:
                    await ch.send(k * per + i)
            wg.done()

        async def consumer(j):
            got = []
            tick = gort.Ticker(0.001) if cons_plans[j] < 0.5 else None
            timer = gort.Timer(10)
            while True:
                if tick is not None:
                    i, v, ok = await gort.select(gort.recv(ch), gort.recv(tick.c))
                    if i == 1:
                        timer.reset(0.001)
                        continue
                else:
                    v, ok = await ch.recv_ok()
                if not ok:
                    break
                got.append(v)
                if len(got) % 9 == 0 and cons_plans[j] < 0.3:
                    time.sleep(0.003)
            if tick is not None:
                tick.stop()
            timer.stop()
            await out.send(got)

        async def resizer(r):
            for n in resize_plans[r]:
                gort.gomaxprocs(n)
                await gort.sleep(0.001)
                if stop[0]:
                    break

        async def straggler():
            time.sleep(0.5)                           # still inside this when main returns

        wg.add(n_prod)
        for k in range(n_prod):
            gort.go(producer, k)
        for j in range(n_cons):
            gort.go(consumer, j)
        for r in range(resizers):
            gort.go(resizer, r)
        await wg.wait()
        ch.close()
        got = []
        for _ in range(n_cons):
            got.extend(await out.recv())
        stop[0] = True
        if stuck_at_exit:
            gort.go(straggler)
            await gort.sleep(0.002)
        return sorted(got), shared[0], time.monotonic()

    expected = list(range(n_prod * per))
    return main, expected


def hunt_one(seed: int, procs: int) -> None:
    main, expected = make_program(seed)
    try:
        got, _, t_main = run_bounded(main, procs=procs, timeout=120)
    except pytest.fail.Exception as e:    # a hang: its message must say how to replay it
        pytest.fail(f"hang hunter: replay with GORT_HUNT_SEED={seed} (procs {procs})\n{e.msg}", pytrace=False)
    except Exception as e:                # a crash: likewise
        e.add_note(f"hang hunter: replay with GORT_HUNT_SEED={seed} (procs {procs})")
        raise
    returned = time.monotonic() - t_main
    assert got == expected, f"seed {seed} procs {procs}: values lost or duplicated"
    assert returned < 1.0, f"seed {seed} procs {procs}: run() returned {returned:.3f} s after main"


@pytest.mark.timeout(HUNT_SECONDS + 600)
def test_hang_hunter(switchy):
    replay = os.environ.get("GORT_HUNT_SEED")
    if replay:
        for procs in PROCS:
            hunt_one(int(replay), procs)
        return
    base = random.randrange(1 << 30)
    end = time.monotonic() + HUNT_SECONDS
    ran = []
    k = 0
    while time.monotonic() < end or len(ran) < len(PROCS):
        seed, procs = base + k, PROCS[k % len(PROCS)]
        k += 1
        hunt_one(seed, procs)
        ran.append((seed, procs))
    per = {p: sum(1 for _, q in ran if q == p) for p in PROCS}
    print(f"\nhang hunter: {len(ran)} programs (seeds {base}..{base + k - 1}), per procs {per}")
