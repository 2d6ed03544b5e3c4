# Port of src/time/sleep_test.go (Go 1.23)
"""Sleep, After, AfterFunc, Timer Stop/Reset: never early, ordered, stoppable,
reusable; timers far in the future (or with overflowing durations) neither
fire nor disturb other timers.  Benchmarks are not ported.

Durations are seconds.  Go's own retries for timing-sensitive checks are kept;
upper bounds are Go's or looser, never under 50 ms.
"""
from __future__ import annotations

import gc
import random
import sys
import time

import pytest

import gort
from gosupport import Atomic, count, ms, recv_within, run

pytestmark = pytest.mark.timeout(180)

HOUR = 3600.0
BIG = (2**63 - 1) / 1e9          # Go's Duration(1<<63 - 1): ~292 years, in seconds
NEG = -(2**63) / 1e9             # Go's Duration(-1 << 63)


def new_timer_func(d):
    """Go's newTimerFunc: NewTimer built from AfterFunc, so a Timer that is not a
    channel timer (no synchronous-channel special cases) with its own C."""
    c = gort.Chan(1)

    async def send_now():
        await c.send(time.time())
    t = gort.after_func(d, send_now)
    t.c = c
    return t


def new_timer(d):
    return gort.Timer(d)


def test_sleep():
    """Sleep(100ms) lasts at least 100 ms (Go also interrupts the process
    meanwhile, a signal gort cannot deliver to a goroutine; the concurrent
    goroutine is kept)."""
    delay = ms(100)

    async def main():
        async def other():
            await gort.sleep(delay / 2)
        gort.go(other)
        start = time.monotonic()
        await gort.sleep(delay)
        return time.monotonic() - start

    assert run(main, procs=2) >= delay


def test_after_func():
    """AfterFunc(0, f) where f schedules the next AfterFunc and then sleeps."""
    async def main():
        i = [10]
        c = gort.Chan()

        async def f():
            i[0] -= 1
            if i[0] >= 0:
                gort.after_func(0, f)
                await gort.sleep(1.0)
            else:
                await c.send(True)
        gort.after_func(0, f)
        await recv_within(c, 30.0, "the tenth AfterFunc")
        return True

    assert run(main, procs=2)


# Go's GC churn: runtime.GC() then a 1 ns sleep.  Without the GIL every gc.collect()
# stops the world; back to back (1 ns apart) they starved other threads' return to
# Python for minutes on 3.13.5t (the test's own thread could not report), so there
# the collections are 1 ms apart: still hundreds during a test.
GC_PAUSE = 1e-9 if getattr(sys, "_is_gil_enabled", lambda: True)() else 1e-3


def test_ticker_stress():
    """A 1 ns ticker delivers 100 ticks while another goroutine keeps collecting
    garbage (Go: runtime.GC) and sleeping 1 ns."""
    async def main():
        stop = Atomic(0)

        async def churn():
            while not stop.load():
                gc.collect()
                await gort.sleep(GC_PAUSE)
        gort.go(churn)
        ticker = gort.Ticker(1e-9)
        for _ in range(100):
            await ticker.c.recv()
        ticker.stop()
        stop.store(1)
        return True

    assert run(main, procs=2)


def test_ticker_concurrent_stress():
    """10 goroutines take 100 ticks each from one 1 ns ticker."""
    async def main():
        stop = Atomic(0)

        async def churn():
            while not stop.load():
                gc.collect()
                await gort.sleep(GC_PAUSE)
        gort.go(churn)
        ticker = gort.Ticker(1e-9)
        wg = gort.WaitGroup()

        async def taker():
            for _ in range(100):
                await ticker.c.recv()
        for _ in range(10):
            wg.go(taker)
        await wg.wait()
        ticker.stop()
        stop.store(1)
        return True

    assert run(main, procs=2)


def test_after_func_starvation():
    """With one P and two goroutines that are always runnable (ping-ponging on a
    1-buffered channel), an AfterFunc still gets to run and stop them (go.dev/issue/65178)."""
    async def main():
        wg = gort.WaitGroup()
        stop = Atomic(0)
        c = gort.Chan(1)

        async def pinger():
            while not stop.load():
                await c.send(True)
            c.close()

        async def ponger():
            async for _ in c:
                pass
        wg.go(pinger)
        wg.go(ponger)

        async def set_stop():
            stop.store(1)
        gort.after_func(1e-6, set_stop)
        await wg.wait()
        return True

    assert run(main, procs=1, timeout=60)


