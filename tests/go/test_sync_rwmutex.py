# Port of src/sync/rwmutex_test.go (Go 1.23)
"""sync.RWMutex: readers share it, writers exclude everyone, RLocker read-locks.
Benchmarks are not ported."""
from __future__ import annotations

import pytest

import gort
from gosupport import Atomic, run

pytestmark = pytest.mark.timeout(120)


async def parallel_reader(m, clocked, cunlock, cdone):
    await m.rlock()
    await clocked.send(True)
    await cunlock.recv()
    m.runlock()
    await cdone.send(True)


@pytest.mark.parametrize("num_readers,gomaxprocs", [(1, 4), (3, 4), (4, 2)])
def test_parallel_readers(num_readers, gomaxprocs):
    """All readers hold the read lock at the same time."""
    async def main():
        m = gort.RWMutex()
        clocked, cunlock, cdone = gort.Chan(), gort.Chan(), gort.Chan()
        for _ in range(num_readers):
            gort.go(parallel_reader, m, clocked, cunlock, cdone)
        for _ in range(num_readers):
            await clocked.recv()         # every RLock succeeded
        for _ in range(num_readers):
            await cunlock.send(True)
        for _ in range(num_readers):
            await cdone.recv()
        return True

    assert run(main, procs=gomaxprocs)


async def reader(rwm, iterations, activity, cdone):
    for _ in range(iterations):
        await rwm.rlock()
        n = activity.add(1)
        if n < 1 or n >= 10000:
            rwm.runlock()
            raise AssertionError(f"wlock({n})")
        await gort.gosched()             # (port) Go spins 100 times here; a yield lets others in
        activity.add(-1)
        rwm.runlock()
    await cdone.send(True)


async def writer(rwm, iterations, activity, cdone):
    for _ in range(iterations):
        await rwm.lock()
        n = activity.add(10000)
        if n != 10000:
            rwm.unlock()
            raise AssertionError(f"wlock({n})")
        await gort.gosched()
        activity.add(-10000)
        rwm.unlock()
    await cdone.send(True)


def hammer_rwmutex(gomaxprocs, num_readers, iterations):
    async def main():
        activity = Atomic(0)             # active readers + 10000 * active writers
        rwm = gort.RWMutex()
        cdone = gort.Chan()
        gort.go(writer, rwm, iterations, activity, cdone)
        i = 0
        while i < num_readers // 2:
            gort.go(reader, rwm, iterations, activity, cdone)
            i += 1
        gort.go(writer, rwm, iterations, activity, cdone)
        while i < num_readers:
            gort.go(reader, rwm, iterations, activity, cdone)
            i += 1
        for _ in range(2 + num_readers):
            await cdone.recv()
        return activity.load()

    assert run(main, procs=gomaxprocs) == 0


CONFIGS = [(1, 1), (1, 3), (1, 10), (4, 1), (4, 3), (4, 10), (10, 1), (10, 3), (10, 10), (10, 5)]


@pytest.mark.parametrize("gomaxprocs,num_readers", CONFIGS)
def test_rwmutex(gomaxprocs, num_readers, switchy):
    """Go's n = 1000 iterations per goroutine (5 with -short)."""
    hammer_rwmutex(gomaxprocs, num_readers, 1000)


def test_rlocker():
    async def main():
        wl = gort.RWMutex()
        rl = wl.rlocker()
        wlocked = gort.Chan(1)
        rlocked = gort.Chan(1)
        n = 10

        async def locker():
            for _ in range(n):
                await rl.lock()
                await rl.lock()
                await rlocked.send(True)
                await wl.lock()
                await wlocked.send(True)
        gort.go(locker)
        for _ in range(n):
            await rlocked.recv()
            rl.unlock()
            i, _, _ = await gort.select(gort.recv(wlocked), default=True)
            assert i == -1, "RLocker() didn't read-lock it"
            rl.unlock()
            await wlocked.recv()
            i, _, _ = await gort.select(gort.recv(rlocked), default=True)
            assert i == -1, "RLocker() didn't respect the write lock"
            wl.unlock()
        return True

    assert run(main, procs=2)
