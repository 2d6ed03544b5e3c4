"""No hangs, whatever goroutines do (issue #7): a goroutine stuck in unmarked
blocking code or a long CPU loop, concurrent stop-the-worlds, a program that
ends while goroutines are stuck, and timers at procs=1.

Each test fails (hangs or stalls) on the runtime before the fix; hangs become
failures through run_bounded's timeout.  Where a test measures a delay, the
bound is a generous ceiling far below what the defect costs (seconds), never
a speed target.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import gort
from gort import program
from helpers import run_bounded, wait_until

pytestmark = pytest.mark.timeout(120)

PROCS = [1, 2, 4]


def until_retired(limit: float = 30.0) -> None:
    """Block in unmarked code (time.sleep) until sysmon has retired the caller's P."""
    from gort import proc
    m = proc._tls.m
    end = time.monotonic() + limit
    while m.p is not None and m.p.status != 4 and time.monotonic() < end:   # 4: _Pdead
        time.sleep(0.002)
    assert m.p is None or m.p.status == 4, "sysmon never retired the stuck goroutine's P"


def cpu_for(seconds: float) -> int:
    """Pure-Python work for about `seconds`, no runtime call (sysmon retires the P)."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


# -------------------------------------------------------------- 1. a retired goroutine calls the runtime

@pytest.mark.parametrize("procs", PROCS)
def test_retired_goroutine_starts_and_wakes_others_while_every_p_is_busy(procs):
    """A goroutine whose P sysmon retired (it ran > 11 ms without a runtime call)
    then calls gort.go, sends on a channel, wg.done() and mu.unlock().  The other
    Ps always have runnable work (goroutines that only gosched), so no P ever
    goes idle: the calls must not wait for one (Go: exitsyscall0 -> globrunqput;
    injectglist for a P-less caller)."""
    rounds = 5

    async def main():
        stop = [False]
        out = gort.Chan(rounds * 4)
        mu = gort.Mutex()

        async def spinner():
            while not stop[0]:
                await gort.gosched()

        async def child(i):
            await out.send(("child", i))

        async def waiter(i, wg):
            await wg.wait()
            await out.send(("wg", i))

        async def locker(i):
            await mu.lock()
            mu.unlock()
            await out.send(("mu", i))

        async def stuck():
            for i in range(rounds):
                # a WaitGroup per round: reusing one before the previous round's
                # wait has returned is Go's "WaitGroup is reused" misuse
                wg = gort.WaitGroup()
                wg.add(1)
                await mu.lock()
                gort.go(waiter, i, wg)        # left on our P's queue: work only a
                gort.go(locker, i)            # hand-off of the P can run
                cpu_for(0.015)                # > 11 ms without a runtime call ...
                until_retired()               # ... so sysmon retires the P
                gort.go(child, i)             # newproc without a P
                await out.send(("stuck", i))  # a hand-off or buffer put without a P
                wg.done()                     # readies the waiter without a P
                mu.unlock()                   # readies the locker without a P
            stop[0] = True

        for _ in range(procs * 2):
            gort.go(spinner)
        gort.go(stuck)
        got = [await out.recv() for _ in range(rounds * 4)]
        return sorted(got), gort.stats()["retakes"]

    got, retakes = run_bounded(main, procs=procs, timeout=60)
    want = sorted((k, i) for i in range(rounds) for k in ("child", "stuck", "wg", "mu"))
    assert got == want
    assert retakes >= 1, "the stuck goroutine's P was never retired: the test did not test"


# ---------------------------------------------------------------- 2. concurrent stop-the-world

@pytest.mark.parametrize("procs", [2, 4])
def test_concurrent_gomaxprocs_calls_are_serialised(procs, switchy):
    """Several goroutines resize at once (Go serialises stopTheWorld on worldsema)."""
    per = 40

    async def main():
        done = gort.Chan(8)
        ch = gort.Chan()

        async def resizer(k):
            for i in range(per):
                gort.gomaxprocs(1 + (i + k) % 4)
                await gort.gosched()
            await done.send(k)

        async def producer():
            for i in range(2000):
                await ch.send(i)
            ch.close()

        for k in range(4):
            gort.go(resizer, k)
        gort.go(producer)
        total = 0
        async for v in ch:
            total += v
        for _ in range(4):
            await done.recv()
        return total

    assert run_bounded(main, procs=procs, timeout=90) == sum(range(2000))


# ---------------------------------------------------------------- 3. stop-the-world vs unmarked blocking

def test_stop_the_world_does_not_wait_for_an_unmarked_blocking_call():
    """gomaxprocs starts right after another goroutine entered time.sleep(3): that P
    is still running (not yet retired), and the world must stop without waiting
    for the sleep (Go preempts; gort retires the stuck P)."""
    entered = threading.Event()

    async def main():
        async def sleeper():
            entered.set()
            time.sleep(3)

        gort.go(sleeper)
        await wait_until(entered.is_set, "sleeper entered time.sleep")
        t0 = time.monotonic()
        gort.gomaxprocs(3)
        return time.monotonic() - t0

    took = run_bounded(main, procs=2, timeout=60)
    assert took < 1.0, f"gomaxprocs waited {took:.2f} s for a blocked goroutine"


# ---------------------------------------------------------------- 4. sysmon woken when a P starts running

def test_sysmon_wakes_when_a_syscall_returns_to_an_idle_runtime():
    """procs=1: main's syscall outlives sysmon's look (its P is handed off, goes idle,
    sysmon deep-sleeps); main comes back, starts a goroutine and then blocks in
    unmarked code.  The other goroutine must start long before main's sleep ends."""
    async def main():
        started = gort.Chan(1)

        async def other():
            await started.send(time.monotonic())

        await gort.syscall(time.sleep, 0.1)     # every P idle meanwhile: sysmon deep-sleeps
        gort.go(other)
        t0 = time.monotonic()
        time.sleep(2)                           # unmarked: sysmon must hand the P off
        return (await started.recv()) - t0

    delay = run_bounded(main, procs=1, timeout=60)
    assert delay < 1.0, f"the other goroutine started {delay:.2f} s into main's 2 s sleep"