def test_after():
    delay = ms(100)

    async def main():
        start_wall = time.time()
        start = time.monotonic()
        end = await gort.after(delay).recv()
        return start_wall, time.monotonic() - start, end

    start_wall, duration, end = run(main, procs=2)
    assert duration >= delay, f"After({delay}) slept for only {duration}"
    # the value is the wall-clock time the timer was due; Go compares monotonic
    # readings, wall-clock floats need 1 ms of slack for clock slewing
    assert end >= start_wall + delay - 1e-3, f"After({delay}) expect >= {start_wall + delay}, got {end}"


def test_after_tick():
    """10 consecutive After(100ms) take at least 90% of a second (Go: 10 ms with
    -short); Go's upper bound of 300% is kept."""
    count_, delta = 10, ms(100)

    async def main():
        t0 = time.monotonic()
        for _ in range(count_):
            await gort.after(delta).recv()
        return time.monotonic() - t0

    d = run(main, procs=2)
    target = delta * count_
    assert d >= target * 9 / 10, f"{count_} ticks of {delta}s too fast: took {d}, expected {target}"
    assert d <= target * 30 / 10, f"{count_} ticks of {delta}s too slow: took {d}, expected {target}"


@pytest.mark.parametrize("impl", ["chan", "func"])
def test_after_stop(impl):
    """Stopped timers do not fire, even after a later timer has; Stop is true
    once and false the second time.  Go reports only five failures in a row."""
    newtimer = new_timer if impl == "chan" else new_timer_func

    async def main():
        errs = []
        for _ in range(5):
            async def nop():
                pass
            gort.after_func(ms(100), nop)
            t0 = newtimer(ms(50))
            c1 = gort.Chan(1)

            async def fire1(c1=c1):
                await c1.send(True)
            t1 = gort.after_func(ms(150), fire1)
            c2 = gort.after(ms(200))
            if not t0.stop():
                errs.append("failed to stop event 0")
                continue
            if not t1.stop():
                errs.append("failed to stop event 1")
                continue
            await c2.recv()
            i, _, _ = await gort.select(gort.recv(t0.c), gort.recv(c1), default=True)
            if i == 0:
                errs.append("event 0 was not stopped")
                continue
            if i == 1:
                errs.append("event 1 was not stopped")
                continue
            if t1.stop():
                errs.append("Stop returned true twice")
                continue
            return []
        return errs

    errs = run(main, procs=2)
    assert not errs, errs


SLOTS = [5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0]


async def after_queuing1(delta, after):
    result = gort.Chan(len(SLOTS))     # buffered: no dependence on channel queuing
    t0 = time.time()

    async def await_(slot, ac):
        await result.send((slot, await ac.recv()))
    for slot in SLOTS:
        gort.go(await_, slot, after(slot * delta))
    order, times = [], []
    for _ in SLOTS:
        slot, t = await result.recv()
        order.append(slot)
        times.append(t)
    for i in range(1, len(order)):
        if order[i] < order[i - 1]:
            return f"After calls returned out of order: {order}"
    for i, t in enumerate(times):
        dt = t - t0
        target = order[i] * delta
        if dt < target - delta / 2 or dt > target + delta * 10:
            return f"After({target}) arrived at {dt}, expected [{target - delta / 2}, {target + delta * 10}]"
    return None


@pytest.mark.parametrize("impl", ["chan", "func"])
def test_after_queuing(impl):
    """Timers of 13 slots fire in slot order at about slot*delta.  Go tries
    delta = 20 ms, 70 ms, ... up to five attempts; so does the port."""
    if impl == "chan":
        def after(d):
            return gort.after(d)
    else:
        def after(d):
            return new_timer_func(d).c

    async def main():
        err = "!=nil"
        for i in range(5):
            if err is None:
                break
            err = await after_queuing1(ms(20 + i * 50), after)
        return err

    assert run(main, procs=2, timeout=170) is None


