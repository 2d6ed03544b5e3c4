# Port of src/context/x_test.go (Go 1.23)
"""The context package's external tests.  The four tests that x_test.go runs by
calling XTest functions of context_test.go (ParentFinishesChild,
ChildFinishesFirst, CancelRemoves, CustomContextGoroutines) are in
test_context_internal.py, the port of context_test.go.

Go compares errors with ==; gort's err() returns an instance of Canceled or
DeadlineExceeded, so the port compares with isinstance, and compares causes
the user supplied by identity.  Deadlines are time.monotonic() seconds.
"""
from __future__ import annotations

import random
import threading
import time

import pytest

import gort
from gort import context
from gort.context import Canceled, DeadlineExceeded
from ctxsupport import QUIESCENT, SHORT, VERY_LONG, Embedding, OtherContext
from gosupport import run

pytestmark = pytest.mark.timeout(120)


def done_now(ctx) -> bool:
    """Go's `select { case <-ctx.Done(): ... default: }` took the Done case."""
    d = ctx.done()
    if d is None:
        return False
    _, _, selected = d.try_recv()
    return selected


def test_background():
    c = context.background()
    assert c is not None
    assert not done_now(c)
    assert str(c) == "context.Background"


def test_todo():
    c = context.todo()
    assert c is not None
    assert not done_now(c)
    assert str(c) == "context.TODO"


def test_with_cancel():
    async def main():
        c1, cancel = context.with_cancel(context.background())
        assert str(c1) == "context.Background.WithCancel"
        o = OtherContext(c1)
        c2, _ = context.with_cancel(o)
        contexts = [c1, o, c2]
        for i, c in enumerate(contexts):
            assert c.done() is not None, f"c[{i}].done() is None"
            assert c.err() is None, f"c[{i}].err() = {c.err()!r}, want None"
            assert not done_now(c), f"<-c[{i}].done() did not block"
        cancel()                     # should propagate synchronously
        for i, c in enumerate(contexts):
            assert done_now(c), f"<-c[{i}].done() blocked, but shouldn't have"
            assert isinstance(c.err(), Canceled), f"c[{i}].err() = {c.err()!r}, want Canceled"
        return True

    assert run(main)


async def check_deadline(c, name):
    t = gort.Timer(QUIESCENT)
    try:
        i, _, _ = await gort.select(gort.recv(t.c), gort.recv(c.done()))
        assert i == 1, f"{name}: context not timed out after {QUIESCENT}s"
    finally:
        t.stop()
    assert isinstance(c.err(), DeadlineExceeded), f"{name}: c.err() = {c.err()!r}, want DeadlineExceeded"


def test_deadline():
    async def main():
        now = time.monotonic
        c, _ = context.with_deadline(context.background(), now() + SHORT)
        assert str(c).startswith("context.Background.WithDeadline("), str(c)
        await check_deadline(c, "WithDeadline")
        c, _ = context.with_deadline(context.background(), now() + SHORT)
        await check_deadline(OtherContext(c), "WithDeadline+otherContext")
        c, _ = context.with_deadline(context.background(), now() + SHORT)
        o = OtherContext(c)
        c, _ = context.with_deadline(o, now() + VERY_LONG)
        await check_deadline(c, "WithDeadline+otherContext+WithDeadline")
        c, _ = context.with_deadline(context.background(), now() - SHORT)
        await check_deadline(c, "WithDeadline+inthepast")
        c, _ = context.with_deadline(context.background(), now())
        await check_deadline(c, "WithDeadline+now")
        return True

    assert run(main, procs=2)


def test_timeout():
    async def main():
        c, _ = context.with_timeout(context.background(), SHORT)
        assert str(c).startswith("context.Background.WithDeadline("), str(c)
        await check_deadline(c, "WithTimeout")
        c, _ = context.with_timeout(context.background(), SHORT)
        await check_deadline(OtherContext(c), "WithTimeout+otherContext")
        c, _ = context.with_timeout(context.background(), SHORT)
        o = OtherContext(c)
        c, _ = context.with_timeout(o, VERY_LONG)
        await check_deadline(c, "WithTimeout+otherContext+WithTimeout")
        return True

    assert run(main, procs=2)


