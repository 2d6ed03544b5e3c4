"""Whole programs: many goroutines, migration between OS threads, deadlock
detection, exception propagation, repeated runs, the runtime queries
(gomaxprocs, num_goroutine, goid), and a stress test with a tiny GIL switch
interval.

Programs run through `run_bounded` (gort.run on a helper thread, a hang is a
failure).  No assertion depends on wall-clock timing.
"""
from __future__ import annotations

import os
import re
import threading
import time

import pytest

import gort
from helpers import run_bounded, wait_until

pytestmark = pytest.mark.timeout(90)

PROCS = [1, 2, 4]


# ---------------------------------------------------------------- helpers





def wait_threads_at_most(n, seconds=5.0):
    """Poll (up to `seconds`) for daemon stragglers to finish; return the last count."""
    deadline = time.monotonic() + seconds
    while True:
        c = threading.active_count()
        if c <= n or time.monotonic() > deadline:
            return c
        time.sleep(0.02)


def open_fds():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - not Linux
        return None


# ---------------------------------------------------------------- classic programs

@pytest.mark.parametrize("procs", PROCS)
def test_daisy_chain_10000(procs):
    """Go's daisy chain: each goroutine receives from the right and sends 1+v to the left."""
    n = 10_000

    async def f(left, right):
        await left.send(1 + await right.recv())

    async def first(c):
        await c.send(0)

    async def main():
        leftmost = gort.Chan()
        left = leftmost
        right = leftmost
        for _ in range(n):
            right = gort.Chan()
            gort.go(f, left, right)
            left = right
        gort.go(first, right)
        return await leftmost.recv()

    assert run_bounded(main, procs=procs) == n


@pytest.mark.parametrize("procs", PROCS)
def test_100k_goroutines_every_result_counted(procs):
    n = 100_000
    slots = [0] * n

    async def worker(i, ch):
        slots[i] = i + 1
        await ch.send(i)

    async def main():
        ch = gort.Chan(n)
        for i in range(n):
            gort.go(worker, i, ch)
        total = count = 0
        seen = bytearray(n)
        for _ in range(n):
            v = await ch.recv()
            assert not seen[v], f"duplicate result {v}"
            seen[v] = 1
            total += v
            count += 1
        return total, count, len(ch)

    total, count, left = run_bounded(main, procs=procs, timeout=60.0)
    assert count == n
    assert total == n * (n - 1) // 2
    assert left == 0
    assert slots == list(range(1, n + 1))


@pytest.mark.parametrize("procs", [2, 4])
def test_100k_goroutines_finish_with_waitgroup_style_join(procs):
    """Each goroutine bumps its own slot; a final counter goroutine closes `done`."""
    n = 100_000
    slots = bytearray(n)

    async def worker(i, fin):
        slots[i] += 1
        await fin.send(None)

    async def main():
        fin = gort.Chan(1024)
        for i in range(n):
            gort.go(worker, i, fin)
        for _ in range(n):
            await fin.recv()
        return True

    assert run_bounded(main, procs=procs, timeout=60.0) is True
    assert slots.count(1) == n


# ---------------------------------------------------------------- migration

def test_goroutines_migrate_between_os_threads():
    n_workers, rounds = 16, 200

    async def worker(k, out):
        idents = set()
        moves = 0
        for _ in range(rounds):
            before = threading.get_ident()
            acc = 0
            for j in range(200):          # some CPU work between yields
                acc += j * k
            await gort.gosched()
            after = threading.get_ident()
            idents.update((before, after))
            moves += before != after
        await out.send((moves, idents))

    async def pinger(inp, out, res, rounds_):
        idents, moves = set(), 0
        for _ in range(rounds_):
            before = threading.get_ident()
            v = await inp.recv()
            after = threading.get_ident()
            idents.update((before, after))
            moves += before != after
            await out.send(v + 1)
        await res.send((moves, idents))

    async def main():
        out = gort.Chan(n_workers + 2)
        for k in range(n_workers):
            gort.go(worker, k, out)
        a, b = gort.Chan(1), gort.Chan()     # a has room for the very last pong
        gort.go(pinger, a, b, out, 300)
        gort.go(pinger, b, a, out, 300)
        await a.send(0)
        results = [await out.recv() for _ in range(n_workers + 2)]
        return results, gort.gomaxprocs()

    # Under the GIL the scheduler keeps few Ms busy (sysmon's gating), so a move is
    # rare in one run on a loaded 2-core machine: it must show up within 10 runs.
    all_idents: set[int] = set()
    moved = 0
    for _ in range(10):
        results, procs = run_bounded(main, procs=4)
        assert procs == 4
        all_idents.update(*(ids for _, ids in results))
        moved += sum(m for m, _ in results)
        if moved and len(all_idents) > 1:
            break
    assert len(all_idents) > 1, "every goroutine ran on a single OS thread with procs=4"
    assert moved, "no goroutine ever resumed on a different OS thread in 10 runs"


