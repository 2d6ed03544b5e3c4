"""Tests for gort.context, modeled on Go's context/context_test.go.

Every program runs through `_run`, which starts gort.run in a thread and joins
it with a timeout, so a hang becomes a test failure.  Timings are never
asserted tightly: waits on done() are bounded by generous `after` channels.
"""
from __future__ import annotations

import sys
import time

import pytest

import gort
from helpers import run_bounded
from gort import context
from gort.context import Canceled, DeadlineExceeded

pytestmark = pytest.mark.timeout(120)

LONG = 10.0          # "never" for a wait that must not time out


def _run(main, *args, procs: int = 2, timeout: float = 60.0):
    """run_bounded with this file's defaults (2 Ps, 60 s)."""
    return run_bounded(main, *args, procs=procs, timeout=timeout)


async def _wait_done(ctx, bound: float = LONG) -> bool:
    """True if ctx.done() closes within `bound` seconds."""
    i, _, ok = await gort.select(gort.recv(ctx.done()), gort.recv(gort.after(bound)))
    return i == 0 and not ok


def _is_done_now(ctx) -> bool:
    """Non-blocking: has ctx.done() been closed?"""
    _, ok, selected = ctx.done().try_recv()
    return selected and not ok


# ---------------------------------------------------------------- background / todo

def test_background_todo():
    for ctx, name in ((context.background(), "Background"), (context.todo(), "TODO")):
        assert ctx.done() is None
        assert ctx.err() is None
        assert ctx.deadline() == (None, False)
        assert ctx.value("k") is None
        assert ctx.cause() is None
        assert context.cause(ctx) is None
        assert name in repr(ctx)
        assert isinstance(ctx, context.Context)
    assert context.background() is context.background()
    assert context.todo() is context.todo()
    assert context.background() is not context.todo()


def test_error_types():
    assert issubclass(Canceled, Exception)
    assert issubclass(DeadlineExceeded, TimeoutError)
    assert str(Canceled()) == "context canceled"
    assert str(DeadlineExceeded()) == "context deadline exceeded"
    assert DeadlineExceeded().timeout() is True


def test_none_parent_rejected():
    for fn, args in ((context.with_cancel, ()), (context.with_cancel_cause, ()),
                     (context.with_value, ("k", 1)), (context.without_cancel, ()),
                     (context.with_deadline, (time.monotonic() - 1,)),
                     (context.with_timeout, (-1,))):
        with pytest.raises(TypeError):
            fn(None, *args)
    with pytest.raises(TypeError):
        context.with_cancel(object())


def test_with_timeout_outside_program_raises():
    with pytest.raises(RuntimeError, match="outside a running gort program"):
        context.with_timeout(context.background(), 1.0)


# ---------------------------------------------------------------- with_cancel

def test_with_cancel_basic():
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        d = ctx.done()
        assert isinstance(d, gort.Chan)
        assert ctx.done() is d                      # same channel every time
        assert ctx.err() is None and ctx.cause() is None
        assert not _is_done_now(ctx)
        assert ctx.deadline() == (None, False)
        assert "WithCancel" in repr(ctx)
        cancel()
        v, ok = await d.recv_ok()
        assert (v, ok) == (None, False)
        e = ctx.err()
        assert isinstance(e, Canceled) and str(e) == "context canceled"
        assert ctx.err() is e                       # stable
        assert ctx.cause() is e and context.cause(ctx) is e
        cancel()                                    # idempotent
        cancel()
        assert ctx.err() is e
        assert ctx.done() is d
        return True
    assert _run(main)


def test_done_requested_after_cancel_is_closed():
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        cancel()                                    # nobody asked for done() yet
        d = ctx.done()
        assert d is ctx.done()
        assert await _wait_done(ctx, 1.0)
        assert isinstance(ctx.err(), Canceled)
        return True
    assert _run(main)