def test_canceled_timeout():
    async def main():
        c, _ = context.with_timeout(context.background(), 1.0)
        o = OtherContext(c)
        c, cancel = context.with_timeout(o, VERY_LONG)
        cancel()                     # should propagate synchronously
        assert done_now(c), "<-c.done() blocked, but shouldn't have"
        assert isinstance(c.err(), Canceled), f"c.err() = {c.err()!r}, want Canceled"
        return True

    assert run(main)


class Key1(int):
    """Go's `type key1 int` (no String method)."""


class Key2(int):
    """Go's `type key2 int` with a String method."""

    def __str__(self):
        return f"{type(self).__module__}.{type(self).__qualname__}({int(self)})"


k1 = Key1(1)
k2 = Key2(1)           # same int as k1, different type
k3 = Key2(3)           # same type as k2, different int
T1 = f"{__name__}.Key1"


def test_values():
    def check(c, nm, v1, v2, v3):
        for k, want, kn in ((k1, v1, "k1"), (k2, v2, "k2"), (k3, v3, "k3")):
            v = c.value(k)
            if want:
                assert v == want, f"{nm}.value({kn}) = {v!r} want {want!r}"
            else:
                assert not isinstance(v, str), f"{nm}.value({kn}) = {v!r} want no string"

    c0 = context.background()
    check(c0, "c0", "", "", "")
    c1 = context.with_value(context.background(), k1, "c1k1")
    check(c1, "c1", "c1k1", "", "")
    assert str(c1) == f"context.Background.WithValue({T1}, c1k1)", str(c1)
    c2 = context.with_value(c1, k2, "c2k2")
    check(c2, "c2", "c1k1", "c2k2", "")
    assert str(c2) == (f"context.Background.WithValue({T1}, c1k1)"
                       f".WithValue({__name__}.Key2(1), c2k2)"), str(c2)
    c3 = context.with_value(c2, k3, "c3k3")
    check(c3, "c2", "c1k1", "c2k2", "c3k3")
    c4 = context.with_value(c3, k1, None)
    check(c4, "c4", "", "c2k2", "c3k3")
    assert str(c4) == (f"context.Background.WithValue({T1}, c1k1)"
                       f".WithValue({__name__}.Key2(1), c2k2)"
                       f".WithValue({__name__}.Key2(3), c3k3)"
                       f".WithValue({T1}, <nil>)"), str(c4)
    o0 = OtherContext(context.background())
    check(o0, "o0", "", "", "")
    o1 = OtherContext(context.with_value(context.background(), k1, "c1k1"))
    check(o1, "o1", "c1k1", "", "")
    o2 = context.with_value(o1, k2, "o2k2")
    check(o2, "o2", "c1k1", "o2k2", "")
    o3 = OtherContext(c4)
    check(o3, "o3", "", "c2k2", "c3k3")
    o4 = context.with_value(o3, k3, None)
    check(o4, "o4", "", "c2k2", "")


@pytest.mark.skip(reason="TestAllocs counts allocations per call (testing.AllocsPerRun); "
                         "allocation counts cannot be expressed in Python")
def test_allocs():
    pass


def test_simultaneous_cancels(switchy):
    """Cancel a tree of 100+ contexts from one goroutine each, in random order."""
    async def main():
        root, cancel = context.with_cancel(context.background())
        m = {root: cancel}
        q = [root]
        while q and len(m) < 100:
            parent = q.pop(0)
            for _ in range(4):
                ctx, c = context.with_cancel(parent)
                m[ctx] = c
                q.append(ctx)
        wg = gort.WaitGroup()
        items = list(m.items())
        random.shuffle(items)

        async def canceller(c):
            c()
        for _, c in items:
            wg.go(canceller, c)
        stuck = gort.Chan()

        async def close_stuck():
            stuck.close()
        timer = gort.after_func(QUIESCENT, close_stuck)
        try:
            random.shuffle(items)
            for ctx, _ in items:       # wait on every context, in random order
                i, _, _ = await gort.select(gort.recv(ctx.done()), gort.recv(stuck))
                assert i == 0, f"timed out after {QUIESCENT}s waiting for ctx.done()"
            done = gort.Chan()

            async def waiter():
                await wg.wait()
                done.close()
            gort.go(waiter)
            i, _, _ = await gort.select(gort.recv(done), gort.recv(stuck))
            assert i == 0, f"timed out after {QUIESCENT}s waiting for cancel functions"
        finally:
            timer.stop()
        return len(m)

    assert run(main, procs=4) >= 100


