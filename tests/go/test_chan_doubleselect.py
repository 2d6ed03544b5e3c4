# Port of test/chan/doubleselect.go (Go 1.23)
"""Two cases of one select must never both run: a sender selects over four send
cases, four forwarders merge the values, and the receiver checks that every
value arrives exactly once (a double-fired select would duplicate one)."""
from __future__ import annotations

import pytest

import gort
from gosupport import run

ITERATIONS = 100_000                 # Go's default for the -n flag


async def sender(n, c1, c2, c3, c4):
    try:
        for i in range(n):
            await gort.select(gort.send(c1, i), gort.send(c2, i), gort.send(c3, i), gort.send(c4, i))
    finally:
        for c in (c4, c3, c2, c1):   # Go's deferred closes, last deferred first
            c.close()


async def mux(out, inp, done):
    async for v in inp:
        await out.send(v)
    await done.send(True)


async def recver(inp):
    seen = set()
    async for v in inp:
        assert v not in seen, f"got duplicate value: {v}"
        seen.add(v)
    return seen


@pytest.mark.timeout(300)
def test_doubleselect(switchy):
    async def main():
        c1, c2, c3, c4 = gort.Chan(), gort.Chan(), gort.Chan(), gort.Chan()
        done = gort.Chan()
        cmux = gort.Chan()
        gort.go(sender, ITERATIONS, c1, c2, c3, c4)
        for c in (c1, c2, c3, c4):
            gort.go(mux, cmux, c, done)

        async def closer():
            for _ in range(4):
                await done.recv()
            cmux.close()
        gort.go(closer)
        return len(await recver(cmux))

    # every value exactly once: nothing lost either
    assert run(main, procs=2, timeout=240) == ITERATIONS