def test_parent_cancels_children():
    async def main():
        parent, cancel_parent = context.with_cancel(context.background())
        c1, cancel1 = context.with_cancel(parent)
        c2, cancel2 = context.with_cancel(parent)
        vc = context.with_value(parent, "k", "v")
        c3, cancel3 = context.with_cancel(vc)       # through a value context
        gc, cancel_gc = context.with_cancel(c1)     # grandchild
        tc, cancel_tc = context.with_timeout(c2, LONG * 10)
        kids = [c1, c2, c3, gc, tc]
        for k in kids:
            k.done()                                # half asked for done() early ...
        c_lazy, cancel_lazy = context.with_cancel(c3)   # ... and one never before cancel
        assert len(parent._children) == 3           # c1, c2, c3 (vc is not cancellable)
        for k in kids:
            assert not _is_done_now(k) and k.err() is None
        cancel_parent()
        assert await _wait_done(parent)
        for k in kids + [c_lazy, vc]:
            assert await _wait_done(k), k
            assert isinstance(k.err(), Canceled), k
        assert parent._children is None
        assert c3.value("k") == "v"
        for f in (cancel1, cancel2, cancel3, cancel_gc, cancel_tc, cancel_lazy):
            f()
        return True
    assert _run(main)


def test_child_cancel_does_not_affect_parent():
    async def main():
        parent, cancel_parent = context.with_cancel(context.background())
        child, cancel_child = context.with_cancel(parent)
        sibling, cancel_sibling = context.with_cancel(parent)
        grandchild, cancel_gc = context.with_cancel(child)
        cancel_child()
        assert await _wait_done(child)
        assert await _wait_done(grandchild)
        assert isinstance(grandchild.err(), Canceled)
        assert parent.err() is None and not _is_done_now(parent)
        assert sibling.err() is None and not _is_done_now(sibling)
        cancel_parent()
        assert await _wait_done(sibling)
        assert isinstance(child.err(), Canceled)
        cancel_sibling()
        cancel_gc()
        return True
    assert _run(main)


def test_cancelled_child_detaches_from_parent():
    async def main():
        parent, cancel_parent = context.with_cancel(context.background())
        vparent = context.with_value(parent, "k", 1)
        cancels = []
        for i in range(100):
            # via the value context too: children register in the nearest cancel ctx
            _, c = context.with_cancel(parent if i % 2 else vparent)
            cancels.append(c)
        assert len(parent._children) == 100
        for c in cancels[:50]:
            c()
        assert len(parent._children) == 50
        for c in cancels[50:]:
            c()
            c()
        assert len(parent._children) == 0
        # a deadline child detaches when its timer fires
        tctx, tcancel = context.with_timeout(parent, 0.01)
        assert len(parent._children) == 1
        assert await _wait_done(tctx)
        for _ in range(1000):                       # the firing goroutine detaches it right after close
            if not parent._children:
                break
            await gort.sleep(0.001)
        assert len(parent._children) == 0
        tcancel()
        # after_func registrations detach on stop
        stops = [context.after_func(parent, lambda: None) for _ in range(10)]
        assert len(parent._children) == 10
        assert all(s() for s in stops)
        assert len(parent._children) == 0
        # a child created on a cancelled parent is never registered
        cancel_parent()
        late, late_cancel = context.with_cancel(parent)
        assert isinstance(late.err(), Canceled)
        assert parent._children is None
        late_cancel()
        return True
    assert _run(main)


def test_concurrent_cancel_closes_done_once():
    async def main():
        for _ in range(20):
            ctx, cancel = context.with_cancel(context.background())
            d = ctx.done()
            out = gort.Chan(100)

            async def canceller():
                cancel()                            # would raise on a second close
                await out.send(1)
            for _ in range(16):
                gort.go(canceller)
            for _ in range(16):
                await out.recv()
            assert d.try_recv() == (None, False, True) and isinstance(ctx.err(), Canceled)
        return True
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        assert _run(main, procs=4)
    finally:
        sys.setswitchinterval(old)


# ---------------------------------------------------------------- deadlines