def test_interlocked_cancels():
    async def main():
        parent, cancel_parent = context.with_cancel(context.background())
        child, cancel_child = context.with_cancel(parent)

        async def g():
            await parent.done().recv()
            cancel_child()
        gort.go(g)
        cancel_parent()
        timer = gort.Timer(QUIESCENT)
        try:
            i, _, _ = await gort.select(gort.recv(child.done()), gort.recv(timer.c))
            assert i == 0, f"timed out after {QUIESCENT}s waiting for child.done()"
        finally:
            timer.stop()
        return True

    assert run(main, procs=2)


def check_layers(seed, test_timeout):
    async def main():
        r = random.Random(seed)
        prefix = f"seed={seed}"

        class Value:             # Go's `type value int`, compared by identity
            pass
        vals, cancels = [], []
        num_timers = 0
        ctx = context.background()
        i = 0
        while i < 30 or num_timers == 0 or not cancels or not vals:
            k = r.randrange(3)
            if k == 0:
                v = Value()
                ctx = context.with_value(ctx, v, v)
                vals.append(v)
            elif k == 1:
                ctx, cancel = context.with_cancel(ctx)
                cancels.append(cancel)
            else:
                d = SHORT if test_timeout else VERY_LONG
                ctx, cancel = context.with_timeout(ctx, d)
                cancels.append(cancel)
                num_timers += 1
            i += 1

        def check_values(when):
            for key in vals:
                val = ctx.value(key)
                assert val is key, f"{prefix} {when}: ctx.value({key}) = {val} want {key}"
        try:
            if not test_timeout:
                assert not done_now(ctx), f"{prefix} ctx should not be canceled yet"
            assert str(ctx).startswith("context.Background."), str(ctx)
            check_values("before cancel")
            if test_timeout:
                timer = gort.Timer(QUIESCENT)
                i, _, _ = await gort.select(gort.recv(ctx.done()), gort.recv(timer.c))
                timer.stop()
                assert i == 0, f"{prefix} ctx should have timed out after {QUIESCENT}s"
                check_values("after timeout")
            else:
                r.choice(cancels)()
                assert done_now(ctx), f"{prefix} ctx should be canceled"
                check_values("after cancel")
        finally:
            for c in cancels:    # (port) release every timer before the program ends
                c()
        return True

    assert run(main, procs=2)


def test_layers_cancel():
    check_layers(time.time_ns(), False)


def test_layers_timeout():
    check_layers(time.time_ns(), True)


def test_with_cancel_canceled_parent():
    async def main():
        parent, pcancel = context.with_cancel_cause(context.background())
        cause = ValueError("Because!")
        pcancel(cause)
        c, _ = context.with_cancel(parent)
        assert done_now(c), "child not done immediately upon construction"
        assert isinstance(c.err(), Canceled), f"child not canceled; got {c.err()!r}"
        assert context.cause(c) is cause, f"child has wrong cause; got {context.cause(c)!r}"
        return True

    assert run(main)


def test_with_cancel_simultaneously_canceled_parent(switchy):
    """Cancel the parent from another goroutine while creating a child."""
    async def main():
        for _ in range(100):
            parent, pcancel = context.with_cancel_cause(context.background())
            cause = ValueError("Because!")

            async def canceller(pcancel, cause):
                pcancel(cause)
            gort.go(canceller, pcancel, cause)
            c, _ = context.with_cancel(parent)
            await c.done().recv()
            assert isinstance(c.err(), Canceled), f"child not canceled; got {c.err()!r}"
            assert context.cause(c) is cause, f"child has wrong cause; got {context.cause(c)!r}"
        return True

    assert run(main, procs=4)


def test_with_value_checks_key():
    with pytest.raises(TypeError):
        context.with_value(context.background(), [b"foo"], "bar")      # not comparable
    with pytest.raises(TypeError, match="None key"):                   # Go: "nil key"
        context.with_value(context.background(), None, "bar")


def test_invalid_derived_fail():
    async def main():
        with pytest.raises(TypeError):
            context.with_cancel(None)
        with pytest.raises(TypeError):
            context.with_deadline(None, time.monotonic() + SHORT)
        with pytest.raises(TypeError):
            context.with_value(None, "foo", "bar")
        return True

    assert run(main)


