"""procresize: GOMAXPROCS and stop-the-world (proc.go `procresize`, `stopTheWorldWithSema`,
`startTheWorldWithSema`, debug.go `GOMAXPROCS`).

`gomaxprocs(n)` stops the world (every P reaches `_Pgcstop`: running ones at
their M's next schedule round, after a preemption request; idle and syscall
ones at once), resizes `allp` (destroyed Ps give their Gs to the head of the
global queue and their timers to a live P), and starts it again.
"""
from __future__ import annotations

import os
import time
from typing import Any

from . import program, timers
from .g import _Grunning, preempt_flag
from . import proc as _proc   # (circular: used at call time only)
from .m import M
from .p import P, _Pdead, _Pgcstop, _Pidle, _Prunning, _Psyscall, runqdrain
from .sched import MAX_GOMAXPROCS

_default_procs: "int | None" = None   # gomaxprocs() set outside a program


def preemptall(s: Any) -> None:
    """Ask every running G to yield at its next trap (the traps look at preempt_flag first)."""
    for pp in s.allp:
        mp = pp.m
        if pp.status == _Prunning and mp is not None:
            gp = mp.curg              # read once: its M may finish with it meanwhile
            if gp is not None:
                gp.preempt = True
                preempt_flag[0] = True


def stop_the_world(m: M, reason: str) -> None:
    """stopTheWorldWithSema (worldsema held by the caller): every P to _Pgcstop.

    Running Ps stop at their M's next schedule round, after a preemption
    request; idle and syscall Ps at once.  A running P whose M has not stopped
    after sysmon's grace is stuck in unmarked code (a blocking call, a CPU
    loop): it is retired as sysmon would (Go preempts it asynchronously), or
    the world would wait for the whole call."""
    from .sysmon import retire_p, unmarked_grace
    s = m.sched
    if s.trace is not None:
        s.trace.event("STWBegin", m, None, None, reason)
    s.lock.acquire()
    if m.p is not None and m.p.status == _Pdead:
        # sysmon retired our P while this goroutine ran (before gcwaiting stops
        # it from retiring): not ours to count; procresize gives us one
        s.lock.release()
        _proc.flush_retired(m)
        s.lock.acquire()
    s.stopnote.clear()
    s.stopwait = s.gomaxprocs
    s.gcwaiting = True
    s.stopflag = True
    s.lock.release()
    preemptall(s)
    s.lock.acquire()
    if m.p is not None:
        m.p.status = _Pgcstop
        s.stopwait -= 1
    for pp in s.allp:
        if pp.status == _Psyscall:
            pp.status = _Pgcstop
            pp.syscalltick += 1
            s.stopwait -= 1
    while True:
        idle = s.pidleget()
        if idle is None:
            break
        idle.status = _Pgcstop
        s.stopwait -= 1
    wait = s.stopwait > 0
    s.lock.release()
    s.poller.netpoll_break()
    since: dict[int, tuple[Any, float]] = {}     # P id -> (its G, when we first saw it stuck)
    grace = unmarked_grace(s)
    while wait and not s.exiting:
        # the note only shortens the wait: stopwait under the lock decides
        s.stopnote.sleep(0.0001)
        now = time.monotonic()
        s.lock.acquire()
        for pp in s.allp:
            mp = pp.m
            gp = mp.curg if mp is not None else None
            if pp.status != _Prunning or gp is None:
                since.pop(pp.id, None)
                continue
            seen = since.get(pp.id)
            if seen is None or seen[0] is not gp:
                since[pp.id] = (gp, now)
            elif now - seen[1] >= grace:
                newp = retire_p(s, pp)
                newp.status = _Pgcstop
                s.stopwait -= 1
                since.pop(pp.id, None)
        wait = s.stopwait > 0
        s.lock.release()
        preemptall(s)


def start_the_world(m: M) -> None:
    s = m.sched
    s.lock.acquire()
    n = s.newprocs or s.gomaxprocs
    s.newprocs = 0
    runnable, moves = procresize(m, n)
    s.gcwaiting = False
    s.stopflag = s.exiting
    s.stopnote.clear()
    wake = s.sysmonwait
    s.lock.release()
    if wake:                          # startTheWorldWithSema: sysmon may have slept through
        s.sysmonnote.wakeup()
    for src, dst in moves:
        timers.move_timers(src, dst)
        if dst.timers.heap:
            s.poller.wake(dst.timers.wake_time())
    if s.trace is not None:
        s.trace.event("STWEnd", m, None)
    for pp in runnable:
        _proc.startm(s, pp, False)
    _proc.wakep(s)


