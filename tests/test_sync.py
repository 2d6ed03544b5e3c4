"""sync: Mutex, RWMutex, WaitGroup, Once, Cond, Semaphore, ErrGroup (models: Go's sync tests)."""
from __future__ import annotations

import threading

import pytest

import gort
from helpers import until_parked
from gort.sync import Mutex






@pytest.mark.timeout(120)
@pytest.mark.parametrize("procs", [1, 4])
def test_mutex_counter_exact_under_contention(procs, switchy):
    async def main():
        mu = gort.Mutex()
        wg = gort.WaitGroup()
        box = [0]

        async def inc():
            for _ in range(20):
                async with mu:
                    v = box[0]
                    await gort.gosched()        # widen the window a broken lock would lose
                    box[0] = v + 1
        for _ in range(1000):
            wg.go(inc)
        await wg.wait()
        return box[0]

    assert gort.run(main, procs=procs) == 20000


def test_mutex_try_lock_and_unlock_errors():
    async def main():
        mu = gort.Mutex()
        assert mu.try_lock()
        assert not mu.try_lock()
        mu.unlock()
        with pytest.raises(RuntimeError, match="unlock of unlocked mutex"):
            mu.unlock()
        await mu.lock()
        assert mu.locked()
        mu.unlock()
        return True

    assert gort.run(main)


def test_mutex_blocks_and_wait_reason():
    async def main():
        mu = gort.Mutex()
        await mu.lock()
        got = gort.Chan(1)

        async def waiter():
            await mu.lock()
            await got.send("locked")
            mu.unlock()
        gort.go(waiter)
        await until_parked("sync.Mutex.Lock")
        reasons = [g.waitreason for g in gort.proc.sched.allgs if g.status == 4]
        assert got.try_recv()[2] is False          # still blocked
        mu.unlock()
        return reasons, await got.recv()

    reasons, v = gort.run(main, procs=2)
    assert "sync.Mutex.Lock" in reasons and v == "locked"


@pytest.mark.timeout(120)
def test_mutex_starvation_mode_hands_off_fifo():
    """A waiter starved for more than 1 ms switches the mutex to FIFO hand-off:
    a goroutine hammering lock/unlock cannot keep the lock from the waiter."""
    async def main():
        mu = gort.Mutex()
        stop = [False]
        acquired = gort.Chan(1)

        async def hammer():
            while not stop[0]:
                await mu.lock()
                for _ in range(200):          # hold it a little
                    pass
                mu.unlock()
                await gort.gosched()

        async def victim():
            await gort.sleep(0.005)
            await mu.lock()
            mu.unlock()
            await acquired.send(True)
        for _ in range(3):
            gort.go(hammer)
        gort.go(victim)
        i, _, _ = await gort.select(gort.recv(acquired), gort.recv(gort.after(20)))
        stop[0] = True
        return i

    assert gort.run(main, procs=2) == 0


@pytest.mark.timeout(120)
def test_rwmutex_readers_share_writers_exclude(switchy):
    async def main():
        rw = gort.RWMutex()
        state = {"readers": 0, "writer": False, "maxreaders": 0, "bad": 0, "writes": 0}
        wg = gort.WaitGroup()

        count = threading.Lock()               # readers run concurrently: guard the tally itself

        async def reader():
            for _ in range(20):
                async with rw.rlocker():
                    with count:
                        state["readers"] += 1
                        state["maxreaders"] = max(state["maxreaders"], state["readers"])
                        if state["writer"]:
                            state["bad"] += 1
                    await gort.gosched()
                    with count:
                        state["readers"] -= 1

        async def writer():
            for _ in range(10):
                async with rw:
                    if state["writer"] or state["readers"]:
                        state["bad"] += 1
                    state["writer"] = True
                    await gort.gosched()
                    state["writer"] = False
                    state["writes"] += 1
        for _ in range(20):
            wg.go(reader)
        for _ in range(4):
            wg.go(writer)
        await wg.wait()
        return state

    st = gort.run(main, procs=4)
    assert st["bad"] == 0 and st["writes"] == 40 and st["maxreaders"] > 1


def test_rwmutex_writer_not_starved_by_readers():
    """Once a writer waits, new readers queue behind it (Go's writer preference)."""
    async def main():
        rw = gort.RWMutex()
        await rw.rlock()                      # an active reader
        wrote = gort.Chan(1)

        async def writer():
            await rw.lock()
            await wrote.send("w")
            rw.unlock()
        gort.go(writer)
        await until_parked("sync.RWMutex.Lock")   # the writer waits for our read lock
        assert not rw.try_rlock()             # writer pending: new readers must wait
        assert not rw.try_lock()
        rw.runlock()
        v = await wrote.recv()
        await rw.rlock()
        rw.runlock()
        return v

    assert gort.run(main, procs=2) == "w"