def test_deadline_exceeded_supports_timeout():
    e = DeadlineExceeded()
    assert hasattr(e, "timeout"), "DeadlineExceeded does not support the Timeout interface"
    assert e.timeout() is True, "wrong value for timeout"


def test_cause():
    forever = 1e6
    parent_cause = ValueError("parentCause")
    child_cause = ValueError("childCause")
    too_slow = ValueError("tooSlow")
    finished_early = ValueError("finishedEarly")
    bg = context.background

    def with_cancel():
        ctx, cancel = context.with_cancel(bg())
        cancel()
        return ctx

    def with_cancel_cause():
        ctx, cancel = context.with_cancel_cause(bg())
        cancel(parent_cause)
        return ctx

    def with_cancel_cause_nil():
        ctx, cancel = context.with_cancel_cause(bg())
        cancel(None)
        return ctx

    def parent_cause_before_child():
        ctx, cancel_parent = context.with_cancel_cause(bg())
        ctx, cancel_child = context.with_cancel_cause(ctx)
        cancel_parent(parent_cause)
        cancel_child(child_cause)
        return ctx

    def parent_cause_after_child():
        ctx, cancel_parent = context.with_cancel_cause(bg())
        ctx, cancel_child = context.with_cancel_cause(ctx)
        cancel_child(child_cause)
        cancel_parent(parent_cause)
        return ctx

    def parent_cause_before_nil():
        ctx, cancel_parent = context.with_cancel_cause(bg())
        ctx, cancel_child = context.with_cancel(ctx)
        cancel_parent(parent_cause)
        cancel_child()
        return ctx

    def parent_cause_after_nil():
        ctx, cancel_parent = context.with_cancel_cause(bg())
        ctx, cancel_child = context.with_cancel(ctx)
        cancel_child()
        cancel_parent(parent_cause)
        return ctx

    def child_cause_after_nil():
        ctx, cancel_parent = context.with_cancel(bg())
        ctx, cancel_child = context.with_cancel_cause(ctx)
        cancel_parent()
        cancel_child(child_cause)
        return ctx

    def child_cause_before_nil():
        ctx, cancel_parent = context.with_cancel(bg())
        ctx, cancel_child = context.with_cancel_cause(ctx)
        cancel_child(child_cause)
        cancel_parent()
        return ctx

    def with_timeout():
        ctx, cancel = context.with_timeout(bg(), 0)
        cancel()
        return ctx

    def with_timeout_canceled():
        ctx, cancel = context.with_timeout(bg(), forever)
        cancel()
        return ctx

    def with_timeout_cause():
        ctx, cancel = context.with_timeout_cause(bg(), 0, too_slow)
        cancel()
        return ctx

    def with_timeout_cause_canceled():
        ctx, cancel = context.with_timeout_cause(bg(), forever, too_slow)
        cancel()
        return ctx

    def with_timeout_cause_stacked():
        ctx, cancel = context.with_cancel_cause(bg())
        ctx, _ = context.with_timeout_cause(ctx, 0, too_slow)
        cancel(finished_early)
        return ctx

    def with_timeout_cause_stacked_canceled():
        ctx, cancel = context.with_cancel_cause(bg())
        ctx, _ = context.with_timeout_cause(ctx, forever, too_slow)
        cancel(finished_early)
        return ctx

    def without_cancel():
        return context.without_cancel(bg())

    def without_cancel_canceled():
        ctx, cancel = context.with_cancel_cause(bg())
        ctx = context.without_cancel(ctx)
        cancel(finished_early)
        return ctx

    def without_cancel_timeout():
        ctx, cancel = context.with_timeout_cause(bg(), 0, too_slow)
        ctx = context.without_cancel(ctx)
        cancel()
        return ctx

    C, D = Canceled, DeadlineExceeded
    cases = [
        ("Background", bg, None, None),
        ("TODO", context.todo, None, None),
        ("WithCancel", with_cancel, C, C),
        ("WithCancelCause", with_cancel_cause, C, parent_cause),
        ("WithCancelCause nil", with_cancel_cause_nil, C, C),
        ("parent cause before child", parent_cause_before_child, C, parent_cause),
        ("parent cause after child", parent_cause_after_child, C, child_cause),
        ("parent cause before nil", parent_cause_before_nil, C, parent_cause),
        ("parent cause after nil", parent_cause_after_nil, C, C),
        ("child cause after nil", child_cause_after_nil, C, C),
        ("child cause before nil", child_cause_before_nil, C, child_cause),
        ("WithTimeout", with_timeout, D, D),
        ("WithTimeout canceled", with_timeout_canceled, C, C),
        ("WithTimeoutCause", with_timeout_cause, D, too_slow),
        ("WithTimeoutCause canceled", with_timeout_cause_canceled, C, C),
        ("WithTimeoutCause stacked", with_timeout_cause_stacked, D, too_slow),
        ("WithTimeoutCause stacked canceled", with_timeout_cause_stacked_canceled, C, finished_early),
        ("WithoutCancel", without_cancel, None, None),
        ("WithoutCancel canceled", without_cancel_canceled, None, None),
        ("WithoutCancel timeout", without_cancel_timeout, None, None),
    ]

    def matches(got, want):
        if want is None:
            return got is None
        if isinstance(want, type):
            return isinstance(got, want)
        return got is want

    async def main():
        bad = []
        for name, mk, err, cause in cases:
            ctx = mk()
            if not matches(ctx.err(), err):
                bad.append(f"{name}: ctx.err() = {ctx.err()!r} want {err}")
            if not matches(context.cause(ctx), cause):
                bad.append(f"{name}: cause(ctx) = {context.cause(ctx)!r} want {cause!r}")
        return bad

    assert run(main) == []


