"""gort: Go's runtime scheduler (G, M, P) for Python coroutines.

Goroutines are `async def` functions run M:N on OS threads by a faithful port
of Go's scheduler, with Go's channels, select, timers, sync and context.

    import gort

    async def main():
        ch = gort.Chan()
        gort.go(worker, ch)
        return await ch.recv()

    async def worker(ch):
        await ch.send(42)

    assert gort.run(main) == 42

Every core for serving: `python -m gort run --processes N app.py` runs N
processes of app.py, each its own gort program; each listens with
`gort.net.listen(address, reuse_port=True)` and `gort.worker()` tells it which
worker it is (gort.serve).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional, TypeVar

from . import proc as _proc
from .accel import accelerated
from . import program as _program
from . import procresize as _procresize
from .chan import Chan, ClosedChannelError
from .proc import Deadlock, ThreadExhaustion
from .select import Case, recv, send
from .select import select as _select
from .sync import Cond, ErrGroup, Mutex, Once, RWMutex, Semaphore, WaitGroup
from .syscall import lock_os_thread, syscall, unlock_os_thread
from .time import Ticker, Timer, after, after_func, sleep, tick
from . import aio, context, trace
from . import net, io
from .g import strip_sched_frames as _strip_sched_frames
from .trace.dump import stack
from .serve import Worker, worker

__all__ = [
    "run", "go", "gosched", "gomaxprocs", "num_goroutine", "goid", "Deadlock",
    "ThreadExhaustion", "Chan", "ClosedChannelError", "select", "recv", "send",
    "Case", "stats", "sleep", "after", "tick", "Timer", "Ticker", "after_func",
    "syscall", "lock_os_thread", "unlock_os_thread", "num_thread",
    "context", "trace", "aio", "start", "stop", "submit", "net", "io",
    "Mutex", "RWMutex", "WaitGroup", "Once", "Cond", "Semaphore", "ErrGroup", "stack",
    "worker", "Worker", "accelerated",
]

__version__ = "0.1.0"


R = TypeVar("R")


def run(main: Callable[..., Awaitable[R]], *args: Any, procs: Optional[int] = None,
        trace: Optional[str] = None) -> R:
    """Run `main(*args)` as goroutine 1 and return its result.

    Bootstraps like Go: schedinit (GOMAXPROCS Ps) -> newproc(main) -> mstart
    of M0 -> schedule.  main runs on an M thread like every goroutine; the
    calling thread only waits, so `run` returns (or raises) as soon as main
    does, whatever the other goroutines are doing, and Ctrl-C raises
    KeyboardInterrupt here at once.  The other goroutines are abandoned, as in
    Go: parked ones are closed before `run` returns (their `finally` blocks
    run), one stuck in a blocking call is closed at its next await, and a
    `gort.go` it makes before that raises RuntimeError; nothing of an ended
    program ever touches a later one.

    procs: GOMAXPROCS for this run (default: `GORT_MAXPROCS`, else the
    measured default, see README).  trace: a file to write the run's
    execution trace to, as Chrome trace-event JSON (default: `GORT_TRACE`;
    see gort.trace).  Raises the first exception that escapes any goroutine
    (its traceback starts in the goroutine; a note says which goroutine and
    where it and its creators were created), and `Deadlock` when no goroutine
    can ever run again (with every goroutine's stack).  While it runs on the
    main thread, SIGQUIT prints a goroutine dump (gort.trace.dump).
    """
    try:
        result: R = _program.run(main, *args, procs=procs, trace=trace)
        return result
    except BaseException as e:
        # leave out how the error reached this thread (program.run, _run): the
        # traceback goes from this call straight into the goroutine.  An error
        # of gort's own (all its frames are the runtime's) keeps them all.
        tb = _strip_sched_frames(e.__traceback__)
        if tb is None:
            raise
        raise e.with_traceback(tb)  # noqa: B904 - the same exception, re-raised


gosched = _proc.gosched          # `await gort.gosched()`: yield the P (global queue tail)
start = _program.start           # a background runtime for asyncio and threaded programs
stop = _program.stop
submit = _program.submit         # fn in a goroutine, from any thread -> concurrent.futures.Future
go = _proc.go                    # the hot API is bound directly: no wrapper call per use


def gomaxprocs(n: int = 0) -> int:
    """Set GOMAXPROCS to n when n >= 1 (stop-the-world resize); return the previous value.

    Outside a running program it sets the default for the next `run`.
    """
    return _procresize.gomaxprocs(n)


def num_goroutine() -> int:
    """The number of goroutines that exist now (Go's runtime.NumGoroutine)."""
    return _proc.num_goroutine()


def goid() -> int:
    """The id of the calling goroutine (main is 1)."""
    return _proc.goid()


select = _select                 # `i, v, ok = await gort.select(...)` (see gort.select.select)


def stats() -> dict[str, Any]:
    """A snapshot of the scheduler: Ps, Ms, Gs, queues, steals (see gort.trace)."""
    from .trace import stats as _stats
    return _stats()


def num_thread() -> int:
    """OS threads (Ms) alive in the running program, sysmon included (Go's threads= count)."""
    s = _proc.cursched()
    return s.mcount if s.main_started else 0
