"""proc: the scheduler (proc.go).

schedule / find_runnable / steal_work, newproc, gopark / goready, the
spinning-M protocol (wakep, startm, stopm, handoffp), and the hand-back of a P
that sysmon retired.  The program's lifetime (bootstrap, exit, checkdead) is
in program.py; stop-the-world and procresize in procresize.py.

Every M belongs to one program: `m.sched`.  Runtime code reaches the
scheduler state through the M it runs on (or, on a thread that is no M, the
running program, `proc.sched`), so a thread left over from an ended program
never touches a later one.

Thread-safety rules (no reliance on the GIL):
- `sched.*` fields are guarded by `sched.lock`; a few are read without it as
  hints (queue lengths, nmspinning, npidle), as Go reads its atomics, and every
  decision taken on a hint is re-checked under the lock.
- A P's queues follow p.py's single-producer rule; its other fields belong to
  the M that holds the P.  A P's status changes under sched.lock (Go's CAS on
  p.status).  sysmon may retire the P of an M stuck in a goroutine (status
  `_Pdead`, see sysmon.retire_p): that M notices at its next status change or
  queue put, which all re-check the status, and hands back what it holds
  (flush_retired).
- A G's fields belong to the M running it, or, once parked, to whoever dequeued
  it from a wait queue under that queue's lock (the gopark unlock callback
  makes that hand-over race-free).
"""
from __future__ import annotations

import functools
import signal
import threading
import types
from sys import _getframe
from typing import Any, Awaitable, Callable, Generator, Optional, ParamSpec

from . import g as _g
from .g import G, _Gdead, _Grunnable, _Grunning, _Gwaiting
from .m import M
from .p import (GFREE_KEEP, GFREE_MAX, GOID_CACHE_BATCH, P, _Pdead, _Pgcstop,
                _Pidle, _Prunning, runqget, runqput, runqsteal)
from .accel import C
from .sched import MAXMCOUNT, Sched
from . import program, timers
from .debug import awaitable
from .timers import check_p as _check_timers

STEAL_TRIES = 4          # stealTries
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
    firing: Any = None            # the timer whose function this thread runs (its mu held)


_tls = _TLS()
_PS = ParamSpec("_PS")
sched = Sched()                      # the running (or last) program; replaced by every run

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


def cursched() -> Sched:
    """The program of the calling thread: its M's, else the running one."""
    m = _tls.m
    return m.sched if m is not None else sched


# ---------------------------------------------------------------- newproc