def test_with_timeout_fires():
    async def main():
        parent, cancel_parent = context.with_cancel(context.background())
        ctx, cancel = context.with_timeout(parent, 0.05)
        when, ok = ctx.deadline()
        assert ok and when > time.monotonic() - 1
        assert ctx.err() is None
        assert await _wait_done(ctx)
        e = ctx.err()
        assert isinstance(e, DeadlineExceeded) and isinstance(e, TimeoutError)
        assert str(e) == "context deadline exceeded"
        assert ctx.cause() is e
        assert parent.err() is None                 # the parent is unaffected
        cancel()                                    # after expiry: no-op
        assert ctx.err() is e
        assert ctx._timer is None
        cancel_parent()
        return True
    assert _run(main)


def test_with_deadline_fires_for_waiting_goroutines():
    async def main():
        ctx, cancel = context.with_deadline(context.background(), time.monotonic() + 0.05)
        res = gort.Chan(3)

        async def waiter():
            await res.send(await _wait_done(ctx))
        for _ in range(3):
            gort.go(waiter)
        got = [await res.recv() for _ in range(3)]
        assert got == [True] * 3
        assert isinstance(ctx.err(), DeadlineExceeded)
        cancel()
        return True
    assert _run(main)


def test_with_deadline_in_past():
    async def main():
        parent, cancel_parent = context.with_cancel(context.background())
        for when in (time.monotonic() - 1.0, time.monotonic()):
            ctx, cancel = context.with_deadline(parent, when)
            assert _is_done_now(ctx)
            assert isinstance(ctx.err(), DeadlineExceeded)
            assert ctx.deadline() == (when, True)
            assert ctx._timer is None
            cancel()
            assert isinstance(ctx.err(), DeadlineExceeded)
        ctx, cancel = context.with_timeout(parent, -5)
        assert isinstance(ctx.err(), DeadlineExceeded)
        assert len(parent._children) == 0           # never left registered
        cancel()
        cancel_parent()
        return True
    assert _run(main)


def test_deadline_inheritance():
    async def main():
        bg = context.background()
        parent, pcancel = context.with_timeout(bg, 100.0)
        pwhen, ok = parent.deadline()
        assert ok
        # later deadline: just with_cancel; reports the parent's deadline
        later, lcancel = context.with_timeout(parent, 1000.0)
        assert later.deadline() == (pwhen, True)
        assert getattr(later, "_timer", None) is None
        later2, l2cancel = context.with_deadline(parent, pwhen + 1)
        assert later2.deadline() == (pwhen, True)
        # earlier deadline: its own
        sooner, scancel = context.with_timeout(parent, 50.0)
        swhen, ok = sooner.deadline()
        assert ok and swhen < pwhen
        # value and cancel contexts inherit; without_cancel drops it
        assert context.with_value(sooner, "a", 1).deadline() == (swhen, True)
        c, ccancel = context.with_cancel(context.with_value(parent, "b", 2))
        assert c.deadline() == (pwhen, True)
        assert context.without_cancel(parent).deadline() == (None, False)
        for f in (pcancel, lcancel, l2cancel, scancel, ccancel):
            f()
        assert isinstance(later.err(), Canceled)
        return True
    assert _run(main)


def test_later_child_deadline_expires_with_parent():
    async def main():
        parent, pcancel = context.with_timeout(context.background(), 0.05)
        child, ccancel = context.with_timeout(parent, 1000.0)
        assert await _wait_done(child)
        assert isinstance(child.err(), DeadlineExceeded)   # inherited from the parent
        assert isinstance(parent.err(), DeadlineExceeded)
        ccancel()
        pcancel()
        return True
    assert _run(main)


def test_cancel_stops_deadline_timer():
    async def main():
        ctx, cancel = context.with_timeout(context.background(), 0.05)
        t = ctx._timer
        assert t is not None
        cancel()
        assert ctx._timer is None
        assert t.stop() is False                    # already stopped by cancel
        e = ctx.err()
        assert isinstance(e, Canceled)
        await gort.sleep(0.15)                      # past the deadline
        assert ctx.err() is e                       # the timer never fired
        return True
    assert _run(main)


