"""gort.net under load: many connections, storms, large writes, fd and thread accounting.

Every byte is counted end to end so a loss fails; every loop is bounded;
loopback only.  Timeouts are generous (a 2-core machine shared with other
test runs; 3.13t is slower).
"""
from __future__ import annotations

import gc
import hashlib
import os
import random
import resource
import time

import pytest

import gort
from gort import net
from helpers import run_bounded

LO = "127.0.0.1"


def fd_count() -> int:
    gc.collect()              # sockets other tests dropped without closing close now, not mid-test
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def enough_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if min(want, hard if hard != resource.RLIM_INFINITY else want) < 4200:
        pytest.skip("needs 4,200 file descriptors")
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("procs", [1, 2, 4])
def test_echo_1000_concurrent_connections(procs):
    nconn, rounds = 1000, 5

    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        served = [0]
        mu = gort.Mutex()
        threads_max = [0]

        async def handle(c):
            n = 0
            async with c:
                while True:
                    data = await c.read()
                    if not data:
                        break
                    n += len(data)
                    await c.write(data)
            async with mu:
                served[0] += n

        async def acceptor():
            for _ in range(nconn):                    # bounded: exactly nconn connections
                gort.go(handle, await ln.accept())

        async def client(i, wg, results):
            rnd = random.Random(i)
            c = await net.dial("tcp", str(ln.addr))
            sent = got = 0
            h_out, h_in = hashlib.sha256(), hashlib.sha256()
            for r in range(rounds):
                msg = bytes([(i + r) % 251]) * rnd.randint(1, 3000)
                await c.write(msg)
                h_out.update(msg)
                sent += len(msg)
                want = sent
                for _ in range(10_000):                # bounded: until the echo is back
                    if got >= want:
                        break
                    data = await c.read()
                    assert data, "EOF before the echo"
                    h_in.update(data)
                    got += len(data)
            threads_max[0] = max(threads_max[0], gort.num_thread())
            c.close()
            results.append((sent, got, h_out.digest() == h_in.digest()))
            wg.done()

        gort.go(acceptor)
        wg = gort.WaitGroup()
        results: list = []
        wg.add(nconn)
        for i in range(nconn):
            gort.go(client, i, wg, results)
        await wg.wait()
        for _ in range(10_000):                        # handlers finish after their EOF
            if gort.num_goroutine() == 1:
                break
            await gort.sleep(0.001)
        ln.close()
        return results, served[0], threads_max[0], gort.num_goroutine()

    fds = fd_count()
    results, served, threads, left = run_bounded(main, procs=procs, timeout=240)
    assert len(results) == nconn
    sent = sum(r[0] for r in results)
    assert sent == sum(r[1] for r in results) == served
    assert all(r[2] for r in results)
    # no thread per connection: the Ms, sysmon, and a few Ms that sysmon may add
    # when an M waits long for the GIL (it retires that M's P as if stuck)
    assert threads <= 2 * procs + 3
    assert left == 1
    assert fd_count() == fds


def test_accept_storm():
    nconn = 2000

    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        accepted = []

        async def acceptor(done):
            for _ in range(nconn):
                c = await ln.accept()
                accepted.append(c)
            await done.send(None)

        async def dialer(i, out):
            c = await net.dial("tcp", str(ln.addr))
            await out.send(c)

        done = gort.Chan(1)
        out = gort.Chan(nconn)
        gort.go(acceptor, done)
        for i in range(nconn):
            gort.go(dialer, i, out)
        dialed = [await out.recv() for _ in range(nconn)]
        await done.recv()
        ports = {c.local_addr.port for c in dialed}
        peers = {c.remote_addr.port for c in accepted}
        for c in dialed + accepted:
            c.close()
        ln.close()
        return len(ports), ports == peers, gort.num_thread()

    fds = fd_count()
    n, same, threads = run_bounded(main, procs=2, timeout=180)
    assert n == nconn and same
    assert threads <= 2 * 2 + 3
    assert fd_count() == fds


@pytest.mark.parametrize("procs", [1, 2])
def test_64mb_write_against_a_slow_reader(procs):
    size = 64 << 20

    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        c = await net.dial("tcp", str(ln.addr))
        s = await ln.accept()
        payload = random.Random(7).randbytes(size)
        result = gort.Chan(1)

        async def writer():
            t0 = time.monotonic()
            n = await c.write(payload)              # one call: parks while the reader lags
            c.close_write()
            await result.send((n, time.monotonic() - t0))

        gort.go(writer)
        h = hashlib.sha256()
        got = 0
        buf = bytearray(1 << 16)
        writer_parked = 0
        for i in range(size):                         # bounded by the byte count
            if i % 4 == 0 and got < (4 << 20):
                await gort.sleep(0.002)               # slow at first: the writer parks
                writer_parked += any(g.status == 4 and g.waitreason == "IO wait"
                                     for g in gort.proc.sched.allgs)
            k = await s.read_into(buf)
            if k == 0:
                break
            h.update(memoryview(buf)[:k])
            got += k
        n, took = await result.recv()
        c.close()
        s.close()
        ln.close()
        return n, got, h.digest() == hashlib.sha256(payload).digest(), writer_parked

    n, got, same, parked = run_bounded(main, procs=procs, timeout=180)
    assert n == got == size and same
    assert parked > 0                                 # the writer waited in IO wait, not in a loop


