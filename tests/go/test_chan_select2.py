# Port of test/chan/select2.go (Go 1.23)
"""Selects must not consume undue memory: a second round of 100,000 selects
must not grow the heap.  Go reads runtime.MemStats and only prints a warning
above 1.1e5 bytes; here the port counts live select waiters (the objects a
leaking select would keep: gort's SelSudog) after each round, which must not
grow, and checks that every select took its value."""
from __future__ import annotations

import gc

import pytest

import gort
from gort.chan import SelSudog
from gosupport import run

N = 100_000                          # Go's count per round


async def sender(c, n):
    for _ in range(n):
        await c.send(1)


async def receiver(c, dummy, n):
    got = 0
    for _ in range(n):
        i, v, _ = await gort.select(gort.recv(c), gort.recv(dummy))
        assert i == 0, "dummy fired"
        got += v
    return got


def _live_sudogs():
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, SelSudog))


@pytest.mark.timeout(300)
def test_select2():
    async def main():
        c, dummy = gort.Chan(), gort.Chan()
        gort.go(sender, c, N)        # warm up
        first = await receiver(c, dummy, N)
        before = _live_sudogs()
        gort.go(sender, c, N)        # the second round must not add to the footprint
        second = await receiver(c, dummy, N)
        after = _live_sudogs()
        return first, second, before, after

    first, second, before, after = run(main, procs=2, timeout=240)
    assert first == second == N
    assert after <= before + 2, f"select waiters leaked: {before} -> {after}"
