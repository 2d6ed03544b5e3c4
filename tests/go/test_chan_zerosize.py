# Port of test/chan/zerosize.go (Go 1.23)
"""Making channels of a zero-sized element type does not fail.  Python values
have no static size, so the port makes unbuffered and 1-buffered channels and
moves the closest thing to Go's zero-sized values (an empty tuple) through them."""
from __future__ import annotations

import gort
from gosupport import run


def test_zerosize():
    async def main():
        out = []
        for cap in (0, 1, 0, 1):           # chan [0]byte, chan [0]byte 1, chan struct{}, ... 1
            c = gort.Chan(cap)
            if cap:
                await c.send(())
                out.append(await c.recv())
        return out

    assert run(main) == [(), ()]
