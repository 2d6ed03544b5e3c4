"""proc: the scheduler (proc.go; reference §2-§5, §6.5, §14).

schedule / find_runnable / execute, newproc, gopark / goready, the spinning-M
protocol (wakep, startm, stopm, handoffp), checkdead, stop-the-world and
procresize, and the bootstrap that `gort.run` drives.

Thread-safety rules (no reliance on the GIL):
- `sched.*` fields are guarded by `sched.lock`; a few are read without it as
  hints (queue lengths, nmspinning, npidle), as Go reads its atomics, and every
  decision taken on a hint is re-checked under the lock.
- A P's queues follow p.py's single-producer rule; its other fields belong to
  the M that holds the P.
- A G's fields belong to the M running it, or, once parked, to whoever dequeued
  it from a wait queue under that queue's lock (the gopark unlock callback
  makes that hand-over race-free).
"""
from __future__ import annotations

import logging
import os
import random
import sys
import threading
import time
import types
from typing import Any, Callable, Optional

from . import g as _g
from .g import (G, _Gdead, _Grunnable, _Grunning, _Gsyscall, _Gwaiting,
                describe)
from .m import M
from .p import (GFREE_KEEP, GFREE_MAX, GOID_CACHE_BATCH, P, _Pdead, _Pgcstop,
                _Pidle, _Prunning, runqget, runqput, runqsteal)
from .sched import MAXMCOUNT, Sched
from . import netpoll, procresize, timers
from .timers import check_p as _check_timers

log = logging.getLogger("gort")

STEAL_TRIES = 4          # stealTries
IDLE_M_EXIT = 10.0       # an M idle this long exits (Go keeps idle Ms; gort gives threads back)
FAIRNESS_TICK = 61       # schedtick % 61: look at the global queue first


class Deadlock(RuntimeError):
    """Raised by `gort.run` when no goroutine can ever run again (Go's fatal error)."""

    def __init__(self, msg: str, goroutines: Optional[list[str]] = None) -> None:
        self.goroutines = goroutines or []
        full = msg if not self.goroutines else msg + "\n\n" + "\n\n".join(self.goroutines)
        super().__init__(full)


class ThreadExhaustion(RuntimeError):
    """More than 10,000 Ms (Go's "program exceeds 10000-thread limit")."""


class _TLS(threading.local):
    m: Optional[M] = None


_tls = _TLS()
sched = Sched()                      # replaced by every run()
_run_lock = threading.Lock()         # one program at a time per process

_FunctionType = types.FunctionType
_MethodType = types.MethodType
_BuiltinMethodType = types.BuiltinMethodType


class Trap:
    """A request a goroutine yields to its M that is neither a park nor a yield.

    `trap(m, gp)` runs on the M (its g0) with gp already detached; it returns
    True to resume gp at once on this M.
    """

    __slots__ = ()

    def trap(self, m: M, gp: G) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


def _nogo(what: str) -> RuntimeError:
    return RuntimeError(f"{what} called outside a running gort program "
                        "(start one with gort.run(main))")


# ---------------------------------------------------------------- newproc

def check_async(fn: Any, what: str) -> None:
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_flags & 0x180:   # CO_COROUTINE | CO_ITERABLE_COROUTINE
        return
    if isinstance(fn, types.CoroutineType):
        fn.close()
        raise TypeError(f"{what}: pass the async function and its arguments, not a coroutine "
                        f"object: {what}(f, x), not {what}(f(x))")
    import inspect
    if not callable(fn):
        raise TypeError(f"{what}: {fn!r} is not callable")
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{what}: {getattr(fn, '__qualname__', fn)!r} is not an async function "
                        "(goroutines are `async def` functions)")


def _newgoid(pp: P) -> int:
    if pp.goidcache == pp.goidcacheend:
        s = sched
        s.lock.acquire()
        s.goidgen += GOID_CACHE_BATCH
        pp.goidcacheend = s.goidgen + 1
        s.lock.release()
        pp.goidcache = pp.goidcacheend - GOID_CACHE_BATCH
    goid = pp.goidcache
    pp.goidcache += 1
    return goid


def gfget(pp: P) -> Optional[G]:
    free = pp.gfree
    if not free:
        s = sched
        if not s.gfree:
            return None
        s.lock.acquire()
        n = min(GFREE_KEEP, len(s.gfree))
        if n:
            free.extend(s.gfree[-n:])
            del s.gfree[-n:]
        s.lock.release()
        if not free:
            return None
    return free.pop()


def gfput(pp: Optional[P], gp: G) -> None:
    if pp is None:
        s = sched
        s.lock.acquire()
        s.gfree.append(gp)
        s.lock.release()
        return
    free = pp.gfree
    free.append(gp)
    if len(free) >= GFREE_MAX:
        s = sched
        s.lock.acquire()
        n = len(free) - GFREE_KEEP
        s.gfree.extend(free[-n:])
        del free[-n:]
        s.lock.release()


