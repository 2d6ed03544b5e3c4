"""Blocking calls never stall gort: syscall hand-off, sysmon retake, preemption, LockOSThread.

Time bounds here are generous ceilings (a stalled worker would take 10 s);
the real figures are in bench/RESULTS.md.
"""
from __future__ import annotations

import hashlib
import threading
import time

import pytest

import gort




@pytest.mark.timeout(60)
def test_unmarked_time_sleep_does_not_stall_others():
    async def main():
        done = gort.Chan(100)

        async def blocker():
            time.sleep(0.1)                    # not wrapped: sysmon must hand the P off
            await done.send(1)
        t0 = time.monotonic()
        for _ in range(100):
            gort.go(blocker)
        n = 0
        for _ in range(100):
            n += await done.recv()
        return n, time.monotonic() - t0

    n, wall = gort.run(main)
    assert n == 100
    assert wall < 3.0, wall                     # a stalled worker needs 10 s


@pytest.mark.timeout(60)
def test_syscall_hands_off_and_threads_rise_then_fall(monkeypatch):
    monkeypatch.setenv("GORT_IDLE_M_EXIT", "0.2")

    async def main():
        start = gort.num_thread()
        peak = [0]
        out = gort.Chan(100)

        async def call(i):
            r = await gort.syscall(lambda: (time.sleep(0.1), i * 2)[1])
            await out.send(r)

        async def watch():
            for _ in range(50):
                peak[0] = max(peak[0], gort.num_thread())
                await gort.sleep(0.005)
        gort.go(watch)
        t0 = time.monotonic()
        for i in range(100):
            gort.go(call, i)
        results = sorted([await out.recv() for _ in range(100)])
        wall = time.monotonic() - t0
        deadline = time.monotonic() + 20
        while gort.num_thread() > start + 2 and time.monotonic() < deadline:
            await gort.sleep(0.05)
        return start, peak[0], gort.num_thread(), results, wall

    start, peak, after, results, wall = gort.run(main, procs=2)
    assert results == [2 * i for i in range(100)]
    assert peak > start + 10                   # Ms were added for the blocked calls
    assert after <= start + 2                  # and went away once idle
    assert wall < 3.0


def test_syscall_returns_and_raises():
    async def main():
        assert await gort.syscall(sum, [1, 2, 3]) == 6
        assert await gort.syscall(dict, a=1) == {"a": 1}
        with pytest.raises(ZeroDivisionError):
            await gort.syscall(lambda: 1 / 0)

        async def coro_fn():
            pass
        with pytest.raises(TypeError):
            await gort.syscall(coro_fn)
        return gort.goid()

    assert gort.run(main) == 1


def test_syscall_outside_program():
    with pytest.raises(RuntimeError, match="outside a running gort program"):
        gort.syscall(time.sleep, 0).send(None)


@pytest.mark.timeout(60)
def test_cpu_bound_goroutine_does_not_stop_ticker_on_same_p():
    async def main():
        stop = [False]

        async def spin():
            x = 0
            while not stop[0]:                 # never awaits
                x += 1
        gort.go(spin)
        await gort.gosched()                   # let it take the P
        tk = gort.Ticker(0.01)
        for _ in range(5):
            await tk.c.recv()
        tk.stop()
        stop[0] = True
        return gort.stats()["retakes"]

    assert gort.run(main, procs=1) >= 1


@pytest.mark.timeout(60)
def test_trap_loop_is_preempted():
    """A goroutine that only uses non-parking traps gets a preemption request
    after 10 ms and yields at its next trap, so a runnable G on its P runs."""
    async def main():
        flag = [False]
        c = gort.Chan(1)

        async def hog():
            n = 0
            while not flag[0]:
                await c.send(n)               # buffered: never parks
                await c.recv()
                n += 1
            return n

        async def other():
            flag[0] = True
        wg = gort.WaitGroup()
        t0 = time.monotonic()
        gort.go(other)
        wg.go(hog)                             # hog takes runnext, other waits in the queue
        await wg.wait()
        return time.monotonic() - t0, gort.stats()["preempts"]

    wall, preempts = gort.run(main, procs=1)
    assert preempts >= 1
    assert wall < 2.0


