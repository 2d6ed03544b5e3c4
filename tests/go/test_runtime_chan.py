# Port of src/runtime/chan_test.go (Go 1.23)
"""The semantic tests of Go's runtime channel tests: blocking, non-blocking and
closed-channel behaviour for every capacity, FIFO order, values neither lost
nor duplicated under concurrency, select fairness and its atomicity, a select
on the same channel twice, and the stress tests.  Benchmarks are not ported.

Where Go sleeps 1 ms "so the goroutine blocks", the port waits until the
scheduler shows it parked with the expected wait reason (deterministic).
"""
from __future__ import annotations

import gc
import math
import sys

import pytest

import gort
from gosupport import count, run, until_n_parked, until_parked

pytestmark = pytest.mark.timeout(300)


def test_chan(switchy):
    N = 200                          # Go's count of capacities (20 with -short)

    async def main():
        for cap in range(N):
            # receive from an empty channel blocks
            # (goroutines get their channel and flags as arguments: a closure
            # would see the next iteration's objects if it ran late)
            c = gort.Chan(cap)
            flags = {"recv1": False, "recv2": False}

            async def r1(c, flags):
                await c.recv()
                flags["recv1"] = True

            async def r2(c, flags):
                await c.recv_ok()
                flags["recv2"] = True
            gort.go(r1, c, flags)
            gort.go(r2, c, flags)
            await until_n_parked("chan receive", 2)
            assert not flags["recv1"] and not flags["recv2"], f"chan[{cap}]: receive from empty chan"
            # a non-blocking receive does not block
            i, _, _ = await gort.select(gort.recv(c), default=True)
            assert i == -1, f"chan[{cap}]: receive from empty chan"
            assert c.try_recv()[2] is False, f"chan[{cap}]: receive from empty chan"
            await c.send(0)
            await c.send(0)

            # send to a full channel blocks
            c = gort.Chan(cap)
            for i in range(cap):
                await c.send(i)
            sent = [0]

            async def s1(c, sent):
                await c.send(0)
                sent[0] = 1
            gort.go(s1, c, sent)
            await until_parked("chan send")
            assert sent[0] == 0, f"chan[{cap}]: send to full chan"
            i, _, _ = await gort.select(gort.send(c, 0), default=True)
            assert i == -1, f"chan[{cap}]: send to full chan"
            await c.recv()

            # a closed channel delivers its buffer, then zero values
            c = gort.Chan(cap)
            for i in range(cap):
                await c.send(i)
            c.close()
            for i in range(cap):
                v = await c.recv()
                assert v == i, f"chan[{cap}]: received {v}, expected {i}"
            v = await c.recv()
            assert v is None, f"chan[{cap}]: received {v}, expected zero"
            v, ok = await c.recv_ok()
            assert v is None and not ok, f"chan[{cap}]: received {v}/{ok}, expected None/False"

            # close unblocks a receive
            c = gort.Chan(cap)
            done = gort.Chan()

            async def r3(c, done):
                v, ok = await c.recv_ok()
                await done.send(v is None and ok is False)
            gort.go(r3, c, done)
            await until_parked("chan receive")
            c.close()
            assert await done.recv(), f"chan[{cap}]: received non zero from closed chan"

            # 100 integers arrive uncorrupted, in FIFO order (recv, then recv_ok)
            c = gort.Chan(cap)

            async def send100(c):
                for i in range(100):
                    await c.send(i)
            gort.go(send100, c)
            for i in range(100):
                v = await c.recv()
                assert v == i, f"chan[{cap}]: received {v}, expected {i}"
            gort.go(send100, c)
            for i in range(100):
                v, ok = await c.recv_ok()
                assert ok, f"chan[{cap}]: receive failed, expected {i}"
                assert v == i, f"chan[{cap}]: received {v}, expected {i}"

            # 4 senders x 1000 integers, 4 receivers: each value exactly 4 times
            P, L = 4, 1000

            async def sendL(c):
                for i in range(L):
                    await c.send(i)
            results = gort.Chan()

            async def recvL(c, results):
                got = {}
                for _ in range(L):
                    v = await c.recv()
                    got[v] = got.get(v, 0) + 1
                await results.send(got)
            for _ in range(P):
                gort.go(sendL, c)
            for _ in range(P):
                gort.go(recvL, c, results)
            total = {}
            for _ in range(P):
                for k, v in (await results.recv()).items():
                    total[k] = total.get(k, 0) + v
            assert len(total) == L, f"chan[{cap}]: received {len(total)} values, expected {L}"
            assert all(v == P for v in total.values()), f"chan[{cap}]: a value not received {P} times"

            # len and cap
            c = gort.Chan(cap)
            assert len(c) == 0 and c.cap == cap, f"chan[{cap}]: bad len/cap"
            for i in range(cap):
                await c.send(i)
            assert len(c) == cap and c.cap == cap, f"chan[{cap}]: bad len/cap"
        return True

    assert run(main, procs=4, timeout=280)


