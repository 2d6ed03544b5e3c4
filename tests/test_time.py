"""Timers: sleep, Timer, Ticker, after, tick, after_func on per-P heaps (models: Go's time/sleep_test.go).

No test asserts an upper bound on lateness (CI boxes are loaded); they assert
"never early", "exactly once", and that waits end (bounded by pytest-timeout).
"""
from __future__ import annotations

import random
import sys
import time

import pytest

import gort
from gort.timers import Timers


def test_sleep_parks_with_reason_and_never_wakes_early():
    async def main():
        reasons = []

        async def sleeper(d, out):
            t0 = time.monotonic()
            await gort.sleep(d)
            await out.send(time.monotonic() - t0)
        out = gort.Chan(10)
        for d in (0.01, 0.02, 0.05):
            gort.go(sleeper, d, out)
        reasons: list[str] = []
        for _ in range(10000):                 # until one of them has parked in sleep
            await gort.gosched()
            reasons = [g.waitreason for g in gort.proc.sched.allgs if g.status == 4]
            if "sleep" in reasons:
                break
        got = sorted([await out.recv() for _ in range(3)])
        return reasons, got

    reasons, got = gort.run(main, procs=2)
    assert reasons.count("sleep") >= 1
    for want, d in zip((0.01, 0.02, 0.05), got):
        assert d >= want


def test_sleep_zero_and_negative_yield():
    async def main():
        await gort.sleep(0)
        await gort.sleep(-1)
        with pytest.raises(ValueError):
            await gort.sleep(float("nan"))
        return True

    assert gort.run(main)


@pytest.mark.timeout(300)
def test_100k_timers_fire_exactly_once_never_early():
    n = 100_000
    fired = bytearray(n)
    early = []

    async def main():
        wg = gort.WaitGroup()

        async def sleeper(i, d):
            t0 = time.monotonic()
            await gort.sleep(d)
            if time.monotonic() - t0 < d:
                early.append(i)
            fired[i] += 1
        rnd = random.Random(7)
        for i in range(n):
            wg.go(sleeper, i, rnd.random() * 0.1)
        await wg.wait()

    gort.run(main, procs=2)
    assert early == []
    assert fired.count(1) == n


def test_timer_fires_stop_reset():
    async def main():
        t = gort.Timer(0.01)
        v = await t.c.recv()
        assert isinstance(v, float)
        assert t.stop() is False               # already fired
        t2 = gort.Timer(10)
        assert t2.stop() is True               # stopped before firing
        assert t2.c.try_recv()[2] is False
        t3 = gort.Timer(10)
        assert t3.reset(0.01) is True
        await t3.c.recv()
        return True

    assert gort.run(main, procs=2)


def test_stop_drains_a_sent_value():
    """Go 1.23: after stop/reset returns, no stale value is received."""
    async def main():
        t = gort.Timer(0.001)
        await gort.sleep(0.02)                 # it has fired into the buffer
        t.stop()
        i, _, _ = await gort.select(gort.recv(t.c), default=True)
        t.reset(0.001)
        await gort.sleep(0.02)
        t.reset(10)
        j, _, _ = await gort.select(gort.recv(t.c), default=True)
        return i, j

    assert gort.run(main) == (-1, -1)


def test_ticker_ticks_and_drops_for_slow_receiver():
    async def main():
        tk = gort.Ticker(0.005)
        for _ in range(3):
            await tk.c.recv()
        await gort.sleep(0.05)                 # ~10 ticks missed, one is kept for us
        assert len(tk.c) == 0 and tk.c.cap == 0    # Go 1.23: a timer channel reports 0/0
        tk.reset(0.002)
        await tk.c.recv()
        tk.stop()
        await gort.sleep(0.02)
        assert tk.c.try_recv()[2] is False
        with pytest.raises(ValueError):
            gort.Ticker(0)
        with pytest.raises(ValueError):
            tk.reset(-1)
        return True

    assert gort.run(main, procs=2)


def test_after_tick_after_func():
    async def main():
        await gort.after(0.005).recv()
        assert gort.tick(0) is None
        c = gort.tick(0.003)
        await c.recv()
        ran = gort.Chan(1)

        async def fn(x):
            await ran.send(x)
        gort.after_func(0.005, fn, "hello")
        v = await ran.recv()
        t = gort.after_func(10, fn, "never")
        assert t.stop() is True
        assert t.c is None
        with pytest.raises(TypeError):
            gort.after_func(1, 5)                  # not callable (plain functions are fine)
        return v

    assert gort.run(main, procs=2) == "hello"


def test_pending_timer_is_not_a_deadlock():
    async def main():
        await gort.after(0.05).recv()         # only a timer can wake us: not dead
        return "woke"

    assert gort.run(main, procs=1) == "woke"


def test_stopped_timer_does_not_keep_program_alive():
    async def main():
        t = gort.Timer(60)
        t.stop()
        await gort.Chan().recv()

    with pytest.raises(gort.Deadlock):
        gort.run(main, procs=1)


@pytest.mark.timeout(120)
def test_concurrent_stop_reset_from_several_ps():
    """Many goroutines on 4 Ps stop/reset shared timers; every receive is
    matched by a reset that armed it, and nothing hangs or fires twice."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    async def main():
        timers = [gort.Timer(1000) for _ in range(16)]
        wg = gort.WaitGroup()
        stops = [0]

        async def fiddler(k):
            rnd = random.Random(k)
            for _ in range(300):
                t = timers[rnd.randrange(16)]
                if rnd.random() < 0.5:
                    t.reset(rnd.random() * 0.001)
                elif t.stop():
                    stops[0] += 1
                await gort.gosched()
        for k in range(8):
            wg.go(fiddler, k)
        await wg.wait()
        fired = 0
        for t in timers:
            t.reset(0.001)
        for t in timers:
            await t.c.recv()
            fired += 1
        await gort.sleep(0.01)
        extra = sum(1 for t in timers if t.c.try_recv()[2])
        return fired, extra

    try:
        fired, extra = gort.run(main, procs=4)
    finally:
        sys.setswitchinterval(old)
    assert fired == 16 and extra == 0


def test_heap_is_four_ary_min_heap():
    ts = Timers()
    rnd = random.Random(1)
    whens = [rnd.random() for _ in range(1000)]
    for i, w in enumerate(whens):
        ts.push((w, i, None))  # type: ignore[arg-type]
    for i in range(1, len(ts.heap)):
        assert ts.heap[(i - 1) // 4][0] <= ts.heap[i][0]
    out = [ts.pop()[0] for _ in range(len(whens))]
    assert out == sorted(whens)


@pytest.mark.timeout(120)
def test_select_timeout_never_swallows_a_sent_value():
    """A receiver that times out must not swallow a value a sender handed over."""
    async def main():
        c = gort.Chan()
        sent = [0]
        recvd = [0]
        done = gort.Chan()

        async def sender():
            for i in range(2000):
                j, _, _ = await gort.select(gort.send(c, i), gort.recv(gort.after(0.0002)))
                if j == 0:
                    sent[0] += 1
            await done.send(None)

        async def receiver():
            while True:
                j, v, ok = await gort.select(gort.recv(c), gort.recv(gort.after(0.0002)), gort.recv(done))
                if j == 0:
                    recvd[0] += 1
                elif j == 2:
                    return
        wg = gort.WaitGroup()
        wg.go(receiver)
        gort.go(sender)
        await wg.wait()
        return sent[0], recvd[0]

    sent, recvd = gort.run(main, procs=4)
    assert sent == recvd and sent > 0
