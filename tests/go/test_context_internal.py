# Port of src/context/context_test.go (Go 1.23)
"""The package-internal XTests of context_test.go (run in Go through x_test.go's
TestParentFinishesChild, TestChildFinishesFirst, TestCancelRemoves and
TestCustomContextGoroutines).  Like Go's, they look inside the package: a
cancellable context's children set, `_parent_cancel_ctx` (Go's
parentCancelCtx), and the count of goroutines the package has started to watch
a parent it cannot register with (Go's `goroutines` counter).
"""
from __future__ import annotations

import pytest

import gort
from gort import context
from gort.context import Canceled
from ctxsupport import VERY_LONG, Embedding
from gosupport import run

pytestmark = pytest.mark.timeout(120)

_cancel_ctx = context._parent_cancel_ctx


def done_now(ctx) -> bool:
    _, _, selected = ctx.done().try_recv()
    return selected


def _parent(c):
    return c._parent


def test_parent_finishes_child():
    """Context tree:
        parent -> cancel_child
        parent -> value_child -> timer_child
        parent -> after_child
    """
    async def main():
        parent, cancel = context.with_cancel(context.background())
        cancel_child, stop1 = context.with_cancel(parent)
        value_child = context.with_value(parent, "key", "value")
        timer_child, stop2 = context.with_timeout(value_child, VERY_LONG)
        after_stop = context.after_func(parent, lambda: None)
        try:
            for c in (parent, cancel_child, timer_child, value_child):
                assert not done_now(c), f"<-{c}.done() did not block"
            # the parent's children: the three cancellable ones
            with parent._mu:
                children = list(parent._children)
            afters = [c for c in children if isinstance(c, context._AfterFuncCtx)]
            assert len(children) == 3 and cancel_child in children and timer_child in children \
                and len(afters) == 1, f"bad linkage: children = {children}"
            ac = afters[0]
            assert _cancel_ctx(_parent(cancel_child)) is parent, "bad linkage: parentCancelCtx(cancelChild)"
            assert _cancel_ctx(_parent(timer_child)) is parent, "bad linkage: parentCancelCtx(timerChild)"
            assert _cancel_ctx(_parent(ac)) is parent, "bad linkage: parentCancelCtx(afterChild)"
            cancel()
            with parent._mu:
                assert not parent._children, f"cancel didn't clear children = {parent._children}"
            # parent and children all finished
            for name, c in (("parent", parent), ("cancelChild", cancel_child),
                            ("valueChild", value_child), ("timerChild", timer_child)):
                assert done_now(c), f"<-{name}.done() blocked, but shouldn't have"
                assert isinstance(c.err(), Canceled), f"{name}.err() = {c.err()!r} want Canceled"
            # a child of a cancelled parent is born cancelled
            precanceled = context.with_value(parent, "key", "value")
            assert done_now(precanceled), "<-precanceledChild.done() blocked, but shouldn't have"
            assert isinstance(precanceled.err(), Canceled)
        finally:
            stop1()
            stop2()
            after_stop()
        return True

    assert run(main, procs=2)


def test_child_finishes_first():
    async def main():
        cancelable, stop = context.with_cancel(context.background())
        try:
            for parent in (context.background(), cancelable):
                child, cancel = context.with_cancel(parent)
                assert not done_now(child)
                if parent.done() is not None:
                    assert not done_now(parent)
                pc = parent if isinstance(parent, context._CancelCtx) else None
                assert _cancel_ctx(_parent(child)) is pc, "bad linkage: parentCancelCtx(cc.Context)"
                if pc is not None:
                    with pc._mu:
                        assert list(pc._children) == [child], f"bad linkage: children = {pc._children}"
                cancel()
                if pc is not None:
                    with pc._mu:
                        assert not pc._children, "child's cancel didn't remove self from children"
                assert done_now(child), "<-child.done() blocked, but shouldn't have"
                assert isinstance(child.err(), Canceled)
                if parent.done() is not None:
                    assert not done_now(parent), "<-parent.done() did not block"
                assert parent.err() is None
        finally:
            stop()
        return True

    assert run(main)


def test_cancel_removes():
    async def main():
        def check_children(when, ctx, want):
            got = len(ctx._children)
            assert got == want, f"{when}: context has {got} children, want {want}"

        ctx, _ = context.with_cancel(context.background())
        check_children("after creation", ctx, 0)
        _, cancel = context.with_cancel(ctx)
        check_children("with WithCancel child", ctx, 1)
        cancel()
        check_children("after canceling WithCancel child", ctx, 0)

        ctx, _ = context.with_cancel(context.background())
        check_children("after creation", ctx, 0)
        _, cancel = context.with_timeout(ctx, 60 * 60.0)
        check_children("with WithTimeout child", ctx, 1)
        cancel()
        check_children("after canceling WithTimeout child", ctx, 0)

        ctx, _ = context.with_cancel(context.background())
        check_children("after creation", ctx, 0)
        stop = context.after_func(ctx, lambda: None)
        check_children("with AfterFunc child", ctx, 1)
        stop()
        check_children("after stopping AfterFunc child", ctx, 0)
        return True

    assert run(main)


class MyCtx(Embedding):
    """Go's myCtx: embeds a Context, overrides nothing."""


class MyDoneCtx(Embedding):
    """Go's myDoneCtx: embeds a Context but returns a new channel from each done()."""

    def done(self):
        return gort.Chan()


def test_custom_context_goroutines():
    """A user's Context that forwards value() to a gort context is registered
    with that context (no goroutine); only one with its own done channel needs a
    watcher goroutine."""
    async def main():
        started = context._goroutines
        g = started()

        def check_no_goroutine(what):
            now = started()
            assert now == g, f"{what}: {now - g} goroutines created"

        def check_created_goroutine(what):
            nonlocal g
            now = started()
            assert now == g + 1, f"{what}: {now - g} goroutines created, want 1"
            g = now

        _, cancel0 = context.with_cancel(MyDoneCtx(context.background()))
        cancel0()
        check_created_goroutine("WithCancel(myDoneCtx)")
        _, cancel0 = context.with_timeout(MyDoneCtx(context.background()), VERY_LONG)
        cancel0()
        check_created_goroutine("WithTimeout(myDoneCtx)")
        check_no_goroutine("nothing")

        ctx1, cancel1 = context.with_cancel(context.background())
        check_no_goroutine("WithCancel(background)")
        ctx2 = MyCtx(ctx1)
        ctx3, cancel3 = context.with_cancel(ctx2)
        check_no_goroutine("WithCancel(myCtx)")
        _, cancel3b = context.with_cancel(MyDoneCtx(ctx2))
        check_created_goroutine("WithCancel(myDoneCtx(myCtx))")   # ctx1's done is not its done
        ctx4, cancel4 = context.with_timeout(ctx3, VERY_LONG)
        check_no_goroutine("WithTimeout(ctx3)")
        ctx5, cancel5 = context.with_cancel(ctx4)
        check_no_goroutine("WithCancel(ctx4)")
        cancel5()
        check_no_goroutine("cancel5")
        _, cancel6 = context.with_timeout(ctx5, VERY_LONG)
        check_no_goroutine("WithTimeout(ctx5)")
        # applied to a cancelled context
        cancel6()
        cancel1()
        _, cancel7 = context.with_cancel(ctx5)
        check_no_goroutine("WithCancel(cancelled ctx5)")
        for c in (cancel7, cancel6, cancel5, cancel4, cancel3b, cancel3, cancel1):
            c()
        check_no_goroutine("the deferred cancels")
        return True

    assert run(main, procs=2)