def test_timer_stop_stress():
    """100 AfterFunc(2s) timers stopped after 1 s never fire (Go skips it with -short)."""
    async def main():
        fired = []

        async def starter(i):
            async def boom():
                fired.append(i)
            timer = gort.after_func(2.0, boom)
            await gort.sleep(1.0)
            timer.stop()
        for i in range(100):
            gort.go(starter, i)
        await gort.sleep(3.0)
        return fired

    assert run(main, procs=2) == []


def test_sleep_zero_deadlock():
    """Sleep(0) must not leave the goroutine marked waiting (it used to hang
    when the collector ran meanwhile)."""
    async def main():
        c = gort.Chan()

        async def collector():
            for _ in range(100):
                gc.collect()
            await c.send(True)
        gort.go(collector)
        for _ in range(100):
            await gort.sleep(0)
            tmp = gort.Chan(1)
            await tmp.send(True)
            await tmp.recv()
        await c.recv()
        return True

    assert run(main, procs=4)


async def check_reset(d):
    t0 = gort.Timer(2 * d)
    await gort.sleep(d)
    if not t0.reset(3 * d):
        return "resetting unfired timer returned false"
    await gort.sleep(2 * d)
    i, _, _ = await gort.select(gort.recv(t0.c), default=True)
    if i == 0:
        return "timer fired early"
    await gort.sleep(2 * d)
    i, _, _ = await gort.select(gort.recv(t0.c), default=True)
    if i != 0:
        return "reset timer did not fire"
    if t0.reset(ms(50)):
        return "resetting expired timer returned true"
    return None


def test_reset():
    """Go doubles d from 1 ms until the check passes, up to 10 s."""
    async def main():
        d = ms(1)
        while True:
            err = await check_reset(d)
            if err is None:
                return None
            d *= 2
            if d > 10.0:
                return err

    assert run(main, procs=2, timeout=170) is None


def test_overflow_sleep():
    """A sleep or timer so long that it overflows (Go: Duration(1<<63-1)) neither
    returns early nor disturbs other timers; a hugely negative one fires at once.
    On a branch without the poller's cap this fails with "OverflowError: timeout
    is too large" from epoll (divergence 1 of issue #8)."""
    async def main():
        async def big_sleep():
            await gort.sleep(BIG)
            raise AssertionError("big sleep returned")
        gort.go(big_sleep)
        i, _, _ = await gort.select(gort.recv(gort.after(BIG)), gort.recv(gort.after(ms(25))))
        assert i == 1, "big timeout fired"
        # (port) stay off the timers for 50 ms in a blocking call, so an idle M
        # blocks in the poller with only the big timers pending (Go's runtime
        # would do this too at some point; here it is made certain)
        await gort.syscall(time.sleep, ms(50))
        await gort.sleep(NEG)            # returns immediately
        i, _, _ = await gort.select(gort.recv(gort.after(NEG)), gort.recv(gort.after(1.0)))
        assert i == 0, "negative timeout didn't fire"
        return True

    assert run(main, procs=2)


def test_timer_beyond_poller_range_nobody_waits():
    """(gort's own addition: divergence 1 of issue #8, as a user meets it)  A
    timer 1000 hours away (context's x_test.go veryLongDuration) that nobody
    waits on must not crash the program when an idle M sleeps until it: Go
    caps the poller's wait at 1e9 ms (netpoll_epoll.go)."""
    async def main():
        t = gort.Timer(1000 * HOUR)
        await gort.syscall(time.sleep, ms(50))   # every other M idles meanwhile
        return t.stop()

    assert run(main, procs=2) is True


@pytest.mark.skip(reason="TestIssue5745 calls Stop on a nil *Timer to panic with the timers lock "
                         "held; Python has no nil Timer pointer (None.stop() is an AttributeError "
                         "raised before gort is entered)")
def test_issue5745():
    pass


