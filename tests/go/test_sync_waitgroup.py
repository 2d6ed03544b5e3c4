# Port of src/sync/waitgroup_test.go (Go 1.23)
"""sync.WaitGroup: a reusable barrier, misuse detection (negative counter, Add
concurrent with Wait, reuse before a Wait has returned), no spurious wake-ups.
Benchmarks are not ported."""
from __future__ import annotations

import os

import pytest

import gort
from gosupport import Atomic, count, run

pytestmark = pytest.mark.timeout(300)

MISUSE_MESSAGES = ("sync: negative WaitGroup counter",
                   "sync: WaitGroup misuse: Add called concurrently with Wait",
                   "sync: WaitGroup is reused before previous Wait has returned")


async def check_wait_group(wg1, wg2):
    n = 16
    wg1.add(n)
    wg2.add(n)
    exited = gort.Chan(n)

    async def g():
        wg1.done()
        await wg2.wait()
        await exited.send(True)
    for _ in range(n):
        gort.go(g)
    await wg1.wait()
    for _ in range(n):
        i, _, _ = await gort.select(gort.recv(exited), default=True)
        assert i == -1, "WaitGroup released group too soon"
        wg2.done()
    for _ in range(n):
        await exited.recv()              # blocks if the barrier fails to unlock someone


@pytest.mark.parametrize("procs", [1, 4])
def test_wait_group(procs):
    async def main():
        wg1, wg2 = gort.WaitGroup(), gort.WaitGroup()
        for _ in range(8):               # the barrier is in a proper state again each time
            await check_wait_group(wg1, wg2)
        return True

    assert run(main, procs=procs)


def test_wait_group_misuse():
    async def main():
        wg = gort.WaitGroup()
        wg.add(1)
        wg.done()
        with pytest.raises(ValueError, match="^sync: negative WaitGroup counter$"):
            wg.done()
        return True

    assert run(main)


def _misuse_loop(body, procs):
    """Run `body` up to Go's 1e6 times until a misuse is detected; the detection
    is opportunistic, so Go only requires it at least once."""
    n = count(1_000_000, 100_000)        # Go: 1e6 (GORT_GO_FULL=1 restores it)

    async def main():
        for _ in range(n):
            err = await body()
            if err is not None:
                return str(err)
        return None

    got = run(main, procs=procs, timeout=280)
    assert got is not None, "Should panic"
    assert got in MISUSE_MESSAGES, f"Unexpected panic: {got!r}"


@pytest.mark.skipif((os.cpu_count() or 1) <= 2,
                    reason="Go: NumCPU<=2, skipping: this test requires parallelism")
def test_wait_group_misuse2(switchy):
    async def body():
        wg = gort.WaitGroup()
        done = gort.Chan(2)
        wg.add(1)

        async def waiter():
            try:
                await wg.wait()
                await done.send(None)
            except (ValueError, RuntimeError) as e:
                await done.send(e)

        async def bad_guy():
            try:
                wg.add(1)                # this is the bad guy
                wg.done()
                await done.send(None)
            except (ValueError, RuntimeError) as e:
                await done.send(e)
        gort.go(waiter)
        gort.go(bad_guy)
        err = None
        try:
            wg.done()
        except (ValueError, RuntimeError) as e:
            err = e
        for _ in range(2):
            e = await done.recv()
            err = err or e
        return err

    _misuse_loop(body, procs=4)


async def _misuse3_body():
    wg = gort.WaitGroup()
    done = gort.Chan(1)
    wg.add(1)

    async def doner():
        wg.done()

    async def reuser():
        try:
            await wg.wait()
            wg.add(1)                    # reuse before the Wait below has returned
            gort.go(doner)
            await wg.wait()
            await done.send(None)
        except (ValueError, RuntimeError) as e:
            await done.send(e)
    gort.go(doner)
    gort.go(reuser)
    err = None
    try:
        await wg.wait()
    except (ValueError, RuntimeError) as e:
        err = e
    e = await done.recv()
    return err or e


@pytest.mark.skipif((os.cpu_count() or 1) <= 1,
                    reason="Go: NumCPU==1, skipping: this test requires parallelism")
def test_wait_group_misuse3(switchy):
    _misuse_loop(_misuse3_body, procs=4)


def test_wait_group_reuse_detected_after_wake():
    """The deterministic core of TestWaitGroupMisuse3 (gort's own addition):
    the Done that wakes a Wait is followed, before the waiter has run, by an Add.
    Go's Wait finds the state changed after waking and panics with "sync:
    WaitGroup is reused before previous Wait has returned"; so must gort's.
    With one P the goroutine that calls done() keeps running after readying the
    waiter, so the Add always comes first."""
    async def main():
        wg = gort.WaitGroup()
        wg.add(1)

        async def reuse():
            wg.done()                    # wakes main ...
            wg.add(1)                    # ... which has not returned from wait yet
        gort.go(reuse)
        with pytest.raises(RuntimeError, match=f"^{MISUSE_MESSAGES[2]}$"):
            await wg.wait()
        return True

    assert run(main, procs=1)


def test_wait_group_race(switchy):
    """wait returns only after both done calls, never spuriously."""
    async def main():
        for _ in range(1000):
            wg = gort.WaitGroup()
            n = Atomic(0)          # Go: atomic.AddInt32 (without the GIL `+= 1` can lose one)

            async def g():
                n.add(1)
                wg.done()
            wg.add(1)
            gort.go(g)
            wg.add(1)
            gort.go(g)
            await wg.wait()
            assert n.load() == 2, "Spurious wakeup from Wait"
        return True

    assert run(main, procs=4)


def test_wait_group_align():
    """Go checks a WaitGroup embedded after a byte; the port keeps the use from
    another goroutine through a containing object."""
    class X:
        def __init__(self):
            self.x = 0
            self.wg = gort.WaitGroup()

    async def main():
        x = X()
        x.wg.add(1)

        async def g(x):
            x.wg.done()
        gort.go(g, x)
        await x.wg.wait()
        return True

    assert run(main, procs=2)
