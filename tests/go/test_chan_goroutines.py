# Port of test/chan/goroutines.go (Go 1.23)
"""Make a lot of goroutines threaded together by unbuffered channels, pass one
value down the whole chain, and tear them down cleanly."""
from __future__ import annotations

import pytest

import gort
from gosupport import run, wait_until

N = 10_000                           # Go's default (os.Args[1] overrides it there)


async def f(left, right):
    await left.send(await right.recv())


@pytest.mark.parametrize("procs", [1, 2])
def test_goroutines(procs):
    async def main():
        leftmost = gort.Chan()
        right = left = leftmost
        for _ in range(N):
            right = gort.Chan()
            gort.go(f, left, right)
            left = right

        async def first(c):
            await c.send(1)
        gort.go(first, right)
        v = await leftmost.recv()
        # torn down cleanly: every link exits once it has passed the value on
        await wait_until(lambda: gort.num_goroutine() == 1, "all chain goroutines exited")
        return v

    assert run(main, procs=procs) == 1
