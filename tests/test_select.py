"""select: case choice, default, nil and closed channels, fairness, wake-ups,
Go's test/chan/doubleselect.go and select3.go, and select with timers.

Programs run through `run_bounded` (gort.run on a helper thread, a hang is a
failure).  No assertion depends on wall-clock timing.
"""
from __future__ import annotations

import random
import time

import pytest

import gort
from helpers import run_bounded, wait_until, settle

pytestmark = pytest.mark.timeout(60)

PROCS = [1, 2, 4]


# ---------------------------------------------------------------- helpers







# ---------------------------------------------------------------- choice and default

def test_ready_case_is_chosen():
    async def main():
        a, b = gort.Chan(1), gort.Chan(1)
        await b.send("bee")
        r1 = await gort.select(gort.recv(a), gort.recv(b))
        # a send case with room in the buffer is ready
        full = gort.Chan(1)
        await full.send(0)
        r2 = await gort.select(gort.send(full, 1), gort.send(a, "ay"))
        r3 = await a.recv()
        # a receive and a send case where only the receive is ready
        await b.send("b2")
        r4 = await gort.select(gort.send(full, 2), gort.recv(b))
        return r1, r2, r3, r4, len(full)

    r1, r2, r3, r4, nfull = run_bounded(main, procs=1)
    assert r1 == (1, "bee", True)
    assert r2 == (1, None, True)
    assert r3 == "ay"
    assert r4 == (1, "b2", True)
    assert nfull == 1


@pytest.mark.parametrize("procs", PROCS)
def test_select_receives_from_waiting_sender_and_sends_to_waiting_receiver(procs):
    async def main():
        a, b = gort.Chan(), gort.Chan()
        got = gort.Chan(1)

        async def sender():
            await a.send("from-sender")

        async def receiver():
            await got.send(await b.recv())

        gort.go(sender)
        i1, v1, ok1 = await gort.select(gort.recv(a), gort.recv(b))
        gort.go(receiver)
        i2, v2, ok2 = await gort.select(gort.send(b, "to-receiver"), gort.recv(gort.Chan()))
        return (i1, v1, ok1), (i2, v2, ok2), await got.recv()

    assert run_bounded(main, procs=procs) == ((0, "from-sender", True), (0, None, True), "to-receiver")


def test_default_when_nothing_ready():
    async def main():
        a, b = gort.Chan(), gort.Chan(1)
        await b.send("x")
        c = gort.Chan(1)
        await c.send("full")
        r1 = await gort.select(gort.recv(a), gort.send(c, 1), default=True)
        r2 = await gort.select(gort.recv(a), gort.recv(b), default=True)   # ready case wins over default
        r3 = await gort.select(default=True)
        r4 = await gort.select(gort.send(a, 1), default=True)              # no receiver waiting
        return r1, r2, r3, r4, len(c), len(a)

    r1, r2, r3, r4, nc, na = run_bounded(main, procs=1)
    assert r1 == (-1, None, False)
    assert r2 == (1, "x", True)
    assert r3 == (-1, None, False)
    assert r4 == (-1, None, False)
    assert nc == 1 and na == 0


@pytest.mark.parametrize("procs", PROCS)
def test_none_channel_cases_never_fire(procs):
    async def main():
        a = gort.Chan()
        r1 = await gort.select(gort.recv(None), gort.send(None, 1), default=True)
        # with a real channel that becomes ready later: only it can fire
        async def sender():
            await settle(50)
            await a.send("late")
        gort.go(sender)
        r2 = await gort.select(gort.recv(None), gort.send(None, 2), gort.recv(a))
        results = []
        for k in range(200):
            b = gort.Chan(1)
            await b.send(k)
            results.append(await gort.select(gort.recv(None), gort.recv(b), gort.send(None, 0)))
        return r1, r2, results

    r1, r2, results = run_bounded(main, procs=procs)
    assert r1 == (-1, None, False)
    assert r2 == (2, "late", True)
    assert results == [(1, k, True) for k in range(200)]