def test_overflow_period_runtime_timer():
    """Go's CheckRuntimeTimerPeriodOverflow (export_test.go): a runtime timer due
    in the past with a period of maxInt64 fires once, is re-armed ~292 years out,
    and does not stop other timers from firing."""
    from gort.timers import Timer as RuntimeTimer

    async def main():
        fired = Atomic(0)

        def f(arg, seq, delay):
            fired.add(1)
        t = RuntimeTimer(f, None, period=BIG)
        t.modify(time.monotonic() - 1.0)
        await gort.after(ms(25)).recv()  # would hang if timers were broken
        n = fired.load()
        t.stop()
        return n

    assert run(main, procs=2) == 1


@pytest.mark.parametrize("method", ["stop", "reset"])
def test_zero_timer_panics(method):
    """Go's TestZeroTimerResetPanics / TestZeroTimerStopPanics: a Timer that was
    never initialised (Go: var tr Timer; Python: a subclass whose __init__ did
    not call Timer's) raises "called on uninitialized Timer"."""
    async def main():
        tr = gort.Timer.__new__(gort.Timer)
        with pytest.raises(RuntimeError, match="called on uninitialized Timer"):
            if method == "stop":
                tr.stop()
            else:
                tr.reset(1e-9)
        return True

    assert run(main)


@pytest.mark.parametrize("impl", ["chan", "func", "cache"])
def test_zero_timer(impl):
    """Zero-duration timers are never missed (issue 44868)."""
    # Go: 1,000,000 per implementation (skipped with -short); 100,000 here
    # (GORT_GO_FULL=1 restores it).
    n = count(1_000_000, 100_000)

    async def main():
        if impl == "chan":
            newtimer = new_timer
        elif impl == "func":
            newtimer = new_timer_func
        else:
            timer = new_timer_func(HOUR)

            def newtimer(d):
                timer.reset(d)
                return timer
        worst = 0.0
        for _ in range(n):
            s = time.monotonic()
            ti = newtimer(0)
            await ti.c.recv()
            worst = max(worst, time.monotonic() - s)
        return worst

    assert run(main, procs=2, timeout=170) <= 2.0      # Go's bound per timer


def test_timer_modified_earlier():
    """Rapidly moving a timer earlier does not drop it (issue 47329)."""
    past = -time.time()                  # Go: Until(Unix(0, 0))
    cnt = 1000

    async def main():
        fail = 0
        for _ in range(cnt):
            timer = new_timer_func(HOUR)
            for _ in range(10):
                if not timer.stop():
                    await timer.c.recv()
                timer.reset(past)
            deadline = gort.Timer(10.0)
            now = time.monotonic()
            i, _, _ = await gort.select(gort.recv(timer.c), gort.recv(deadline.c))
            deadline.stop()
            assert i == 0, "deadline expired"
            if time.monotonic() - now > 8.0:
                fail += 1
        return fail

    assert run(main, procs=2, timeout=170) == 0


def test_adjust_timers():
    """Rapidly moving timers earlier and later loses none of them (issue 47762)."""
    rnd = random.Random(time.time_ns())

    async def main():
        timers = [None] * 100
        states = [0] * len(timers)
        indices = list(range(len(timers)))
        rnd.shuffle(indices)
        slow = []
        while indices:
            ii = rnd.randrange(len(indices))
            i = indices[ii]
            timer = timers[i]
            state = states[i]
            states[i] += 1
            if state == 0:
                timers[i] = new_timer_func(0)
            elif state == 1:
                await timer.c.recv()                   # the timer is now idle
            elif state in (2, 4, 6):                   # long resets, cancelled below
                assert not timer.reset({2: 60.0, 4: 180.0, 6: 120.0}[state]), \
                    f"shouldn't be active ({state})"
            elif state in (3, 5, 7):                   # stop and drain a long timer
                if not timer.stop():
                    await timer.c.recv()
            elif state == 8:                           # a short timer to receive from
                assert not timer.reset(0), "timer.reset returned true"
            elif state == 9:
                now = time.monotonic()
                await timer.c.recv()
                dur = time.monotonic() - now
                if dur > 5.0:                          # Go: 750 ms; loosened for noisy machines
                    slow.append((i, dur))
            elif state == 10:                          # done: swap with the tail and drop
                indices[ii] = indices[-1]
                indices.pop()
        return slow

    assert run(main, procs=2, timeout=170) == []