def runqput_or_spill(s: Sched, pp: P, gp: G, next: bool) -> None:
    """runqput, moving the overflow batch (half the ring + 1) to the global queue."""
    batch = runqput(pp, gp, next)
    if batch:
        s.lock.acquire()
        s.globrunqputbatch(batch)
        s.lock.release()


def newproc(coro: Any, m: Optional[M]) -> G:
    """Make a G for coro and put it in the current P's runnext (or the global queue without a P)."""
    s = sched
    pp = m.p if m is not None else None
    if pp is not None and pp.status == _Pdead and m is not None and m.curg is not None:
        pp = waitp(m)                 # our P was retired: wait for one first
    gp = gfget(pp) if pp is not None else None
    if gp is None:
        gp = G()
        s.allgs.append(gp)
    if pp is not None:
        gp.goid = _newgoid(pp)
    else:
        s.lock.acquire()
        s.goidgen += 1
        gp.goid = s.goidgen
        s.lock.release()
    gp.coro = coro
    gp.status = _Grunnable
    tr = s.trace
    if tr is not None:
        tr.event("GoCreate", m, gp)
    if pp is not None and not s.global_only:
        runqput_or_spill(s, pp, gp, True)
    else:
        s.lock.acquire()
        s.globrunqput(gp)
        s.lock.release()
    if s.main_started and s.npidle and not s.nmspinning:
        wakep()
    return gp