# ---------------------------------------------------------------- values

def test_with_value_chain_and_shadowing():
    class Key:
        pass
    k1, k2 = Key(), Key()
    bg = context.background()
    c1 = context.with_value(bg, k1, "c1k1")
    assert c1.value(k1) == "c1k1"
    assert c1.value(k2) is None
    c2 = context.with_value(c1, k2, "c2k2")
    assert (c2.value(k1), c2.value(k2)) == ("c1k1", "c2k2")
    c3 = context.with_value(c2, k1, "c3k1")        # shadows c1's binding
    assert (c3.value(k1), c3.value(k2)) == ("c3k1", "c2k2")
    assert c1.value(k1) == "c1k1"                   # parents unchanged
    assert c3.value("missing") is None
    assert c3.done() is None and c3.err() is None and c3.deadline() == (None, False)
    assert "WithValue" in repr(c3)
    # long chains walk iteratively (no recursion limit)
    c = bg
    for i in range(5000):
        c = context.with_value(c, i, i * 2)
    assert c.value(0) == 0 and c.value(4999) == 9998 and c.value(-1) is None
    # None-valued bindings and tuple keys
    c4 = context.with_value(c3, ("t", 1), None)
    assert c4.value(("t", 1)) is None and c4.value(k2) == "c2k2"


def test_with_value_bad_keys():
    bg = context.background()
    with pytest.raises(TypeError):
        context.with_value(bg, None, 1)
    for key in ([], {}, {1}, ([1],)):
        with pytest.raises(TypeError):
            context.with_value(bg, key, 1)


def test_values_through_cancel_contexts():
    async def main():
        base = context.with_value(context.background(), "user", "ann")
        c, cancel = context.with_cancel(base)
        t, tcancel = context.with_timeout(c, LONG)
        v = context.with_value(t, "req", 7)
        assert (v.value("user"), v.value("req")) == ("ann", 7)
        assert t.value("req") is None
        cancel()
        assert v.value("user") == "ann"             # values survive cancellation
        assert isinstance(v.err(), Canceled)
        assert v.done() is t.done()
        tcancel()
        return True
    assert _run(main)


def test_without_cancel():
    async def main():
        parent, cancel = context.with_timeout(context.with_value(context.background(), "k", "v"), LONG)
        wc = context.without_cancel(parent)
        assert wc.value("k") == "v"
        assert wc.done() is None and wc.err() is None
        assert wc.deadline() == (None, False)
        child, ccancel = context.with_cancel(wc)    # registers nowhere
        assert len(parent._children) == 0
        cancel()
        assert await _wait_done(parent)
        assert wc.err() is None and wc.cause() is None
        assert child.err() is None and not _is_done_now(child)
        assert context.with_value(wc, "x", 1).value("k") == "v"
        assert "WithoutCancel" in repr(wc)
        ccancel()
        assert isinstance(child.err(), Canceled)
        return True
    assert _run(main)


# ---------------------------------------------------------------- after_func

def test_after_func_runs_once_after_cancel():
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        ran = gort.Chan(10)

        async def f():
            assert isinstance(ctx.err(), Canceled)  # ctx is done by the time f runs
            await ran.send("async")

        def g():                                    # a plain callable works too
            ran.try_send("sync")

        stop_f = context.after_func(ctx, f)
        stop_g = context.after_func(ctx, g)
        await gort.sleep(0.02)
        assert len(ran) == 0                        # not before cancel
        cancel()
        cancel()
        got = sorted([await ran.recv(), await ran.recv()])
        assert got == ["async", "sync"]
        await gort.sleep(0.02)
        assert len(ran) == 0                        # exactly once each
        assert stop_f() is False                    # already ran
        assert stop_g() is False
        return True
    assert _run(main)