def test_select_no_cases_no_default_deadlocks():
    async def main():
        await gort.select()

    with pytest.raises(gort.Deadlock) as ei:
        run_bounded(main, procs=2)
    assert "all goroutines are asleep - deadlock!" in str(ei.value)


def test_select_no_cases_blocks_forever_but_main_can_still_exit():
    async def main():
        blocked_started = []

        async def forever():
            blocked_started.append(1)
            await gort.select()
            raise AssertionError("select() with no cases returned")

        for _ in range(3):
            gort.go(forever)
        await wait_until(lambda: len(blocked_started) == 3, "goroutines started")
        await settle()
        return "done"

    assert run_bounded(main, procs=2) == "done"


def test_select_same_channel_twice():
    async def main():
        a = gort.Chan(1)
        await a.send("v")
        i, v, ok = await gort.select(gort.recv(a), gort.recv(a))
        return i in (0, 1), v, ok, len(a)

    assert run_bounded(main, procs=1) == (True, "v", True, 0)


@pytest.mark.parametrize("procs", PROCS)
def test_two_selects_send_and_recv_on_same_channel_pair_up(procs):
    """Two goroutines each select {send(c, me), recv(c)}: one sends, the other receives."""
    rounds = 1000

    async def peer(c, me, out):
        i, v, ok = await gort.select(gort.send(c, me), gort.recv(c))
        await out.send((me, i, v))

    async def main():
        res = []
        for _ in range(rounds):
            c, out = gort.Chan(), gort.Chan(2)
            gort.go(peer, c, "A", out)
            gort.go(peer, c, "B", out)
            pair = sorted([await out.recv(), await out.recv()])
            res.append(pair)
        return res

    for pair in run_bounded(main, procs=procs):
        (m1, i1, v1), (m2, i2, v2) = pair
        assert {i1, i2} == {0, 1}, pair
        # the receiver got the sender's name
        if i1 == 1:
            assert v1 == m2 and v2 is None
        else:
            assert v2 == m1 and v1 is None


# ---------------------------------------------------------------- fairness

@pytest.mark.parametrize("kind", ["closed", "buffered"])
def test_fairness_between_two_ready_cases(kind):
    N = 4000

    async def main():
        a, b = gort.Chan(1), gort.Chan(1)
        if kind == "closed":
            a.close()
            b.close()
        else:
            await a.send("a")
            await b.send("b")
        counts = [0, 0]
        for _ in range(N):
            i, v, ok = await gort.select(gort.recv(a), gort.recv(b))
            counts[i] += 1
            if kind == "buffered":
                assert ok and v == "ab"[i]
                await (a, b)[i].send(v)       # keep both always ready
            else:
                assert (v, ok) == (None, False)
        return counts

    counts = run_bounded(main, procs=1)
    assert sum(counts) == N
    for c in counts:
        assert 0.40 * N <= c <= 0.60 * N, counts


def test_fairness_three_ready_cases_all_chosen():
    N = 3000

    async def main():
        chans = [gort.Chan(1) for _ in range(3)]
        for c in chans:
            c.close()
        counts = [0, 0, 0]
        for _ in range(N):
            i, _, _ = await gort.select(*(gort.recv(c) for c in chans))
            counts[i] += 1
        return counts

    counts = run_bounded(main, procs=1)
    for c in counts:
        assert 0.25 * N <= c <= 0.42 * N, counts


# ---------------------------------------------------------------- closed channels

def test_send_case_on_closed_channel_raises():
    async def main():
        c = gort.Chan(1)
        c.close()
        with pytest.raises(gort.ClosedChannelError):
            await gort.select(gort.send(c, 1))
        with pytest.raises(gort.ClosedChannelError):
            await gort.select(gort.send(c, 1), default=True)
        with pytest.raises(gort.ClosedChannelError):
            await gort.select(gort.send(c, 1), gort.recv(None), gort.send(None, 2))
        return "ok"

    assert run_bounded(main, procs=1) == "ok"


