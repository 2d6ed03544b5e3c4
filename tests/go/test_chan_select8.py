# Port of test/chan/select8.go (Go 1.23)
"""One-, two- and three-case selects (with and without default) against a
goroutine that always sends: the ready receive or the default is taken, the
send case on a channel nobody receives from never is.

Go's subject is `break` inside a select case (a gccgo bug); in Python the case
body is ordinary code after the select returns, so only the choice of case is
gort's to test.
"""
from __future__ import annotations

import gort
from gosupport import run


def test_select8():
    async def main():
        ch = gort.Chan()

        async def sender():
            while True:
                await ch.send(5)
        gort.go(sender)
        i, v, _ = await gort.select(gort.recv(ch))
        assert (i, v) == (0, 5)
        i, _, _ = await gort.select(default=True)
        assert i == -1
        i, _, _ = await gort.select(gort.recv(ch), default=True)
        assert i in (0, -1)               # the sender may not be back in its send yet
        i, _, _ = await gort.select(gort.recv(ch), gort.send(ch, 10), default=True)
        assert i != 1, "unreachable: the send on ch has no receiver"
        return True

    assert run(main, procs=2)