def go(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Start `fn(*args, **kwargs)` as a new goroutine (Go's `go` statement).

    The new G goes to the current P's runnext.  `fn` must be an async function.
    """
    m = _tls.m
    if m is None or not sched.main_started:
        raise _nogo("gort.go")
    check_async(fn, "gort.go")
    coro = fn(*args, **kwargs)
    if type(coro) is not types.CoroutineType:
        raise TypeError(f"gort.go: {fn!r} returned {type(coro).__name__}, not a coroutine")
    newproc(coro, m)


# ---------------------------------------------------------------- ready / park

def ready(gp: G) -> None:
    """goready: make a parked G runnable in the caller's P's runnext, then wakep.

    runqput(pp, gp, next=True) is inlined: this runs on every channel hand-off.
    """
    if gp.status != _Gwaiting:
        raise RuntimeError(f"bad g->status in ready: G{gp.goid} is {_g.GSTATUS_NAMES.get(gp.status)}")
    gp.status = _Grunnable
    s = sched
    m = _tls.m
    if s.trace is not None:
        s.trace.event("GoUnblock", m, gp)
    pp = m.p if m is not None else None
    if pp is not None and pp.status == _Pdead and m is not None and m.curg is not None:
        pp = waitp(m)                 # our P was retired: wait for one first
    if pp is None or s.global_only:
        # no P of our own (sysmon, a syscall thread, a foreign thread): global queue
        s.lock.acquire()
        s.runq.append(gp)
        s.lock.release()
        wakep()
        return
    rn = pp.runnext
    if rn:
        try:
            old = rn.pop()
        except IndexError:          # a thief took it meanwhile
            old = None
        rn.append(gp)
        if old is not None:
            runqput_or_spill(s, pp, old, False)
    else:
        rn.append(gp)
    if s.npidle and not s.nmspinning:
        wakep()


def injectglist(gs: list[G]) -> None:
    """Make many Gs runnable (netpoll, timers without a P); global queue, one M per idle P."""
    if not gs:
        return
    s = sched
    for gp in gs:
        gp.status = _Grunnable
    s.lock.acquire()
    s.globrunqputbatch(gs)
    n = min(len(gs), s.npidle)
    s.lock.release()
    for _ in range(n):
        startm(None, False)
    wakep()


@types.coroutine
def gosched() -> Any:
    """Yield the P: the G goes to the global queue tail (Go's Gosched)."""
    if _tls.m is None:
        raise _nogo("gort.gosched")
    yield None


@types.coroutine
def park_forever(reason: str) -> Any:
    """Block for good (nil channel operations, select with no cases)."""
    m = _tls.m
    if m is None:
        raise _nogo("a blocking gort operation")
    m.curg.waitreason = reason
    yield _true
    raise RuntimeError("park_forever: woken")  # pragma: no cover


def _true() -> bool:
    return True


def preempt_point() -> Any:
    """`yield from` this in a gort operation that did not park, when the global
    flag says some G has a preemption request: if it is ours, yield to the M
    (Go's stackguard0 = stackPreempt check in a function prologue)."""
    m = _tls.m
    if m is not None and m.curg is not None and m.curg.preempt:
        yield None


# ---------------------------------------------------------------- Ps and Ms

def acquirep(m: M, pp: P) -> None:
    if pp.status != _Pidle:
        raise RuntimeError(f"wirep: invalid p state {pp.status} for P{pp.id}")
    pp.status = _Prunning
    pp.m = m
    m.p = pp
    tr = sched.trace
    if tr is not None:
        tr.event("ProcStart", m, None, pp)


def releasep(m: M) -> P:
    pp = m.p
    pp.m = None
    pp.status = _Pidle
    m.p = None
    tr = sched.trace
    if tr is not None:
        tr.event("ProcStop", m, None, pp)
    return pp


def wakep() -> None:
    """Start a spinning M if there is an idle P and nobody is spinning."""
    s = sched
    if s.nmspinning or not s.npidle or s.stopflag:
        return
    s.lock.acquire()
    if s.nmspinning or s.stopflag:
        s.lock.release()
        return
    pp = s.pidlegetSpinning()
    if pp is None:
        s.lock.release()
        return
    s.nmspinning += 1
    startm(pp, True, lockheld=True)


def startm(pp: Optional[P], spinning: bool, lockheld: bool = False) -> None:
    """Run some M on pp (an idle P when pp is None); make an M if none is idle."""
    s = sched
    if not lockheld:
        s.lock.acquire()
    if pp is None:
        if spinning:
            raise RuntimeError("startm: P required for spinning=True")
        pp = s.pidleget()
        if pp is None:
            s.lock.release()
            return
    nmp = s.mget()
    if nmp is None:
        try:
            mid = _mreserveid(s)
        except ThreadExhaustion as e:
            # the program stops (Go throws): leave pp where it is, it may hold Gs
            if spinning:
                s.nmspinning -= 1
            s.lock.release()
            fatal(e)
            return
        s.lock.release()
        newm(mid, pp, spinning)
        return
    s.nmwake += 1
    s.lock.release()
    nmp.spinning = spinning
    nmp.nextp = pp
    if s.trace is not None:
        s.trace.event("MWake", nmp, None, pp)
    nmp.park.wakeup()


def _mreserveid(s: Sched) -> int:
    if s.mcount >= MAXMCOUNT:
        raise ThreadExhaustion(f"runtime: program exceeds {MAXMCOUNT}-thread limit (thread exhaustion)")
    mid = s.mnext
    s.mnext += 1
    s.mcount += 1
    return mid


def newm(mid: int, pp: Optional[P], spinning: bool, fn: Optional[Callable[[M], None]] = None) -> M:
    s = sched
    m = M(mid)
    m.nextp = pp
    m.spinning = spinning
    m.rand = random.Random()
    s.allm.append(m)
    t = threading.Thread(target=mstart, args=(m, s, fn), name=f"gort-M{mid}", daemon=True)
    m.thread = t
    try:
        t.start()
    except RuntimeError as e:          # the OS refused a thread: the program stops
        s.lock.acquire()
        s.mcount -= 1
        if spinning:
            s.nmspinning -= 1
        s.lock.release()
        fatal(ThreadExhaustion(f"runtime: cannot create thread: {e}"))
    return m


def mstart(m: M, s: Sched, fn: Optional[Callable[[M], None]]) -> None:
    _tls.m = m
    m.ident = threading.get_ident()
    try:
        if fn is not None:         # mstartfn: sysmon and other system Ms
            fn(m)
            return
        if m.nextp is not None:
            pp, m.nextp = m.nextp, None
            acquirep(m, pp)
        schedule(m)
    except BaseException as e:     # a scheduler bug must stop the program, not vanish
        if not s.exiting:
            fatal(e)
    finally:
        mexit(m, s)


def mexit(m: M, s: Sched) -> None:
    s.lock.acquire()
    m.dead = True
    if m.issys:
        s.nmsys -= 1
    if m in s.midle:
        s.midle.remove(m)
        s.nmidle -= 1
    s.mcount -= 1
    s.nmfreed += 1
    pp = m.p
    if pp is not None and pp.status == _Pdead:   # retired by sysmon: only flush it
        s.lock.release()
        from .syscall import flush_retired
        flush_retired(m)
        s.lock.acquire()
        pp = None
    if pp is not None and not s.exiting:   # leaving with a P (lockedg exit): hand it off
        m.p = None
        pp.m = None
        pp.status = _Pidle
        s.lock.release()
        handoffp(pp)
    else:
        if not s.exiting:
            checkdead(s)
        s.lock.release()
    _tls.m = None


def stopm(m: M) -> None:
    """Park m on its note until startm hands it a P."""
    s = sched
    s.lock.acquire()
    if s.exiting:
        s.lock.release()
        return
    s.midle.append(m)
    s.nmidle += 1
    s.nmpark += 1
    if s.trace is not None:
        s.trace.event("MPark", m, None)
    checkdead(s)
    if s.exiting:
        if m in s.midle:
            s.midle.remove(m)
            s.nmidle -= 1
        s.lock.release()
        return
    s.lock.release()
    m.blocked = True
    if m is s.m0 or s.idle_m_exit <= 0:
        m.park.sleep()
    elif not m.park.sleep(s.idle_m_exit):
        # idle for long: leave, unless startm has just claimed us
        s.lock.acquire()
        if m in s.midle:
            s.midle.remove(m)
            s.nmidle -= 1
            m.exiting = True
            s.lock.release()
            m.blocked = False
            return
        s.lock.release()
        m.park.sleep()            # claimed: its wake-up is on the way
    m.blocked = False
    if s.exiting:
        return
    pp, m.nextp = m.nextp, None
    if pp is not None:
        acquirep(m, pp)


def handoffp(pp: P) -> None:
    """Give away a P whose M cannot use it (syscall retake, locked M, exiting M)."""
    s = sched
    if not pp.runqempty() or s.runq:
        startm(pp, False)
        return
    if pp.timers is not None and pp.timers.has_ready():
        startm(pp, False)
        return
    s.lock.acquire()
    if s.nmspinning + s.npidle == 0 and not s.stopflag:
        s.nmspinning += 1
        s.needspinning = 0
        startm(pp, True, lockheld=True)
        return
    if s.gcwaiting:
        pp.status = _Pgcstop
        s.stopwait -= 1
        if s.stopwait == 0:
            s.stopnote.wakeup()
        s.lock.release()
        return
    if s.runq:
        startm(pp, False, lockheld=True)
        return
    # the last running P and nobody polls the network (or sleeps until the next
    # timer): start an M that will
    if s.npidle == s.gomaxprocs - 1 and s.lastpoll != 0:
        startm(pp, False, lockheld=True)
        return
    pp.status = _Pidle
    s.pidleput(pp)
    s.lock.release()
    if pp.timers is not None and pp.timers.len:
        netpoll.wake_netpoller(pp.timers.wake_time())


# ---------------------------------------------------------------- the scheduler loop

def schedule(m: M) -> None:
    """The M's own loop (its g0): find a G, run it until it gives control back, repeat.

    findRunnable's fast path (timers, the 61st-tick global check, runnext, the
    local queue, the global queue) and execute are inlined: this loop is the
    hot path of every goroutine switch.  The rest of findRunnable (netpoll,
    stealing, giving up the P) is find_runnable().
    """
    s = sched
    FAIR = FAIRNESS_TICK
    grunq = s.runq                     # the global queue (same deque for the whole run)
    while True:
        pp = m.p
        if pp is None or pp.status == _Pdead:
            # first of all: a P that sysmon retired while we were blocked in
            # unmarked code is not ours any more (not even to stop for a STW)
            if pp is not None:
                from .syscall import flush_retired
                flush_retired(m)
            if m.exiting or s.exiting:    # idle for long, its locked G exited, or the end
                return
            if m.lockedg is None:
                reacquirep(m)
                continue
        if s.stopflag:
            if s.exiting:
                return
            if s.gcwaiting:
                gcstopm(m)
                continue
        if m.lockedg is not None:
            gp = stoplockedm(m)
            if gp is None:
                return
            pp = m.p
            inherit = False
        else:
            gp = None
            inherit = False
            if pp.timers.heap:
                _check_timers(m, pp)
            if pp.schedtick % FAIR == 0 and grunq:
                gp = s.globrunqget(pp, 1)
            if gp is None:
                rn = pp.runnext
                if rn:
                    try:
                        gp = rn.pop()
                        inherit = True
                    except IndexError:
                        pass
                if gp is None:
                    q = pp.runq
                    if q:
                        try:
                            gp = q.popleft()
                        except IndexError:
                            pass
                    if gp is None:
                        if grunq and s.global_only:
                            s.lock.acquire()
                            gp = s.globrunqget(pp, 1)
                            s.lock.release()
                        elif grunq:
                            # no sched.lock: takers pop atomically and tolerate a
                            # racing taker (see Sched.globrunqget)
                            if len(grunq) == 1:
                                try:
                                    gp = grunq.popleft()
                                except IndexError:
                                    pass
                            else:
                                gp = s.globrunqget(pp, 0)
                        if gp is None:
                            gp, inherit = find_runnable(m)
                            if gp is None:    # only when the program or this M ends
                                if s.exiting or m.exiting:
                                    return
                                continue
                            pp = m.p
            if m.spinning:
                resetspinning(m)
            if gp.lockedm is not None and gp.lockedm is not m:
                startlockedm(m, gp)
                continue
        # execute: a new time slice unless gp inherits the current one (runnext)
        if not inherit:
            pp.schedtick += 1
        tr = s.trace
        while True:
            m.curg = gp
            gp.status = _Grunning
            if gp.preempt:
                gp.preempt = False
            if tr is not None:
                tr.event("GoStart", m, gp)
            try:
                req = gp.coro.send(None)
            except StopIteration as e:
                goexit0(m, gp, e.value)
                break
            except BaseException as e:
                gopanic(m, gp, e)
                break
            if req is None:
                # Gosched / preemption: to the global queue tail
                gp.status = _Grunnable
                m.curg = None
                if tr is not None:
                    tr.event("GoStop", m, gp)
                # globrunqput without sched.lock: deque.append is atomic and only
                # takers (under the lock) remove; this M holds a P and looks at
                # the global queue itself, so no wake-up can be lost
                if s.global_only:
                    s.lock.acquire()
                    grunq.append(gp)
                    s.lock.release()
                else:
                    grunq.append(gp)
                if s.npidle and not s.nmspinning:
                    wakep()
                break
            t = type(req)
            if t is _MethodType or t is _FunctionType or t is _BuiltinMethodType:
                # gopark: mark waiting and detach first, only then run the unlock callback
                gp.status = _Gwaiting
                gp.waitsince = s.now
                m.curg = None
                if tr is not None:
                    tr.event("GoBlock", m, gp)
                if req() is False:
                    continue              # unlockf said no: keep running it, same slice
                break
            gp.status = _Grunnable
            m.curg = None
            if not req.trap(m, gp) or m.p is None:
                break                     # handed off, or the trap lost the P
        if m.exiting:                     # its locked G exited: the thread goes with it
            return


def waitp(m: M) -> Optional[P]:
    """A goroutine whose P sysmon retired calls into the runtime (go, a wake-up):
    it may not touch a P it does not own, so its thread waits for a P first.

    This is where such a goroutine is descheduled, as Go's asynchronous
    preemption would have done: its M sleeps until a P is released
    (pidleput hands it over), so no more than GOMAXPROCS Ms run goroutine code
    once they touch the runtime.  Returns the new P, or None when exiting.
    """
    from .syscall import flush_retired
    s = sched
    if m.p is not None:
        flush_retired(m)
    s.lock.acquire()
    pp = None if s.gcwaiting or s.exiting else s.pidleget()
    if pp is not None:
        acquirep(m, pp)
        s.lock.release()
        return pp
    if s.exiting:
        s.lock.release()
        return None
    m.nextp = None
    s.pwait.append(m)
    s.lock.release()
    m.blocked = True
    m.park.sleep()
    m.blocked = False
    pp, m.nextp = m.nextp, None
    if pp is None:                    # woken by the exit
        return None
    acquirep(m, pp)
    return pp


def reacquirep(m: M) -> None:
    """An M without a P (after a retired P): take an idle P, else park (exitsyscall0)."""
    s = sched
    s.lock.acquire()
    pp = None if s.gcwaiting else s.pidleget()
    if pp is not None:
        acquirep(m, pp)
        s.lock.release()
        return
    s.lock.release()
    stopm(m)


def goexit0(m: M, gp: G, value: Any) -> None:
    s = sched
    gp.status = _Gdead
    m.curg = None
    if s.trace is not None:
        s.trace.event("GoDestroy", m, gp)
    if gp is s.main_g:
        s.result = value
        initiate_exit()
        return
    gp.coro = None
    gp.param = None
    gp.waiting = None
    gp.waitreason = ""
    if gp.lockedm is not None:
        # Go: a goroutine that exits while locked takes its thread with it
        gp.lockedm = None
        m.lockedg = None
        m.lockedext = 0
        gfput(m.p, gp)
        if m is not s.m0:         # m0 is never exited (Go parks it; here it runs on)
            m.exiting = True
        return
    gfput(m.p, gp)


def gopanic(m: M, gp: G, e: BaseException) -> None:
    gp.status = _Gdead
    m.curg = None
    if gp.goid != 1 or gp is not sched.main_g:
        try:
            e.add_note(f"(raised in goroutine {gp.goid}, {getattr(gp.coro, '__qualname__', '?')})")
        except AttributeError:      # pragma: no cover - Python < 3.11
            pass
    fatal(e)


def fatal(e: BaseException) -> None:
    """Stop the program with e (an unrecovered panic, a deadlock, a runtime error)."""
    s = sched
    s.lock.acquire()
    if s.panic is None:
        s.panic = e
    s.lock.release()
    initiate_exit()


def initiate_exit(lockheld: bool = False) -> None:
    s = sched
    if not lockheld:
        s.lock.acquire()
    s.exiting = True
    s.stopflag = True
    idle = list(s.midle)
    s.midle.clear()
    s.nmidle = 0
    if not lockheld:
        s.lock.release()
    idle += s.pwait
    s.pwait.clear()
    for mp in idle:
        mp.park.wakeup()
    s.stopnote.wakeup()
    s.sysmonnote.wakeup()
    netpoll.netpoll_break()


def resetspinning(m: M) -> None:
    s = sched
    m.spinning = False
    s.lock.acquire()
    s.nmspinning -= 1
    s.lock.release()
    wakep()


def _become_spinning(m: M, s: Sched) -> None:
    """Lock held."""
    m.spinning = True
    s.nmspinning += 1
    s.needspinning = 0


def find_runnable(m: M) -> tuple[Optional[G], bool]:
    """Find a G to run, blocking until there is one (proc.go findRunnable, §3.2).

    Returns (None, False) when the program is exiting.
    """
    s = sched
    while True:  # top
        if s.stopflag:
            if s.exiting:
                return None, False
            if s.gcwaiting:
                gcstopm(m)
                continue
        pp = m.p
        now, polluntil = timers.check_p(m, pp)
        if pp.schedtick % FAIRNESS_TICK == 0 and s.runq:
            gp = s.globrunqget(pp, 1)
            if gp is not None:
                return gp, False
        gp, inherit = runqget(pp)
        if gp is not None:
            return gp, inherit
        if s.runq:
            if s.global_only:
                s.lock.acquire()
                gp = s.globrunqget(pp, 0)
                s.lock.release()
            else:
                gp = s.globrunqget(pp, 0)
            if gp is not None:
                return gp, False
        # non-blocking netpoll: only when no M is blocked in it
        if netpoll.any_waiters() and s.lastpoll != 0:
            gs = netpoll.netpoll(0)
            if gs:
                gp = gs.pop()
                injectglist(gs)
                gp.status = _Grunnable
                return gp, False
        # steal, with spinning Ms limited to half the busy Ps
        if not s.global_only and (m.spinning or 2 * s.nmspinning < s.gomaxprocs - s.npidle):
            if not m.spinning:
                s.lock.acquire()
                _become_spinning(m, s)
                s.lock.release()
            gp, newwork, tnow, w = steal_work(m, pp, now)
            if gp is not None:
                return gp, False
            if newwork:
                continue
            now = tnow
            if w and (polluntil == 0 or w < polluntil):
                polluntil = w
        # nothing: give up the P
        s.lock.acquire()
        if s.gcwaiting or s.exiting:
            s.lock.release()
            continue
        if s.runq:
            gp = s.globrunqget(pp, 0)
            s.lock.release()
            if gp is None:            # a lock-free taker emptied it meanwhile
                continue
            return gp, False
        if not m.spinning and s.needspinning:
            _become_spinning(m, s)
            s.lock.release()
            continue
        releasep(m)
        s.pidleput(pp)
        s.lock.release()
        was_spinning = m.spinning
        if m.spinning:
            # the delicate dance: stop spinning first, then look again everywhere
            m.spinning = False
            s.lock.acquire()
            s.nmspinning -= 1
            if s.runq:
                pp2 = s.pidlegetSpinning()
                if pp2 is not None:
                    acquirep(m, pp2)
                    _become_spinning(m, s)
                    gp = s.globrunqget(pp2, 0)
                    s.lock.release()
                    if gp is None:        # taken meanwhile: look again, with a P
                        continue
                    return gp, False
            s.lock.release()
            victim = None
            for p2 in s.allp:
                if p2.status != _Pidle and not p2.runqempty():
                    victim = p2
                    break
            if victim is not None:
                s.lock.acquire()
                pp2 = s.pidleget()
                if pp2 is not None:
                    acquirep(m, pp2)
                    _become_spinning(m, s)
                    s.lock.release()
                    continue
                s.lock.release()
            w = timers.check_timers_nop(s)
            if w and (polluntil == 0 or w < polluntil):
                polluntil = w
        # block in netpoll until the next timer (we become the one poller)
        if (netpoll.any_waiters() or polluntil) and netpoll.claim_poller():
            gp = netpoll.block_until(m, polluntil, was_spinning)
            if gp is not None:
                return gp, False
            if m.p is not None:
                continue
        elif polluntil:
            netpoll.break_if_later(polluntil)
        stopm(m)
        if s.exiting or m.exiting:
            return None, False
        if m.p is None:           # woken without a P (exit or stale wakeup): look again
            continue


def steal_work(m: M, pp: P, now: float) -> tuple[Optional[G], bool, float, float]:
    """4 passes over all Ps in random order; runnext and timers only on the last."""
    s = sched
    allp = s.allp
    n = len(allp)
    rnd = m.rand
    cop = s.steal_coprimes
    polluntil = 0.0
    for i in range(STEAL_TRIES):
        last = i == STEAL_TRIES - 1
        r = rnd.getrandbits(32)
        pos = r % n
        inc = cop[(r // n) % len(cop)]
        for _ in range(n):
            if s.stopflag:
                return None, True, now, polluntil
            p2 = allp[pos]
            pos = (pos + inc) % n
            if p2 is pp:
                continue
            if last and p2.timers is not None and p2.timers.len:
                now, w, ran = timers.steal_timers(m, pp, p2)
                if w and (polluntil == 0 or w < polluntil):
                    polluntil = w
                if ran:
                    gp, _ = runqget(pp)
                    if gp is not None:
                        return gp, False, now, polluntil
            if p2.status == _Pidle:
                continue
            gp = runqsteal(pp, p2, last)
            if gp is not None:
                s.nsteals += 1
                if s.trace is not None:
                    s.trace.event("Steal", m, gp, p2)
                return gp, False, now, polluntil
    return None, False, now, polluntil


# ---------------------------------------------------------------- LockOSThread (§7)

def startlockedm(m: M, gp: G) -> None:
    """gp is locked to another M: hand our P to it and stop."""
    s = sched
    mp = gp.lockedm
    pp = releasep(m)
    s.lock.acquire()
    s.nmidlelocked -= 1
    s.lock.release()
    mp.nextp = pp
    mp.park.wakeup()
    stopm(m)


def stoplockedm(m: M) -> Optional[G]:
    """m is locked to a G that is not running: give the P away, sleep until the G is handed to us."""
    s = sched
    gp = m.lockedg
    if m.p is not None:
        handoffp(releasep(m))
    s.lock.acquire()
    s.nmidlelocked += 1
    checkdead(s)
    s.lock.release()
    m.blocked = True
    m.park.sleep()
    m.blocked = False
    if s.exiting:
        return None
    pp, m.nextp = m.nextp, None
    acquirep(m, pp)
    if gp.status != _Grunnable:
        raise RuntimeError(f"stoplockedm: not runnable (G{gp.goid} status {gp.status})")
    return gp


# ---------------------------------------------------------------- checkdead (§6.5)

def checkdead(s: Sched) -> None:
    """Called with sched.lock held whenever the running-M count may drop to zero."""
    if s.exiting:
        return
    run = s.mcount - s.nmidle - s.nmidlelocked - s.nmsys
    if run > 0:
        return
    if run < 0:
        _fatal_locked(s, RuntimeError(
            f"checkdead: inconsistent counts mcount={s.mcount} nmidle={s.nmidle} "
            f"nmidlelocked={s.nmidlelocked} nmsys={s.nmsys}"))
        return
    waiting = 0
    for gp in s.allgs:
        st = gp.status
        if st == _Gwaiting:
            waiting += 1
        elif st == _Grunnable or st == _Grunning or st == _Gsyscall:
            # a runtime bug, never the user's: say where the G sits, for the report
            _fatal_locked(s, RuntimeError(f"checkdead: runnable g (G{gp.goid} status {st}); {_where(s, gp)}"))
            return
    if waiting == 0:
        _fatal_locked(s, Deadlock("no goroutines (main called runtime.Goexit) - deadlock!"))
        return
    for pp in s.allp:
        if pp.timers is not None and pp.timers.len:
            return
    dumps = [describe(gp) for gp in s.allgs if gp.status == _Gwaiting]
    _fatal_locked(s, Deadlock("all goroutines are asleep - deadlock!", dumps))


def _where(s: Sched, gp: G) -> str:
    qs = [f"P{pp.id}(status {pp.status}): runq={gp in pp.runq} runnext={gp in pp.runnext}"
          for pp in s.allp]
    ms = [f"M{x.id}(p={x.p.id if x.p else None} blocked={x.blocked})" for x in s.allm]
    return "; ".join(qs + [f"global={gp in s.runq}"] + ms)


def _fatal_locked(s: Sched, e: BaseException) -> None:
    if s.panic is None:
        s.panic = e
    initiate_exit(lockheld=True)


# ---------------------------------------------------------------- stop the world, procresize (§14)

def gcstopm(m: M) -> None:
    """Stop m's P for a pending stop-the-world, then park m."""
    s = sched
    if m.spinning:
        m.spinning = False
        s.lock.acquire()
        s.nmspinning -= 1
        s.lock.release()
    if m.p is not None and m.p.status == _Pdead:
        from .syscall import flush_retired
        flush_retired(m)              # retired by sysmon: not one of the Ps being counted
    if m.p is not None:
        pp = releasep(m)
        s.lock.acquire()
        pp.status = _Pgcstop
        s.stopwait -= 1
        if s.stopwait == 0:
            s.stopnote.wakeup()
        s.lock.release()
    stopm(m)


# ---------------------------------------------------------------- bootstrap and run (§2)

def run(main: Callable[..., Any], *args: Any, procs: Optional[int] = None) -> Any:
    global sched
    check_async(main, "gort.run")
    if procs is not None:
        procs = procresize._check_procs(procs, "procs")
        if procs < 1:
            raise ValueError(f"procs must be >= 1, got {procs}")
    if _tls.m is not None:
        raise RuntimeError("gort.run called from inside a running gort program")
    if not _run_lock.acquire(False):
        raise RuntimeError("gort.run is already running in this process (another thread)")
    try:
        return _run(main, args, procs)
    finally:
        _run_lock.release()


def _run(main: Callable[..., Any], args: tuple, procs: Optional[int]) -> Any:
    global sched
    from . import sysmon
    mode = os.environ.get("GORT_SCHED", "gmp")
    if mode not in ("gmp", "global"):
        raise ValueError(f"GORT_SCHED={mode!r}: use 'gmp' (default) or 'global' (Go 1.0's scheduler)")
    s = sched = Sched(lockstats=os.environ.get("GORT_LOCKSTATS", "") not in ("", "0"),
                      global_only=mode == "global")
    dbg = log.isEnabledFor(logging.DEBUG)
    s.idle_m_exit = _env_float("GORT_IDLE_M_EXIT", IDLE_M_EXIT)
    # schedinit: ncpu, GOMAXPROCS, the Ps; the calling thread becomes m0
    ncpu = os.cpu_count() or 1
    nprocs = procs or procresize._default_procs or procresize.default_procs()
    m0 = M(_mreserveid(s))
    m0.rand = random.Random()
    m0.thread = threading.current_thread()
    m0.ident = threading.get_ident()
    s.allm.append(m0)
    s.m0 = m0
    _tls.m = m0
    netpoll.init(s)
    s.lock.acquire()
    procresize.procresize(m0, nprocs)
    s.lock.release()
    if dbg:
        log.debug("schedinit: ncpu=%d gomaxprocs=%d maxmcount=%d gil=%s", ncpu, nprocs,
                  MAXMCOUNT, gil_enabled())
    try:
        coro = main(*args)
        if type(coro) is not types.CoroutineType:
            raise TypeError(f"gort.run: {main!r} returned {type(coro).__name__}, not a coroutine")
        s.main_g = newproc(coro, m0)
        if dbg:
            log.debug("newproc: main goroutine G%d in P0.runnext", s.main_g.goid)
        s.main_started = True
        sysmon.schedtrace_ms = int(_env_float("GORT_SCHEDTRACE", 0))
        sysmon.start(s)
        if dbg:
            log.debug("mstart: m0 on thread %s; schedule()", threading.current_thread().name)
        schedule(m0)
    except BaseException as e:     # KeyboardInterrupt on m0, or a scheduler failure
        if s.panic is None:
            s.panic = e
    finally:
        _shutdown(s, m0)
    if s.panic is not None:
        err = s.panic
        s.panic = None
        raise err
    return s.result


def _shutdown(s: Sched, m0: M) -> None:
    initiate_exit()
    me = threading.current_thread()
    deadline = time.monotonic() + 2.0
    for mp in list(s.allm):
        t = mp.thread
        if mp is m0 or t is None or t is me:
            continue
        mp.park.wakeup()
        t.join(max(0.0, deadline - time.monotonic()))
        # an M still inside a user's blocking call is left as a daemon thread;
        # it belongs to this finished run and leaves when the call returns.
    m0.p = None
    _tls.m = None
    netpoll.close(s)
    # abandoned goroutines: close their coroutines (runs their finally blocks, as
    # garbage collection would, but deterministically and never mid-step)
    for gp in s.allgs:
        c = gp.coro
        if c is not None and gp.status != _Grunning and gp.status != _Gsyscall:
            gp.coro = None
            try:
                c.close()
            except BaseException:
                pass


def _env_float(name: str, default: float) -> float:
    v = os.environ.get(name)
    if not v:
        return default
    try:
        return float(v)
    except ValueError:
        raise ValueError(f"{name}={v!r} is not a number") from None


def gil_enabled() -> bool:
    f = getattr(sys, "_is_gil_enabled", None)
    return True if f is None else bool(f())


def num_goroutine() -> int:
    s = sched
    if not s.main_started:
        return 0
    n = 0
    for gp in list(s.allgs):
        if gp.status != _Gdead and gp.status != _g._Gidle:
            n += 1
    return n


def goid() -> int:
    m = _tls.m
    if m is None or m.curg is None:
        raise _nogo("gort.goid")
    return m.curg.goid