# ---------------------------------------------------------------- deadlock

@pytest.mark.parametrize("procs", PROCS)
def test_deadlock_main_blocks_on_recv(procs):
    async def main():
        await gort.Chan().recv()

    with pytest.raises(gort.Deadlock) as ei:
        run_bounded(main, procs=procs)
    msg = str(ei.value)
    assert "all goroutines are asleep - deadlock!" in msg
    assert "chan receive" in msg


@pytest.mark.parametrize("procs", [1, 4])
def test_deadlock_dump_lists_every_blocked_goroutine(procs):
    async def stuck_sender(c):
        await c.send(1)

    async def finisher(done):
        await done.send(None)

    async def main():
        done = gort.Chan(4)
        for _ in range(4):
            gort.go(finisher, done)
        for _ in range(4):
            await done.recv()
        gort.go(stuck_sender, gort.Chan())
        await gort.Chan(1).recv()     # nobody will ever send

    with pytest.raises(gort.Deadlock) as ei:
        run_bounded(main, procs=procs)
    msg = str(ei.value)
    assert "all goroutines are asleep - deadlock!" in msg
    assert "chan receive" in msg
    assert "chan send" in msg


def test_no_deadlock_when_a_sleeper_will_wake():
    async def waker(c):
        await gort.sleep(0.01)
        await c.send("woke")

    async def main():
        c = gort.Chan()
        gort.go(waker, c)
        return await c.recv()

    assert run_bounded(main, procs=2) == "woke"


# ---------------------------------------------------------------- exceptions

@pytest.mark.parametrize("procs", PROCS)
def test_goroutine_exception_stops_program(procs):
    ids = []

    async def spinner():
        while True:                   # never ends on its own
            await gort.gosched()

    async def bad(ready):
        await ready.recv()
        ids.append(gort.goid())
        raise ValueError("boom from goroutine")

    async def main():
        for _ in range(3):
            gort.go(spinner)
        ready = gort.Chan()
        gort.go(bad, ready)
        await ready.send(None)
        await gort.Chan().recv()      # blocks forever: only the exception can end the run
        return "main returned"

    with pytest.raises(ValueError, match="boom from goroutine") as ei:
        run_bounded(main, procs=procs)
    assert len(ids) == 1 and ids[0] != 1
    notes = getattr(ei.value, "__notes__", [])
    assert any(re.search(rf"\bgoroutine {ids[0]}\b", n) for n in notes), notes


def test_main_exception_is_reraised():
    err = KeyError("from main")

    async def main():
        raise err

    with pytest.raises(KeyError) as ei:
        run_bounded(main, procs=2)
    assert ei.value is err


def test_exception_in_deep_goroutine_chain():
    async def level(n, c):
        if n == 0:
            raise ZeroDivisionError("bottom")
        gort.go(level, n - 1, c)
        await c.recv()

    async def main():
        c = gort.Chan()
        gort.go(level, 50, c)
        await c.recv()

    with pytest.raises(ZeroDivisionError, match="bottom"):
        run_bounded(main, procs=4)


# ---------------------------------------------------------------- repeated runs, threads

def test_run_twice_results_and_no_thread_leak():
    start_threads = threading.active_count()
    start_fds = open_fds()

    async def worker(i, out):
        await gort.gosched()
        await out.send(i * i)

    async def main(n):
        assert gort.goid() == 1
        assert gort.num_goroutine() == 1
        out = gort.Chan()
        for i in range(n):
            gort.go(worker, i, out)
        return sum([await out.recv() for _ in range(n)])

    r1 = run_bounded(main, 500, procs=4)
    r2 = run_bounded(main, 1000, procs=2)
    assert r1 == sum(i * i for i in range(500))
    assert r2 == sum(i * i for i in range(1000))
    for _ in range(10):
        assert run_bounded(main, 50, procs=4) == sum(i * i for i in range(50))
    end = wait_threads_at_most(start_threads)
    assert end <= start_threads, f"threads: {start_threads} before, {end} after"
    if start_fds is not None:
        assert open_fds() <= start_fds, "file descriptors leaked across runs"


def test_run_twice_on_calling_thread():
    """gort.run on the test's own thread (m0 = this thread), twice."""
    async def main(x):
        c = gort.Chan()

        async def w():
            await c.send(x * 2)

        gort.go(w)
        return await c.recv(), gort.goid()

    start = threading.active_count()
    assert gort.run(main, 21, procs=2) == (42, 1)
    assert gort.run(main, 5, procs=4) == (10, 1)
    end = wait_threads_at_most(start)
    assert end <= start


