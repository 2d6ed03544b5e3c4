# Port of test/chan/select6.go (Go 1.23)
"""Issue 2075: a select that loses on a channel with several waiters must leave
that channel's wait queue intact, so later waiters on it still wake up."""
from __future__ import annotations

import pytest

import gort
from gosupport import run


@pytest.mark.parametrize("procs", [1, 2])
def test_select6(procs):
    async def main():
        c1, c2, c3 = gort.Chan(), gort.Chan(), gort.Chan()

        async def plain():
            await c1.recv()

        async def selector():
            i, _, _ = await gort.select(gort.recv(c1), gort.recv(c2))
            assert i == 1, "dummy"
            await c3.send(True)
            await c1.recv()

        async def wake():
            await c2.send(True)
        gort.go(plain)
        gort.go(selector)
        gort.go(wake)
        await c3.recv()
        await c1.send(True)
        await c1.send(True)          # hangs if the select corrupted c1's queue
        return True

    assert run(main, procs=procs, timeout=60)