def test_10000_connections_opened_and_dropped():
    total, batch = 10_000, 100

    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        counts = {"accepted": 0, "echoed": 0}
        mu = gort.Mutex()

        async def handle(c):
            async with c:
                data = await c.read(1)
                if data:
                    await c.write(data)
                    async with mu:
                        counts["echoed"] += 1

        async def acceptor():
            for _ in range(total):
                c = await ln.accept()
                counts["accepted"] += 1
                gort.go(handle, c)

        async def one(i, wg, errs):
            try:
                c = await net.dial("tcp", str(ln.addr))
                async with c:
                    if i % 2:                          # half of them drop without a word
                        await c.write(b"x")
                        if await c.read(1) != b"x":
                            errs.append(i)
            except OSError as e:
                errs.append(e)
            wg.done()

        gort.go(acceptor)
        errs: list = []
        threads = 0
        for b in range(total // batch):
            wg = gort.WaitGroup()
            wg.add(batch)
            for i in range(batch):
                gort.go(one, b * batch + i, wg, errs)
            await wg.wait()
            threads = max(threads, gort.num_thread())
        for _ in range(10_000):
            if gort.num_goroutine() == 1:
                break
            await gort.sleep(0.001)
        ln.close()
        return counts, errs, threads, gort.num_goroutine()

    fds = fd_count()
    counts, errs, threads, left = run_bounded(main, procs=2, timeout=240)
    assert errs == []
    assert counts == {"accepted": total, "echoed": total // 2}
    assert threads <= 2 * 2 + 3
    assert left == 1                                   # no stuck goroutine
    assert fd_count() == fds                           # no leaked fd


def test_close_storm_wakes_every_parked_reader():
    n = 500

    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        pairs = []
        for _ in range(n):
            c = await net.dial("tcp", str(ln.addr))
            pairs.append((c, await ln.accept()))
        out = gort.Chan(n)

        async def reader(c):
            try:
                await c.read()
                await out.send("data")
            except net.ErrClosed:
                await out.send("closed")

        for c, _ in pairs:
            gort.go(reader, c)
        for _ in range(100_000):                       # all parked in IO wait
            k = sum(1 for g in gort.proc.sched.allgs if g.status == 4 and g.waitreason == "IO wait")
            if k >= n:
                break
            await gort.gosched()
        for c, _ in pairs:
            c.close()
        got = [await out.recv() for _ in range(n)]
        for _, s in pairs:
            s.close()
        ln.close()
        return got

    fds = fd_count()
    assert run_bounded(main, procs=2, timeout=120) == ["closed"] * n
    assert fd_count() == fds


@pytest.mark.parametrize("procs", [2, 4])
def test_close_races_with_reads_writes_and_deadlines(procs, switchy):
    """Close at random moments while readers, writers and deadline setters run
    on other Ms: every operation ends with data or ErrClosed (never a hang, a
    stray exception or a leaked fd)."""
    rounds = 300

    async def main():
        outcomes = {"ok": 0, "closed": 0, "timeout": 0, "peer": 0}
        mu = gort.Mutex()
        rnd = random.Random(3)

        async def count(k):
            async with mu:
                outcomes[k] += 1

        async def reader(c, wg):
            try:
                for _ in range(50):
                    if not await c.read(4096):
                        break
                await count("ok")
            except net.ErrClosed:
                await count("closed")
            except net.DeadlineExceeded:
                await count("timeout")
            except (BrokenPipeError, ConnectionResetError):
                await count("peer")                  # the other end closed first
            wg.done()

        async def writer(c, wg):
            try:
                for _ in range(50):
                    await c.write(b"w" * 8192)
                await count("ok")
            except net.ErrClosed:
                await count("closed")
            except net.DeadlineExceeded:
                await count("timeout")
            except (BrokenPipeError, ConnectionResetError):
                await count("peer")
            wg.done()

        async def fiddler(c, wg):
            try:
                for _ in range(5):
                    c.set_deadline(time.monotonic() + rnd.choice([0.001, 0.05, 5]))
                    await gort.gosched()
                await count("ok")
            except net.ErrClosed:
                await count("closed")
            wg.done()

        for _ in range(rounds):
            a, b = __import__("socket").socketpair()
            ca, cb = net.Conn.from_socket(a), net.Conn.from_socket(b)
            wg = gort.WaitGroup()
            wg.add(4)
            gort.go(reader, ca, wg)
            gort.go(writer, cb, wg)
            gort.go(reader, cb, wg)
            gort.go(fiddler, ca, wg)
            for _ in range(rnd.randrange(0, 20)):
                await gort.gosched()
            ca.close()
            cb.close()
            await wg.wait()
        return outcomes

    fds = fd_count()
    out = run_bounded(main, procs=procs, timeout=240)
    assert sum(out.values()) == 4 * rounds
    assert out["closed"] > 0 and out["ok"] > 0       # both sides of the race were hit
    assert fd_count() == fds