def test_nonblock_recv_race():
    n = 10_000

    async def main():
        for _ in range(n):
            c = gort.Chan(1)
            await c.send(1)
            bad = gort.Chan(1)

            async def g(c, bad):
                i, _, _ = await gort.select(gort.recv(c), default=True)
                if i == -1:
                    await bad.send("chan is not ready")
            gort.go(g, c, bad)
            c.close()
            await c.recv()
            await gort.gosched()
            v, _, got = bad.try_recv()
            assert not got, v
        return True

    assert run(main, procs=4)


def _nonblock_select_race(second_is_close):
    n = 100_000                      # Go's count (1000 with -short)

    async def main():
        done = gort.Chan(1)
        for _ in range(n):
            c1 = gort.Chan(1)
            c2 = gort.Chan() if second_is_close else gort.Chan(1)
            await c1.send(1)

            async def g(c1, c2):
                i, _, _ = await gort.select(gort.recv(c1), gort.recv(c2), default=True)
                await done.send(i != -1)
            gort.go(g, c1, c2)
            if second_is_close:
                c2.close()
            else:
                await c2.send(1)
            await gort.select(gort.recv(c1), default=True)
            assert await done.recv(), "no chan is ready"
        return True

    assert run(main, procs=4, timeout=280)


def test_nonblock_select_race(switchy):
    """A select acts on the channels' state at one moment, not over a smeared window."""
    _nonblock_select_race(False)


def test_nonblock_select_race2(switchy):
    _nonblock_select_race(True)


def test_self_select(switchy):
    """Send and receive on the same channel in one select: no crash, no deadlock,
    and on an unbuffered channel never a value received from oneself."""
    async def main():
        for cap in (0, 10):
            wg = gort.WaitGroup()
            c = gort.Chan(cap)

            async def worker(p):
                for i in range(1000):
                    if p == 0 or i % 2 == 0:
                        k, v, _ = await gort.select(gort.send(c, p), gort.recv(c))
                        recv = k == 1
                    else:
                        k, v, _ = await gort.select(gort.recv(c), gort.send(c, p))
                        recv = k == 0
                    if recv and cap == 0:
                        assert v != p, "self receive"
            for p in range(2):
                wg.go(worker, p)
            await wg.wait()
        return True

    assert run(main, procs=2)


def test_select_stress(switchy):
    """4 plain senders, 4 plain receivers, one select sender and one select
    receiver over the same four channels interact chaotically but never deadlock."""
    # Go: N = 1e5 (1e4 with -short) on GOMAXPROCS(10): ~5 s here on 3.11, more on
    # 3.13t, so 2e4 (GORT_GO_FULL=1 restores 1e5).
    N = count(100_000, 20_000)

    async def main():
        c = [gort.Chan(), gort.Chan(), gort.Chan(2), gort.Chan(3)]
        wg = gort.WaitGroup()

        async def plain_send(k):
            for _ in range(N):
                await c[k].send(0)

        async def plain_recv(k):
            for _ in range(N):
                await c[k].recv()
        for k in range(4):
            wg.go(plain_send, k)
            wg.go(plain_recv, k)

        async def select_send():
            n = [0] * 4
            c1 = list(c)
            order = [3, 2, 0, 1]
            for _ in range(4 * N):
                i, _, _ = await gort.select(*[gort.send(c1[k], 0) for k in order])
                k = order[i]
                n[k] += 1
                if n[k] == N:
                    c1[k] = None
            assert n == [N] * 4

        async def select_recv():
            n = [0] * 4
            c1 = list(c)
            for _ in range(4 * N):
                k, _, _ = await gort.select(*[gort.recv(ch) for ch in c1])
                n[k] += 1
                if n[k] == N:
                    c1[k] = None
            assert n == [N] * 4
        wg.go(select_send)
        wg.go(select_recv)
        await wg.wait()
        return True

    assert run(main, procs=4, timeout=280)


