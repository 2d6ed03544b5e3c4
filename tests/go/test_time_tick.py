# Port of src/time/tick_test.go (Go 1.23)
"""Tickers and the Go 1.23 timer channel semantics (testTimerChan).

Go 1.23 timer and ticker channels are synchronous: len(C) == cap(C) == 0 at
all times; Stop and Reset discard a value the timer sent but nobody received
(and report the timer as pending if they did), so no stale value is received
after they return; a receive or select on C behaves as on any channel.
gort implements only these semantics (Go's default, GODEBUG asynctimerchan=0);
the asynctimerchan=1/2 subtests, which select the pre-1.23 behaviour, are not
ported.  Benchmarks are not ported.

Durations are seconds.  Where Go sleeps to let a timer fire and then polls,
the port does the same bounded retry (assert_tick: up to 100 x 10 ms).
"""
from __future__ import annotations

import time

import pytest

import gort
from gosupport import count, ms, run

pytestmark = pytest.mark.timeout(180)


def test_ticker():
    """count/2 ticks of delta, Reset to 2*delta, count/2 more: about 3*delta*count/2.

    Go tries 10 x 20 ms, then 8 x 1 s, logging failures of the first try; the
    port does the same.  Go's window is +-30%; the port keeps Go's lower bound
    (ticks never come early) and loosens the upper bound to +200% for these
    noisy machines."""
    async def main():
        errs = []
        for cnt, delta in ((10, ms(20)), (8, 1.0)):
            ticker = gort.Ticker(delta)
            t0 = time.monotonic()
            for _ in range(cnt // 2):
                await ticker.c.recv()
            ticker.reset(delta * 2)
            for _ in range(cnt - cnt // 2):
                await ticker.c.recv()
            ticker.stop()
            dt = time.monotonic() - t0
            target = 3 * delta * (cnt // 2)
            slop = target * 3 / 10
            if dt < target - slop or dt > target * 3:
                errs.append(f"{cnt // 2} {delta}s ticks then {cnt // 2} {2 * delta}s ticks "
                            f"took {dt:.3f}s, expected [{target - slop:.3f}, {target * 3:.3f}]")
                continue
            # the ticker stopped: no tick in 2*delta
            await gort.sleep(2 * delta)
            i, _, _ = await gort.select(gort.recv(ticker.c), default=True)
            if i == 0:
                errs.append("Ticker did not shut down")
                continue
            return []
        return errs

    errs = run(main, procs=2, timeout=170)
    assert not errs, errs


def test_ticker_stop_with_direct_initialization():
    """Issue 21874: a Ticker made without its constructor (Go: &Ticker{C: c})
    can be stopped without crashing.  Python's analogue is a Ticker whose
    __init__ never ran (a subclass that forgot super().__init__())."""
    async def main():
        tk = gort.Ticker.__new__(gort.Ticker)
        tk.c = gort.Chan()
        tk.stop()
        return True

    assert run(main)


test_manual_ticker = test_ticker_stop_with_direct_initialization   # Go's TestManualTicker: same


def test_teardown():
    """Stopping a ticker after one tick does not deadlock (Go: 100 ms, 20 ms with -short)."""
    async def main():
        for _ in range(3):
            ticker = gort.Ticker(ms(100))
            await ticker.c.recv()
            ticker.stop()
        return True

    assert run(main, procs=2)


def test_tick():
    async def main():
        return gort.tick(-1)

    assert run(main) is None                   # Go: Tick(-1) == nil


def test_new_ticker_lt_zero_duration():
    async def main():
        with pytest.raises(ValueError):
            gort.Ticker(-1)
        return True

    assert run(main)


def test_ticker_reset_lt_zero_duration():
    async def main():
        tk = gort.Ticker(1.0)
        with pytest.raises(ValueError):
            tk.reset(0)
        tk.stop()
        return True

    assert run(main)


def test_long_adjust_timers():
    """A heap built up by thousands of sleeps must not slow the scheduler down:
    a goroutine ping-pongs work items through a select while timers churn."""
    # Go: 50000 rounds of 20 items; 5000 here (GORT_GO_FULL=1 restores 50000).
    rounds = count(50_000, 5_000)

    async def main():
        wg = gort.WaitGroup()
        n = 5000

        async def short_sleep():
            await gort.sleep(10e-6)
        for _ in range(n):
            wg.go(short_sleep)
        for _ in range(n):
            await gort.sleep(1e-6)
        done = gort.Chan()
        giveup = gort.after_func(60.0, _closer(done))      # Go: 60 s to complete
        inq, outq = gort.Chan(), gort.Chan()

        async def queue():
            q = []
            try:
                while True:
                    send_to = outq if q else None
                    item = q[0] if q else None
                    i, v, ok = await gort.select(gort.send(send_to, item), gort.recv(inq), gort.recv(done))
                    if i == 0:
                        q.pop(0)
                    elif i == 1:
                        if not ok:
                            return
                        q.append(v)
                    else:
                        return
            finally:
                outq.close()
        wg.go(queue)
        try:
            for i in range(rounds):
                tries = 20
                for _ in range(tries):
                    await inq.send(object())
                for _ in range(tries):
                    k, _, ok = await gort.select(gort.recv(outq), gort.recv(gort.after(5.0)), gort.recv(done))
                    assert k != 1, f"failed to read work, iteration {i}"
                    assert k != 2, "timer expired"
                    assert ok, "output channel is closed"
        finally:
            inq.close()
        await wg.wait()
        giveup.stop()
        return True

    assert run(main, procs=2, timeout=170)


def _closer(ch):
    async def close():
        ch.close()
    return close


@pytest.mark.skip(reason="TestTimerGC counts allocations (runtime.MemStats Mallocs - Frees) to show "
                         "that unreferenced timers are collected; allocation counts cannot be "
                         "expressed in Python (see the report: gort keeps an unreferenced pending "
                         "timer alive until it fires)")
def test_timer_gc():
    pass


class TickerTimer:
    """A Ticker with stop/reset returning bools, with Timer's signatures (Go's tickerTimer)."""

    def __init__(self, ticker):
        self.ticker = ticker
        self.c = ticker.c
        self.stopped = False

    def stop(self):
        pending = not self.stopped
        self.stopped = True
        self.ticker.stop()
        return pending

    def reset(self, d):
        pending = not self.stopped
        self.stopped = False
        self.ticker.reset(d)
        return pending


SCHED = ms(10)            # Go's sched: enough for a timer to go off
TRIES = 100
ONE_NS = 1e-9             # Go's Duration(1)


async def check_timer_chan(tim, C, is_ticker):
    """Go's testTimerChan with synctimerchan = true."""
    problems = []

    async def no_tick():
        i, _, _ = await gort.select(gort.recv(C), default=True)
        if i == 0:
            problems.append("extra tick")

    async def assert_tick():
        i, _, _ = await gort.select(gort.recv(C), default=True)
        if i == 0:
            return
        for _ in range(TRIES):
            await gort.sleep(SCHED)
            i, _, _ = await gort.select(gort.recv(C), default=True)
            if i == 0:
                return
        problems.append("missing tick")

    def assert_len():
        if len(C) != 0:
            problems.append(f"synctimer has len(C) = {len(C)}, want 0 (always)")

    # simple stop; timer never in heap
    tim.stop()
    await no_tick()
    # modify of timer not in heap
    tim.reset(10000.0)
    await no_tick()
    # modify of timer in heap
    tim.reset(ONE_NS)
    await gort.sleep(SCHED)
    # Go's runtime reports len and cap 0 for timer channels (chanlen/chancap);
    # its test has this check commented out, the issue asks gort to hold it.
    if len(C) != 0 or C.cap != 0:
        problems.append(f"len(C), cap(C) = {len(C)}, {C.cap}, want 0, 0")
    assert_len()
    await assert_tick()

    # sleep long enough that a second tick must happen for a ticker; reset must
    # not deliver the tick that should have happened
    await gort.sleep(SCHED)
    tim.reset(10000.0)
    await no_tick()

    done = gort.Chan()

    async def not_done(d):
        i, _, _ = await gort.select(gort.recv(d), default=True)
        assert i == -1, "early done"

    async def wait_done(d):
        for _ in range(TRIES):
            await gort.sleep(SCHED)
            i, _, _ = await gort.select(gort.recv(d), default=True)
            if i == 0:
                return
        raise AssertionError("never got done")

    # reset timer in heap (already reset above, but just in case)
    tim.reset(10000.0)
    # stop while timer in heap (a goroutine is blocked on C)
    await not_done(done)

    async def recv_then_close(d):
        await C.recv()
        d.close()
    gort.go(recv_then_close, done)
    await gort.sleep(SCHED)
    await not_done(done)
    # reset far away while in heap
    tim.reset(20000.0)
    await gort.sleep(SCHED)
    await not_done(done)
    # imminent reset while in heap
    tim.reset(ONE_NS)
    await wait_done(done)
    # a ticker has ticked again already (they are 1 ns apart); a timer has stopped
    if is_ticker:
        await assert_tick()
    else:
        await no_tick()
    tim.stop()
    await no_tick()

    # again using select, with two goroutines waiting
    tim.reset(10000.0)
    done = gort.Chan(2)
    done1, done2 = gort.Chan(), gort.Chan()
    stop = gort.Chan()

    async def select_waiter(mine):
        i, _, _ = await gort.select(gort.recv(C), gort.recv(stop))
        if i == 0:
            await done.send(True)
        mine.close()
    gort.go(select_waiter, done1)
    gort.go(select_waiter, done2)
    await gort.sleep(SCHED)
    await not_done(done)
    tim.reset(SCHED / 2)
    await gort.sleep(SCHED)
    await wait_done(done)
    tim.stop()
    stop.close()
    await wait_done(done1)
    await wait_done(done2)
    if is_ticker:
        # an extra send might have sent done again (done is buffered for it),
        # and a send after that might have filled C
        await gort.select(gort.recv(done), default=True)
        await gort.select(gort.recv(C), default=True)
    await not_done(done)

    # enqueueTimerChan while the timer is stopped: nothing arrives
    stop = gort.Chan()
    done = gort.Chan(2)

    async def must_not_receive():
        i, _, _ = await gort.select(gort.recv(C), gort.recv(stop))
        if i == 0:
            problems.append("unexpected data")
        await done.send(True)
    for _ in range(2):
        gort.go(must_not_receive)
    await gort.sleep(SCHED)
    stop.close()
    await wait_done(done)
    await wait_done(done)

    # Stop and Reset block old values from being received (go.dev/issue/37196)
    tim.reset(ONE_NS)
    await gort.sleep(ms(10))
    pending = tim.stop()
    if pending is not True:
        problems.append(f"tim.stop() = {pending}, want True (a fired, unreceived timer is pending)")
    await no_tick()
    tim.reset(3600.0)
    await no_tick()
    pending = tim.reset(ONE_NS)
    if pending is not True:
        problems.append(f"tim.reset() = {pending}, want True")
    await assert_tick()
    await gort.sleep(ms(10))
    if is_ticker:
        await assert_tick()
        await gort.sleep(ms(10))
    else:
        await no_tick()
    pending = tim.reset(3600.0)
    if pending != is_ticker:
        problems.append(f"tim.reset() = {pending}, want {is_ticker}")
    await no_tick()
    assert_len()
    return problems


def test_chan_timer():
    """Go's TestChan/asynctimerchan=0/Timer."""
    async def main():
        tim = gort.Timer(10000.0)
        return await check_timer_chan(tim, tim.c, False)

    assert run(main, procs=2) == []


def test_chan_ticker():
    """Go's TestChan/asynctimerchan=0/Ticker."""
    async def main():
        tim = TickerTimer(gort.Ticker(10000.0))
        return await check_timer_chan(tim, tim.c, True)

    assert run(main, procs=2) == []


@pytest.mark.skip(reason="TestChan/asynctimerchan=1 and =2 select pre-Go-1.23 asynchronous timer "
                         "channels through GODEBUG; gort implements only Go 1.23's default")
def test_chan_async():
    pass


def test_after_times():
    """After(10ms) read 500 ms later yields the time it fired (start+10ms), not
    the time it was read.  Go requires this once in 10 tries."""
    async def main():
        for _ in range(10):
            start = time.time()
            c = gort.after(ms(10))
            await gort.sleep(ms(500))
            dt = await c.recv() - start
            if dt < ms(400):
                return None
        return dt

    assert run(main, procs=2) is None, "After(10ms) time is not the time it fired"


def test_tick_times():
    async def main():
        for _ in range(10):
            start = time.time()
            c = gort.tick(ms(10))
            await gort.sleep(ms(500))
            dt = await c.recv() - start
            if dt < ms(400):
                return None
        return dt

    assert run(main, procs=2) is None, "Tick(10ms) time is not the time it fired"
