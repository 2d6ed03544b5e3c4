"""sysmon: the system monitor (proc.go `sysmon`, `retake`; reference §6.3, §6.4).

A dedicated M without a P.  It sleeps 20 µs, doubling after 50 idle rounds up
to 10 ms, and deep-sleeps when every P is idle.  Each round it:
- refreshes the coarse clock (`sched.now`, used for G.waitsince),
- polls the network if nobody has for 10 ms,
- retakes Ps: a P in `_Psyscall` (Go's rules), or a `_Prunning` P whose
  schedtick has not moved for 10 ms: its G gets a preemption request, and if it
  is still stuck at the next look, its M is treated as blocked in an unmarked
  system call and the P is handed to another M (proc.retake_running).
"""
from __future__ import annotations

import time
from typing import Any

from .g import preempt_flag
from .p import _Prunning, _Psyscall

FORCE_PREEMPT = 0.010      # forcePreemptNS
SYSCALL_RETAKE = 0.010     # a syscall this long is always retaken
MIN_DELAY = 20e-6
MAX_DELAY = 0.010
IDLE_ROUNDS = 50
schedtrace_ms = 0          # set by trace.schedtrace()


def start(s: Any) -> None:
    from .proc import _mreserveid, newm
    s.lock.acquire()
    mid = _mreserveid(s)
    s.nmsys += 1
    s.lock.release()
    m = newm(mid, None, False, fn=sysmon)
    m.issys = True
    s.sysmon = m


def sysmon(m: Any) -> None:
    from . import netpoll, proc
    from .syscall import clear_preempt_flag
    s = proc.sched
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
        gs = netpoll.poll_nonblock_for_sysmon()
        if gs:
            proc.injectglist(gs)
        if retake(s, now):
            idle = 0
        else:
            idle += 1
        if preempt_flag[0]:
            clear_preempt_flag(s)
        if schedtrace_ms and now - lasttrace >= schedtrace_ms / 1000:
            lasttrace = now
            from .trace import schedtrace_line
            print(schedtrace_line(s), flush=True)


def wake(s: Any) -> None:
    """entersyscall / new work: wake sysmon from its deep sleep."""
    if s.sysmonwait:
        s.sysmonnote.wakeup()


def retake(s: Any, now: float) -> int:
    from .syscall import preemptone, retake_syscall
    n = 0
    for pp in list(s.allp):
        st = pp.status
        if st != _Prunning and st != _Psyscall:
            continue
        pd = pp.sysmontick          # [schedtick, schedwhen, syscalltick, syscallwhen]
        sysretake = False
        t = pp.schedtick
        if pd[0] != t:
            pd[0] = t
            pd[1] = now
        elif pd[1] + FORCE_PREEMPT <= now:
            if st == _Prunning:
                if preemptone(pp, now):
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
            if retake_syscall(pp):
                n += 1
    return n