# ---------------------------------------------------------------- 5. one program never leaks into the next

def test_goroutine_of_an_ended_program_never_touches_the_next():
    """A goroutine stuck in time.sleep when its program ends wakes up during the
    next program and calls gort.go / sends: its program is over (gort.go raises,
    the goroutine ends), and the next program is not disturbed."""
    seen = {}
    woke = threading.Event()

    async def first():
        async def straggler():
            time.sleep(0.3)
            try:
                gort.go(noop)
            except RuntimeError as e:
                seen["go"] = str(e)
            woke.set()
            await gort.gosched()
            seen["resumed"] = True          # never: its program is over

        async def noop():
            pass

        gort.go(straggler)
        await gort.sleep(0.05)              # the straggler is inside time.sleep
        return "first"

    async def second():
        ch = gort.Chan()

        async def worker(i):
            await ch.send(i)

        total = 0
        t_end = time.monotonic() + 10
        while not woke.is_set() and time.monotonic() < t_end:
            for i in range(20):
                gort.go(worker, i)
            for _ in range(20):
                total += await ch.recv()
            await gort.sleep(0.001)
        for i in range(20):                 # and after it woke
            gort.go(worker, i)
        for _ in range(20):
            total += await ch.recv()
        return total

    assert run_bounded(first, procs=1) == "first"
    total = run_bounded(second, procs=1, timeout=60)
    assert woke.is_set()
    assert total % sum(range(20)) == 0 and total > 0
    assert "ended" in seen.get("go", ""), seen
    assert "resumed" not in seen


# ---------------------------------------------------------------- 6. run() returns when main does

@pytest.mark.parametrize("procs", [1, 2])
def test_run_returns_when_main_does_whatever_others_do(procs):
    """Goroutines blocked in time.sleep, in accept() and in a CPU loop: run()
    returns as soon as main does (Go: exit(0) ends every thread)."""
    import socket
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen()

    async def main():
        ready = gort.Chan(3)

        async def sleeper():
            await ready.send(1)
            time.sleep(5)

        async def acceptor():
            await ready.send(1)
            ln.accept()                       # blocks until the listener is closed

        async def looper():
            await ready.send(1)
            cpu_for(5)

        for f in (sleeper, acceptor, looper):
            gort.go(f)
        for _ in range(3):
            await ready.recv()
        await gort.sleep(0.05)                # all three are inside their blocking code
        return time.monotonic()

    try:
        t_main = run_bounded(main, procs=procs)
        returned = time.monotonic() - t_main
    finally:
        ln.close()
    assert returned < 0.5, f"run() returned {returned:.3f} s after main"


def test_exception_in_main_surfaces_while_others_are_blocked():
    async def main():
        async def sleeper():
            time.sleep(5)

        gort.go(sleeper)
        await gort.sleep(0.05)
        raise ValueError("boom")

    t0 = time.monotonic()
    with pytest.raises(ValueError, match="boom"):
        run_bounded(main, procs=1)
    assert time.monotonic() - t0 < 2.0