@pytest.mark.parametrize("procs", PROCS)
def test_blocked_select_send_raises_when_channel_closed(procs):
    async def main():
        c, other = gort.Chan(), gort.Chan()
        out = gort.Chan(1)
        started = []

        async def selector():
            started.append(1)
            try:
                await gort.select(gort.recv(other), gort.send(c, "x"))
            except gort.ClosedChannelError:
                await out.send("raised")
            else:
                await out.send("returned")

        gort.go(selector)
        await wait_until(lambda: started, "selector started")
        await settle()
        c.close()
        return await out.recv()

    assert run_bounded(main, procs=procs) == "raised"


@pytest.mark.parametrize("procs", PROCS)
def test_blocked_select_recv_woken_by_close(procs):
    async def main():
        a, b = gort.Chan(), gort.Chan()
        out = gort.Chan(1)
        started = []

        async def selector():
            started.append(1)
            await out.send(await gort.select(gort.recv(a), gort.recv(b)))

        gort.go(selector)
        await wait_until(lambda: started, "selector started")
        await settle()
        b.close()
        return await out.recv()

    assert run_bounded(main, procs=procs) == (1, None, False)


# ---------------------------------------------------------------- exactly one case completes

@pytest.mark.parametrize("procs", PROCS)
def test_select_woken_by_exactly_one_sender(procs):
    rounds = 1000

    async def sender(c, name, done):
        await c.send(name)
        await done.send(name)

    async def selector(a, b, out):
        await out.send(await gort.select(gort.recv(a), gort.recv(b)))

    async def main():
        stats = {0: 0, 1: 0}
        for _ in range(rounds):
            a, b = gort.Chan(), gort.Chan()
            done, out = gort.Chan(2), gort.Chan(1)
            gort.go(selector, a, b, out)
            gort.go(sender, a, "a", done)
            gort.go(sender, b, "b", done)
            i, v, ok = await out.recv()
            assert ok and v == "ab"[i], (i, v, ok)
            stats[i] += 1
            # the chosen sender completes ...
            assert await done.recv() == v
            # ... the other stays blocked: its value was not taken too
            await settle(20)
            assert done.try_recv() == (None, False, False), "second sender completed without a receiver"
            chosen, other = (a, b) if i == 0 else (b, a)
            # drain: the other value is still there, exactly once
            assert await other.recv() == "ab"[1 - i]
            assert await done.recv() == "ab"[1 - i]
            assert chosen.try_recv() == (None, False, False)
            assert other.try_recv() == (None, False, False)
        return stats

    stats = run_bounded(main, procs=procs)
    assert stats[0] + stats[1] == rounds


@pytest.mark.parametrize("procs", PROCS)
def test_select_waiting_receiver_takes_one_of_two_sends(procs):
    """A select sending on two channels with two receivers: exactly one receiver gets a value."""
    rounds = 1000

    async def receiver(c, name, done):
        v = await c.recv()
        await done.send((name, v))

    async def main():
        for _ in range(rounds):
            a, b = gort.Chan(), gort.Chan()
            done = gort.Chan(2)
            gort.go(receiver, a, "a", done)
            gort.go(receiver, b, "b", done)
            i, v, ok = await gort.select(gort.send(a, 1), gort.send(b, 2))
            assert (v, ok) == (None, True)
            name, got = await done.recv()
            assert (name, got) == ("ab"[i], i + 1)
            await settle(20)
            assert done.try_recv() == (None, False, False), "the other receiver got a value too"
            other = b if i == 0 else a
            await other.send("release")
            assert await done.recv() == ("ab"[1 - i], "release")
        return True

    assert run_bounded(main, procs=procs) is True


