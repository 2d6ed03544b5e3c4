# Port of src/sync/mutex_test.go (Go 1.23)
"""sync.Mutex: hammering from many goroutines, misuse detection and fairness.
Benchmarks are not ported."""
from __future__ import annotations

import pytest

import gort
from gosupport import recv_within, run

pytestmark = pytest.mark.timeout(120)


async def hammer_semaphore(s, loops, cdone):
    for _ in range(loops):
        await s.acquire()
        s.release()
    await cdone.send(True)


def test_semaphore(switchy):
    """Go hammers its runtime semaphore (reached through export_test.go); gort's
    public counterpart of a semaphore initialised to 1 is Semaphore(1)."""
    async def main():
        s = gort.Semaphore(1)
        c = gort.Chan()
        for _ in range(10):
            gort.go(hammer_semaphore, s, 1000, c)
        for _ in range(10):
            await c.recv()
        return s.try_acquire(1)          # everything released: the unit is free again

    assert run(main, procs=4)


async def hammer_mutex(m, loops, cdone, box):
    for _ in range(loops):
        await m.lock()
        v = box[0]
        await gort.gosched()             # (port) a broken lock would lose this update
        box[0] = v + 1
        m.unlock()
    await cdone.send(True)


@pytest.mark.parametrize("procs", [1, 4])
def test_mutex(procs, switchy):
    """10 goroutines x 1000 lock/unlock.  Go only checks that this finishes; the
    port also counts the increments made under the lock (none may be lost)."""
    async def main():
        m = gort.Mutex()
        c = gort.Chan()
        box = [0]
        for _ in range(10):
            gort.go(hammer_mutex, m, 1000, c, box)
        for _ in range(10):
            await c.recv()
        return box[0]

    assert run(main, procs=procs) == 10 * 1000


async def _rw_unlock(mu):
    mu.unlock()


MISUSE = {
    "Mutex.Unlock": lambda: gort.Mutex().unlock(),
    "Mutex.Unlock2": None,       # lock, unlock, unlock (needs await: built below)
    "RWMutex.Unlock": lambda: gort.RWMutex().unlock(),
    "RWMutex.Unlock2": None,     # rlock, unlock
    "RWMutex.Unlock3": None,     # lock, unlock, unlock
    "RWMutex.RUnlock": lambda: gort.RWMutex().runlock(),
    "RWMutex.RUnlock2": None,    # lock, runlock
    "RWMutex.RUnlock3": None,    # rlock, runlock, runlock
}


@pytest.mark.parametrize("name", list(MISUSE))
def test_mutex_misuse(name):
    """Go runs each misuse in a child process and expects a fatal error that
    mentions "unlocked"; gort raises RuntimeError with the same message."""
    async def main():
        if name == "Mutex.Unlock2":
            mu = gort.Mutex()
            await mu.lock()
            mu.unlock()
            f = mu.unlock
        elif name == "RWMutex.Unlock2":
            rw = gort.RWMutex()
            await rw.rlock()
            f = rw.unlock
        elif name == "RWMutex.Unlock3":
            rw = gort.RWMutex()
            await rw.lock()
            rw.unlock()
            f = rw.unlock
        elif name == "RWMutex.RUnlock2":
            rw = gort.RWMutex()
            await rw.lock()
            f = rw.runlock
        elif name == "RWMutex.RUnlock3":
            rw = gort.RWMutex()
            await rw.rlock()
            rw.runlock()
            f = rw.runlock
        else:
            f = MISUSE[name]
        with pytest.raises(RuntimeError, match="unlocked"):
            f()
        return True

    assert run(main)


def test_mutex_fairness():
    """A goroutine that keeps re-locking with a 100 us hold must not starve a
    goroutine that wants the lock 10 times (Go: within 10 s)."""
    async def main():
        mu = gort.Mutex()
        stop = gort.Chan()

        async def hog():
            while True:
                await mu.lock()
                await gort.sleep(100e-6)
                mu.unlock()
                i, _, _ = await gort.select(gort.recv(stop), default=True)
                if i == 0:
                    return
        gort.go(hog)
        done = gort.Chan()

        async def wanter():
            for _ in range(10):
                await gort.sleep(100e-6)
                await mu.lock()
                mu.unlock()
            await done.send(True)
        gort.go(wanter)
        try:
            await recv_within(done, 10.0, "the mutex within 10 seconds")
        finally:
            stop.close()
        return True

    assert run(main, procs=2)
