# Port of src/sync/once_test.go (Go 1.23)
"""sync.Once: the function runs exactly once, every caller returns after it
has run, and a function that raises (Go: panics) still counts as done."""
from __future__ import annotations

import pytest

import gort
from gosupport import run


@pytest.mark.parametrize("procs", [1, 4])
def test_once(procs, switchy):
    N = 10

    async def main():
        o = [0]
        once = gort.Once()
        c = gort.Chan()

        async def increment():
            v = o[0]
            await gort.gosched()         # (port) give other callers a chance to barge in
            o[0] = v + 1

        async def runner():
            await once.do(increment)
            assert o[0] == 1, f"once failed inside run: {o[0]} is not 1"
            await c.send(True)
        for _ in range(N):
            gort.go(runner)
        for _ in range(N):
            await c.recv()
        return o[0]

    assert run(main, procs=procs) == 1


def test_once_panic():
    async def main():
        once = gort.Once()
        for i in range(2):
            def fails():
                raise RuntimeError("failed")
            try:
                await once.do(fails)
                raised = False
            except RuntimeError:
                raised = True
            if i == 0:
                assert raised, "Once.do() has not raised on first iteration"
            else:
                assert not raised, "Once.do() has raised on second iteration"
        await once.do(lambda: None)

        def twice():
            raise AssertionError("Once called twice")
        await once.do(twice)
        return True

    assert run(main)
