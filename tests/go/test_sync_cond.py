# Port of src/sync/cond_test.go (Go 1.23)
"""sync.Cond: Signal wakes exactly one waiter, the longest waiting one;
Broadcast wakes all; no lost wake-up when a Broadcast races a new Wait; a
copied Cond is detected.  Benchmarks are not ported."""
from __future__ import annotations

import copy

import pytest

import gort
from gosupport import recv_within, run

pytestmark = pytest.mark.timeout(120)


def test_cond_signal():
    async def main():
        m = gort.Mutex()
        c = gort.Cond(m)
        n = 2
        running = gort.Chan(n)
        awake = gort.Chan(n)

        async def waiter():
            await m.lock()
            await running.send(True)
            await c.wait()
            await awake.send(True)
            m.unlock()
        for _ in range(n):
            gort.go(waiter)
        for _ in range(n):
            await running.recv()         # everyone is running (and holds or waits for m)
        while n > 0:
            i, _, _ = await gort.select(gort.recv(awake), default=True)
            assert i == -1, "goroutine not asleep"
            await m.lock()
            c.signal()
            m.unlock()
            await awake.recv()           # deadlocks if no goroutine wakes up
            i, _, _ = await gort.select(gort.recv(awake), default=True)
            assert i == -1, "too many goroutines awake"
            n -= 1
        c.signal()
        return True

    assert run(main, procs=2)


def test_cond_signal_generations():
    """Signal wakes waiters in the order they started waiting."""
    async def main():
        m = gort.Mutex()
        c = gort.Cond(m)
        n = 100
        running = gort.Chan(n)
        awake = gort.Chan(n)

        async def waiter(i):
            await m.lock()
            await running.send(True)
            await c.wait()
            await awake.send(i)
            m.unlock()
        for i in range(n):
            gort.go(waiter, i)
            if i > 0:
                a = await awake.recv()
                assert a == i - 1, f"wrong goroutine woke up: want {i - 1}, got {a}"
            await running.recv()
            await m.lock()
            c.signal()
            m.unlock()
        return True

    assert run(main, procs=2)


def test_cond_broadcast():
    async def main():
        m = gort.Mutex()
        c = gort.Cond(m)
        n = 200
        running = gort.Chan(n)
        awake = gort.Chan(n)
        state = {"exit": False}

        async def waiter(g):
            await m.lock()
            while not state["exit"]:
                await running.send(g)
                await c.wait()
                await awake.send(g)
            m.unlock()
        for i in range(n):
            gort.go(waiter, i)
        for i in range(n):
            for _ in range(n):
                await running.recv()     # deadlocks unless n are running
            if i == n - 1:
                await m.lock()
                state["exit"] = True
                m.unlock()
            j, _, _ = await gort.select(gort.recv(awake), default=True)
            assert j == -1, "goroutine not asleep"
            await m.lock()
            c.broadcast()
            m.unlock()
            seen = [False] * n
            for _ in range(n):
                g = await awake.recv()
                assert not seen[g], "goroutine woke up twice"
                seen[g] = True
        j, _, _ = await gort.select(gort.recv(running), default=True)
        assert j == -1, "goroutine did not exit"
        c.broadcast()
        return True

    assert run(main, procs=2)


def test_race():
    """Three goroutines hand a value around under c.L with Wait/Signal."""
    async def main():
        box = [0]
        c = gort.Cond(gort.Mutex())
        done = gort.Chan()

        async def g1():
            await c.L.lock()
            box[0] = 1
            await c.wait()
            assert box[0] == 2, "want 2"
            box[0] = 3
            c.signal()
            c.L.unlock()
            await done.send(True)

        async def g2():
            await c.L.lock()
            while True:
                if box[0] == 1:
                    box[0] = 2
                    c.signal()
                    break
                c.L.unlock()
                await gort.gosched()
                await c.L.lock()
            c.L.unlock()
            await done.send(True)

        async def g3():
            await c.L.lock()
            while True:
                if box[0] == 2:
                    await c.wait()
                    assert box[0] == 3, "want 3"
                    break
                if box[0] == 3:
                    break
                c.L.unlock()
                await gort.gosched()
                await c.L.lock()
            c.L.unlock()
            await done.send(True)
        gort.go(g1)
        gort.go(g2)
        gort.go(g3)
        for _ in range(3):
            await done.recv()
        return True

    assert run(main, procs=2)


def test_cond_signal_stealing(switchy):
    """A Broadcast racing a new Wait must still wake the waiter already waiting."""
    async def main():
        for _ in range(1000):
            # (each goroutine gets its objects as arguments: one still waiting
            # when the next iteration starts must not see that iteration's)
            m = gort.Mutex()
            cond = gort.Cond(m)
            ch = gort.Chan()

            async def first_waiter(m, cond, ch):
                await m.lock()
                await ch.send(None)
                await cond.wait()
                m.unlock()
                await ch.send(None)
            gort.go(first_waiter, m, cond, ch)
            await ch.recv()
            await m.lock()               # the waiter is inside cond.wait: we synchronised
            m.unlock()                   # with it and then took the mutex it held
            state = {"done": False}

            async def broadcaster(cond):
                cond.broadcast()

            async def second_waiter(m, cond, state):
                await m.lock()
                while not state["done"]:
                    await cond.wait()
                m.unlock()
            gort.go(broadcaster, cond)
            gort.go(second_waiter, m, cond, state)
            # the first waiter must get the broadcast (Go: within 2 s; generous here)
            await recv_within(ch, 10.0, "the first waiter to get the broadcast")
            await m.lock()
            state["done"] = True         # release the second waiter if it missed it
            m.unlock()
            cond.broadcast()
        return True

    assert run(main, procs=4)


def test_cond_copy():
    """Using a copy of a Cond that has been used raises (Go panics "sync.Cond is copied")."""
    async def main():
        c = gort.Cond(gort.Mutex())
        c.signal()
        c2 = copy.copy(c)
        with pytest.raises(RuntimeError, match="^sync.Cond is copied$"):
            c2.signal()
        return True

    assert run(main)