@pytest.mark.parametrize("procs", PROCS)
def test_close_races_send_to_wake_a_blocked_select(procs):
    """A select on {recv(a), recv(b)}; concurrently a sender on a and a close of b.
    Exactly one completes the select; a's value is received exactly once overall."""
    rounds = 500

    async def selector(a, b, out):
        await out.send(await gort.select(gort.recv(a), gort.recv(b)))

    async def sender(a, done):
        await a.send("a")
        await done.send(None)

    async def main():
        outcomes = {0: 0, 1: 0}
        for _ in range(rounds):
            a, b = gort.Chan(), gort.Chan()
            out, done = gort.Chan(1), gort.Chan(1)
            gort.go(selector, a, b, out)
            gort.go(sender, a, done)
            b.close()
            i, v, ok = await out.recv()
            outcomes[i] += 1
            if i == 0:
                assert (v, ok) == ("a", True)
            else:
                assert (v, ok) == (None, False)
                assert await a.recv() == "a"      # the sender's value is still there
            await done.recv()
            assert a.try_recv() == (None, False, False)
        return outcomes

    outcomes = run_bounded(main, procs=procs)
    assert sum(outcomes.values()) == rounds


@pytest.mark.parametrize("procs", PROCS)
def test_nonblocking_ops_complete_a_blocked_select(procs):
    async def main():
        a, b, out = gort.Chan(), gort.Chan(), gort.Chan(1)
        started = []

        async def selector():
            started.append(1)
            await out.send(await gort.select(gort.recv(a), gort.send(b, "from-select")))

        res = []
        for k in range(50):
            gort.go(selector)
            await wait_until(lambda: len(started) == k + 1, "selector started")
            if k % 2 == 0:
                tries, t0 = 0, time.monotonic()
                while not a.try_send(k):
                    tries += 1
                    assert tries < 100_000 or time.monotonic() - t0 < 10   # C goscheds are fast
                    await gort.gosched()
                res.append(await out.recv() == (0, k, True))
            else:
                tries, t0 = 0, time.monotonic()
                while True:
                    v, ok, sel = b.try_recv()
                    if sel:
                        break
                    tries += 1
                    assert tries < 100_000 or time.monotonic() - t0 < 10
                    await gort.gosched()
                res.append(v == "from-select" and ok and await out.recv() == (1, None, True))
        return res

    assert run_bounded(main, procs=procs) == [True] * 50


# ---------------------------------------------------------------- Go test/chan/doubleselect.go

@pytest.mark.parametrize("procs", PROCS)
def test_doubleselect(procs):
    """Senders select-send each value on one of 4 channels; muxes forward them;
    every value must be received exactly once."""
    n_senders, per = 3, 5000

    async def sender(base, cs, done):
        for i in range(per):
            v = base + i
            await gort.select(*(gort.send(c, v) for c in cs))
        await done.send(None)

    async def closer(cs, done):
        for _ in range(n_senders):
            await done.recv()
        for c in cs:
            c.close()

    async def mux(out, inp, done):
        async for v in inp:
            await out.send(v)
        await done.send(True)

    async def mux_closer(cmux, done):
        for _ in range(4):
            await done.recv()
        cmux.close()

    async def main():
        cs = [gort.Chan() for _ in range(4)]
        sdone, mdone, cmux = gort.Chan(), gort.Chan(), gort.Chan()
        for s in range(n_senders):
            gort.go(sender, s * per, cs, sdone)
        gort.go(closer, cs, sdone)
        for c in cs:
            gort.go(mux, cmux, c, mdone)
        gort.go(mux_closer, cmux, mdone)
        seen = set()
        count = 0
        async for v in cmux:
            assert v not in seen, f"got duplicate value: {v}"
            seen.add(v)
            count += 1
        return count, seen

    count, seen = run_bounded(main, procs=procs)
    assert count == n_senders * per
    assert seen == set(range(n_senders * per))




def test_select_senders_and_select_receivers_tiny_switch_interval(tiny_switch_interval):
    test_select_senders_and_select_receivers(4)


def test_doubleselect_tiny_switch_interval(tiny_switch_interval):
    test_doubleselect(4)