def test_go_outside_run_raises_runtime_error():
    async def f():
        pass

    with pytest.raises(RuntimeError):
        gort.go(f)


def test_go_with_sync_function_raises_type_error():
    def sync_fn(x):
        return x

    async def main():
        with pytest.raises(TypeError):
            gort.go(sync_fn, 1)
        with pytest.raises(TypeError):
            gort.go(lambda: None)
        return gort.num_goroutine()

    assert run_bounded(main, procs=1) == 1


def test_run_with_sync_function_raises_type_error():
    def sync_main():
        return 1

    with pytest.raises(TypeError):
        gort.run(sync_main)
    # and the runtime is still usable afterwards
    async def main():
        return "ok"

    assert run_bounded(main, procs=1) == "ok"


# ---------------------------------------------------------------- runtime queries

def test_gomaxprocs_query_outside_run():
    n = gort.gomaxprocs()
    assert isinstance(n, int) and n >= 1
    assert gort.gomaxprocs() == n       # querying does not change it


def test_gomaxprocs_procs_argument_is_visible():
    async def main():
        return gort.gomaxprocs(), gort.gomaxprocs(0)

    assert run_bounded(main, procs=3) == (3, 3)


@pytest.mark.parametrize("start", [1, 4])
def test_gomaxprocs_resize_at_run_time(start):
    n_workers, rounds = 8, 300

    async def worker(k, out):
        acc = 0
        for i in range(rounds):
            acc += i
            await gort.gosched()
        await out.send((k, acc))

    async def main():
        seen = [gort.gomaxprocs()]
        out = gort.Chan()
        for k in range(n_workers):
            gort.go(worker, k, out)
        prev = gort.gomaxprocs(2)
        seen += [prev, gort.gomaxprocs()]
        prev = gort.gomaxprocs(3)
        seen += [prev, gort.gomaxprocs()]
        prev = gort.gomaxprocs(1)
        seen += [prev, gort.gomaxprocs()]
        results = [await out.recv() for _ in range(n_workers)]
        prev = gort.gomaxprocs(4)
        seen += [prev, gort.gomaxprocs()]
        return seen, sorted(results)

    seen, results = run_bounded(main, procs=start)
    assert seen == [start, start, 2, 2, 3, 3, 1, 1, 4]
    expect = sum(range(rounds))
    assert results == [(k, expect) for k in range(n_workers)]


def test_gomaxprocs_resize_under_load_keeps_channels_working():
    n_workers, per = 6, 1500

    async def producer(k, ch, done):
        for i in range(per):
            await ch.send(k * per + i)
        await done.send(None)

    async def resizer(stop, res):
        sizes = [1, 4, 2, 3, 1, 4]
        n = 0
        while True:
            i, _, _ = await gort.select(gort.recv(stop), default=True)
            if i == 0:
                break
            gort.gomaxprocs(sizes[n % len(sizes)])
            n += 1
            await gort.gosched()
        await res.send(n)

    async def main():
        ch, done, stop, res = gort.Chan(5), gort.Chan(n_workers), gort.Chan(), gort.Chan(1)
        gort.go(resizer, stop, res)
        for k in range(n_workers):
            gort.go(producer, k, ch, done)
        got = [await ch.recv() for _ in range(n_workers * per)]
        for _ in range(n_workers):
            await done.recv()
        stop.close()
        return got, await res.recv()

    got, resizes = run_bounded(main, procs=2)
    assert sorted(got) == list(range(n_workers * per))
    assert resizes >= 1


def test_gomaxprocs_resize_while_goroutine_blocks_in_unmarked_code():
    """A goroutine stuck in plain blocking code (time.sleep) has its P retaken by
    sysmon; it then starts goroutines and reaches a trap while a gomaxprocs
    stop-the-world waits for another stuck goroutine.  Every goroutine must still
    run.  (The sleeps only arrange the interleaving; no assertion depends on them.)"""
    started = []

    async def worker(i, out):
        await out.send(i)

    async def blocker(out):
        time.sleep(0.08)              # unmarked blocking: sysmon retakes this M's P
        for i in range(3):
            gort.go(worker, i, out)
        await gort.gosched()

    async def holder():
        started.append(1)
        time.sleep(0.3)               # holds another P in unmarked code during the resize

    async def main():
        out = gort.Chan(3)
        gort.go(blocker, out)
        await gort.sleep(0.05)
        gort.go(holder)
        await wait_until(lambda: started, "holder started")
        gort.gomaxprocs(3)
        return sorted([await out.recv() for _ in range(3)]), gort.gomaxprocs()

    assert run_bounded(main, procs=2) == ([0, 1, 2], 3)


