# Port of golang.org/x/sync errgroup/errgroup_test.go (x/sync as of Go 1.23)
"""errgroup: Wait returns (gort: raises) the first error; WithContext's context
is cancelled by the first error or by Wait, with the error as its cause;
SetLimit bounds the active goroutines, TryGo refuses past the limit (always,
with limit 0) and Go blocks the caller until the goroutine can be added.

gort's shape of Go's blocking: `g.go(fn)` registers the goroutine at once
(starting it now, or queueing its admission in FIFO order) and returns an
awaitable; `await g.go(fn)` blocks until it has been admitted, which is Go's
behaviour.  Errors are exceptions raised by fn; `await g.wait()` raises the first.
"""
from __future__ import annotations

import pytest

import gort
from gort import context
from gort.context import Canceled
from gosupport import Atomic, recv_within, run

pytestmark = pytest.mark.timeout(120)


async def wait_err(g):
    """Go's `err := g.Wait()`: the exception wait() raised, or None."""
    try:
        await g.wait()
    except Exception as e:       # noqa: BLE001 - the group's error is the value under test
        return e
    return None


def returning(err):
    """Go's `func() error { return err }`: raise err if it is not None."""
    async def f():
        if err is not None:
            raise err
    return f


def fake_search(kind):
    async def search(ctx, query):
        return f"{kind} result for {query!r}"
    return search


WEB, IMAGE, VIDEO = fake_search("web"), fake_search("image"), fake_search("video")


def test_example_group_parallel():
    """ExampleGroup_parallel (run by go test for its Output): the "Google Search
    2.0" of the concurrency talk with a context and error handling."""
    async def google(ctx, query):
        g, ctx = gort.ErrGroup.with_context(ctx)
        searches = [WEB, IMAGE, VIDEO]
        results = [None] * len(searches)
        for i, search in enumerate(searches):
            async def one(i=i, search=search):
                results[i] = await search(ctx, query)
            g.go(one)
        await g.wait()
        return results

    async def main():
        return await google(context.background(), "golang")

    assert run(main, procs=2) == ['web result for \'golang\'', 'image result for \'golang\'',
                                  'video result for \'golang\'']


def test_zero_group():
    err1 = ValueError("errgroup_test: 1")
    err2 = ValueError("errgroup_test: 2")
    cases = [[], [None], [err1], [err1, None], [err1, None, err2]]

    async def main():
        for errs in cases:
            g = gort.ErrGroup()
            first = None
            for i, err in enumerate(errs):
                g.go(returning(err))
                if first is None and err is not None:
                    first = err
                got = await wait_err(g)
                assert got is first, f"after go() for err in {errs[:i + 1]}: wait() = {got!r}; want {first!r}"
        return True

    assert run(main, procs=2)


def test_with_context():
    err_doom = ValueError("group_test: doomed")
    cases = [([], None), ([None], None), ([err_doom], err_doom), ([err_doom, None], err_doom)]

    async def main():
        for errs, want in cases:
            g, ctx = gort.ErrGroup.with_context(context.background())
            for err in errs:
                g.go(returning(err))
            got = await wait_err(g)
            assert got is want, f"after go() for err in {errs}: wait() = {got!r}; want {want!r}"
            _, _, selected = ctx.done().try_recv()
            assert selected, f"after go() for err in {errs}: ctx.done() was not closed"
        return True

    assert run(main, procs=2)


def test_try_go():
    async def main():
        g = gort.ErrGroup()
        n = 42
        g.set_limit(42)
        ch = gort.Chan()

        async def fn():
            await ch.send(None)
        for i in range(n):
            assert g.try_go(fn), f"try_go should succeed but failed at the {i}-th call"
        assert not g.try_go(fn), "try_go is expected to fail but succeeded"

        async def drain(k):
            for _ in range(k):
                await ch.recv()
        gort.go(drain, n)
        await g.wait()
        assert g.try_go(fn), "try_go should succeed after all goroutines"
        gort.go(drain, 1)
        await g.wait()
        # switch limit
        g.set_limit(1)
        assert g.try_go(fn), "try_go should succeed"
        assert not g.try_go(fn), "try_go should fail"
        gort.go(drain, 1)
        await g.wait()
        # block all calls
        g.set_limit(0)
        for _ in range(1 << 10):
            assert not g.try_go(fn), "try_go should fail with limit 0"
        await g.wait()
        return True

    assert run(main, procs=2)


def test_go_limit(switchy):
    """1025 goroutines with limit 10: never more than 10 active.  Go's Go blocks
    the caller while the group is full: `await g.go(fn)`."""
    limit = 10

    async def main():
        g = gort.ErrGroup()
        g.set_limit(limit)
        active = Atomic(0)
        peak = Atomic(0)

        async def fn():
            n = active.add(1)
            if n > limit:
                raise AssertionError(f"saw {n} active goroutines; want <= {limit}")
            if n > peak.load():
                peak.store(n)
            await gort.sleep(1e-6)       # give other goroutines a chance to increment active
            active.add(-1)
        for _ in range((1 << 10) + 1):
            await g.go(fn)
            assert active.load() <= limit
        err = await wait_err(g)
        assert err is None, err
        return peak.load()

    assert 1 <= run(main, procs=4) <= limit


def test_go_limit_without_await(switchy):
    """(gort's own addition)  Programs written before go() became awaitable call
    it without await: every goroutine still runs exactly once, never more than
    the limit at once, and wait() waits for the queued ones too."""
    limit = 3

    async def main():
        g = gort.ErrGroup()
        g.set_limit(limit)
        active = Atomic(0)
        order = []

        async def fn(i):
            n = active.add(1)
            assert n <= limit, f"{n} active > {limit}"
            order.append(i)
            await gort.sleep(1e-4)
            active.add(-1)
        for i in range(50):
            g.go(fn, i)
        await g.wait()
        return order

    assert sorted(run(main, procs=4)) == list(range(50))


def test_go_blocks_until_admitted():
    """(gort's own addition)  With the group full, `await g.go(fn)` does not
    return before a slot frees; try_go fails meanwhile."""
    async def main():
        g = gort.ErrGroup()
        g.set_limit(1)
        release = gort.Chan()

        async def holder():
            await release.recv()

        async def quick():
            pass
        await g.go(holder)
        admitted = gort.Chan()

        async def adder():
            await g.go(quick)
            admitted.close()
        gort.go(adder)
        await gort.sleep(0.05)           # negative check: nothing may admit it
        i, _, _ = await gort.select(gort.recv(admitted), default=True)
        assert i == -1, "go() returned while the group was at its limit"
        assert not g.try_go(quick)
        await release.send(None)
        await recv_within(admitted, 30.0, "admission after the slot freed")
        await g.wait()
        return True

    assert run(main, procs=2)


def test_cancel_cause():
    err_doom = ValueError("group_test: doomed")
    cases = [([], None), ([None], None), ([err_doom], err_doom), ([err_doom, None], err_doom)]

    async def main():
        for errs, want in cases:
            g, ctx = gort.ErrGroup.with_context(context.background())
            for err in errs:
                g.try_go(returning(err))
            got = await wait_err(g)
            assert got is want, f"after try_go() for err in {errs}: wait() = {got!r}; want {want!r}"
            c = context.cause(ctx)
            if want is None:
                assert isinstance(c, Canceled), f"cause(ctx) = {c!r}; want Canceled"
            else:
                assert c is want, f"cause(ctx) = {c!r}; want {want!r}"
        return True

    assert run(main, procs=2)