def test_cause_race(switchy):
    """Poll cause() (not done()) while another goroutine cancels: the cause is
    read under the context's lock, never half-written."""
    async def main():
        cause = ValueError("TestCauseRace")
        ctx, cancel = context.with_cancel_cause(context.background())

        async def canceller():
            cancel(cause)
        gort.go(canceller)
        while True:
            err = context.cause(ctx)
            if err is not None:
                return err is cause
            await gort.gosched()

    assert run(main, procs=4)


def test_without_cancel():
    key, value = "key", "value"
    ctx = context.with_value(context.background(), key, value)
    ctx = context.without_cancel(ctx)
    assert ctx.deadline() == (None, False)
    assert ctx.done() is None
    assert ctx.err() is None
    assert ctx.value(key) == value


class CustomDoneContext(Embedding):
    """Go's customDoneContext: embeds a Context but has its own done channel."""

    def __init__(self, inner, donec):
        super().__init__(inner)
        self.donec = donec

    def done(self):
        return self.donec


def test_custom_context_propagation():
    async def main():
        cause = ValueError("TestCustomContextPropagation")
        donec = gort.Chan()
        ctx1, cancel1 = context.with_cancel_cause(context.background())
        ctx2 = CustomDoneContext(ctx1, donec)
        ctx3, cancel3 = context.with_cancel(ctx2)
        try:
            cancel1(cause)
            donec.close()
            await ctx3.done().recv()
            assert isinstance(ctx3.err(), Canceled), f"child not canceled; got {ctx3.err()!r}"
            assert context.cause(ctx3) is cause, f"child has wrong cause; got {context.cause(ctx3)!r}"
        finally:
            cancel3()
        return True

    assert run(main, procs=2)


class CustomCauseContext(context.Context):
    """Go's customCauseContext: a Context of its own with a done channel and
    err, whose cancel also cancels one registered child synchronously."""

    def __init__(self):
        self.mu = threading.Lock()
        self._done = gort.Chan()
        self._err = None
        self.cancel_child = None

    def deadline(self):
        return None, False

    def done(self):
        with self.mu:
            return self._done

    def err(self):
        with self.mu:
            return self._err

    def value(self, key):
        return None

    def cancel(self):
        with self.mu:
            self._err = Canceled()
            self._done.close()
            cancel_child = self.cancel_child
        if cancel_child is not None:
            cancel_child()


