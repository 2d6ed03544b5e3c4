# Port of test/chan/fifo.go (Go 1.23)
"""Buffered channels are FIFO; unbuffered channels hand values over in the order
the receivers queued (a daisy chain reads the values in sequence)."""
from __future__ import annotations

import gort
from gosupport import run

N = 10


def test_asynch_fifo():
    async def main():
        ch = gort.Chan(N)
        for i in range(N):
            await ch.send(i)
        return [await ch.recv() for _ in range(N)]

    assert run(main) == list(range(N))


async def chain(ch, val, inp, out):
    await inp.recv()
    got = await ch.recv()
    assert got == val, f"chain link {val} received {got}"
    await out.send(1)


def test_synch_fifo():
    async def main():
        ch = gort.Chan()
        inp = gort.Chan()
        start = inp
        for i in range(N):
            out = gort.Chan()
            gort.go(chain, ch, i, inp, out)
            inp = out
        await start.send(0)
        for i in range(N):
            await ch.send(i)
        await inp.recv()
        return True

    assert run(main, procs=2)