def test_after_func_stop_before_cancel():
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        ran = gort.Chan(10)

        async def f():
            await ran.send(1)
        stop = context.after_func(ctx, f)
        assert stop() is True                       # prevented it
        assert stop() is False                      # second stop: nothing left to prevent
        cancel()
        await gort.sleep(0.05)
        assert len(ran) == 0
        return True
    assert _run(main)


def test_after_func_on_done_context_runs_immediately():
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        cancel()
        ran = gort.Chan(1)

        async def f():
            await ran.send("ran")
        stop = context.after_func(ctx, f)
        i, v, _ = await gort.select(gort.recv(ran), gort.recv(gort.after(LONG)))
        assert (i, v) == (0, "ran")
        assert stop() is False
        # on a deadline context: runs when the deadline passes
        tctx, tcancel = context.with_timeout(context.background(), 0.02)
        context.after_func(tctx, f)
        i, v, _ = await gort.select(gort.recv(ran), gort.recv(gort.after(LONG)))
        assert (i, v) == (0, "ran")
        assert isinstance(tctx.err(), DeadlineExceeded)
        tcancel()
        return True
    assert _run(main)


def test_after_func_never_done_context():
    async def main():
        stop = context.after_func(context.background(), lambda: None)
        assert stop() is True
        assert stop() is False
        return True
    assert _run(main)


def test_after_func_rejects_coroutine_object_and_non_callable():
    async def main():
        async def f():
            pass
        ctx, cancel = context.with_cancel(context.background())
        with pytest.raises(TypeError):
            context.after_func(ctx, f())
        with pytest.raises(TypeError):
            context.after_func(ctx, 42)
        cancel()
        return True
    assert _run(main)


def test_after_func_stop_races_cancel():
    """For every registration, exactly one of: stop() returned True, or fn ran."""
    n = 300

    async def main():
        ctx, cancel = context.with_cancel(context.background())
        ran = gort.Chan(n)
        stopped = gort.Chan(n)

        def make(i):
            def f():
                ran.try_send(i)
            return f
        stops = [context.after_func(ctx, make(i)) for i in range(n)]

        async def stopper(i):
            await stopped.send((i, stops[i]()))
        for i in range(n):
            gort.go(stopper, i)
            if i == n // 2:
                gort.go(_cancel_async, cancel)
        results = dict([await stopped.recv() for _ in range(n)])
        prevented = {i for i, ok in results.items() if ok}
        # every non-prevented fn was started; wait for all of them to run
        ran_set = set()
        while len(ran_set) < n - len(prevented):
            i, v, _ = await gort.select(gort.recv(ran), gort.recv(gort.after(LONG)))
            assert i == 0, "an after_func that was not stopped never ran"
            ran_set.add(v)
        await gort.sleep(0.02)
        assert len(ran) == 0
        assert ran_set.isdisjoint(prevented)
        assert ran_set | prevented == set(range(n))
        return True

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        assert _run(main, procs=4)
    finally:
        sys.setswitchinterval(old)


async def _cancel_async(cancel):
    cancel()


# ---------------------------------------------------------------- causes

def test_with_cancel_cause():
    async def main():
        bg = context.background()
        boom = ValueError("boom")
        ctx, cancel = context.with_cancel_cause(bg)
        child, ccancel = context.with_cancel(ctx)
        vchild = context.with_value(child, "k", 1)
        assert context.cause(ctx) is None
        cancel(boom)
        cancel(KeyError("second"))                  # the first cause wins
        assert isinstance(ctx.err(), Canceled)
        assert context.cause(ctx) is boom and ctx.cause() is boom
        assert isinstance(child.err(), Canceled)
        assert context.cause(child) is boom         # inherited from the canceller
        assert context.cause(vchild) is boom        # walks through a value context
        assert context.cause(context.without_cancel(ctx)) is None
        ccancel()
        # cancel(None): the cause is the err
        ctx2, cancel2 = context.with_cancel_cause(bg)
        cancel2(None)
        assert context.cause(ctx2) is ctx2.err()
        ctx3, cancel3 = context.with_cancel_cause(bg)
        cancel3()
        assert isinstance(context.cause(ctx3), Canceled)
        # a child cancelled on its own keeps its own cause
        p, pcancel = context.with_cancel_cause(bg)
        c, ccancel2 = context.with_cancel_cause(p)
        ccancel2(OSError("child"))
        pcancel(ValueError("parent"))
        assert isinstance(context.cause(c), OSError)
        assert isinstance(context.cause(p), ValueError)
        # children created after the parent was cancelled get its err and cause
        late, late_cancel = context.with_cancel(p)
        late_t, late_tcancel = context.with_timeout(context.with_value(p, "k", 1), LONG)
        for k in (late, late_t):
            assert isinstance(k.err(), Canceled) and isinstance(context.cause(k), ValueError)
        late_cancel()
        late_tcancel()
        return True
    assert _run(main)


