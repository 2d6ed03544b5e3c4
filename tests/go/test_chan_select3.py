# Port of test/chan/select3.go (Go 1.23)
"""Blocking and panicking semantics of channel operations and selects in the
basic empty/non-empty cases: nil channels, closed channels, buffered channels
with space, empty selects, selects with default, a select that sees itself."""
from __future__ import annotations

import gort
from gort import ClosedChannelError
from gosupport import LONG, run

ALWAYS = "function did not"
NEVER = "function did"
BLOCK_WINDOW = 0.1       # Go's 1e8 ns: long enough to call a blocked operation blocked


async def check_panic(signal, f):
    """f always/never raises (Go: panics), as `signal` says."""
    try:
        await f()
        s = NEVER
    except ClosedChannelError:
        s = ALWAYS
    assert s == signal, f"{signal} panic"


async def check_block(signal, f):
    """f always/never blocks, as `signal` says.

    `always`: f must not return within BLOCK_WINDOW (a negative check: a correct
    runtime cannot fail it).  `never`: f must return on its own, nothing else
    unblocks it; the bound is generous instead of Go's 0.1 s.
    """
    c = gort.Chan()

    async def run_f():
        await f()
        await c.send(NEVER)          # f didn't block

    async def timer():
        await gort.sleep(BLOCK_WINDOW if signal == ALWAYS else LONG)
        await c.send(ALWAYS)         # f blocked
    gort.go(run_f)
    gort.go(timer)
    got = await c.recv()
    assert got == signal, f"{signal} block"


def unreachable():
    raise AssertionError("control flow shouldn't reach here")


def test_select3():
    async def main():
        ASYNC = 1
        nilch = None
        closedch = gort.Chan()
        closedch.close()

        async def nil_send():
            await gort.select(gort.send(nilch, 7))

        async def nil_recv():
            await gort.select(gort.recv(nilch))

        # sending/receiving on a nil channel blocks (gort has no nil Chan object:
        # a None case in a one-case select is the nil-channel operation)
        await check_block(ALWAYS, nil_send)
        await check_block(ALWAYS, nil_recv)

        # a nil channel inside a select is never selected
        async def sel_nil_send_default():
            i, _, _ = await gort.select(gort.send(nilch, 7), default=True)
            if i == 0:
                unreachable()
        await check_panic(NEVER, sel_nil_send_default)

        async def sel_nil_recv_default():
            i, _, _ = await gort.select(gort.recv(nilch), default=True)
            if i == 0:
                unreachable()
        await check_panic(NEVER, sel_nil_recv_default)

        # sending to an async channel with free buffer space never blocks
        async def send_buffered():
            ch = gort.Chan(ASYNC)
            await ch.send(7)
        await check_block(NEVER, send_buffered)

        # receiving from a closed channel never blocks
        async def recv_closed():
            for _ in range(10):
                assert await closedch.recv() is None, "expected zero value from closed channel"
                x, ok = await closedch.recv_ok()
                assert x is None and not ok, f"closedch: {x} {ok}"
        await check_block(NEVER, recv_closed)

        # sending to a closed channel panics
        async def send_closed():
            await closedch.send(7)
        await check_panic(ALWAYS, send_closed)

        # receiving from a non-ready channel always blocks
        async def recv_unready():
            await gort.Chan().recv()
        await check_block(ALWAYS, recv_unready)

        # empty selects always block
        async def empty_select():
            await gort.select()
        await check_block(ALWAYS, empty_select)

        # selects with only nil channels always block
        async def sel_nil_recv():
            await gort.select(gort.recv(nilch))
            unreachable()
        await check_block(ALWAYS, sel_nil_recv)

        async def sel_nil_send():
            await gort.select(gort.send(nilch, 7))
            unreachable()
        await check_block(ALWAYS, sel_nil_send)

        async def sel_nil_both():
            await gort.select(gort.recv(nilch), gort.send(nilch, 7))
            unreachable()
        await check_block(ALWAYS, sel_nil_both)

        # selects with non-ready non-nil channels always block
        async def sel_unready():
            await gort.select(gort.recv(gort.Chan()))
            unreachable()
        await check_block(ALWAYS, sel_unready)

        # selects with default cases don't block
        async def sel_default_only():
            await gort.select(default=True)
        await check_block(NEVER, sel_default_only)

        async def sel_nil_recv_def():
            i, _, _ = await gort.select(gort.recv(nilch), default=True)
            if i == 0:
                unreachable()
        await check_block(NEVER, sel_nil_recv_def)

        async def sel_nil_send_def():
            i, _, _ = await gort.select(gort.send(nilch, 7), default=True)
            if i == 0:
                unreachable()
        await check_block(NEVER, sel_nil_send_def)

        # selects with ready channels don't block
        async def sel_ready_send():
            ch = gort.Chan(ASYNC)
            i, _, _ = await gort.select(gort.send(ch, 7), default=True)
            if i != 0:
                unreachable()
        await check_block(NEVER, sel_ready_send)

        async def sel_ready_recv():
            ch = gort.Chan(ASYNC)
            await ch.send(7)
            i, _, _ = await gort.select(gort.recv(ch), default=True)
            if i != 0:
                unreachable()
        await check_block(NEVER, sel_ready_recv)

        # selects with closed channels behave like ordinary operations
        async def sel_closed_recv():
            i, x, ok = await gort.select(gort.recv(closedch))
            assert (i, x, ok) == (0, None, False)
        await check_block(NEVER, sel_closed_recv)

        async def sel_closed_send():
            await gort.select(gort.send(closedch, 7))
        await check_panic(ALWAYS, sel_closed_send)

        # a select should not get confused if it sees itself
        async def self_select():
            c = gort.Chan()
            await gort.select(gort.send(c, 1), gort.recv(c))
        await check_block(ALWAYS, self_select)
        return True

    assert run(main, procs=2)
