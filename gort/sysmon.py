"""sysmon: the system monitor (runtime/proc.go `sysmon`, `retake`, `preemptone`).

A dedicated M without a P.  It sleeps 20 µs, doubling after 50 idle rounds up
to 10 ms, and deep-sleeps when every P is idle.  Each round it:
- refreshes the coarse clock (`sched.now`, used for G.waitsince),
- polls the network if nobody has for 10 ms,
- retakes Ps: a P in `_Psyscall` (Go's rules), or a `_Prunning` P whose
  schedtick has not moved for 10 ms: its G gets a preemption request, and if it
  is still stuck 1 ms later, its M is treated as blocked in an unmarked system
  call and a fresh P takes over its queue on another M (retake_running below).
- prints Go's schedtrace line every GORT_SCHEDTRACE ms, if set.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Optional

from . import debug, program, proc
from .g import preempt_flag
from .m import M
from .p import P, _Pdead, _Pidle, _Prunning, _Psyscall, runqget, runqput
from .timers import Timers

FORCE_PREEMPT = 0.010      # forcePreemptNS
UNMARKED_GRACE = 0.001     # a G asked to yield that has not reached a trap 1 ms later is blocked
GIL_WAIT_FACTOR = 2        # ... plus, with the GIL, this many switch intervals per other running P
SYSCALL_RETAKE = 0.010     # a syscall this long is always retaken
MIN_DELAY = 20e-6
MAX_DELAY = 0.010
IDLE_ROUNDS = 50
NCPU = os.cpu_count() or 1
# GORT_DEBUG=busyhandoff=0: a goroutine that runs Python for a whole time slice
# without reaching a trap keeps its P (GOMAXPROCS caps it as in Go; the others
# wait until it awaits).  Default 1: it is handed off like a blocked one, so the
# others keep running (README "Choosing GOMAXPROCS": what GOMAXPROCS caps).
BUSY_HANDOFF = debug.settings.get("busyhandoff", "1") not in ("0", "")
schedtrace_ms = 0          # from GORT_DEBUG=schedtrace=MS (or GORT_SCHEDTRACE), set by program.run
scheddetail = False        # GORT_DEBUG=scheddetail=1: Go's per-P, per-M and per-G lines too


def start(s: Any) -> None:
    s.lock.acquire()
    mid = proc._mreserveid(s)
    s.nmsys += 1
    s.lock.release()
    m = M(mid, s)
    m.issys = True
    s.sysmon = m
    proc.newm(s, mid, None, False, fn=sysmon, m=m)


def sysmon(m: Any) -> None:
    s = m.sched
    poller = s.poller
    idle = 0
    delay = MIN_DELAY
    lasttrace = 0.0
    now_f = time.monotonic
    while not s.exiting:
        if idle == 0:
            delay = MIN_DELAY
        elif idle > IDLE_ROUNDS:
            delay = min(delay * 2, MAX_DELAY)
        time.sleep(delay)
        now = now_f()
        s.now = now
        if s.exiting:
            break
        # deep sleep while every P is idle (and nothing is in a syscall)
        if not schedtrace_ms and (s.gcwaiting or s.npidle == s.gomaxprocs):
            s.lock.acquire()
            if s.gcwaiting or s.npidle == s.gomaxprocs:
                s.sysmonwait = True
                s.lock.release()
                from .timers import check_timers_nop
                w = check_timers_nop(s)
                sleep = 60.0 if not w else max(0.0, min(60.0, w - now))
                s.sysmonnote.sleep(sleep)
                s.lock.acquire()
                s.sysmonwait = False
                s.sysmonnote.clear()
                s.lock.release()
                idle = 0
                delay = MIN_DELAY
                continue
            s.lock.release()
        gs = poller.poll_for_sysmon()
        if gs:
            incidlelocked(s, -1)
            proc.injectglist(s, gs)
            incidlelocked(s, 1)
        if retake(s, now):
            idle = 0
        else:
            idle += 1
        if preempt_flag[0]:
            clear_preempt_flag(s)
        if schedtrace_ms and now - lasttrace >= schedtrace_ms / 1000:
            lasttrace = now
            from .trace import schedtrace
            out = sys.stdout                  # one write: print() writes the newline apart
            out.write(schedtrace(s, scheddetail) + "\n")
            out.flush()


def wake(s: Any) -> None:
    """entersyscall / new work: wake sysmon from its deep sleep."""
    if s.sysmonwait:
        s.sysmonnote.wakeup()


def retake(s: Any, now: float) -> int:
    n = 0
    for pp in list(s.allp):
        st = pp.status
        pd = pp.sysmontick          # [schedtick, schedwhen, syscalltick, syscallwhen]
        if st != _Prunning and st != _Psyscall:
            pd[1] = now             # an idle P's slice starts when it runs again
            continue
        sysretake = False
        t = pp.schedtick
        if pd[0] != t:
            pd[0] = t
            pd[1] = now
        elif pd[1] + FORCE_PREEMPT <= now:
            if st == _Prunning:
                if preemptone(s, pp, now):
                    n += 1
            sysretake = True
        if st == _Psyscall:
            t = pp.syscalltick
            if not sysretake and pd[2] != t:
                pd[2] = t
                pd[3] = now
                continue
            if pp.runqempty() and s.nmspinning + s.npidle > 0 and pd[3] + SYSCALL_RETAKE > now:
                continue
            if retake_syscall(s, pp):
                n += 1
    return n


def retake_syscall(s: Any, pp: P) -> bool:
    """sysmon: take a P from an M in a syscall and hand it off."""
    s.lock.acquire()
    if pp.status != _Psyscall:
        s.lock.release()
        return False
    pp.status = _Pidle
    pp.syscalltick += 1
    s.nretake += 1
    s.nhandoff += 1
    s.nmidlelocked -= 1           # incidlelocked(-1): count sysmon as running meanwhile
    s.lock.release()
    if s.trace is not None:
        s.trace.event("ProcSteal", None, None, pp)
    proc.handoffp(s, pp)
    incidlelocked(s, 1)
    return True


def incidlelocked(s: Any, v: int) -> None:
    """Go's incidlelocked: while sysmon hands a P over it counts as a running M,
    or the M it took the P from could go idle and checkdead would see a runnable
    G with nobody to run it."""
    s.lock.acquire()
    s.nmidlelocked += v
    if v > 0:
        program.checkdead(s)
    s.lock.release()


def unmarked_grace(s: Any) -> float:
    """How long a G asked to yield may take to reach a trap before its M counts
    as blocked in unmarked code.

    With the GIL, an M whose goroutine is busy but fine can go a whole time
    slice without running at all, just waiting for the GIL while the other
    running Ms take turns (one switch interval each).  From outside, that M
    looks exactly like one blocked in a C call: no progress, no CPU time.
    Retiring it would only add a thread to the queue for the GIL (measured: 14
    retires in 2 s with 4 busy Ps, 96 in 5 s in an earlier report), so the
    grace covers that wait: GIL_WAIT_FACTOR switch intervals per other running
    P.  Free-threaded, nobody waits for a GIL and 1 ms is enough, unless Ps
    outnumber CPUs: then an M waits for a CPU the same way."""
    if threads_add_capacity(s):
        return UNMARKED_GRACE
    others: int = s.gomaxprocs - s.npidle - 1
    if others <= 0:
        return UNMARKED_GRACE
    return UNMARKED_GRACE + GIL_WAIT_FACTOR * others * sys.getswitchinterval()


def preemptone(s: Any, pp: P, now: float) -> bool:
    """Ask pp's G to yield at its next trap; if it already was asked and has not
    reached one after the grace, its M is blocked in something gort cannot see:
    retire the P."""
    mp = pp.m
    if mp is None:
        return False
    gp = mp.curg
    if gp is None:
        return False
    if not gp.preempt:
        gp.preempt = True
        pp.preempt = True           # Go's pp.preempt: this slice is over (see proc.ready)
        preempt_flag[0] = True
        if s.trace is not None:
            s.trace.event("PreemptRequest", None, gp, pp)
        pp.sysmontick[1] = now - FORCE_PREEMPT + unmarked_grace(s)   # look again after the grace
        s.npreempt += 1
        if not BUSY_HANDOFF:
            pp.busysample = cpu_sample(mp)
        return True
    if not BUSY_HANDOFF:
        sample = cpu_sample(mp)
        if is_busy(pp.busysample, sample):
            # it computes (a CPU loop that never awaits): with busyhandoff=0 it
            # keeps its P until it reaches a trap, as GOMAXPROCS would cap it in
            # Go; only a goroutine blocked in a call is handed off.  The CPU
            # share is counted from the request on, not per look: with the GIL a
            # computing thread can wait out a whole look for it
            return False
    if not threads_add_capacity(s) and not handoff_helps(s, pp, now):
        return False
    return retake_running(s, pp, mp, pp.schedtick)


def cpu_sample(mp: M) -> Optional[tuple[float, float]]:
    """(the CPU time mp's thread has used, now): two looks tell a thread that
    computes from one that is blocked in a call (or waits for the GIL).

    The thread's frame would not tell: a running frame's f_lasti is only saved
    at calls and at the eval breaker, so a tight loop shows one instruction
    (measured on 3.11 and 3.13t).  Only with busyhandoff=0."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(mp.ident)), time.monotonic()
    except (OSError, AttributeError):   # the thread is gone, or no per-thread clocks
        return None


def is_busy(a: Optional[tuple[float, float]], b: Optional[tuple[float, float]]) -> bool:
    """The thread used CPU between two cpu_samples: at least 2 % of the time (a
    blocked thread uses none; a computing one on a loaded machine may get little)."""
    if a is None or b is None or b[1] <= a[1]:
        return False
    return (b[0] - a[0]) >= 0.02 * (b[1] - a[1])


def threads_add_capacity(s: Any) -> bool:
    """Would one more thread running goroutines run more of them?  Not with the
    GIL (one thread runs Python at a time), nor when Ps already outnumber CPUs."""
    return not program.gil_enabled() and s.gomaxprocs <= NCPU


def handoff_helps(s: Any, pp: P, now: float) -> bool:
    """When threads add no capacity: would retiring stuck pp let anything run sooner?

    Its own queue and timers are served by nobody else (other Ps steal only
    when idle), and the global queue by any P that is making progress.  When
    neither applies the retire gains nothing and costs a thread; and since an
    M that only waits for the GIL (or a CPU) looks blocked from outside
    (unmarked_grace), it is often not stuck at all.  sysmon asks again at every round, so a P that gets
    work later is retired then.  Go's syscall retake skips a P with an empty
    queue for the same reason (proc.go retake: runqempty && nmspinning+npidle > 0)."""
    if not pp.runqempty():
        return True
    ts = pp.timers
    if ts is not None and ts.len:
        w = ts.wake_time()
        if w and w <= now + 2 * MAX_DELAY:
            return True
    if not s.runq:
        return False
    for p2 in list(s.allp):
        if p2 is not pp and p2.status == _Prunning and p2.sysmontick[1] + FORCE_PREEMPT > now:
            return False
    return True


def retire_p(s: Any, pp: P) -> P:
    """Retire pp, whose M is stuck in a goroutine, and return a fresh P with the
    same id, queue, timers and goroutine ids to stand in for it (sched.lock held).

    The stuck M keeps the retired P object to itself (status _Pdead), so no two
    Ms ever share a P; it hands back what it puts there later when it notices
    (proc.flush_retired).  The status is set before the timers move: a timer
    added by the stuck M that still saw the P running lands in the heap the
    fresh P takes over (timers.Timer._add reads them in the other order)."""
    pp.status = _Pdead
    newp = P(pp.id)
    newp.status = _Pidle
    newp.schedtick = pp.schedtick
    newp.syscalltick = pp.syscalltick + 1
    newp.timers = pp.timers
    pp.timers = Timers()
    s.allp[pp.id] = newp
    s.nretake += 1
    s.nhandoff += 1
    # move its queue (runnext to runnext, the ring in order); the stuck M may
    # still add to it, it flushes the rest later
    while True:
        gp, inherit = runqget(pp)
        if gp is None:
            break
        batch = runqput(newp, gp, inherit)   # it fits: the same ring size
        if batch:
            s.globrunqputbatch(batch)
    if s.trace is not None:
        s.trace.event("ProcSteal", None, None, newp)
    return newp


def retake_running(s: Any, pp: P, mp: M, tick: int) -> bool:
    s.lock.acquire()
    if (pp.status != _Prunning or pp.m is not mp or pp.schedtick != tick or mp.curg is None
            or s.exiting or s.gcwaiting):
        s.lock.release()
        return False
    newp = retire_p(s, pp)
    s.nmidlelocked -= 1           # incidlelocked(-1), see incidlelocked
    s.lock.release()
    proc.handoffp(s, newp)
    incidlelocked(s, 1)
    return True


def clear_preempt_flag(s: Any) -> None:
    """sysmon: drop the global flag once no running G has a request pending."""
    for pp in list(s.allp):
        mp = pp.m
        if mp is not None:
            gp = mp.curg
            if gp is not None and gp.preempt:
                return
    preempt_flag[0] = False