def test_timeout_and_deadline_cause():
    async def main():
        bg = context.background()
        why = RuntimeError("too slow")
        ctx, cancel = context.with_timeout_cause(bg, 0.02, why)
        assert await _wait_done(ctx)
        assert isinstance(ctx.err(), DeadlineExceeded)
        assert context.cause(ctx) is why
        cancel()
        assert context.cause(ctx) is why
        # the cancel func does not set the cause
        ctx2, cancel2 = context.with_timeout_cause(bg, LONG, why)
        cancel2()
        assert isinstance(ctx2.err(), Canceled)
        assert context.cause(ctx2) is ctx2.err()
        # a past deadline cancels at once with the cause
        ctx3, cancel3 = context.with_deadline_cause(bg, time.monotonic() - 1, why)
        assert isinstance(ctx3.err(), DeadlineExceeded) and context.cause(ctx3) is why
        cancel3()
        # a parent's cause reaches a with_timeout child
        p, pcancel = context.with_cancel_cause(bg)
        c, ccancel = context.with_timeout(p, LONG)
        pcancel(why)
        assert isinstance(c.err(), Canceled) and context.cause(c) is why
        ccancel()
        # and a deadline parent's cause reaches a plain child
        tp, tpcancel = context.with_deadline_cause(bg, time.monotonic() + 0.02, why)
        tc, tccancel = context.with_cancel(tp)
        assert await _wait_done(tc)
        assert isinstance(tc.err(), DeadlineExceeded) and context.cause(tc) is why
        tccancel()
        tpcancel()
        return True
    assert _run(main)


def test_foreign_context_subclass_parent():
    """A user's Context subclass with its own done(): children are cancelled via a watcher goroutine."""
    class MyCtx(context.Context):
        def __init__(self):
            self.ch = gort.Chan()
            self.e = None

        def done(self):
            return self.ch

        def err(self):
            return self.e

        def value(self, key):
            return "mine" if key == "who" else None

        def stop(self):
            self.e = Canceled()
            self.ch.close()

    async def main():
        parent = MyCtx()
        child, cancel = context.with_cancel(parent)
        grand = context.with_value(child, "k", 1)
        assert grand.value("who") == "mine" and grand.value("k") == 1
        assert child.err() is None
        parent.stop()
        assert await _wait_done(child)
        assert isinstance(child.err(), Canceled)
        cancel()
        # a child of an already-cancelled foreign parent is cancelled at once
        c2, cancel2 = context.with_cancel(parent)
        assert isinstance(c2.err(), Canceled)
        cancel2()
        # cancelling the child ends its watcher (the program exits cleanly either way)
        p3 = MyCtx()
        c3, cancel3 = context.with_cancel(p3)
        cancel3()
        assert isinstance(c3.err(), Canceled)
        await gort.sleep(0.01)
        return True
    assert _run(main)


# ---------------------------------------------------------------- select & stress