@pytest.mark.parametrize("procs", [2, 4])
def test_select_senders_and_select_receivers(procs):
    """Both sides use select over the same channels (buffered and unbuffered): no loss, no duplicate."""
    n_senders, n_receivers, per = 4, 4, 3000

    async def sender(base, cs, done):
        for i in range(per):
            await gort.select(*(gort.send(c, base + i) for c in cs))
        await done.send(None)

    async def receiver(cs, quit, out):
        got = []
        while True:
            i, v, ok = await gort.select(*(gort.recv(c) for c in cs), gort.recv(quit))
            if i == len(cs):
                break
            got.append(v)
        # drain whatever is left in the buffers after quit
        for c in cs:
            while True:
                v, ok, sel = c.try_recv()
                if not sel:
                    break
                got.append(v)
        await out.send(got)

    async def main():
        cs = [gort.Chan(), gort.Chan(3), gort.Chan(), gort.Chan(1)]
        done, quit, out = gort.Chan(), gort.Chan(), gort.Chan(n_receivers)
        for s in range(n_senders):
            gort.go(sender, s * per, cs, done)
        for _ in range(n_receivers):
            gort.go(receiver, cs, quit, out)
        for _ in range(n_senders):
            await done.recv()
        quit.close()
        allv = []
        for _ in range(n_receivers):
            allv.extend(await out.recv())
        return allv

    allv = run_bounded(main, procs=procs)
    assert len(allv) == n_senders * per
    assert sorted(allv) == list(range(n_senders * per))


# ---------------------------------------------------------------- Go test/chan/select3.go

def _blocks(op):
    """main performs op and nothing else can run: it must block forever -> Deadlock."""
    async def main():
        await op()
        return "did not block"

    with pytest.raises(gort.Deadlock) as ei:
        run_bounded(main, procs=2)
    return str(ei.value)


def test_select3_always_blocks():
    async def recv_unbuffered():
        await gort.Chan().recv()

    async def recv_buffered_empty():
        await gort.Chan(2).recv()

    async def send_unbuffered():
        await gort.Chan().send(1)

    async def send_buffered_full():
        c = gort.Chan(1)
        await c.send(1)
        await c.send(2)

    async def select_nil_recv():
        await gort.select(gort.recv(None))

    async def select_nil_send():
        await gort.select(gort.send(None, 1))

    async def select_nil_both():
        await gort.select(gort.recv(None), gort.send(None, 1))

    async def select_empty():
        await gort.select()

    async def select_recv_unbuffered_and_nil():
        await gort.select(gort.recv(gort.Chan()), gort.recv(None))

    async def select_send_full():
        c = gort.Chan(1)
        await c.send(0)
        await gort.select(gort.send(c, 1), gort.send(gort.Chan(), 2))

    for op in (recv_unbuffered, recv_buffered_empty, send_unbuffered, send_buffered_full,
               select_nil_recv, select_nil_send, select_nil_both, select_empty,
               select_recv_unbuffered_and_nil, select_send_full):
        msg = _blocks(op)
        assert "all goroutines are asleep - deadlock!" in msg, (op.__name__, msg)


def test_select3_never_blocks():
    async def main():
        res = {}
        closed = gort.Chan()
        closed.close()
        res["recv closed"] = await closed.recv_ok()
        res["select recv closed"] = await gort.select(gort.recv(closed))
        res["select recv closed + nil"] = await gort.select(gort.recv(None), gort.recv(closed))
        res["select nil default"] = await gort.select(gort.recv(None), gort.send(None, 1), default=True)
        res["select empty default"] = await gort.select(default=True)
        buf = gort.Chan(1)
        res["select send buffered room"] = await gort.select(gort.send(buf, 7))
        res["select recv buffered value"] = await gort.select(gort.recv(buf), gort.recv(None))
        cb = gort.Chan(2)
        await cb.send("left")
        cb.close()
        res["closed buffered 1"] = await gort.select(gort.recv(cb))
        res["closed buffered 2"] = await gort.select(gort.recv(cb))
        return res

    res = run_bounded(main, procs=1)
    assert res == {
        "recv closed": (None, False),
        "select recv closed": (0, None, False),
        "select recv closed + nil": (1, None, False),
        "select nil default": (-1, None, False),
        "select empty default": (-1, None, False),
        "select send buffered room": (0, None, True),
        "select recv buffered value": (0, 7, True),
        "closed buffered 1": (0, "left", True),
        "closed buffered 2": (0, None, False),
    }