def procresize(m: M, nprocs: int) -> tuple[list[P], list[tuple[P, P]]]:
    """Resize allp (world stopped, sched.lock held).

    Returns the Ps with work (for startm) and the (destroyed P, live P) pairs
    whose timers the caller moves once it has released sched.lock: moving
    takes each timer's lock, and a timer's function runs with that lock held
    and may take sched.lock (a wake-up), so sched.lock -> Timer.mu would invert
    the order (Go's modify likewise wakes the poller only after t.unlock)."""
    s = m.sched
    old = s.gomaxprocs
    allp = s.allp
    moves: list[tuple[P, P]] = []
    while len(allp) < nprocs:
        pp = P(len(allp))
        timers.init_p(pp)
        allp.append(pp)
    for i in range(nprocs, old):
        pp = allp[i]
        # p.destroy: its Gs go to the head of the global queue, in order
        gs = runqdrain(pp)
        for gp in reversed(gs):
            s.globrunqputhead(gp)
        s.gfree.extend(pp.gfree)
        pp.gfree.clear()
        moves.append((pp, m.p if m.p is not None and m.p.id < nprocs else allp[0]))
        pp.status = _Pdead
        pp.m = None
    del allp[nprocs:]
    cur = m.p
    if cur is not None and cur.id < nprocs:
        cur.status = _Prunning
    else:
        if cur is not None:
            cur.m = None
        m.p = None
        pp = allp[0]
        pp.status = _Pidle
        pp.m = m
        m.p = pp
        pp.status = _Prunning
    s.pidle.clear()
    s.npidle = 0
    runnable = []
    for pp in reversed(allp):
        if pp is m.p:
            continue
        pp.status = _Pidle
        pp.m = None
        if pp.runqempty():
            s.pidleput(pp)
        else:
            runnable.append(pp)
    s.gomaxprocs = nprocs
    s.steal_coprimes = [i for i in range(1, nprocs + 1) if _gcd(i, nprocs) == 1]
    if s.trace is not None:
        s.trace.event("ProcsChange", m, None, None, nprocs)
    return runnable, moves


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _check_procs(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, not {type(n).__name__}")
    if n > MAX_GOMAXPROCS:
        raise ValueError(f"{what}={n} exceeds the limit of {MAX_GOMAXPROCS}")
    return n


def gomaxprocs(n: int = 0) -> int:
    """Set GOMAXPROCS to n (if n >= 1) and return the previous value."""
    global _default_procs
    n = _check_procs(n, "gomaxprocs")
    m = _proc._tls.m
    if m is None:
        # outside a program: the setting is the default for the next run
        prev = _default_procs or default_procs()
        if n >= 1:
            _default_procs = n
        return prev
    s = m.sched
    if not s.main_started or s.exiting:
        return s.gomaxprocs
    prev = s.gomaxprocs
    if n < 1 or n == prev:
        return prev
    if m.oldp is not None:
        raise RuntimeError("gort.gomaxprocs cannot resize from inside gort.syscall")
    gp = m.curg
    # (if sysmon retired our P meanwhile, entersyscall and stop_the_world notice)
    if not s.worldsema.acquire(False):
        # Another goroutine is stopping the world.  Go parks on worldsema; this
        # call cannot park (it is not awaited), so it waits like a blocking system
        # call: the P goes to _Psyscall, where that stop-the-world takes it.
        from .syscall import entersyscall
        entered = m.p is not None and entersyscall(m, gp)
        s.worldsema.acquire()
        if entered:
            gp.status = _Grunning
        s.lock.acquire()
        pp, m.oldp = m.oldp, None
        if pp is not None and pp.status == _Psyscall:
            pp.status = _Pidle            # nobody took it: ours again
            _proc.acquirep(m, pp)
        s.lock.release()
    try:
        prev = s.gomaxprocs
        # (waiting for worldsema may have cost us our P: then the resize runs
        # anyway, even to the same size, so that procresize gives us one)
        if s.exiting or (n == prev and m.p is not None):
            return prev
        stop_the_world(m, "GOMAXPROCS")
        s.newprocs = n
        start_the_world(m)                # procresize gives us a P if we had none
    finally:
        s.worldsema.release()
    return prev


def default_procs() -> int:
    """GOMAXPROCS when nothing sets it: see README "Choosing GOMAXPROCS"."""
    env = os.environ.get("GORT_MAXPROCS")
    if env:
        try:
            v = int(env)
        except ValueError:
            raise ValueError(f"GORT_MAXPROCS={env!r} is not an integer") from None
        if v >= 1:
            return min(v, MAX_GOMAXPROCS)
    ncpu = os.cpu_count() or 1
    # free-threaded: one P per CPU, as Go (CPU-bound goroutines run in parallel).
    # With the GIL only one M runs Python at a time; a second P still lets
    # goroutines run while another is stuck in unmarked blocking code, but more
    # Ps only add spinning Ms fighting over the GIL (bench/RESULTS.md).
    return ncpu if not program.gil_enabled() else min(ncpu, 2)
