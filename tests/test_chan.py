"""Channels: hand-off, buffering, close, range, and Go's test/chan models.

Every program runs through `run_bounded`, which runs gort.run on a helper
thread and turns a hang into a test failure (plus a pytest-timeout backstop).
No assertion depends on wall-clock timing: tests wait on channels, or poll a
condition with a bounded number of `gosched` calls (never giving up before 10 s).
"""
from __future__ import annotations

import time

import pytest

import gort
from helpers import run_bounded, wait_until, settle

pytestmark = pytest.mark.timeout(60)

PROCS = [1, 2, 4]


# ---------------------------------------------------------------- helpers







# ---------------------------------------------------------------- unbuffered

@pytest.mark.parametrize("procs", PROCS)
def test_unbuffered_send_blocks_until_received(procs):
    obj = object()

    async def main():
        ch = gort.Chan()
        progress = []

        async def sender():
            progress.append("start")
            await ch.send(obj)
            progress.append("sent")

        gort.go(sender)
        await wait_until(lambda: progress, "sender started")
        await settle()
        # an unbuffered send completes only when a receiver takes the value
        assert progress == ["start"]
        assert len(ch) == 0 and ch.cap == 0
        v = await ch.recv()
        await wait_until(lambda: len(progress) == 2, "sender finished")
        return v

    assert run_bounded(main, procs=procs) is obj


@pytest.mark.parametrize("procs", PROCS)
def test_unbuffered_waiting_receiver_gets_value(procs):
    async def main():
        ch = gort.Chan()
        out = gort.Chan(1)
        started = []

        async def receiver():
            started.append(1)
            await out.send(await ch.recv_ok())

        gort.go(receiver)
        await wait_until(lambda: started, "receiver started")
        await settle(20)
        await ch.send("hello")       # completes only because the receiver takes it
        return await out.recv()

    assert run_bounded(main, procs=procs) == ("hello", True)


def test_waiting_receiver_bypasses_buffer():
    # procs=1: once the receiver has started it can only have stopped by parking
    async def main():
        ch = gort.Chan(3)
        out = gort.Chan(1)
        started = []

        async def receiver():
            started.append(1)
            await out.send(await ch.recv())

        gort.go(receiver)
        await wait_until(lambda: started, "receiver started")
        await ch.send("direct")
        n_after_send = len(ch)      # handed straight to the parked receiver
        return n_after_send, await out.recv()

    assert run_bounded(main, procs=1) == (0, "direct")