def is_async(fn: Any) -> bool:
    """fn returns something to await: an async function, a gort operation
    (`ch.send`, `wg.wait`, `gort.sleep`: generator-based awaitables), or a
    partial or bound method of one."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_flags & 0x180:   # CO_COROUTINE | CO_ITERABLE_COROUTINE
        return True
    if C is not None and C.is_op(fn):                # a C operation (ch.send, gort.gosched...)
        return True
    if getattr(fn, "_gort_awaitable", False):       # a gort operation wrapped by the debug checks
        return True
    import inspect
    return inspect.iscoroutinefunction(fn)


def check_async(fn: Any, what: str) -> None:
    if is_async(fn):
        return
    if isinstance(fn, types.CoroutineType):
        fn.close()
        raise TypeError(f"{what}: pass the async function and its arguments, not a coroutine "
                        f"object: {what}(f, x), not {what}(f(x))")
    if not callable(fn):
        raise TypeError(f"{what}: {fn!r} is not callable")
    raise TypeError(f"{what}: {getattr(fn, '__qualname__', fn)!r} is not an async function "
                    "(goroutines are `async def` functions, or functions returning a gort awaitable)")


async def _drive(aw: Any) -> Any:
    return await aw


def as_coroutine(r: Any, fn: Any, what: str) -> Any:
    """A coroutine for a goroutine's body from what fn returned: itself, or a
    coroutine awaiting it (a gort operation such as `gort.go(ch.send, v)`)."""
    if type(r) is types.CoroutineType:
        return r
    if hasattr(r, "__await__") or (type(r) is types.GeneratorType and r.gi_code.co_flags & 0x100):
        return _drive(r)
    raise TypeError(f"{what}: {getattr(fn, '__qualname__', fn)!r} returned "
                    f"{type(r).__name__}, not an awaitable")


async def _call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    r = fn(*args, **kwargs)
    if hasattr(r, "__await__") or (type(r) is types.GeneratorType and r.gi_code.co_flags & 0x100):
        r = await r
    return r


def callback_coroutine(fn: Any, args: tuple[Any, ...], what: str,
                       kwargs: Optional[dict[str, Any]] = None) -> Any:
    """A goroutine body for a callback (after_func, context.after_func...): an
    async function, a function returning a gort awaitable, or a plain function,
    which then runs in its own goroutine (as Go's AfterFunc runs f)."""
    if isinstance(fn, types.CoroutineType):
        check_async(fn, what)             # raises the "pass the function" error
    if not callable(fn):
        raise TypeError(f"{what}: {fn!r} is not callable")
    return _call(fn, args, kwargs or {})


def _newgoid(s: Sched, pp: Optional[P]) -> int:
    if pp is None:
        s.lock.acquire()
        s.goidgen += 1
        goid = s.goidgen
        s.lock.release()
        return goid
    if pp.goidcache == pp.goidcacheend:
        s.lock.acquire()
        s.goidgen += GOID_CACHE_BATCH
        pp.goidcacheend = s.goidgen + 1
        s.lock.release()
        pp.goidcache = pp.goidcacheend - GOID_CACHE_BATCH
    goid = pp.goidcache
    pp.goidcache += 1
    return goid


def gfget(s: Sched, pp: P) -> Optional[G]:
    free = pp.gfree
    if not free:
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


def gfput(s: Sched, pp: Optional[P], gp: G) -> None:
    if pp is None or pp.status == _Pdead:
        s.lock.acquire()
        s.gfree.append(gp)
        s.lock.release()
        return
    free = pp.gfree
    free.append(gp)
    if len(free) >= GFREE_MAX:
        s.lock.acquire()
        n = len(free) - GFREE_KEEP
        s.gfree.extend(free[-n:])
        del free[-n:]
        s.lock.release()


def runqput_or_spill(s: Sched, pp: P, gp: G, next: bool) -> None:
    """runqput, moving the overflow batch (half the ring + 1) to the global queue."""
    batch = runqput(pp, gp, next)
    if batch:
        _runqspill(s, batch)


def _runqspill(s: Sched, batch: list[G]) -> None:
    """runqputslow's second half: the batch to the global queue under sched.lock."""
    s.lock.acquire()
    s.globrunqputbatch(batch)
    s.lock.release()


def globrunqput_wake(s: Sched, gp: G) -> None:
    """A P-less caller makes gp runnable (Go's injectglist without a P): the
    global queue, then wakep, under one hold of sched.lock.  A busy M takes it
    within 61 schedticks even when no P is idle.  One hold, because the caller
    may be no M at all (a foreign thread): between the put and the wake-up
    checkdead would see a runnable G and no running M."""
    s.lock.acquire()
    s.runq.append(gp)
    if s.main_started and s.npidle and not s.nmspinning and not s.stopflag:
        pp = s.pidlegetSpinning()
        if pp is not None:
            s.nmspinning += 1
            startm(s, pp, True, lockheld=True)    # releases the lock
            return
    s.lock.release()


def _mine(m: Optional[M]) -> Optional[P]:
    """The P the calling goroutine may put Gs on: its M's, unless sysmon retired it."""
    if m is None:
        return None
    pp: Optional[P] = m.p
    if pp is not None and pp.status == _Pdead:
        flush_retired(m)
        return None
    return pp


def newproc(coro: Any, m: Optional[M], s: Optional[Sched] = None) -> G:
    """Make a G for coro and put it in the current P's runnext (or the global queue without a P)."""
    if s is None:
        s = m.sched if m is not None else sched
    pp = _mine(m)
    gp = gfget(s, pp) if pp is not None else None
    if gp is None:
        gp = G()
        s.allgs.append(gp)
    gp.goid = _newgoid(s, pp)
    gp.coro = coro
    gp.status = _Grunnable
    f = _getframe(2)                # the creation site (Go's gopc): code and offset, read by dumps only
    gp.gopc = f.f_code
    gp.gopcpc = f.f_lasti
    cg = gp.parent = m.curg if m is not None else None
    gp.parentgoid = cg.goid if cg is not None else 0
    tr = s.trace
    if tr is not None:
        tr.gocreate(m, gp)
    if pp is None or s.global_only:
        globrunqput_wake(s, gp)
        return gp
    runqput_or_spill(s, pp, gp, True)
    if pp.status == _Pdead:         # retired between the check and the put
        flush_retired(m)            # type: ignore[arg-type]
    if s.main_started and s.npidle and not s.nmspinning:
        wakep(s)
    return gp


def go(fn: Callable[_PS, Awaitable[Any]], *args: _PS.args, **kwargs: _PS.kwargs) -> None:
    """Start `fn(*args, **kwargs)` as a new goroutine (Go's `go` statement).

    The new G goes to the current P's runnext.  `fn` is an async function, or
    any function returning a gort awaitable (`gort.go(ch.send, v)`,
    `gort.go(wg.wait)`, `gort.go(gort.sleep, 1)`).
    """
    m = _tls.m
    if m is None or not m.sched.main_started:
        raise _nogo("gort.go")
    if m.sched.exiting:
        raise RuntimeError("gort.go: this goroutine's program has ended (gort.run returned)")
    check_async(fn, "gort.go")
    coro = fn(*args, **kwargs)
    if type(coro) is not types.CoroutineType:
        coro = as_coroutine(coro, fn, "gort.go")
    newproc(coro, m)


# ---------------------------------------------------------------- ready / park

def ready(gp: G, s: Optional[Sched] = None) -> None:
    """goready: make a parked G runnable in the caller's P's runnext, then wakep.

    runqput(pp, gp, next=True) is inlined: this runs on every channel hand-off.
    A caller without a P of its own (sysmon, a thread in a syscall or stuck in
    unmarked code, a foreign thread) puts gp on the global queue instead.  A
    thread that is no M passes gp's program as s when it knows it (else the
    running program is assumed).
    """
    if gp.status != _Gwaiting:
        raise RuntimeError(f"bad g->status in ready: G{gp.goid} is {_g.GSTATUS_NAMES.get(gp.status)}")
    gp.status = _Grunnable
    m = _tls.m
    if m is None:
        if s is None:
            s = sched
        pp = None
    else:
        s = m.sched
        pp = m.p
        if pp is not None and pp.status == _Pdead:
            flush_retired(m)
            pp = None
    if s.trace is not None:
        s.trace.event("GoUnblock", m, gp)
    if pp is None or s.global_only:
        globrunqput_wake(s, gp)
        return
    if pp.preempt and m.curg is None:     # type: ignore[union-attr]
        # readied by the scheduler itself (a timer run between goroutines) after
        # the time slice ran out: the local queue's tail.  As in Go a timer
        # wake-up otherwise goes to runnext (a sleeper runs at once); but a fast
        # ticker then refills runnext at every round, the slice never ends
        # (runnext inherits it) and the Gs kicked to the queue never run (seen:
        # 10 readers of a 1 ns Ticker, 25 s).  So once sysmon says the slice is
        # over, the queue gets its turn; the next slice starts with it.
        runqput_or_spill(s, pp, gp, False)
        if pp.status == _Pdead:
            flush_retired(m)        # type: ignore[arg-type]
        if s.npidle and not s.nmspinning:
            wakep(s)
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
    if pp.status == _Pdead:         # retired between the check and the put
        flush_retired(m)            # type: ignore[arg-type]
    if s.npidle and not s.nmspinning:
        wakep(s)


def injectglist(s: Sched, gs: list[G]) -> None:
    """Make many Gs runnable (netpoll, timers without a P); global queue, one M per idle P."""
    if not gs:
        return
    for gp in gs:
        gp.status = _Grunnable
    s.lock.acquire()
    s.globrunqputbatch(gs)
    n = min(len(gs), s.npidle)
    s.lock.release()
    for _ in range(n):
        startm(s, None, False)
    wakep(s)


class _Yield:
    """What a goroutine yields to its M to give up the P (Gosched, preemption).

    A sentinel, not None: asyncio's sleep(0) yields None, and it must not pass
    for a gort yield (see foreign_await)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<gort yield>"


YIELD = _Yield()


@awaitable
@types.coroutine
def gosched() -> Generator[Any, Any, None]:
    """Yield the P: the G goes to the global queue tail (Go's Gosched)."""
    if _tls.m is None:
        raise _nogo("gort.gosched")
    yield YIELD


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
        yield YIELD


# ---------------------------------------------------------------- Ps and Ms

def acquirep(m: M, pp: P) -> None:
    # Go's wirep checks: a lost P or a P held twice strands its Gs, so fail loudly
    if m.p is not None:
        raise RuntimeError(f"wirep: already in go (M{m.id} holds P{m.p.id}, status {m.p.status}; "
                           f"acquiring P{pp.id})")
    if pp.status != _Pidle or (pp.m is not None and pp.m is not m):
        raise RuntimeError(f"wirep: invalid p state {pp.status} for P{pp.id}")
    pp.status = _Prunning
    pp.m = m
    m.p = pp
    tr = m.sched.trace
    if tr is not None:
        tr.event("ProcStart", m, None, pp)


def releasep(m: M) -> P:
    pp: P = m.p
    if pp.m is not m or pp.status != _Prunning:
        raise RuntimeError(f"releasep: invalid p state (P{pp.id} status {pp.status}, "
                           f"held by {getattr(pp.m, 'id', None)}, released by M{m.id})")
    pp.m = None
    pp.status = _Pidle
    m.p = None
    tr = m.sched.trace
    if tr is not None:
        tr.event("ProcStop", m, None, pp)
    return pp


def flush_retired(m: M) -> None:
    """m finds its P retired by sysmon (or a stop-the-world): it is not m's any
    more.  Hand its leftovers (Gs put there since, free Gs, timers) to everyone
    and drop it; m goes on without a P, like a thread in a system call."""
    s = m.sched
    pp = m.p
    m.p = None
    gs = []
    while True:
        gp, _ = runqget(pp)
        if gp is None:
            break
        gs.append(gp)
    s.lock.acquire()
    s.globrunqputbatch(gs)
    s.gfree.extend(pp.gfree)
    pp.gfree.clear()
    s.lock.release()
    ts = pp.timers
    if ts is not None:
        # always: an empty heap is marked moved too (a periodic timer its run()
        # holds right now re-heaps on dst, see Timers._forward)
        had = bool(ts.heap)
        dst = s.allp[0]
        timers.move_timers(pp, dst)
        if had:
            s.poller.wake(dst.timers.wake_time())   # nobody may be sleeping until them
    if gs:
        wakep(s)


def wakep(s: Sched) -> None:
    """Start a spinning M if there is an idle P and nobody is spinning."""
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
    startm(s, pp, True, lockheld=True)


def startm(s: Sched, pp: Optional[P], spinning: bool, lockheld: bool = False) -> None:
    """Run some M on pp (an idle P when pp is None); make an M if none is idle."""
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
            program.fatal(s, e)
            return
        s.lock.release()
        newm(s, mid, pp, spinning)
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


def newm(s: Sched, mid: int, pp: Optional[P], spinning: bool,
         fn: Optional[Callable[[M], None]] = None, m: Optional[M] = None) -> M:
    """Start an OS thread for M mid (a new M, or m when given) that runs fn or schedule."""
    if m is None:
        m = M(mid, s)
    m.nextp = pp
    m.spinning = spinning
    s.allm.append(m)
    # daemon: a thread stuck in a user's blocking call must not keep the process alive
    t = threading.Thread(target=mstart, args=(m, fn), name=f"gort-M{mid}", daemon=True)
    m.thread = t
    try:
        t.start()
    except RuntimeError as e:          # the OS refused a thread: the program stops
        s.lock.acquire()
        s.mcount -= 1
        if spinning:
            s.nmspinning -= 1
        s.lock.release()
        program.fatal(s, ThreadExhaustion(f"runtime: cannot create thread: {e}"))
    return m


# Signals a program handles (Ctrl-C, termination, the dump signal) are taken by
# the thread that called gort.run, never by an M: the kernel gives a
# process-directed signal to any thread that does not block it, and on 3.13t
# one taken by a busy thread is sometimes never handled (seen: SIGINT lost in
# about 1 run in 10 with a goroutine spinning; a plain threading program does
# the same).  Python runs its handlers in the main thread anyway.
_BLOCKED = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP") if hasattr(signal, n)}


def mstart(m: M, fn: Optional[Callable[[M], None]]) -> None:
    s = m.sched
    _tls.m = m
    if C is not None:
        C.set_m(m)                 # the C twins' getg().m
    m.ident = threading.get_ident()
    if _BLOCKED:
        signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
    if s.trace is not None:
        s.trace.event("MStart", m, None)
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
            program.fatal(s, e)
    finally:
        mexit(m)


def mexit(m: M) -> None:
    s = m.sched
    if s.trace is not None:
        s.trace.event("MStop", m, None)
    if m.p is not None and m.p.status == _Pdead:   # retired: only flush it
        flush_retired(m)
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
    if pp is not None and not s.exiting:   # leaving with a P (lockedg exit): hand it off
        m.p = None
        pp.m = None
        pp.status = _Pidle
        s.lock.release()
        handoffp(s, pp)
    else:
        if not s.exiting:
            program.checkdead(s)
        s.lock.release()
    _tls.m = None
    if C is not None:
        C.set_m(None)


def stopm(m: M) -> None:
    """Park m on its note until startm hands it a P."""
    s = m.sched
    s.lock.acquire()
    if s.exiting:
        s.lock.release()
        return
    s.midle.append(m)
    s.nmidle += 1
    s.nmpark += 1
    if s.trace is not None:
        s.trace.event("MPark", m, None)
    program.checkdead(s)
    if s.exiting:
        if m in s.midle:
            s.midle.remove(m)
            s.nmidle -= 1
        s.lock.release()
        return
    s.lock.release()
    m.blocked = True
    if s.idle_m_exit <= 0:
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


def handoffp(s: Sched, pp: P) -> None:
    """Give away a P whose M cannot use it (syscall retake, locked M, exiting M)."""
    if not pp.runqempty() or s.runq:
        startm(s, pp, False)
        return
    if pp.timers is not None and pp.timers.has_ready():
        startm(s, pp, False)
        return
    s.lock.acquire()
    if s.nmspinning + s.npidle == 0 and not s.stopflag:
        s.nmspinning += 1
        s.needspinning = 0
        startm(s, pp, True, lockheld=True)
        return
    if s.gcwaiting:
        pp.status = _Pgcstop
        s.stopwait -= 1
        if s.stopwait == 0:
            s.stopnote.wakeup()
        s.lock.release()
        return
    if s.runq:
        startm(s, pp, False, lockheld=True)
        return
    # the last running P and nobody polls the network (or sleeps until the next
    # timer): start an M that will
    if s.npidle == s.gomaxprocs - 1 and s.lastpoll != 0:
        startm(s, pp, False, lockheld=True)
        return
    pp.status = _Pidle
    s.pidleput(pp)
    s.lock.release()
    if pp.timers is not None and pp.timers.len:
        s.poller.wake(pp.timers.wake_time())


def releasep_locked(m: M) -> Optional[P]:
    """releasep for an M about to give its P away (sched.lock held).  None when
    sysmon retired the P meanwhile: the caller releases the lock and flushes."""
    pp = m.p
    if pp.status == _Pdead:
        return None
    return releasep(m)


# ---------------------------------------------------------------- the scheduler loop

def schedule(m: M) -> None:
    """The M's own loop (its g0): find a G, run it until it gives control back, repeat.

    findRunnable's fast path (timers, the 61st-tick global check, runnext, the
    local queue, the global queue) and execute are inlined: this loop is the
    hot path of every goroutine switch.  The rest of findRunnable (netpoll,
    stealing, giving up the P) is find_runnable().
    """
    s = m.sched
    FAIR = FAIRNESS_TICK
    YLD = YIELD
    grunq = s.runq                     # the global queue (same deque for the whole run)
    while True:
        pp = m.p
        if pp is None or pp.status == _Pdead:
            # first of all: a P that sysmon retired while we were blocked in
            # unmarked code is not ours any more (not even to stop for a STW)
            if pp is not None:
                flush_retired(m)
            if m.exiting or s.exiting:    # idle for long, its locked G exited, or the end
                program.drop_abandoned(m)
                return
            if m.lockedg is None:
                reacquirep(m)
                continue
        if s.stopflag:
            if s.exiting:
                program.drop_abandoned(m)
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
                if m.p is not pp:
                    # a timer's callback (ready, newproc) found pp retired and
                    # flushed it: pp is nobody's now, a G put there would be lost
                    continue
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
                            if gp is None:    # the program or this M ends, or our P was retired
                                if m.spinning:
                                    # P-less now: a spinner that leaves without looking
                                    # again must not keep counting (wakep would skip)
                                    resetspinning(m)
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
            if pp.preempt:
                pp.preempt = False
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
                program.gopanic(m, gp, e)
                break
            if req is YLD:
                # Gosched / preemption: to the global queue tail
                gp.status = _Grunnable
                m.curg = None
                if tr is not None:
                    tr.event("GoStop", m, gp, None, "preempted" if gp.preempt else "Gosched")
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
                    wakep(s)
                break
            t = type(req)
            if t is _MethodType or t is _FunctionType or t is _BuiltinMethodType:
                # gopark: mark waiting and detach first, only then run the unlock callback
                gp.status = _Gwaiting
                gp.waitsince = s.now
                m.curg = None
                if tr is not None:
                    tr.event("GoBlock", m, gp, None, gp.waitreason)
                if req() is False:
                    continue              # unlockf said no: keep running it, same slice
                break
            gp.status = _Grunnable
            m.curg = None
            if not isinstance(req, Trap):
                req = ForeignAwait(req)   # something gort does not drive: a TypeError at its await
            if not req.trap(m, gp) or m.p is None:
                break                     # handed off, or the trap lost the P
        if m.exiting:                     # its locked G exited: the thread goes with it
            return


_FOREIGN_LIBS = ("asyncio", "trio", "curio", "anyio", "gevent", "tornado", "twisted", "concurrent")


def _awaited(gp: G, req: Any) -> str:
    """What gp's innermost user frame is awaiting, for the error message."""
    chain: list[Any] = []
    c = gp.coro
    while c is not None and len(chain) < 64:
        chain.append(c)
        c = getattr(c, "cr_await", None) or getattr(c, "gi_yieldfrom", None)
    for i in range(len(chain) - 1, -1, -1):
        code = getattr(chain[i], "cr_code", None) or getattr(chain[i], "gi_code", None)
        fn = code.co_filename if code is not None else ""
        lib = next((x for x in _FOREIGN_LIBS if f"/{x}/" in fn or fn.endswith(f"/{x}.py")), None)
        if lib is None and i + 1 < len(chain):
            obj = chain[i + 1]
            ocode = getattr(obj, "cr_code", None) or getattr(obj, "gi_code", None)
            name = getattr(obj, "__qualname__", type(obj).__name__)
            if ocode is not None:
                olib = next((x for x in _FOREIGN_LIBS if f"/{x}/" in ocode.co_filename), None)
                if olib:
                    name = f"{olib}.{name}"
            return f"{name} ({type(obj).__name__})"
    return f"an awaitable that yielded {req!r}"


class ForeignAwait(Trap):
    """gp awaited something gort does not drive (asyncio.sleep, a trio call, a
    custom __await__): it yielded a value no gort operation yields.  Raise a
    TypeError in the goroutine, at its await, and go on with whatever it does
    next (the slow twin of schedule()'s dispatch: this is never hot)."""

    __slots__ = ("req",)

    def __init__(self, req: Any) -> None:
        self.req = req

    def trap(self, m: M, gp: G) -> bool:
        s = m.sched
        req = self.req
        for _ in range(100):
            err = TypeError(
                f"goroutine {gp.goid} awaited {_awaited(gp, req)}, which gort cannot run: a "
                "goroutine can await only gort's own operations (channels, select, sleep, "
                "sync, syscall...).  Run asyncio code with `await gort.aio.run(coro)`; call "
                "blocking code with `await gort.syscall(fn, *args)`.")
            m.curg = gp
            gp.status = _Grunning
            try:
                req = gp.coro.throw(err)
            except StopIteration as e:
                goexit0(m, gp, e.value)
                return False
            except BaseException as e:
                program.gopanic(m, gp, e)
                return False
            m.curg = None
            if req is YIELD:
                gp.status = _Grunnable
                s.runq.append(gp)
                wakep(s)
                return False
            t = type(req)
            if t is _MethodType or t is _FunctionType or t is _BuiltinMethodType or t in _CParkTokens:
                gp.status = _Gwaiting
                gp.waitsince = s.now
                return req() is False
            gp.status = _Grunnable
            if isinstance(req, Trap):
                return req.trap(m, gp)
        program.gopanic(m, gp, RuntimeError(f"goroutine {gp.goid} keeps awaiting foreign awaitables"))
        return False


def reacquirep(m: M) -> None:
    """An M without a P (after a retired P): take an idle P, else park (exitsyscall0)."""
    s = m.sched
    s.lock.acquire()
    pp = None if s.gcwaiting else s.pidleget()
    if pp is not None:
        acquirep(m, pp)
        s.lock.release()
        return
    s.lock.release()
    stopm(m)


def goexit0(m: M, gp: G, value: Any) -> None:
    s = m.sched
    gp.status = _Gdead
    m.curg = None
    if s.trace is not None:
        s.trace.event("GoDestroy", m, gp)
    if gp is s.main_g:
        s.result = value
        program.initiate_exit(s)
        return
    gp.coro = None
    gp.param = None
    gp.waiting = None
    gp.waitreason = ""
    if gp.lockedm is not None:
        _goexit_locked(m, gp)
        return
    gfput(s, m.p, gp)


def _goexit_locked(m: M, gp: G) -> None:
    """Go: a goroutine that exits while locked takes its thread with it."""
    gp.lockedm = None
    m.lockedg = None
    m.lockedext = 0
    gfput(m.sched, m.p, gp)
    m.exiting = True


def resetspinning(m: M) -> None:
    s = m.sched
    m.spinning = False
    s.lock.acquire()
    s.nmspinning -= 1
    s.lock.release()
    wakep(s)


def _become_spinning(m: M, s: Sched) -> None:
    """Lock held."""
    m.spinning = True
    s.nmspinning += 1
    s.needspinning = 0
    if s.trace is not None:
        s.trace.event("MSpin", m, None)


def find_runnable(m: M) -> tuple[Optional[G], bool]:
    """Find a G to run, blocking until there is one (proc.go findRunnable).

    Returns (None, False) when the program or this M is exiting, or when m's P
    was retired (the caller's loop deals with both).
    """
    s = m.sched
    poller = s.poller
    while True:  # top
        if s.stopflag:
            if s.exiting:
                return None, False
            if s.gcwaiting:
                gcstopm(m)
                continue
        pp = m.p
        if pp is None or pp.status == _Pdead:
            return None, False
        now, polluntil = timers.check_p(m, pp)
        if m.p is not pp:             # flushed by a timer's callback (see schedule)
            return None, False
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
        if poller.waiters and s.lastpoll != 0:
            gs = poller.netpoll(0)
            if gs:
                gp = gs.pop()
                injectglist(s, gs)
                gp.status = _Grunnable
                return gp, False
        # steal, with spinning Ms limited to half the busy Ps
        if not s.global_only and (m.spinning or 2 * s.nmspinning < s.gomaxprocs - s.npidle):
            if not m.spinning:
                s.lock.acquire()
                _become_spinning(m, s)
                s.lock.release()
            gp, newwork, tnow, w = steal_work(m, pp, now)
            if m.p is not pp:         # flushed by a timer's callback (see schedule)
                return None, False
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
        if releasep_locked(m) is None:
            s.lock.release()
            return None, False        # retired meanwhile: schedule() flushes it
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
        if (poller.waiters or polluntil) and poller.claim():
            gp = poller.block_until(m, polluntil, was_spinning)
            if gp is not None:
                return gp, False
            if m.p is not None:
                continue
        elif polluntil:
            poller.break_if_later(polluntil)
        stopm(m)
        if s.exiting or m.exiting:
            return None, False
        if m.p is None:           # woken without a P (exit or stale wakeup): look again
            continue


def steal_work(m: M, pp: P, now: float) -> tuple[Optional[G], bool, float, float]:
    """4 passes over all Ps in random order; runnext and timers only on the last."""
    s = m.sched
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
                if m.p is not pp:     # a callback found pp retired and flushed it
                    return None, False, now, polluntil
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
                    s.trace.event("Steal", m, gp, p2, (pp.id, pp.runqsize() + 1))
                return gp, False, now, polluntil
    return None, False, now, polluntil


# ---------------------------------------------------------------- LockOSThread

def startlockedm(m: M, gp: G) -> None:
    """gp is locked to another M: hand our P to it and stop."""
    s = m.sched
    mp = gp.lockedm
    s.lock.acquire()
    pp = releasep_locked(m)
    if pp is None:                    # retired meanwhile: gp goes back to the global queue
        s.runq.append(gp)
        s.lock.release()
        flush_retired(m)
        return
    s.nmidlelocked -= 1
    s.lock.release()
    mp.nextp = pp
    mp.park.wakeup()
    stopm(m)


def stoplockedm(m: M) -> Optional[G]:
    """m is locked to a G that is not running: give the P away, sleep until the G is handed to us."""
    s = m.sched
    gp: G = m.lockedg
    if m.p is not None:
        s.lock.acquire()
        pp = releasep_locked(m)
        s.lock.release()
        if pp is None:
            flush_retired(m)
        else:
            handoffp(s, pp)
    s.lock.acquire()
    s.nmidlelocked += 1
    program.checkdead(s)
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


# ---------------------------------------------------------------- stop the world

def gcstopm(m: M) -> None:
    """Stop m's P for a pending stop-the-world, then park m."""
    s = m.sched
    if m.spinning:
        m.spinning = False
        s.lock.acquire()
        s.nmspinning -= 1
        s.lock.release()
    if m.p is not None:
        s.lock.acquire()
        pp = releasep_locked(m)
        if pp is None:                # retired: not one of the Ps being counted
            s.lock.release()
            flush_retired(m)
        else:
            pp.status = _Pgcstop
            s.stopwait -= 1
            if s.stopwait == 0:
                s.stopnote.wakeup()
            s.lock.release()
    stopm(m)


# ---------------------------------------------------------------- queries

def num_goroutine() -> int:
    s = cursched()
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
    gp: G = m.curg
    return gp.goid


# ---------------------------------------------------------------- the C twins

def _globrunqput_locked(s: Sched, gp: G) -> None:
    """Go 1.0's scheduler (GORT_SCHED=global): the global queue, under sched.lock."""
    s.lock.acquire()
    s.runq.append(gp)
    s.lock.release()


def _gopanic(m: M, gp: G, e: BaseException) -> None:
    program.gopanic(m, gp, e)


def _initiate_exit(s: Sched) -> None:
    program.initiate_exit(s)


def _drop_abandoned(m: M) -> None:
    program.drop_abandoned(m)


_CParkTokens: tuple[Any, ...] = ()   # the C twins' parked operations (see ForeignAwait): callable

if C is not None:
    import sys as _sys
    C.configure(
        YIELD=YIELD, Trap=Trap, ForeignAwait=ForeignAwait, true_fn=_true,
        proc=_sys.modules[__name__], preempt_flag=_g.preempt_flag,
        flush_retired=flush_retired, drop_abandoned=_drop_abandoned, reacquirep=reacquirep,
        gcstopm=gcstopm, stoplockedm=stoplockedm, check_timers=_check_timers,
        find_runnable=find_runnable, resetspinning=resetspinning, startlockedm=startlockedm,
        gopanic=_gopanic, initiate_exit=_initiate_exit, wakep=wakep,
        globrunqput_wake=globrunqput_wake, globrunqput_locked=_globrunqput_locked,
        runqspill=_runqspill, gfput=gfput, gfget=gfget, newgoid=_newgoid,
        goexit_locked=_goexit_locked, nogo=_nogo, check_async=check_async,
        as_coroutine=as_coroutine,
    )
    _CParkTokens = (C.ChanOp, C.SleepOp)
    _c_schedule = C.schedule

    def schedule(m: M) -> None:              # noqa: F811
        """The M's own loop (its g0), as above; the loop itself is C's
        (gort._accel.schedule).  This frame stays so that stacks show g0."""
        _c_schedule(m)

    ready = C.ready                          # noqa: F811
    newproc = C.newproc                      # noqa: F811
    go = C.go                                # noqa: F811
    runqput_or_spill = C.runqput_or_spill    # noqa: F811
    gosched = C.gosched                      # noqa: F811
    preempt_point = C.preempt_point          # noqa: F811
    park_forever = C.park_forever            # noqa: F811
