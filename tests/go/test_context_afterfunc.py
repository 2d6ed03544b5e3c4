# Port of src/context/afterfunc_test.go (Go 1.23)
"""A user-defined Context that provides `after_func(f) -> stop` (Go's
afterFuncer, Go 1.21): children derived from it, and context.after_func on it,
are registered through its after_func (no watcher goroutine, no done channel
needed) and unregistered through the returned stop when they are cancelled."""
from __future__ import annotations

import threading

import pytest

import gort
from gort import context
from gort.context import Canceled
from ctxsupport import VERY_LONG
from gosupport import recv_within, run

pytestmark = pytest.mark.timeout(120)


class AfterFuncContext(context.Context):
    """Go's afterFuncContext: not one of the package's types; supports AfterFunc.

    Its cancel runs the registered functions in new goroutines and, like Go's,
    never closes its done channel: children can only learn of it through
    after_func.
    """

    def __init__(self):
        self.mu = threading.Lock()
        self.after_funcs = {}
        self._done = None
        self._err = None

    def deadline(self):
        return None, False

    def done(self):
        with self.mu:
            if self._done is None:
                self._done = gort.Chan()
            return self._done

    def err(self):
        with self.mu:
            return self._err

    def value(self, key):
        return None

    def after_func(self, f):
        with self.mu:
            k = object()
            self.after_funcs[k] = f

        def stop():
            with self.mu:
                return self.after_funcs.pop(k, None) is not None
        return stop

    def cancel(self, err):
        with self.mu:
            if self._err is not None:
                return
            self._err = err
            funcs = list(self.after_funcs.values())
            self.after_funcs = {}
        for f in funcs:
            gort.go(_call, f)


async def _call(f):
    f()


def test_custom_context_after_func_cancel():
    async def main():
        ctx0 = AfterFuncContext()
        ctx1, cancel = context.with_cancel(ctx0)
        try:
            ctx0.cancel(Canceled())
            await recv_within(ctx1.done(), 30.0, "ctx1 to be cancelled")
        finally:
            cancel()
        return True

    assert run(main, procs=2)


def test_custom_context_after_func_timeout():
    async def main():
        ctx0 = AfterFuncContext()
        ctx1, cancel = context.with_timeout(ctx0, VERY_LONG)
        try:
            ctx0.cancel(Canceled())
            await recv_within(ctx1.done(), 30.0, "ctx1 to be cancelled")
        finally:
            cancel()
        return True

    assert run(main, procs=2)


def test_custom_context_after_func_after_func():
    async def main():
        ctx0 = AfterFuncContext()
        donec = gort.Chan()
        stop = context.after_func(ctx0, donec.close)
        try:
            ctx0.cancel(Canceled())
            await recv_within(donec, 30.0, "the AfterFunc to run")
        finally:
            stop()
        return True

    assert run(main, procs=2)


def test_custom_context_after_func_unregister_cancel():
    async def main():
        ctx0 = AfterFuncContext()
        _, cancel1 = context.with_cancel(ctx0)
        _, cancel2 = context.with_cancel(ctx0)
        got = len(ctx0.after_funcs)
        cancel1()
        cancel2()
        return got, len(ctx0.after_funcs)

    assert run(main) == (2, 0)


def test_custom_context_after_func_unregister_timeout():
    async def main():
        ctx0 = AfterFuncContext()
        _, cancel = context.with_timeout(ctx0, VERY_LONG)
        got = len(ctx0.after_funcs)
        cancel()
        return got, len(ctx0.after_funcs)

    assert run(main) == (1, 0)


def test_custom_context_after_func_unregister_after_func():
    async def main():
        ctx0 = AfterFuncContext()
        stop = context.after_func(ctx0, lambda: None)
        got = len(ctx0.after_funcs)
        stop()
        return got, len(ctx0.after_funcs)

    assert run(main) == (1, 0)
