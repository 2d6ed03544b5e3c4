"""program: a gort program's lifetime (proc.go `schedinit`, `main`, `exit`,
`checkdead`, `fatalpanic`).

`run` bootstraps like Go (schedinit: GOMAXPROCS Ps; newproc(main) into P0's
runnext; mstart of M0; sysmon), with one difference that Python forces: the
thread that calls `gort.run` is not an M.  Go's `exit(0)` ends every thread
when main returns, whatever they are doing; Python cannot stop a thread that
is inside a blocking call or a CPU loop.  So main runs on an M thread like
every goroutine, and the calling thread only waits for the program to end:
it returns (or raises) as soon as main does, and Ctrl-C reaches it at once
(KeyboardInterrupt from `gort.run`).  Goroutines still running at that point
are abandoned, as in Go: their threads are daemon threads that belong to the
ended program (each M keeps its own `sched`), a goroutine stuck in a blocking
call is closed at its next await (its `finally` blocks run then), and a
`gort.go` it makes before that raises RuntimeError.  Goroutines parked at the
end are closed by `gort.run` before it returns.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os
import sys
import threading
import time
from typing import Any, Callable, Optional, ParamSpec

from . import netpoll, proc, procresize
from .g import (G, _Gdead, _Grunnable, _Grunning, _Gsyscall, _Gwaiting, dump, panic_note,
                strip_sched_frames)
from .m import M
from .p import runnextg, runqlist
from .sched import MAXMCOUNT, Sched

log = logging.getLogger("gort")
P = ParamSpec("P")

IDLE_M_EXIT = 10.0       # an M idle this long exits (Go keeps idle Ms; gort gives threads back)
SHUTDOWN_SETTLE = 0.030  # how long run() lets Ms finish the G they run before it returns

_run_lock = threading.Lock()         # one program at a time per process


def run(main: Callable[..., Any], *args: Any, procs: Optional[int] = None,
        _background: bool = False, trace: Optional[str] = None) -> Any:
    proc.check_async(main, "gort.run")
    if procs is not None:
        procs = procresize._check_procs(procs, "procs")
        if procs < 1:
            raise ValueError(f"procs must be >= 1, got {procs}")
    if proc._tls.m is not None:
        raise RuntimeError("gort.run called from inside a running gort program")
    if not _run_lock.acquire(False):
        raise RuntimeError("gort.run is already running in this process (another thread)")
    try:
        return _run(main, args, procs, _background, trace)
    finally:
        _run_lock.release()


def _run(main: Callable[..., Any], args: tuple[Any, ...], procs: Optional[int],
         background: bool = False, trace: Optional[str] = None) -> Any:
    from . import sysmon
    from . import trace as tracemod
    from .trace import dump as dumpsig
    mode = os.environ.get("GORT_SCHED", "gmp")
    if mode not in ("gmp", "global"):
        raise ValueError(f"GORT_SCHED={mode!r}: use 'gmp' (default) or 'global' (Go 1.0's scheduler)")
    s = Sched(lockstats=os.environ.get("GORT_LOCKSTATS", "") not in ("", "0"),
              global_only=mode == "global")
    idle_exit = _env_float("GORT_IDLE_M_EXIT", IDLE_M_EXIT)
    schedtrace, scheddetail = tracemod.schedtrace_settings(_env_float("GORT_SCHEDTRACE", 0))
    trace = trace or os.environ.get("GORT_TRACE") or None
    dumpsignal = dumpsig.dump_signal()
    nprocs = procs or procresize._default_procs or procresize.default_procs()
    coro = proc.as_coroutine(main(*args), main, "gort.run")
    try:
        ftrace = tracemod.FileTrace(trace) if trace else None   # a bad path fails before anything runs
    except BaseException:
        coro.close()
        raise
    s.checkdead = not background
    proc.sched = s
    dbg = log.isEnabledFor(logging.DEBUG)
    s.idle_m_exit = idle_exit
    # schedinit: ncpu, GOMAXPROCS, the Ps, M0 (not started yet) holding P0
    m0 = M(proc._mreserveid(s), s)
    s.m0 = m0
    s.poller = netpoll.Poller(s)
    s.lock.acquire()
    procresize.procresize(m0, nprocs)     # no timers yet: nothing to move
    s.lock.release()
    if dbg:
        log.debug("schedinit: ncpu=%d gomaxprocs=%d maxmcount=%d gil=%s", os.cpu_count() or 1,
                  nprocs, MAXMCOUNT, gil_enabled())
    if ftrace is not None:
        ftrace.begin(s)                # before main: its GoCreate is in
    dumped = dumpsig.install(s, dumpsignal)    # before the Ms: they block the dump signal
    try:
        s.main_g = proc.newproc(coro, m0, s)
        if dbg:
            log.debug("newproc: main goroutine G%d in P0.runnext", s.main_g.goid)
        s.main_started = True
        sysmon.schedtrace_ms = schedtrace
        sysmon.scheddetail = scheddetail
        sysmon.start(s)
        if dbg:
            log.debug("mstart: M0 on thread gort-M0; schedule() (the calling thread %s waits "
                      "for the program to end)", threading.current_thread().name)
        proc.newm(s, m0.id, None, False, m=m0)
        # Ctrl-C raises KeyboardInterrupt here.  Wake up now and then: a signal
        # the kernel delivers to another thread does not interrupt this wait
        # (seen on 3.13t), and the handler only runs when this thread runs.
        while not s.donenote.sleep(0.05):
            pass
    except BaseException as e:        # KeyboardInterrupt, or a failure to start
        s.lock.acquire()
        if s.panic is None:
            s.panic = e
        s.lock.release()
    finally:
        dumpsig.restore(dumped)
        _shutdown(s)
        if ftrace is not None:
            ftrace.finish(s)
    if s.panic is not None:
        err = s.panic
        s.panic = None
        raise err
    return s.result


def _shutdown(s: Sched) -> None:
    """Stop every M that can be stopped; close what the program leaves behind."""
    initiate_exit(s)
    if s.aio is not None:
        from . import aio
        aio.close(s)
    for mp in list(s.allm):
        mp.park.wakeup()
    # Let Ms finish the G they are running and leave; those still inside a G
    # after that are stuck in it (a blocking call, a CPU loop) and abandoned.
    deadline = time.monotonic() + SHUTDOWN_SETTLE
    while time.monotonic() < deadline and any(
            not (mp.dead or mp.issys or mp.curg is not None) for mp in list(s.allm)):
        time.sleep(0.0005)                   # parked Ms were woken: they leave at once
    if _settled(s, deadline):
        _close_abandoned(s)
    else:
        # an M is still on its way out (a busy machine, the GIL): close the rest
        # once it is gone, without keeping gort.run from returning
        threading.Thread(target=_reap, args=(s,), name="gort-reaper", daemon=True).start()
    s.poller.close()


def _unsettled(s: Sched) -> list[M]:
    """Ms that could still pick up a G: neither gone, nor parked (a parked M sees
    the exit when it wakes), nor inside a G, nor sysmon."""
    return [mp for mp in list(s.allm)
            if not (mp.dead or mp.issys or mp.blocked or mp.curg is not None)
            and mp.thread is not None]


def _settled(s: Sched, deadline: float) -> bool:
    while _unsettled(s):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)
    return True


def _reap(s: Sched) -> None:
    if _settled(s, time.monotonic() + 10.0):
        _close_abandoned(s)


def _close_abandoned(s: Sched) -> None:
    """Close the coroutines of abandoned goroutines: runs their finally blocks, as
    garbage collection would, but deterministically and never mid-step.  A G an
    M is stuck in is closed by that M at its next await (drop_abandoned)."""
    held = set()
    for mp in list(s.allm):
        if not mp.dead:
            g = mp.curg
            if g is not None:
                mp.abandoned = g
                held.add(id(g))
    for gp in list(s.allgs):
        if id(gp) not in held:
            close_g(s, gp)


def close_g(s: Sched, gp: G) -> None:
    """Close gp's coroutine if nobody runs it; whoever takes gp.coro under sched.lock closes it."""
    s.lock.acquire()
    c = gp.coro
    if c is not None and gp.status in (_Grunnable, _Gwaiting):
        gp.coro = None
    else:
        c = None
    s.lock.release()
    if c is not None:
        try:
            c.close()
        except BaseException:
            pass