@pytest.mark.timeout(60)
def test_lock_os_thread_keeps_one_thread():
    async def main():
        idents = set()
        others = [0]
        c = gort.Chan()

        async def locked():
            gort.lock_os_thread()
            gort.lock_os_thread()              # nesting counted
            gort.unlock_os_thread()
            for _ in range(1000):
                idents.add(threading.get_ident())
                await c.recv()                 # park and be woken from other threads
            gort.unlock_os_thread()

        async def feeder():
            for i in range(1000):
                await c.send(i)
                others[0] += 1
                if i % 7 == 0:
                    await gort.gosched()
        wg = gort.WaitGroup()
        wg.go(locked)
        wg.go(feeder)
        await wg.wait()
        return len(idents), others[0]

    n_threads, others = gort.run(main, procs=2)
    assert n_threads == 1 and others == 1000


@pytest.mark.timeout(60)
def test_locked_goroutine_exit_takes_thread():
    async def main():
        gort.lock_os_thread()                  # keep main on m0, so the child runs elsewhere
        seen = gort.Chan(1)

        async def locked():
            gort.lock_os_thread()
            await seen.send(threading.current_thread())
        gort.go(locked)
        thread = await seen.recv()
        deadline = time.monotonic() + 10
        while thread.is_alive() and time.monotonic() < deadline:
            await gort.sleep(0.01)
        return thread.is_alive(), thread is not threading.current_thread()

    alive, other_thread = gort.run(main, procs=2)
    assert other_thread
    assert not alive                           # that M's thread went with its G


@pytest.mark.timeout(120)
def test_blocking_calls_mixed_with_channels_stress(switchy):
    async def main():
        c = gort.Chan(8)
        results = gort.Chan()
        total = [0]

        async def producer(k):
            for i in range(50):
                if i % 10 == 0:
                    time.sleep(0.002)                          # unmarked
                elif i % 10 == 5:
                    await gort.syscall(time.sleep, 0.001)      # marked
                await c.send(k * 1000 + i)

        async def consumer():
            s = n = 0
            async for v in c:
                s += v
                n += 1
            await results.send((s, n))
        wg = gort.WaitGroup()
        for k in range(20):
            wg.go(producer, k)
        for _ in range(4):
            gort.go(consumer)

        async def closer():
            await wg.wait()
            c.close()
        gort.go(closer)
        for _ in range(4):
            s, n = await results.recv()
            total[0] += s
            total.append(n)
        return total[0], sum(total[1:])

    s, n = gort.run(main, procs=4)
    assert n == 20 * 50
    assert s == sum(k * 1000 + i for k in range(20) for i in range(50))


@pytest.mark.timeout(120)
def test_gil_releasing_work_runs_in_parallel():
    """Correctness of parallel hashing through syscall on 2 Ps (speed is in bench/)."""
    data = b"x" * (4 << 20)
    want = hashlib.sha256(data).hexdigest()

    async def main():
        out = gort.Chan(4)

        async def h():
            await out.send(await gort.syscall(lambda: hashlib.sha256(data).hexdigest()))
        for _ in range(4):
            gort.go(h)
        return [await out.recv() for _ in range(4)]

    assert gort.run(main, procs=2) == [want] * 4


def test_deadlock_still_detected_with_sysmon_running():
    async def main():
        c = gort.Chan()

        async def w():
            await c.recv()
        gort.go(w)
        await c.recv()

    with pytest.raises(gort.Deadlock, match="all goroutines are asleep"):
        gort.run(main, procs=4)


def test_goroutine_in_syscall_is_alive_not_deadlock():
    """checkdead counts a G in a system call as alive: main waiting on a channel
    that only a syscalling goroutine will send on is not a deadlock."""
    async def main():
        c = gort.Chan()

        async def slow():
            await gort.syscall(time.sleep, 0.2)
            await c.send("done")
        gort.go(slow)
        return await c.recv()

    assert gort.run(main, procs=1) == "done"


@pytest.mark.timeout(60)
def test_thread_limit_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(gort.proc, "MAXMCOUNT", 12)

    async def block():
        await gort.syscall(time.sleep, 0.3)

    async def main():
        wg = gort.WaitGroup()
        for _ in range(40):                    # 40 blocked calls need more than 12 Ms
            wg.go(block)
        await wg.wait()

    with pytest.raises(gort.ThreadExhaustion, match="exceeds 12-thread limit"):
        gort.run(main, procs=2)


def test_gosched_outside_program_raises():
    with pytest.raises(RuntimeError, match="outside a running gort program"):
        gort.gosched().send(None)
