# Port of golang.org/x/sync semaphore/semaphore_test.go (x/sync as of Go 1.23)
"""semaphore.Weighted (gort.Semaphore): weighted FIFO acquisition, TryAcquire,
Acquire with a context that ends first (x/sync returns ctx.Err(); gort raises
it), a request larger than the size waiting for its context instead of
blocking the others, and no starvation of large or later requests."""
from __future__ import annotations

import random

import pytest

import gort
from gort import context
from gosupport import Atomic, recv_within, run, until_parked

pytestmark = pytest.mark.timeout(120)

MAX_SLEEP = 0.001                # 1 ms


async def hammer_weighted(sem, n, loops):
    for _ in range(loops):
        await sem.acquire(n, context.background())
        await gort.sleep(random.random() * MAX_SLEEP)
        sem.release(n)


def test_weighted(switchy):
    n = 2                        # GOMAXPROCS on these machines
    loops = 10000 // n

    async def main():
        sem = gort.Semaphore(n)
        wg = gort.WaitGroup()
        for i in range(n):
            wg.go(hammer_weighted, sem, i, loops)
        await wg.wait()
        return sem.try_acquire(n)       # all released

    assert run(main, procs=n, timeout=110)


def test_weighted_panic():
    async def main():
        w = gort.Semaphore(1)
        with pytest.raises(RuntimeError):
            w.release(1)         # release of an unacquired semaphore
        return True

    assert run(main)


def test_weighted_try_acquire():
    async def main():
        ctx = context.background()
        sem = gort.Semaphore(2)
        tries = []
        await sem.acquire(1, ctx)
        tries.append(sem.try_acquire(1))
        tries.append(sem.try_acquire(1))
        sem.release(2)
        tries.append(sem.try_acquire(1))
        await sem.acquire(1, ctx)
        tries.append(sem.try_acquire(1))
        return tries

    assert run(main) == [True, False, True, False]


def test_weighted_acquire():
    """Acquire with a 10 ms context: it succeeds when there is room, and raises
    the context's error when the context ends first."""
    async def main():
        ctx = context.background()
        sem = gort.Semaphore(2)

        async def try_acquire(n):
            c, cancel = context.with_timeout(ctx, 0.010)
            try:
                await sem.acquire(n, c)
                return True
            except context.DeadlineExceeded:
                return False
            finally:
                cancel()
        tries = []
        await sem.acquire(1, ctx)
        tries.append(await try_acquire(1))
        tries.append(await try_acquire(1))
        sem.release(2)
        tries.append(await try_acquire(1))
        await sem.acquire(1, ctx)
        tries.append(await try_acquire(1))
        return tries

    assert run(main, procs=2) == [True, False, True, False]


def test_weighted_doesnt_block_if_too_big():
    """A pending Acquire(n+1) on a semaphore of size n waits for its context
    without blocking the Acquire(1) calls made after it."""
    n = 2

    async def main():
        sem = gort.Semaphore(n)
        ctx, cancel = context.with_cancel(context.background())
        try:
            async def too_big():
                try:
                    await sem.acquire(n + 1, ctx)
                except context.Canceled:
                    pass
            gort.go(too_big)
            g, gctx = gort.ErrGroup.with_context(context.background())

            async def one():
                await sem.acquire(1, gctx)
                await gort.sleep(0.001)
                sem.release(1)
            for _ in range(n * 3):
                g.go(one)
            await g.wait()
        finally:
            cancel()
        return True

    assert run(main, procs=2)


def test_large_acquire_doesnt_starve():
    """A large Acquire(n) eventually succeeds while n goroutines keep releasing
    and re-acquiring one unit each."""
    n = 2

    async def main():
        ctx = context.background()
        sem = gort.Semaphore(n)
        running = Atomic(1)
        wg = gort.WaitGroup()

        async def cycler():
            try:
                while running.load():
                    await gort.sleep(0.001)
                    sem.release(1)
                    await sem.acquire(1, ctx)
            finally:
                sem.release(1)
        for _ in range(n):
            await sem.acquire(1, ctx)
            wg.go(cycler)
        await sem.acquire(n, ctx)
        running.store(0)
        sem.release(n)
        await wg.wait()
        return True

    assert run(main, procs=2)


def test_alloc_cancel_doesnt_starve():
    """A queued large request that gives up (its context times out) must wake
    the smaller request queued behind it."""
    async def main():
        sem = gort.Semaphore(10)
        await sem.acquire(1, context.background())      # hold one read lock
        gave_up = gort.Chan(1)

        async def writer():
            ctx, cancel = context.with_timeout(context.background(), 0.300)
            try:
                await sem.acquire(10, ctx)               # a write lock that gives up
                await gave_up.send("acquired")
            except context.DeadlineExceeded:
                await gave_up.send(None)
            finally:
                cancel()
        gort.go(writer)
        # Go sleeps 100 ms "long enough for the Lock request to be queued"; the
        # port waits until it is parked in the semaphore's queue
        await until_parked("select")
        done = gort.Chan()

        async def reader():
            await sem.acquire(1, context.background())  # queued behind the writer
            sem.release(1)
            done.close()
        gort.go(reader)
        await recv_within(done, 10.0, "the read lock after the write request gave up")  # Go: 1 s
        return (await gave_up.recv())

    assert run(main, procs=2) is None