def test_ctrl_c_raises_keyboard_interrupt_from_run_promptly():
    code = textwrap.dedent("""
        import sys, time, gort
        async def main():
            async def spin():
                while True:
                    await gort.gosched()
            gort.go(spin)
            print("ready", flush=True)
            time.sleep(30)
        t0 = None
        try:
            gort.run(main, procs=2)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert p.stdout.readline().strip() == "ready"
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=20)
        took = time.monotonic() - t0
    finally:
        p.kill()
    assert p.returncode == 3 and "interrupted" in out
    assert took < 5.0, took


# ---------------------------------------------------------------- 7. timers at procs=1

def test_fast_ticker_readers_and_a_sleep_loop_do_not_stall():
    """Ten readers of a 1 ns Ticker while another goroutine loops on sleep(1e-9), at
    procs=1 (was: 0.1 s in some runs, 9-25 s in others: timer-readied goroutines
    refilled runnext at every round and the ones it kicked to the queue never ran)."""
    async def main():
        t = gort.Ticker(1e-9)
        done = gort.Chan()
        stop = [False]

        async def reader(i):
            for _ in range(200):
                await t.c.recv()
            await done.send(i)

        async def sleeper():
            while not stop[0]:
                await gort.sleep(1e-9)

        gort.go(sleeper)
        for i in range(10):
            gort.go(reader, i)
        got = sorted([await done.recv() for _ in range(10)])
        stop[0] = True
        t.stop()
        return got

    for _ in range(10):
        t0 = time.monotonic()
        assert run_bounded(main, procs=1, timeout=60) == list(range(10))
        assert time.monotonic() - t0 < 5.0


# ---------------------------------------------------------------- 8. suspicions, each pinned by a test

def test_timer_batch_survives_a_raising_timer_function():
    """Timers.run pops a batch of due timers; one that raises must not drop the rest."""
    from gort.timers import Timers, Timer
    ts = Timers()
    fired = []

    def f(arg, seq, delay):
        if arg == "bad":
            raise ValueError("timer function failed")
        fired.append(arg)

    for name in ("a", "bad", "b", "c"):
        t = Timer(f, name)
        t.mu.acquire()
        t.gen += 1
        t.when = 1.0
        t.heaped = True
        t.ts = ts
        ts.push((1.0, t.gen, t))
        ts.len += 1
        t.mu.release()
    with pytest.raises(ValueError):
        ts.run(None, 2.0)
    assert sorted(fired) == ["a", "b", "c"]
    assert ts.len == 0 and not ts.heap


@pytest.mark.parametrize("procs", [1, 2, 4])
def test_retires_racing_with_parks_and_wakeups(procs, switchy, monkeypatch):
    """sysmon retires Ps while their Ms park, ready and start goroutines (a shorter
    time slice makes retires frequent).  Every value arrives exactly once and no
    P is ever owned twice (wirep / pidleput errors would stop the program)."""
    import gort.sysmon as sm
    monkeypatch.setattr(sm, "FORCE_PREEMPT", 0.002)
    monkeypatch.setattr(sm, "UNMARKED_GRACE", 0.0005)
    n, per = 8, 30

    async def main():
        ch = gort.Chan(4)
        res = gort.Chan()

        async def producer(k):
            for i in range(per):
                if i % 5 == k % 5:
                    cpu_for(0.004)            # long enough to be retired sometimes
                await ch.send(k * per + i)

        async def consumer():
            got = []
            for _ in range(n * per // 2):
                got.append(await ch.recv())
                if len(got) % 7 == 0:
                    time.sleep(0.003)         # unmarked, while holding values
            await res.send(got)

        for k in range(n):
            gort.go(producer, k)
        gort.go(consumer)
        gort.go(consumer)
        a = await res.recv()
        b = await res.recv()
        return sorted(a + b), gort.stats()["retakes"]

    got, _ = run_bounded(main, procs=procs, timeout=90)
    assert got == list(range(n * per))


def test_timer_resets_racing_with_resizes(switchy):
    """Timer.reset (Timer.mu, then the poller wake-up, then sched.lock) from goroutines
    that may be stuck without a P, while gomaxprocs resizes (sched.lock, then the
    moved timers' locks): no lock-order deadlock."""
    async def main():
        stop = [False]
        done = gort.Chan(8)

        async def resetter(k):
            t = gort.Timer(10)
            n = 0
            while not stop[0]:
                t.reset(0.0005 * (1 + (n % 3)))
                if n % 50 == 0:
                    cpu_for(0.002)
                n += 1
                await gort.gosched()
            t.stop()
            await done.send(n)

        async def sleeper():
            while not stop[0]:
                await gort.sleep(0.0003)
            await done.send(0)

        for k in range(4):
            gort.go(resetter, k)
        gort.go(sleeper)
        for i in range(60):
            gort.gomaxprocs(1 + i % 4)
            await gort.sleep(0.001)
        stop[0] = True
        return sum([await done.recv() for _ in range(5)])

    assert run_bounded(main, procs=2, timeout=90) > 0


def test_busy_goroutines_under_the_gil_are_not_handed_off_for_waiting_on_it():
    """procs=4, goroutines that reach a trap every ~1 ms: under the GIL an M can wait
    longer than a time slice just for the GIL.  That is not a blocked call; retires
    must stay rare (was: 96 retires and 9 threads in 5 s)."""
    async def main():
        stop = [False]
        done = gort.Chan(8)

        async def busy():
            while not stop[0]:
                cpu_for(0.001)
                await gort.gosched()
            await done.send(1)

        for _ in range(4):
            gort.go(busy)
        await gort.sleep(2.0)
        stop[0] = True
        for _ in range(4):
            await done.recv()
        st = gort.stats()
        return st["retakes"], st["mcreated"]

    retakes, made = run_bounded(main, procs=4, timeout=60)
    assert retakes <= 5, f"{retakes} retires of Ps whose goroutines never blocked ({made} Ms made)"


def test_shutdown_closes_parked_goroutines_and_leaves_stuck_ones_to_their_thread():
    closed = []
    stuck_closed = threading.Event()

    async def main():
        async def parked():
            try:
                await gort.Chan().recv()
            finally:
                closed.append("parked")

        async def stuck():
            try:
                time.sleep(0.3)
                await gort.gosched()
            finally:
                stuck_closed.set()

        gort.go(parked)
        gort.go(stuck)
        await gort.sleep(0.05)

    run_bounded(main, procs=2)
    end = time.monotonic() + 10            # closed before run returns, or by the reaper soon after
    while not closed and time.monotonic() < end:
        time.sleep(0.01)
    assert closed == ["parked"]
    assert stuck_closed.wait(10), "the stuck goroutine was never closed after its call returned"


def test_program_module_documents_the_calling_thread():
    assert "calling thread" in program.__doc__ or "calls `gort.run`" in program.__doc__


def test_busyhandoff_0_keeps_a_computing_goroutine_on_its_p():
    """GORT_DEBUG=busyhandoff=0: a goroutine that computes without awaiting keeps
    its P (GOMAXPROCS caps it, as in Go), while one blocked in a call is still
    handed off.  Default: both are handed off (test_syscall covers that)."""
    code = textwrap.dedent("""
        import threading, time, gort
        def spin(seconds):
            end = time.thread_time() + seconds
            while time.thread_time() < end:
                pass
        async def main():
            names = gort.Chan(4)
            async def hog():
                spin(0.15)
                await names.send(threading.current_thread().name)
            async def sleeper():
                time.sleep(0.3)                  # blocked in a call: handed off even so
                await names.send("sleeper")
            gort.go(sleeper)
            await gort.sleep(0.05)
            before = gort.stats()["retakes"]
            for _ in range(2):
                gort.go(hog)
            got = sorted([await names.recv() for _ in range(3)])
            return got, before
        got, before = gort.run(main, procs=1)
        hogs = [n for n in got if n != "sleeper"]
        print(len(set(hogs)), before)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
                            "GORT_DEBUG": "busyhandoff=0"})
    assert p.returncode == 0, p.stderr
    threads, sleeper_retires = map(int, p.stdout.split())
    assert sleeper_retires >= 1, "the goroutine blocked in time.sleep was not handed off"
    assert threads == 1, "the two computing goroutines ran on different threads at procs=1"


@pytest.mark.parametrize("procs", [1, 2])
def test_timer_callback_that_flushes_a_retired_p_loses_no_goroutine(procs):
    """sysmon may retire a P while its M is in scheduler code (it reads m.curg under
    sched.lock; the M clears it without).  A timer run by that scheduler code then
    readies or starts goroutines, which flush the retired P (its Gs to the global
    queue, m.p = None).  The scheduler must not go on with its stale P: a batch taken
    from the global queue into it was never run (a hang on 3.13t, ~1 in 4,000 runs of
    the ticker stress test).  Here the retire happens inside the timer's callback."""
    from gort import proc, sysmon, timers

    n = 8

    async def main():
        s = proc.cursched()
        done = gort.Chan(n + 1)
        parked = gort.Chan()

        async def sleeper():
            await done.send(await parked.recv())

        async def worker(i):
            await done.send(i)

        gort.go(sleeper)
        await wait_until(lambda: any(g.waitreason == "chan receive" and g.status == 4
                                     for g in s.allgs), "the sleeper parked")

        def cb(arg, seq, delay):
            m = proc._tls.m
            s.lock.acquire()
            newp = sysmon.retire_p(s, m.p)      # as sysmon would, racing the M
            s.lock.release()
            proc.handoffp(s, newp)
            for i in range(n):                   # the first finds the P retired and flushes it
                proc.newproc(worker(i), m, s)
            parked.try_send(-1)

        t = timers.Timer(cb, None)
        t.modify(time.monotonic())               # due now: runs when main parks below
        got = sorted([await done.recv() for _ in range(n + 1)])
        return got

    assert run_bounded(main, procs=procs, timeout=30) == [-1] + list(range(n))