def test_num_goroutine_counts():
    n = 10

    async def main():
        counts = [gort.num_goroutine()]
        gate, done = gort.Chan(), gort.Chan(n)

        async def w():
            await gate.recv()
            await done.send(None)

        for _ in range(n):
            gort.go(w)
        counts.append(gort.num_goroutine())
        gate.close()
        for _ in range(n):
            await done.recv()
        await wait_until(lambda: gort.num_goroutine() == 1, "finished goroutines no longer counted")
        counts.append(gort.num_goroutine())
        return counts

    assert run_bounded(main, procs=2) == [1, n + 1, 1]


def test_goid_main_is_1_and_ids_are_unique():
    n = 200

    async def w(out):
        await out.send(gort.goid())

    async def main():
        out = gort.Chan(n)
        for _ in range(n):
            gort.go(w, out)
        ids = [await out.recv() for _ in range(n)]
        return gort.goid(), ids

    main_id, ids = run_bounded(main, procs=4)
    assert main_id == 1
    assert len(set(ids)) == n
    assert 1 not in ids


# ---------------------------------------------------------------- stress



@pytest.mark.parametrize("cap", [0, 1, 16])
def test_stress_producers_consumers_tiny_switch_interval(tiny_switch_interval, cap):
    n_prod, n_cons, per = 8, 6, 6000

    async def producer(k, ch, done):
        for i in range(per):
            await ch.send((k, i))
        await done.send(k)

    async def closer(ch, done):
        for _ in range(n_prod):
            await done.recv()
        ch.close()

    async def consumer_for(ch, out):
        got = [v async for v in ch]
        await out.send(got)

    async def consumer_recv_ok(ch, out):
        got = []
        while True:
            v, ok = await ch.recv_ok()
            if not ok:
                break
            got.append(v)
        await out.send(got)

    async def consumer_select(ch, out):
        got = []
        idle = gort.Chan()
        while True:
            i, v, ok = await gort.select(gort.recv(idle), gort.recv(ch))
            if not ok:
                break
            got.append(v)
        await out.send(got)

    async def main():
        ch, done, out = gort.Chan(cap), gort.Chan(), gort.Chan()
        kinds = [consumer_for, consumer_recv_ok, consumer_select]
        for c in range(n_cons):
            gort.go(kinds[c % len(kinds)], ch, out)
        for k in range(n_prod):
            gort.go(producer, k, ch, done)
        gort.go(closer, ch, done)
        return [await out.recv() for _ in range(n_cons)]

    lists = run_bounded(main, procs=4, timeout=60.0)
    got = [v for lst in lists for v in lst]
    assert len(got) == n_prod * per, f"got {len(got)} values, expected {n_prod * per}"
    assert len(set(got)) == len(got), "duplicate values"
    assert set(got) == {(k, i) for k in range(n_prod) for i in range(per)}
    # FIFO: within one consumer's list, each producer's values are in send order
    for lst in lists:
        for k in range(n_prod):
            mine = [i for kk, i in lst if kk == k]
            assert mine == sorted(mine), f"producer {k}'s values out of order"


@pytest.mark.parametrize("cap", [0, 4])
def test_stress_close_races_with_blocked_senders(tiny_switch_interval, cap):
    """Close while senders are mid-send: a send that returned was delivered, a send
    that raised was not.  Received values == successfully sent values, exactly."""
    n_send, n_recv, rounds = 6, 3, 50

    async def sender(k, ch, res, use_select):
        sent = []
        i = 0
        never = gort.Chan()
        try:
            while True:
                v = (k, i)
                if use_select:
                    await gort.select(gort.recv(never), gort.send(ch, v))
                else:
                    await ch.send(v)
                sent.append(v)
                i += 1
        except gort.ClosedChannelError:
            pass
        await res.send(sent)

    async def receiver(ch, res):
        await res.send([v async for v in ch])

    async def one_round(r):
        ch = gort.Chan(cap)
        sres, rres = gort.Chan(n_send), gort.Chan(n_recv)
        for k in range(n_send):
            gort.go(sender, k, ch, sres, k % 2 == 1)
        for _ in range(n_recv):
            gort.go(receiver, ch, rres)
        early = [await ch.recv() for _ in range(50 + 37 * r)]
        ch.close()
        sent = [v for _ in range(n_send) for v in await sres.recv()]
        got = early + [v for _ in range(n_recv) for v in await rres.recv()]
        return sent, got

    async def main():
        return [await one_round(r) for r in range(rounds)]

    for r, (sent, got) in enumerate(run_bounded(main, procs=4, timeout=60.0)):
        assert len(got) == len(set(got)), f"round {r}: duplicate values"
        assert sorted(got) == sorted(sent), (
            f"round {r}: sent {len(sent)} received {len(got)}; "
            f"lost {sorted(set(sent) - set(got))[:5]} extra {sorted(set(got) - set(sent))[:5]}")