@pytest.mark.parametrize("procs", PROCS)
def test_unbuffered_many_pairs_every_value_once(procs):
    n_senders, per = 8, 2000

    async def sender(ch, base, done):
        for i in range(per):
            await ch.send(base + i)
        await done.send(None)

    async def receiver(ch, out):
        got = []
        for _ in range(n_senders * per // 4):
            got.append(await ch.recv())
        await out.send(got)

    async def main():
        ch, done, out = gort.Chan(), gort.Chan(n_senders), gort.Chan(4)
        for r in range(4):
            gort.go(receiver, ch, out)
        for s in range(n_senders):
            gort.go(sender, ch, s * per, done)
        allv = []
        for _ in range(4):
            allv.extend(await out.recv())
        for _ in range(n_senders):
            await done.recv()
        return allv

    got = run_bounded(main, procs=procs)
    assert sorted(got) == list(range(n_senders * per))


# ---------------------------------------------------------------- buffered

@pytest.mark.parametrize("procs", PROCS)
def test_buffered_fifo_len_cap(procs):
    async def main():
        ch = gort.Chan(5)
        assert ch.cap == 5 and len(ch) == 0
        for i in range(5):
            await ch.send(i * 10)    # never blocks: there is room
            assert len(ch) == i + 1
        assert ch.cap == 5
        out = []
        for i in range(5):
            out.append(await ch.recv())
            assert len(ch) == 4 - i
        # the ring wraps around correctly
        for round_ in range(7):
            for i in range(3):
                await ch.send((round_, i))
            for i in range(3):
                assert await ch.recv() == (round_, i)
        assert len(ch) == 0
        return out

    assert run_bounded(main, procs=procs) == [0, 10, 20, 30, 40]


@pytest.mark.parametrize("procs", PROCS)
def test_buffered_send_blocks_when_full(procs):
    async def main():
        ch = gort.Chan(2)
        progress = []

        async def sender():
            for i in range(3):
                await ch.send(i)
                progress.append(i)

        gort.go(sender)
        await wait_until(lambda: len(progress) == 2, "two buffered sends")
        await settle()
        assert progress == [0, 1], "third send must block on a full buffer"
        assert len(ch) == 2
        first = await ch.recv()
        await wait_until(lambda: len(progress) == 3, "third send after room was made")
        rest = [await ch.recv(), await ch.recv()]
        assert len(ch) == 0
        return [first] + rest

    assert run_bounded(main, procs=procs) == [0, 1, 2]


def test_full_buffer_with_blocked_sender_keeps_order():
    # recv from a full buffer with a blocked sender: head of the buffer first,
    # the blocked sender's value goes to the tail (chan.go recv()).
    async def main():
        ch = gort.Chan(3)
        for i in range(3):
            await ch.send(i)
        started = []

        async def sender(v):
            started.append(v)
            await ch.send(v)

        for v in (3, 4):
            gort.go(sender, v)
            await wait_until(lambda: len(started) == v - 2, f"sender {v} started")
            await settle(20)
        return [await ch.recv() for _ in range(5)]

    assert run_bounded(main, procs=1) == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- close

@pytest.mark.parametrize("procs", PROCS)
def test_close_drains_then_zero_value(procs):
    async def main():
        ch = gort.Chan(3)
        for v in ("a", "b", "c"):
            await ch.send(v)
        ch.close()
        assert len(ch) == 3
        got = [await ch.recv_ok() for _ in range(3)]
        after = [await ch.recv_ok() for _ in range(3)]
        plain = await ch.recv()
        return got, after, plain, len(ch)

    got, after, plain, n = run_bounded(main, procs=procs)
    assert got == [("a", True), ("b", True), ("c", True)]
    assert after == [(None, False)] * 3
    assert plain is None
    assert n == 0


def test_recv_on_closed_unbuffered_returns_none():
    async def main():
        ch = gort.Chan()
        ch.close()
        return await ch.recv(), await ch.recv_ok(), [v async for v in ch]

    assert run_bounded(main, procs=1) == (None, (None, False), [])


def test_send_on_closed_raises_and_close_of_closed_raises():
    async def main():
        res = []
        for cap in (0, 1, 4):
            ch = gort.Chan(cap)
            ch.close()
            with pytest.raises(gort.ClosedChannelError):
                await ch.send(1)
            with pytest.raises(gort.ClosedChannelError):
                ch.close()
            res.append(cap)
        return res

    assert run_bounded(main, procs=1) == [0, 1, 4]


def test_uncaught_send_on_closed_escapes_run():
    async def main():
        ch = gort.Chan(1)
        ch.close()
        await ch.send(1)

    with pytest.raises(gort.ClosedChannelError):
        run_bounded(main, procs=1)


@pytest.mark.parametrize("procs", PROCS)
@pytest.mark.parametrize("cap", [0, 2])
def test_close_makes_blocked_senders_raise(procs, cap):
    n = 3

    async def main():
        ch = gort.Chan(cap)
        for i in range(cap):
            await ch.send(("buffered", i))
        results = gort.Chan(n)
        started = []

        async def sender(i):
            started.append(i)
            try:
                await ch.send(("blocked", i))
            except gort.ClosedChannelError:
                await results.send("raised")
            else:
                await results.send("sent")

        for i in range(n):
            gort.go(sender, i)
        await wait_until(lambda: len(started) == n, "senders started")
        await settle()
        assert len(results) == 0, "nobody can send into a full/unbuffered chan"
        ch.close()
        outcomes = [await results.recv() for _ in range(n)]
        # buffered values survive close; then the zero value
        drained = [v async for v in ch]
        return outcomes, drained, await ch.recv_ok()

    outcomes, drained, tail = run_bounded(main, procs=procs)
    assert outcomes == ["raised"] * n
    assert drained == [("buffered", i) for i in range(cap)]
    assert tail == (None, False)


@pytest.mark.parametrize("procs", PROCS)
@pytest.mark.parametrize("cap", [0, 3])
def test_close_wakes_all_blocked_receivers(procs, cap):
    n = 5

    async def main():
        ch = gort.Chan(cap)
        results = gort.Chan(n)
        started = []

        async def receiver(i):
            started.append(i)
            await results.send(await ch.recv_ok())

        for i in range(n):
            gort.go(receiver, i)
        await wait_until(lambda: len(started) == n, "receivers started")
        await settle()
        assert len(results) == 0
        ch.close()
        return [await results.recv() for _ in range(n)]

    assert run_bounded(main, procs=procs) == [(None, False)] * n


# ---------------------------------------------------------------- range

@pytest.mark.parametrize("procs", PROCS)
@pytest.mark.parametrize("cap", [0, 1, 16])
def test_async_for_ranges_until_closed(procs, cap):
    async def producer(ch, n):
        for i in range(n):
            await ch.send(i)
        ch.close()

    async def main():
        ch = gort.Chan(cap)
        gort.go(producer, ch, 300)
        out = []
        async for v in ch:
            out.append(v)
        # ranging a closed, drained chan ends at once
        again = [v async for v in ch]
        return out, again

    out, again = run_bounded(main, procs=procs)
    assert out == list(range(300))
    assert again == []


def test_async_for_drains_buffer_of_closed_chan():
    async def main():
        ch = gort.Chan(4)
        for v in "wxyz":
            await ch.send(v)
        ch.close()
        return "".join([v async for v in ch])

    assert run_bounded(main, procs=1) == "wxyz"


# ---------------------------------------------------------------- construction

def test_bad_capacity():
    with pytest.raises(ValueError):
        gort.Chan(-1)
    with pytest.raises(ValueError):
        gort.Chan(-100)
    for bad in ("3", 1.5, None, [1]):
        with pytest.raises(TypeError):
            gort.Chan(bad)


def test_default_capacity_is_unbuffered():
    ch = gort.Chan()
    assert ch.cap == 0 and len(ch) == 0
    assert gort.Chan(7).cap == 7


# ---------------------------------------------------------------- Go test/chan/sieve1.go

FIRST_100_PRIMES = [p for p in range(2, 542) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


@pytest.mark.parametrize("procs", PROCS)
def test_sieve_first_100_primes(procs):
    async def generate(ch):
        i = 2
        while True:
            await ch.send(i)
            i += 1

    async def filter_(inp, out, prime):
        while True:
            i = await inp.recv()
            if i % prime != 0:
                await out.send(i)

    async def sieve(primes):
        ch = gort.Chan()
        gort.go(generate, ch)
        while True:
            prime = await ch.recv()
            await primes.send(prime)
            ch1 = gort.Chan()
            gort.go(filter_, ch, ch1, prime)
            ch = ch1

    async def main():
        primes = gort.Chan()
        gort.go(sieve, primes)
        return [await primes.recv() for _ in range(100)]

    assert len(FIRST_100_PRIMES) == 100
    # main returns while the generator and filters are still running: the
    # program must end anyway (other goroutines are abandoned, as in Go)
    assert run_bounded(main, procs=procs) == FIRST_100_PRIMES


# ---------------------------------------------------------------- Go test/chan/fifo.go

@pytest.mark.parametrize("procs", PROCS)
def test_fifo_asynch(procs):
    N = 100

    async def main():
        ch = gort.Chan(N)
        for i in range(N):
            await ch.send(i)
        return [await ch.recv() for _ in range(N)]

    assert run_bounded(main, procs=procs) == list(range(N))


@pytest.mark.parametrize("procs", PROCS)
@pytest.mark.parametrize("cap", [0, 10])
def test_fifo_synch_daisy_chain(procs, cap):
    """A daisy chain of goroutines reads the values of one producer in order."""
    N = 200
    checked = []

    async def chain(ch, val, inp, out):
        await inp.recv()
        got = await ch.recv()
        assert got == val, f"fifo: link {val} received {got}"
        checked.append(val)
        await out.send(1)

    async def main():
        ch = gort.Chan(cap)
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
        return len(checked)

    assert run_bounded(main, procs=procs) == N
    assert checked == list(range(N))


# ---------------------------------------------------------------- Go test/chan/nonblock.go

MAX_TRIES = 100_000
MIN_SECONDS = 10.0     # and never less than this: 100,000 C goscheds are ~30 ms, shorter than
                       # the OS may keep the peer's thread off a loaded 2-core machine


@pytest.mark.parametrize("procs", PROCS)
@pytest.mark.parametrize("cap", [0, 1, 2])
@pytest.mark.parametrize("style", ["try", "select"])
def test_nonblock(procs, cap, style):
    async def nb_send(ch, v):
        if style == "try":
            return ch.try_send(v)
        i, _, _ = await gort.select(gort.send(ch, v), default=True)
        return i == 0

    async def nb_recv(ch):
        if style == "try":
            v, ok, selected = ch.try_recv()
            return v, selected
        i, v, ok = await gort.select(gort.recv(ch), default=True)
        return v, i == 0

    async def receiver(ch, sync):
        v = await ch.recv()
        assert v == 123, f"receiver got {v}"
        await sync.send(True)

    async def sender(ch, sync):
        await ch.send(234)
        await sync.send(True)

    async def main():
        ch = gort.Chan(cap)
        sync = gort.Chan()
        # nothing to receive: never blocks, never selected
        v, sel = await nb_recv(ch)
        assert not sel and v is None, "blocked receive selected"
        # a non-blocking send fills the buffer then fails
        for k in range(cap):
            assert await nb_send(ch, k)
        assert not await nb_send(ch, "overflow"), "send into full/unbuffered chan without receiver"
        assert len(ch) == cap
        for k in range(cap):
            assert await nb_recv(ch) == (k, True)

        gort.go(receiver, ch, sync)
        tries = 0
        t0 = time.monotonic()
        while not await nb_send(ch, 123):
            tries += 1
            assert tries < MAX_TRIES or time.monotonic() - t0 < MIN_SECONDS, \
                "non-blocking send never found the receiver"
            await gort.gosched()
        await sync.recv()

        gort.go(sender, ch, sync)
        if cap > 0:
            await sync.recv()      # buffered: the sender finished on its own
        tries = 0
        t0 = time.monotonic()
        while True:
            v, sel = await nb_recv(ch)
            if sel:
                break
            tries += 1
            assert tries < MAX_TRIES or time.monotonic() - t0 < MIN_SECONDS, \
                "non-blocking receive never found the sender"
            await gort.gosched()
        assert v == 234
        if cap == 0:
            await sync.recv()
        return True

    assert run_bounded(main, procs=procs) is True


def test_try_helpers_on_closed_channel():
    async def main():
        ch = gort.Chan(2)
        assert ch.try_send("x") is True
        ch.close()
        with pytest.raises(gort.ClosedChannelError):
            ch.try_send("y")
        first = ch.try_recv()
        second = ch.try_recv()
        u = gort.Chan()
        assert u.try_recv() == (None, False, False)
        u.close()
        return first, second, u.try_recv()

    first, second, third = run_bounded(main, procs=1)
    assert first == ("x", True, True)
    assert second == (None, False, True)   # closed and drained: selected, not ok
    assert third == (None, False, True)
