"""procresize: GOMAXPROCS and stop-the-world (proc.go `procresize`, `stopTheWorldWithSema`,
`startTheWorldWithSema`, debug.go `GOMAXPROCS`; reference §14).

`gomaxprocs(n)` stops the world (every P reaches `_Pgcstop`: running ones at
their M's next schedule round, after a preemption request; idle and syscall
ones at once), resizes `allp` (destroyed Ps give their Gs to the head of the
global queue and their timers to a live P), and starts it again.
"""
from __future__ import annotations

import os
from typing import Any

from . import netpoll, timers
from .g import preempt_flag
from . import proc as _proc   # (circular: used at call time only)
from .m import M
from .p import P, _Pdead, _Pgcstop, _Pidle, _Prunning, _Psyscall
from .sched import MAX_GOMAXPROCS

_default_procs: "int | None" = None   # gomaxprocs() set outside a program


def preemptall() -> None:
    """Ask every running G to yield at its next trap (the traps look at preempt_flag first)."""
    s = _proc.sched
    for pp in s.allp:
        mp = pp.m
        if pp.status == _Prunning and mp is not None:
            gp = mp.curg              # read once: its M may finish with it meanwhile
            if gp is not None:
                gp.preempt = True
                preempt_flag[0] = True


def stop_the_world(m: M, reason: str) -> None:
    s = _proc.sched
    s.lock.acquire()
    s.stopnote.clear()
    s.stopwait = s.gomaxprocs
    s.gcwaiting = True
    s.stopflag = True
    s.lock.release()
    preemptall()
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
    netpoll.netpoll_break()
    while wait and not s.exiting:
        # the note only shortens the wait: stopwait under the lock decides
        s.stopnote.sleep(0.0001)
        s.lock.acquire()
        wait = s.stopwait > 0
        s.lock.release()
        preemptall()


def start_the_world(m: M) -> None:
    s = _proc.sched
    s.lock.acquire()
    n = s.newprocs or s.gomaxprocs
    s.newprocs = 0
    runnable = procresize(m, n)
    s.gcwaiting = False
    s.stopflag = s.exiting
    s.stopnote.clear()
    while s.pwait and s.pidle:        # Ms that waited for a P through the stop
        mp = s.pwait.pop(0)
        mp.nextp = s.pidleget()
        mp.park.wakeup()
    s.lock.release()
    for pp in runnable:
        _proc.startm(pp, False)
    _proc.wakep()


def procresize(m: M, nprocs: int) -> list[P]:
    """Resize allp (world stopped, sched.lock held); returns Ps with work for startm."""
    s = _proc.sched
    old = s.gomaxprocs
    allp = s.allp
    while len(allp) < nprocs:
        pp = P(len(allp))
        timers.init_p(pp)
        allp.append(pp)
    for i in range(nprocs, old):
        pp = allp[i]
        # p.destroy: its Gs go to the head of the global queue, in order
        gs = list(pp.runnext) + list(pp.runq)
        pp.runnext.clear()
        pp.runq.clear()
        for gp in reversed(gs):
            s.globrunqputhead(gp)
        s.gfree.extend(pp.gfree)
        pp.gfree.clear()
        target = m.p if m.p is not None and m.p.id < nprocs else allp[0]
        timers.move_timers(pp, target)
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
    return runnable


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
    s = _proc.sched
    if m is None:
        # outside a program: the setting is the default for the next run
        prev = _default_procs or default_procs()
        if n >= 1:
            _default_procs = n
        return prev
    if not s.main_started or s.exiting:
        return s.gomaxprocs
    prev = s.gomaxprocs
    if n < 1 or n == prev:
        return prev
    if m.oldp is not None:
        raise RuntimeError("gort.gomaxprocs cannot resize from inside gort.syscall")
    if m.p is not None and m.p.status == _Pdead:
        # sysmon retired our P while this goroutine ran without yielding: it is
        # not ours to count; stop the world without one (procresize gives us P0)
        from .syscall import flush_retired
        flush_retired(m)
    stop_the_world(m, "GOMAXPROCS")
    s.newprocs = n
    start_the_world(m)
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
    return ncpu if not _proc.gil_enabled() else min(ncpu, 2)