def test_select_fairness():
    """With two channels always ready, a select picks each about half the time
    (within 10 sigma, as Go)."""
    trials = 10_000

    async def main():
        c1, c2 = gort.Chan(trials + 1), gort.Chan(trials + 1)
        for _ in range(trials + 1):
            await c1.send(1)
            await c2.send(2)
        c3, c4 = gort.Chan(), gort.Chan()
        out, done = gort.Chan(), gort.Chan()
        wg = gort.WaitGroup()

        async def chooser():
            while True:
                _, b, _ = await gort.select(gort.recv(c3), gort.recv(c4), gort.recv(c1), gort.recv(c2))
                i, _, _ = await gort.select(gort.send(out, b), gort.recv(done))
                if i == 1:
                    return
        wg.go(chooser)
        cnt = {1: 0, 2: 0}
        for _ in range(trials):
            b = await out.recv()
            assert b in cnt, f"unexpected value {b} on channel"
            cnt[b] += 1
        done.close()
        await wg.wait()
        return cnt[1], cnt[2]

    cnt1, cnt2 = run(main, procs=2)
    mean = trials * 0.5
    stddev = math.sqrt(trials * 0.5 * (1 - 0.5))
    assert abs(cnt1 - mean) <= 10 * stddev, f"unfair select: in {trials} trials, results were {cnt1}, {cnt2}"


def test_chan_send_interface():
    """Sending any object (Go: an interface value) on a full channel in a select with default."""
    async def main():
        class MT:
            pass
        m = MT()
        c = gort.Chan(1)
        await c.send(m)
        i, _, _ = await gort.select(gort.send(c, m), default=True)
        j, _, _ = await gort.select(gort.send(c, m), gort.send(c, MT()), default=True)
        return i, j, (await c.recv()) is m

    assert run(main) == (-1, -1, True)


def test_pseudo_random_send():
    """A select over two ready sends picks pseudo-randomly: neither value below 10%."""
    n = 100

    async def main():
        results = []
        for cap in (0, n):
            c = gort.Chan(cap)
            got = [0] * n
            m = gort.Mutex()
            await m.lock()

            async def reader():
                for i in range(n):
                    await gort.gosched()
                    got[i] = await c.recv()
                m.unlock()
            gort.go(reader)
            for _ in range(n):
                await gort.select(gort.send(c, 1), gort.send(c, 0))
            await m.lock()                       # wait for the reader
            m.unlock()
            n1 = sum(got)
            results.append((n - n1, n1, cap))
        return results

    for n0, n1, cap in run(main, procs=2):
        assert n0 > n // 10 and n1 > n // 10, f"want pseudorandom, got {n0} zeros and {n1} ones (cap {cap})"


def test_multi_consumer(switchy):
    nwork = 23
    niter = 271_828                  # Go's count
    pn = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31]

    async def main():
        q = gort.Chan(nwork * 3)
        r = gort.Chan(nwork * 3)
        wg = gort.WaitGroup()

        async def worker(w):
            async for v in q:
                if pn[w % len(pn)] == v:
                    await gort.gosched()     # mess with the fifo-ish nature of range
                await r.send(v)
        for i in range(nwork):
            wg.go(worker, i)
        expect = [0]

        async def feeder():
            for i in range(niter):
                v = pn[i % len(pn)]
                expect[0] += v
                await q.send(v)
            q.close()                        # no more work
            await wg.wait()                  # workers done
            r.close()                        # so there can be no more results
        gort.go(feeder)
        n = s = 0
        async for v in r:
            n += 1
            s += v
        return n, s, expect[0]

    n, s, expect = run(main, procs=4, timeout=280)
    assert n == niter and s == expect, f"expected sum {expect} (got {s}) from {niter} iter (saw {n})"