def test_custom_context_cause():
    async def main():
        # cancelling a custom context: err and cause are Canceled
        ccc = CustomCauseContext()
        ccc.cancel()
        assert isinstance(ccc.err(), Canceled)
        assert isinstance(context.cause(ccc), Canceled)
        # a child of a custom context cancelled with a cause: the child has the
        # cause, the parent is not cancelled
        ccc = CustomCauseContext()
        ctx, cause_func = context.with_cancel_cause(ccc)
        cause = ValueError("TestCustomContextCause")
        cause_func(cause)
        assert isinstance(ctx.err(), Canceled)
        assert context.cause(ctx) is cause
        assert ccc.err() is None
        assert context.cause(ccc) is None
        # cancelling the parent now: the child keeps its cause, the parent has none
        ccc.cancel()
        assert isinstance(ctx.err(), Canceled)
        assert context.cause(ctx) is cause
        assert isinstance(ccc.err(), Canceled)
        assert isinstance(context.cause(ccc), Canceled)
        # a custom context that cancels its child itself
        ccc = CustomCauseContext()
        ctx, cancel_func = context.with_cancel(ccc)
        ccc.cancel_child = cancel_func
        ccc.cancel()
        assert isinstance(ctx.err(), Canceled)
        assert isinstance(context.cause(ctx), Canceled)
        assert isinstance(ccc.err(), Canceled)
        assert isinstance(context.cause(ccc), Canceled)
        return True

    assert run(main, procs=2)


async def _wait(ch, seconds):
    """True if ch delivers (or is closed) within `seconds`."""
    t = gort.Timer(seconds)
    try:
        i, _, _ = await gort.select(gort.recv(ch), gort.recv(t.c))
        return i == 0
    finally:
        t.stop()


def test_after_func_called_after_cancel():
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        donec = gort.Chan()
        stop = context.after_func(ctx, donec.close)
        assert not await _wait(donec, SHORT), "AfterFunc called before context is done"
        cancel()
        assert await _wait(donec, VERY_LONG), "AfterFunc not called after context is canceled"
        assert stop() is False, "stop() = True, want False"
        return True

    assert run(main, procs=2)


def test_after_func_called_after_timeout():
    async def main():
        ctx, cancel = context.with_timeout(context.background(), SHORT)
        try:
            donec = gort.Chan()
            context.after_func(ctx, donec.close)
            assert await _wait(donec, VERY_LONG), "AfterFunc not called after context is canceled"
        finally:
            cancel()
        return True

    assert run(main, procs=2)


def test_after_func_called_immediately():
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        cancel()
        donec = gort.Chan()
        context.after_func(ctx, donec.close)
        assert await _wait(donec, VERY_LONG), "AfterFunc not called for already-canceled context"
        return True

    assert run(main, procs=2)


def test_after_func_not_called_after_stop():
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        donec = gort.Chan()
        stop = context.after_func(ctx, donec.close)
        assert stop() is True, "stop() = False, want True"
        cancel()
        assert not await _wait(donec, SHORT), "AfterFunc called for already-canceled context"
        assert stop() is False, "stop() = True, want False"
        return True

    assert run(main, procs=2)


def test_after_func_called_asynchronously():
    """Cancelling does not wait for an AfterFunc to finish."""
    async def main():
        ctx, cancel = context.with_cancel(context.background())
        donec = gort.Chan()

        async def f():
            await donec.send(None)       # blocks until donec is read
        stop = context.after_func(ctx, f)
        try:
            cancel()
            assert await _wait(donec, VERY_LONG), "AfterFunc not called after context is canceled"
        finally:
            stop()
        return True

    assert run(main, procs=2)


class NoValue(context.Context):
    """A user's Context that does not override value() (nor anything else)."""


class SuperValue(context.Context):
    """A user's Context that answers one key and defers the rest to the base class."""

    def value(self, key):
        if key == "mine":
            return "yes"
        return super().value(key)


def test_context_subclass_without_value():
    """(gort's own addition, issue #8 divergence 4)  Go's Context interface makes
    every implementation define Value; a Python subclass may inherit it, and then
    has no values: value() is None, also through derived contexts, and deriving
    from it works (it used to recurse until RecursionError)."""
    async def main():
        nv = NoValue()
        assert nv.value("k") is None
        child = context.with_value(nv, "x", 1)
        assert child.value("x") == 1 and child.value("k") is None
        sv = SuperValue()
        assert sv.value("mine") == "yes"
        assert sv.value("k") is None          # the base class has no values
        assert context.with_value(sv, "y", 2).value("mine") == "yes"
        c, cancel = context.with_cancel(sv)   # never cancelled (done() is None): no link
        cancel()
        assert c.value("mine") == "yes" and isinstance(c.err(), Canceled)
        return True

    assert run(main)
