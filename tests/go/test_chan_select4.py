# Port of test/chan/select4.go (Go 1.23)
"""A select with one ready buffered receive and one unready unbuffered receive
takes the ready one and gets its value; the other case has no effect.

Go's point is also that the left-hand side of the case not chosen (`*f() =
<-c1`) is never evaluated: gort's select returns the value instead of storing
it, so there is no left-hand side to evaluate and that half has nothing to port.
"""
from __future__ import annotations

import gort
from gosupport import run


def test_select4():
    async def main():
        c = gort.Chan(1)
        c1 = gort.Chan()
        await c.send(42)
        return await gort.select(gort.recv(c1), gort.recv(c))

    assert run(main) == (1, 42, True)
