# Port of test/chan/select7.go (Go 1.23)
"""Discarding a received value: every pairing of plain, one-case-select and
two-case-select senders with the same three kinds of receivers completes."""
from __future__ import annotations

import pytest

import gort
from gosupport import run


async def recv1(c):
    await c.recv()


async def recv2(c):
    await gort.select(gort.recv(c))


async def recv3(c):
    c2 = gort.Chan()
    await gort.select(gort.recv(c), gort.recv(c2))


async def send1(recv):
    c = gort.Chan()
    gort.go(recv, c)
    await gort.gosched()
    await c.send(1)


async def send2(recv):
    c = gort.Chan()
    gort.go(recv, c)
    await gort.gosched()
    await gort.select(gort.send(c, 1))


async def send3(recv):
    c = gort.Chan()
    gort.go(recv, c)
    await gort.gosched()
    c2 = gort.Chan()
    await gort.select(gort.send(c, 1), gort.send(c2, 1))


@pytest.mark.parametrize("procs", [1, 2])
def test_select7(procs):
    async def main():
        n = 0
        for recv in (recv1, recv2, recv3):
            for send in (send1, send2, send3):
                await send(recv)
                n += 1
        return n

    assert run(main, procs=procs, timeout=60) == 9
