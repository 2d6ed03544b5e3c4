"""The netpoller core: a goroutine parks in "IO wait" and the poller readies it (reference §9)."""
from __future__ import annotations

import socket
import types

import gort
from gort import netpoll
from helpers import run_bounded, until_parked


@types.coroutine
def wait_readable(pd):
    return (yield from netpoll.wait(pd, "r"))


def test_reader_parks_in_io_wait_and_poller_wakes_it():
    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        pd = netpoll.current().open_fd(a.fileno())
        got = gort.Chan(1)

        async def reader():
            while True:
                try:
                    await got.send(a.recv(100))
                    return
                except BlockingIOError:
                    assert await wait_readable(pd)     # parks the G, not the thread

        gort.go(reader)
        await until_parked("IO wait")
        b.send(b"ping")
        data = await got.recv()
        pd.poller.close_fd(pd)
        a.close()
        b.close()
        return data

    assert run_bounded(main, procs=2) == b"ping"


def test_close_wakes_a_waiting_reader():
    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        pd = netpoll.current().open_fd(a.fileno())
        woke = gort.Chan(1)

        async def reader():
            await woke.send(await wait_readable(pd))

        gort.go(reader)
        await until_parked("IO wait")
        pd.poller.close_fd(pd)                       # pollUnblock: the waiter gets "not ready"
        ok = await woke.recv()
        a.close()
        b.close()
        return ok

    assert run_bounded(main, procs=1) is False