def drop_abandoned(m: M) -> None:
    """An M of an ended program leaves: close the G it was stuck in when the program ended."""
    gp = m.abandoned
    if gp is not None:
        m.abandoned = None
        close_g(m.sched, gp)


# ---------------------------------------------------------------- a background runtime

class _Background:
    """The program gort.start() runs on a thread of its own."""

    def __init__(self) -> None:
        self.thread: Optional[threading.Thread] = None
        self.sched: Optional[Sched] = None
        self.stopch: Any = None
        self.error: Optional[BaseException] = None


_bg: Optional[_Background] = None
_bg_lock = threading.Lock()


def start(procs: Optional[int] = None) -> None:
    """Start a gort program with no main, for asyncio and threaded programs to
    submit work to (`submit`); it lives until `stop()`.  checkdead is off, as
    Go's is for a library (-buildmode=c-shared): no goroutine may be running
    while the program waits for work."""
    global _bg
    from .chan import Chan
    with _bg_lock:
        if _bg is not None:
            raise RuntimeError("gort.start: a background runtime is already running (gort.stop() it first)")
        bg = _Background()
        bg.stopch = Chan()
        ready = threading.Event()

        async def main() -> None:
            bg.sched = proc._tls.m.sched      # type: ignore[union-attr]
            ready.set()
            await bg.stopch.recv()            # until gort.stop() closes it

        def body() -> None:
            try:
                run(main, procs=procs, _background=True)
            except BaseException as e:        # reported by stop()
                bg.error = e
            finally:
                ready.set()

        bg.thread = threading.Thread(target=body, name="gort-background", daemon=True)
        bg.thread.start()
        ready.wait()
        if bg.sched is None:                  # it failed to start (another gort.run is running...)
            bg.thread.join()
            err = bg.error
            raise err if err is not None else RuntimeError("gort.start: the runtime did not start")
        _bg = bg