def test_select3_blocked_goroutines_stay_blocked_until_unblocked():
    """select3's `testBlock(always, ...)` in a goroutine: it must not complete on its own."""
    async def main():
        finished = []
        c = gort.Chan()

        async def nil_and_chan():
            await gort.select(gort.recv(None), gort.send(None, 0), gort.recv(c))
            finished.append("nil_and_chan")

        async def nil_only():
            await gort.select(gort.recv(None))
            finished.append("nil_only")

        gort.go(nil_and_chan)
        gort.go(nil_only)
        await settle(300)
        assert finished == []
        await c.send(1)
        await wait_until(lambda: finished, "select woken")
        await settle(100)
        return finished

    assert run_bounded(main, procs=2) == ["nil_and_chan"]


# ---------------------------------------------------------------- select with timers

@pytest.mark.parametrize("procs", [4])
def test_select_send_with_timeout_never_loses_values(procs):
    """Senders select {send(ch, v), after(d)} and receivers select {recv(ch), after(d)}:
    a value counts as sent exactly when its send case fired, and the values received
    must be exactly those."""
    n_pairs, per = 4, 5000
    timeouts = [0.0, 1e-5, 5e-5, 2e-4, 1e-3]

    async def sender(k, ch, done):
        rnd = random.Random(k)
        sent, timed_out = [], 0
        for i in range(per):
            v = (k, i)
            idx, _, _ = await gort.select(gort.send(ch, v), gort.recv(gort.after(rnd.choice(timeouts))))
            if idx == 0:
                sent.append(v)
            else:
                timed_out += 1
        await done.send((sent, timed_out))

    async def receiver(k, ch, out):
        rnd = random.Random(1000 + k)
        got, timed_out = [], 0
        while True:
            idx, v, ok = await gort.select(gort.recv(ch), gort.recv(gort.after(rnd.choice(timeouts))))
            if idx == 0:
                if not ok:
                    break
                got.append(v)
            else:
                timed_out += 1
                if rnd.random() < 0.3:
                    await gort.gosched()
        await out.send((got, timed_out))

    async def main():
        ch = gort.Chan()
        done, out = gort.Chan(n_pairs), gort.Chan(n_pairs)
        for k in range(n_pairs):
            gort.go(receiver, k, ch, out)
            gort.go(sender, k, ch, done)
        sent, s_to = [], 0
        for _ in range(n_pairs):
            s, t = await done.recv()
            sent.extend(s)
            s_to += t
        ch.close()
        got, r_to = [], 0
        for _ in range(n_pairs):
            g, t = await out.recv()
            got.extend(g)
            r_to += t
        return sent, got, s_to, r_to

    sent, got, s_to, r_to = run_bounded(main, procs=procs, timeout=45.0)
    assert len(sent) + s_to == n_pairs * per
    assert len(got) == len(set(got)), "a value was received twice"
    assert sorted(got) == sorted(sent), (
        f"sent {len(sent)} received {len(got)}: lost={sorted(set(sent) - set(got))[:10]} "
        f"extra={sorted(set(got) - set(sent))[:10]}")
    assert len(sent) > 0


@pytest.mark.parametrize("procs", [1, 4])
def test_timer_case_fires_when_nothing_else_ready(procs):
    async def main():
        res = []
        for _ in range(20):
            never = gort.Chan()
            i, v, ok = await gort.select(gort.recv(never), gort.recv(gort.after(0.001)))
            res.append((i, ok))
        t = gort.Timer(0.001)
        i, v, ok = await gort.select(gort.recv(None), gort.recv(t.c))
        res.append((i, ok))
        return res

    assert run_bounded(main, procs=procs) == [(1, True)] * 21