def test_rwmutex_misuse_raises():
    async def main():
        rw = gort.RWMutex()
        with pytest.raises(RuntimeError, match="RUnlock of unlocked"):
            rw.runlock()
        with pytest.raises(RuntimeError, match="Unlock of unlocked"):
            rw.unlock()
        assert rw.try_lock()
        rw.unlock()
        return True

    assert gort.run(main)


def test_waitgroup_semantics():
    async def main():
        wg = gort.WaitGroup()
        await wg.wait()                       # zero: returns at once
        with pytest.raises(ValueError, match="negative WaitGroup counter"):
            wg.add(-1)
        out = []

        async def w(i):
            await gort.gosched()
            out.append(i)
        for i in range(100):
            wg.go(w, i)
        await wg.wait()
        return sorted(out)

    assert gort.run(main, procs=3) == list(range(100))


def test_waitgroup_multiple_waiters():
    async def main():
        wg = gort.WaitGroup()
        wg.add(1)
        woke = gort.Chan(10)

        async def waiter(i):
            await wg.wait()
            await woke.send(i)
        for i in range(5):
            gort.go(waiter, i)
        for _ in range(5):
            await gort.gosched()
        wg.done()
        return sorted([await woke.recv() for _ in range(5)])

    assert gort.run(main, procs=2) == [0, 1, 2, 3, 4]


def test_once_runs_once_and_waits_for_first():
    async def main():
        once = gort.Once()
        calls = []
        wg = gort.WaitGroup()
        seen = []

        async def init():
            calls.append(1)
            await gort.sleep(0.01)            # concurrent callers must wait for this

        async def user():
            await once.do(init)
            seen.append(len(calls))
        for _ in range(50):
            wg.go(user)
        await wg.wait()
        await once.do(lambda: calls.append("sync fn ignored"))
        return calls, seen

    calls, seen = gort.run(main, procs=4)
    assert calls == [1] and seen == [1] * 50


def test_once_done_even_if_fn_raises():
    async def main():
        once = gort.Once()

        def boom():
            raise KeyError("x")
        with pytest.raises(KeyError):
            await once.do(boom)
        ran = []
        await once.do(lambda: ran.append(1))
        return ran

    assert gort.run(main) == []


def test_cond_signal_and_broadcast():
    async def main():
        mu = gort.Mutex()
        cond = gort.Cond(mu)
        ready = [0]
        woke = gort.Chan(100)

        async def waiter(i):
            await mu.lock()
            ready[0] += 1
            await cond.wait()
            mu.unlock()
            await woke.send(i)
        for i in range(10):
            gort.go(waiter, i)
        while True:                            # until all 10 are waiting
            await mu.lock()
            n = ready[0]
            mu.unlock()
            if n == 10:
                break
            await gort.gosched()
        cond.signal()
        first = await woke.recv()
        assert woke.try_recv()[2] is False     # signal woke exactly one
        cond.broadcast()
        rest = sorted([await woke.recv() for _ in range(9)])
        return first, rest

    first, rest = gort.run(main, procs=2)
    assert sorted(rest + [first]) == list(range(10))


def test_semaphore_weighted_fifo():
    async def main():
        sem = gort.Semaphore(3)
        assert sem.try_acquire(2)
        order = gort.Chan(10)

        async def big():
            await sem.acquire(3)
            await order.send("big")
            sem.release(3)

        async def small():
            await sem.acquire(1)
            await order.send("small")
            sem.release(1)
        gort.go(big)
        await until_parked("semacquire")
        gort.go(small)                          # must not overtake the queued big request
        for _ in range(5):
            await gort.gosched()
        assert order.try_recv()[2] is False
        sem.release(2)
        got = [await order.recv(), await order.recv()]
        with pytest.raises(RuntimeError):
            sem.release(1)
        with pytest.raises(ValueError):
            await sem.acquire(4)
        return got

    assert gort.run(main, procs=2) == ["big", "small"]


def test_errgroup_first_error_and_context():
    from gort import context

    async def main():
        g, ctx = gort.ErrGroup.with_context(context.background())
        seen = gort.Chan(10)

        async def fails():
            await gort.sleep(0.01)
            raise ValueError("first")

        async def waits_for_cancel():
            await ctx.done().recv()
            await seen.send(type(ctx.err()).__name__)

        async def fine():
            return None
        g.go(fails)
        g.go(waits_for_cancel)
        g.go(fine)
        with pytest.raises(ValueError, match="first"):
            await g.wait()
        return await seen.recv()

    assert gort.run(main, procs=2) == "Canceled"


def test_errgroup_limit():
    async def main():
        g = gort.ErrGroup()
        g.set_limit(2)
        running = [0]
        peak = [0]
        mu = threading.Lock()      # the counters are shared by goroutines on 4 Ms (no GIL on 3.13t)

        async def w():
            with mu:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            await gort.sleep(0.002)
            with mu:
                running[0] -= 1
        for _ in range(10):
            g.go(w)
        await g.wait()
        return peak[0]

    assert gort.run(main, procs=4) <= 2


def test_mutex_is_exported_class():
    assert gort.Mutex is Mutex