def test_select_on_done_and_channel():
    async def producer(ctx, out):
        n = 0
        while True:
            i, _, _ = await gort.select(gort.recv(ctx.done()), gort.send(out, n))
            if i == 0:
                return
            n += 1

    async def main():
        ctx, cancel = context.with_cancel(context.background())
        out = gort.Chan()
        finished = gort.Chan(1)

        async def run_producer():
            await producer(ctx, out)
            await finished.send(ctx.err())
        gort.go(run_producer)
        got = [await out.recv() for _ in range(10)]
        assert got == list(range(10))
        cancel()
        i, err, _ = await gort.select(gort.recv(finished), gort.recv(gort.after(LONG)))
        assert i == 0 and isinstance(err, Canceled)
        # a timeout variant: nobody sends, the deadline wins the select
        tctx, tcancel = context.with_timeout(context.background(), 0.02)
        never = gort.Chan()
        i, _, _ = await gort.select(gort.recv(never), gort.recv(tctx.done()))
        assert i == 1 and isinstance(tctx.err(), DeadlineExceeded)
        tcancel()
        return True
    assert _run(main)


def test_stress_many_goroutines_one_parent_cancel():
    """1,000 goroutines on 4 Ps each select on their own child of one parent."""
    n = 1000

    async def main():
        parent, cancel_parent = context.with_cancel(context.background())
        started = gort.Chan(n)
        results = gort.Chan(n + 10)

        async def worker(i):
            if i % 3 == 0:
                child, ccancel = context.with_timeout(parent, 1000.0)
            else:
                child, ccancel = context.with_cancel(context.with_value(parent, "i", i))
            mine = gort.Chan()                      # never sent on
            await started.send(None)
            idx, _, ok = await gort.select(gort.recv(mine), gort.recv(child.done()))
            e = child.err()
            await results.send((idx, ok, type(e).__name__, i))
            ccancel()

        for i in range(n):
            gort.go(worker, i)
        for _ in range(n):
            await started.recv()
        cancel_parent()
        cancel_parent()
        seen = set()
        for _ in range(n):
            i, r, _ = await gort.select(gort.recv(results), gort.recv(gort.after(30.0)))
            assert i == 0, f"only {len(seen)} of {n} workers observed the cancel"
            idx, ok, ename, w = r
            assert (idx, ok, ename) == (1, False, "Canceled")
            assert w not in seen
            seen.add(w)
        await gort.sleep(0.01)
        assert len(results) == 0                    # each observed it exactly once
        assert seen == set(range(n))
        assert isinstance(parent.err(), Canceled)
        return True

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        assert _run(main, procs=4, timeout=90)
    finally:
        sys.setswitchinterval(old)


def test_stress_children_cancel_while_parent_cancels():
    """Children cancelling themselves race the parent's cancel: no lost wakeups, no leaks."""
    n = 400

    async def main():
        for _round in range(3):
            parent, cancel_parent = context.with_cancel(context.background())
            results = gort.Chan(n)
            ready = gort.Chan(n)

            async def worker(i):
                child, ccancel = context.with_cancel(parent)
                grand, gcancel = context.with_cancel(child)
                await ready.send(None)
                if i % 2:
                    ccancel()                       # races cancel_parent
                ok = await _wait_done(grand, 30.0)
                await results.send((ok, type(grand.err()).__name__))
                gcancel()
                ccancel()

            for i in range(n):
                gort.go(worker, i)
            for _ in range(n // 2):
                await ready.recv()
            cancel_parent()
            for _ in range(n - n // 2):
                await ready.recv()
            for _ in range(n):
                ok, ename = await results.recv()
                assert ok and ename == "Canceled"
            assert parent._children is None
        # a long-lived parent whose children come and go stays empty
        parent, cancel_parent = context.with_cancel(context.background())
        done = gort.Chan(n)

        async def churn():
            for _ in range(5):
                c, cc = context.with_cancel(parent)
                t, tc = context.with_timeout(c, 100.0)
                tc()
                cc()
            await done.send(None)
        for _ in range(n):
            gort.go(churn)
        for _ in range(n):
            await done.recv()
        assert len(parent._children) == 0
        cancel_parent()
        return True

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        assert _run(main, procs=4, timeout=90)
    finally:
        sys.setswitchinterval(old)
