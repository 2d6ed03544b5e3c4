"""syscall: blocking calls that do not stall the scheduler (runtime/proc.go entersyscall, exitsyscall,
handoffp, LockOSThread).

- `await gort.syscall(fn, ...)` runs fn on the goroutine's own M between
  entersyscall (P -> _Psyscall, kept as m.oldp) and exitsyscall (take the old P
  back, or an idle one; else the G goes to the global queue and the M stops).
  The P status changes happen under sched.lock: that lock is Go's CAS on
  p.status, shared with sysmon's retake and stop-the-world.
- Unmarked blocking (time.sleep, a blocking socket, a CPU loop that never
  awaits): sysmon sees a P whose schedtick has not moved for 10 ms and sets
  the G's preemption request; if the G has not reached a trap after a grace,
  sysmon retires that P and hands a fresh P with the same id (its queue and
  timers) to another M (`sysmon.retire_p`).  The stuck M keeps the retired P
  object to itself, so no two Ms ever share a P.  From then on the goroutine
  runs as if in a system call without a P: the Gs it starts or wakes go to the
  global queue (where a busy M finds them within 61 schedticks), and at its
  next trap it takes exitsyscall's slow path (the global queue, then stopm),
  which is where Go would have preempted it.  Python cannot interrupt a
  thread, so this is how gort keeps the other goroutines running; the cost is
  one extra thread per stuck goroutine while it is stuck.
- lock_os_thread / unlock_os_thread wire a G to its M (proc.go LockOSThread).
"""
from __future__ import annotations

import inspect
import types
from typing import Any, Callable, Generator, ParamSpec, TypeVar

from . import proc
from .g import G, _Grunning, _Gsyscall, preempt_flag
from .m import M
from .p import _Pdead, _Pgcstop, _Pidle, _Psyscall
from .debug import awaitable
from .proc import Trap, _nogo, _tls


P = ParamSpec("P")
R = TypeVar("R")


def entersyscall(m: M, gp: G, fn: Any = None) -> bool:
    """P -> _Psyscall, kept as m.oldp.  False if sysmon retired the P meanwhile
    (the caller then runs the call P-less and takes the slow exit)."""
    s = m.sched
    pp = m.p
    s.lock.acquire()
    if pp.status == _Pdead:
        s.lock.release()
        proc.flush_retired(m)
        return False
    gp.status = _Gsyscall
    if s.trace is not None:           # under the lock: before sysmon can see the P in a syscall
        s.trace.event("GoSyscallBegin", m, gp, pp, getattr(fn, "__qualname__", None))
    m.syscalltick = pp.syscalltick
    m.oldp = pp
    m.p = None
    pp.m = None
    if s.gcwaiting:
        # entersyscall_gcwait: the P stops for the pending stop-the-world
        pp.status = _Pgcstop
        s.stopwait -= 1
        if s.stopwait == 0:
            s.stopnote.wakeup()
    else:
        pp.status = _Psyscall
    wake = s.sysmonwait
    s.lock.release()
    if wake:
        s.sysmonnote.wakeup()
    return True


def exitsyscall(m: M, gp: G) -> bool:
    """Fast path: our old P if sysmon did not take it, else an idle P."""
    s = m.sched
    s.lock.acquire()
    pp = m.oldp
    m.oldp = None
    if pp is not None and pp.status == _Psyscall and not s.gcwaiting:
        pp.status = _Pidle
    elif s.pidle and not s.gcwaiting:
        pp = s.pidleget()
    else:
        s.lock.release()
        return False
    proc.acquirep(m, pp)
    s.lock.release()
    pp.syscalltick += 1
    gp.status = _Grunning
    if s.trace is not None:
        s.trace.event("GoSyscallEnd", m, gp)
    return True


class _ExitSyscallSlow(Trap):
    """exitsyscall0: no P to be had; the G becomes runnable on the global queue."""

    __slots__ = ()

    def trap(self, m: M, gp: G) -> bool:
        s = m.sched
        if s.trace is not None:
            s.trace.event("GoSyscallEndBlocked", m, gp)
        s.lock.acquire()
        pp = None if s.gcwaiting or s.exiting else s.pidleget()
        if pp is not None:
            proc.acquirep(m, pp)
            s.lock.release()
            return True
        s.globrunqput(gp)
        s.lock.release()
        if gp.lockedm is m:
            return False       # schedule() -> stoplockedm waits for it
        proc.stopm(m)
        return False


_exit_slow = _ExitSyscallSlow()


@awaitable
@types.coroutine
def syscall(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Generator[Any, Any, R]:
    """Run the blocking fn(*args, **kwargs) on this goroutine's M; its P may move on meanwhile."""
    m = _tls.m
    if m is None or m.curg is None:
        raise _nogo("gort.syscall")
    if inspect.iscoroutinefunction(fn):
        raise TypeError("gort.syscall runs a blocking (non-async) function; "
                        f"{getattr(fn, '__qualname__', fn)!r} is async: await it directly")
    gp = m.curg
    pp = m.p
    if pp is None or pp.status == _Pdead or not entersyscall(m, gp, fn):
        # sysmon already treats this M as blocked and gave its P away: run fn
        # as we are, then get a P back the slow way
        if m.p is not None:
            proc.flush_retired(m)
        gp.status = _Gsyscall         # in its syscall all the same (a dump shows it so)
        try:
            r = fn(*args, **kwargs)
        finally:
            yield _exit_slow
        return r
    try:
        r = fn(*args, **kwargs)
    except BaseException as e:
        if not exitsyscall(m, gp):
            yield _exit_slow
        raise e
    if not exitsyscall(m, gp):
        yield _exit_slow
    elif preempt_flag[0] and gp.preempt:
        yield proc.YIELD
    return r


# ---------------------------------------------------------------- LockOSThread

def lock_os_thread() -> None:
    """Wire the calling goroutine to its OS thread (nesting counted)."""
    m = _tls.m
    if m is None or m.curg is None:
        raise _nogo("gort.lock_os_thread")
    gp = m.curg
    m.lockedext += 1
    m.lockedg = gp
    gp.lockedm = m


def unlock_os_thread() -> None:
    """Undo one lock_os_thread; the wiring goes when the count reaches 0."""
    m = _tls.m
    if m is None or m.curg is None:
        raise _nogo("gort.unlock_os_thread")
    if m.lockedext == 0:
        return
    m.lockedext -= 1
    gp = m.curg
    if m.lockedext == 0:
        m.lockedg = None
        gp.lockedm = None