def stop(timeout: Optional[float] = None) -> None:
    """Stop the background runtime: its main returns, the program ends as a
    gort.run does (abandoned goroutines are closed).  Raises what escaped a
    goroutine, if anything did."""
    global _bg
    with _bg_lock:
        bg, _bg = _bg, None
    if bg is None:
        raise RuntimeError("gort.stop: no background runtime (start one with gort.start())")
    bg.stopch.close()                         # safe from any thread
    assert bg.thread is not None
    bg.thread.join(timeout)
    if bg.error is not None:
        raise bg.error


def submit(fn: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> concurrent.futures.Future[Any]:
    """Run fn(*args, **kwargs) in a new goroutine of the running program, from
    any thread; return a concurrent.futures.Future of its result.  fn is an
    async function, a function returning a gort awaitable, or a plain function
    (it then runs inside the goroutine).  Its exception goes to the future,
    not to the program.  From asyncio: `await asyncio.wrap_future(gort.submit(f, x))`."""
    m = proc._tls.m
    s = m.sched if m is not None else proc.sched
    if not s.main_started or s.exiting:
        raise RuntimeError("gort.submit: no running gort program (start one with gort.start())")
    fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
    body = proc.callback_coroutine(fn, args, "gort.submit", kwargs)

    async def task() -> None:
        if not fut.set_running_or_notify_cancel():
            body.close()
            return
        try:
            r = await body
        except GeneratorExit:                 # the program ended first
            fut.set_exception(RuntimeError("gort.submit: the program ended before fn finished"))
            raise
        except BaseException as e:            # the future reports it; the program goes on
            fut.set_exception(e)
        else:
            fut.set_result(r)
    proc.newproc(task(), m, s)
    return fut


# ---------------------------------------------------------------- exit and fatal errors

def gopanic(m: M, gp: G, e: BaseException) -> None:
    """An exception escaped a goroutine: the program stops with it (Go's unrecovered panic)."""
    s = m.sched
    gp.status = _Gdead
    m.curg = None
    tb = strip_sched_frames(e.__traceback__)     # the traceback starts in the goroutine
    if tb is not None:
        e.__traceback__ = tb
    if gp is not s.main_g:
        e.add_note(panic_note(gp))
    if isinstance(e, RuntimeError) and "no running event loop" in str(e):
        e.add_note("gort goroutines are not asyncio tasks: run asyncio code with "
                   "`await gort.aio.run(coro)`")
    fatal(s, e)


def fatal(s: Sched, e: BaseException) -> None:
    """Stop the program with e (an unrecovered panic, a deadlock, a runtime error).

    Once the program is exiting (main returned, or an earlier error), what an
    abandoned goroutine raises is dropped: in Go it would never run again."""
    s.lock.acquire()
    if s.panic is None and not s.exiting:
        s.panic = e
    s.lock.release()
    initiate_exit(s)


def initiate_exit(s: Sched, lockheld: bool = False) -> None:
    if not lockheld:
        s.lock.acquire()
    s.exiting = True
    s.stopflag = True
    idle = list(s.midle)
    s.midle.clear()
    s.nmidle = 0
    if not lockheld:
        s.lock.release()
    for mp in idle:
        mp.park.wakeup()
    s.stopnote.wakeup()
    s.sysmonnote.wakeup()
    if s.poller is not None:
        s.poller.netpoll_break()
    s.donenote.wakeup()


# ---------------------------------------------------------------- checkdead

def checkdead(s: Sched) -> None:
    """Called with sched.lock held whenever the running-M count may drop to zero."""
    if s.exiting or not s.checkdead or s.nexternal:
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
        _fatal_locked(s, proc.Deadlock("no goroutines (main called runtime.Goexit) - deadlock!"))
        return
    poller = s.poller
    if poller is not None and poller.waiters:
        # Goroutines in IO wait are alive: in Go an M sits in netpoll for them,
        # so run > 0 and checkdead never gets here.  Seen rarely on 3.13t under
        # heavy load (every M idle, one G in IO wait, nobody polling): rather
        # than a false deadlock, hand an idle P to an idle M (maybe the caller,
        # about to park) so find_runnable makes it the poller.
        if s.lastpoll != 0:
            pp = s.pidleget()
            mp = s.mget() if pp is not None else None
            if mp is not None:
                mp.spinning = False
                mp.nextp = pp
                mp.park.wakeup()
            elif pp is not None:
                s.pidleput(pp)
        return
    for pp in s.allp:
        if pp.timers is not None and pp.timers.len:
            return
    now = time.monotonic()
    dumps = [dump(gp, now) for gp in s.allgs if gp.status == _Gwaiting]
    _fatal_locked(s, proc.Deadlock("all goroutines are asleep - deadlock!", dumps))


def _where(s: Sched, gp: G) -> str:
    qs = [f"P{pp.id}(status {pp.status}): runq={gp in runqlist(pp)} runnext={runnextg(pp) is gp}"
          for pp in s.allp]
    ms = [f"M{x.id}(p={x.p.id if x.p else None} blocked={x.blocked})" for x in s.allm]
    return "; ".join(qs + [f"global={gp in s.runq}"] + ms)


def _fatal_locked(s: Sched, e: BaseException) -> None:
    if s.panic is None:
        s.panic = e
    initiate_exit(s, lockheld=True)


# ---------------------------------------------------------------- helpers

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