def _deep(n):
    """Use a lot of Python stack briefly (Go: stackGrowthRecursive)."""
    return 0 if n == 0 else 1 + _deep(n - 1)


def test_shrink_stack_during_blocked_send():
    """Go shrinks the stack of a goroutine blocked in a send.  A gort goroutine
    is a heap-allocated coroutine and has no stack to move; what is left to test
    is that values still arrive in order while the sender alternates deep
    recursion and blocked sends and the collector runs (Go's runtime.GC())."""
    n = 10

    async def main():
        c = gort.Chan()
        done = gort.Chan()

        async def sender():
            for i in range(n):
                await c.send(i)
                _deep(min(200, sys.getrecursionlimit() // 4))
            await done.send(None)
        gort.go(sender)
        got = []
        for _ in range(n):
            got.append(await c.recv())
            await gort.sleep(0.001)          # Go: let the sender block again
            gc.collect()
        await done.recv()
        return got

    assert run(main, procs=2) == list(range(10))


def test_no_shrink_stack_while_parking():
    """Go's race between parking and stack shrinking (issue 40641) has no gort
    analogue; the channel traffic it drives (sender and receiver pairs with the
    collector running) must still deliver every value in order."""
    n = 10

    async def main():
        for _ in range(n * 20):
            c = gort.Chan()
            done = gort.Chan()
            got = []

            async def send():
                for i in range(n):
                    await c.send(i)
                    _deep(50)
                await done.send(None)

            async def recv():
                for _ in range(n):
                    await gort.sleep(10e-6)
                    got.append(await c.recv())
                await done.send(None)
            gort.go(recv)
            gort.go(send)
            await gort.sleep(50e-6)
            gc.collect()
            await done.recv()
            await done.recv()
            assert got == list(range(n))
        return True

    assert run(main, procs=2)


def test_select_duplicate_channel():
    """A G can be queued on one channel several times (a select with the same
    channel twice); waking it through another case must not corrupt that queue."""
    async def main():
        c, d, e = gort.Chan(), gort.Chan(), gort.Chan()

        async def a():
            await gort.select(gort.recv(c), gort.recv(c), gort.recv(d))
            await e.send(9)
        gort.go(a)
        await until_parked("select")                # A is queued on c first

        async def b():
            await c.recv()
        gort.go(b)
        await until_parked("chan receive")          # then B
        await d.send(7)          # wakes A, which dequeues itself from c (used to corrupt c.recvq)
        await e.recv()
        await c.send(8)          # wakes B (used to wake an already running G instead)
        return True

    assert run(main, procs=2, timeout=60)


def test_select_stack_adjust():
    """Go checks that receive slots pointing into a stack survive stack shrinking.
    In gort a select returns the value, so the local a goroutine set before the
    select must simply be untouched when another case (a closed channel) fires,
    with and without duplicate cases."""
    async def main():
        c, d = gort.Chan(), gort.Chan()
        ready1, ready2 = gort.Chan(), gort.Chan()

        async def f(ready, dup):
            _deep(80)
            await ready.send(True)
            val = [42]
            cx = val
            c2 = c if dup else None
            d2 = d if dup else None
            i, v, _ = await gort.select(gort.recv(c), gort.recv(c2), gort.recv(d), gort.recv(d2))
            if i == 0:
                cx = v
            assert i in (2, 3), f"case {i} fired"
            assert cx is val and val[0] == 42, "cx no longer points to val"
            cx[0] = 43
            assert val[0] == 43
            await ready.send(True)
        gort.go(f, ready1, False)
        gort.go(f, ready2, True)
        await ready1.recv()
        await ready2.recv()
        await until_n_parked("select", 2)
        gc.collect()
        d.close()
        await ready1.recv()
        await ready2.recv()
        return True

    assert run(main, procs=2)
