# Port of test/chan/sendstmt.go (Go 1.23)
"""Sends whose channel comes from a receive (`<-cc <- 2`) and whose value is an
expression.  Go's subject is parsing; what remains for gort is that a channel
can travel through a channel and a select can send on it without blocking."""
from __future__ import annotations

import gort
from gosupport import run


def test_chanchan():
    async def main():
        cc = gort.Chan(1)
        c = gort.Chan(1)
        await cc.send(c)
        i, _, _ = await gort.select(gort.send(await cc.recv(), 2), default=True)
        assert i == 0, "nonblock"
        return await c.recv()

    assert run(main) == 2


def test_sendprec():
    async def main():
        c = gort.Chan(1)
        await c.send(False or True)
        return await c.recv()

    assert run(main) is True
