"""sync: Go's sync package (sync/mutex.go, rwmutex.go, waitgroup.go, once.go, cond.go; runtime/sema.go)
and x/sync's semaphore and errgroup.

Waiting goroutines park with gopark (the internal `threading.Lock` that
guards each primitive is released by the unlock callback, after the G is marked
waiting) and are readied into the waker's runnext, as sema.go does.  Python has
no CAS, so the state words Go updates with atomics live under that short
internal lock; it is never held while a goroutine runs user code.
"""
from __future__ import annotations

import threading
import time as _time
import types
from collections import deque
from typing import Any, Awaitable, Callable, Generator, Optional

from .g import (G, preempt_flag, waitReasonSemacquire, waitReasonSyncCondWait,
                waitReasonSyncMutexLock, waitReasonSyncRWMutexLock,
                waitReasonSyncRWMutexRLock, waitReasonSyncWaitGroupWait)
from .chan import Chan
from .debug import awaitable
from .proc import _nogo, _tls, check_async, go, preempt_point, ready
from .select import recv as _recv
from .select import select as _select

STARVATION_THRESHOLD = 1e-3   # starvationThresholdNs: 1 ms
_now = _time.monotonic


def _curg(what: str) -> G:
    m = _tls.m
    if m is None or m.curg is None:
        raise _nogo(what)
    gp: G = m.curg
    return gp


class _Waiter:
    __slots__ = ("g", "granted", "since", "n", "ready")

    def __init__(self, g: Any, n: int = 1, ready: Optional[Chan[Any]] = None) -> None:
        self.g: G = g          # parked with gopark (None: waits on `ready` in a select)
        self.granted = False   # ownership handed over by the waker (no competition)
        self.since = _now()
        self.n = n
        self.ready = ready     # closed by the waker for a waiter with a context


class Mutex:
    """A mutual exclusion lock with Go's normal and starvation modes.

    Normal mode: a woken waiter competes with arriving goroutines and, if it
    loses, is queued again at the front.  A waiter that waited more than 1 ms
    switches the mutex to starvation mode: unlock hands the lock straight to the
    front waiter and newcomers queue at the tail.
    """

    __slots__ = ("_mu", "_locked", "_starving", "_woken", "_waiters")

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._locked = False
        self._starving = False
        self._woken = False
        self._waiters: deque[_Waiter] = deque()

    @awaitable
    @types.coroutine
    def lock(self) -> Generator[Any, Any, None]:
        """`await mu.lock()`: lock it, parking the goroutine while another holds it."""
        mu = self._mu
        mu.acquire()
        if not self._locked and not self._starving:
            self._locked = True
            mu.release()
            if preempt_flag[0]:
                yield from preempt_point()
            return
        gp = _curg("Mutex.lock")
        w = _Waiter(gp)
        lifo = False
        while True:
            if lifo:
                self._waiters.appendleft(w)
            else:
                self._waiters.append(w)
            gp.waitreason = waitReasonSyncMutexLock
            yield mu.release
            if w.granted:            # starvation-mode hand-off: we own it
                return
            mu.acquire()
            self._woken = False
            if not self._locked:
                self._locked = True
                mu.release()
                return
            if _now() - w.since > STARVATION_THRESHOLD:
                self._starving = True  # from now on unlock hands over in FIFO order
            lifo = True               # lost the race: back to the front of the queue

    def try_lock(self) -> bool:
        """Lock it if it is free; True if it did (Go's TryLock: rarely the right tool)."""
        mu = self._mu
        mu.acquire()
        if self._locked or self._starving:
            mu.release()
            return False
        self._locked = True
        mu.release()
        return True

    def unlock(self) -> None:
        """Unlock it (RuntimeError if it is not locked).  Any goroutine may unlock, as in Go."""
        mu = self._mu
        mu.acquire()
        if not self._locked:
            mu.release()
            raise RuntimeError("sync: unlock of unlocked mutex")
        waiters = self._waiters
        if self._starving and waiters:
            w = waiters.popleft()
            w.granted = True          # stays locked: ownership moves to w
            if not waiters or _now() - w.since < STARVATION_THRESHOLD:
                self._starving = False
            mu.release()
            ready(w.g)
            return
        self._locked = False
        self._starving = False        # no waiter left to hand over to
        woken = None
        if waiters and not self._woken:
            woken = waiters.popleft()
            self._woken = True
        mu.release()
        if woken is not None:
            ready(woken.g)

    def locked(self) -> bool:
        """Whether it is locked now (a snapshot; gort's addition, for tests and debugging)."""
        return self._locked

    def __aenter__(self) -> Awaitable[None]:
        """`async with mu:` locks on entry ..."""
        return self.lock()

    @types.coroutine
    def __aexit__(self, *exc: Any) -> Any:
        """... and unlocks on exit."""
        self.unlock()
        return False
        yield  # pragma: no cover - makes this a generator


class RWMutex:
    """A reader/writer lock; a waiting writer blocks new readers (Go's rule)."""

    __slots__ = ("_mu", "_w", "_readers", "_writer", "_readerwait", "_rwaiters", "_wwaiter")

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._w = Mutex()             # serialises writers
        self._readers = 0
        self._writer = False          # a writer holds it or waits for readers to leave
        self._readerwait = 0
        self._rwaiters: list[G] = []
        self._wwaiter: Optional[G] = None

    @awaitable
    @types.coroutine
    def rlock(self) -> Generator[Any, Any, None]:
        """`await rw.rlock()`: lock for reading; waits while a writer holds or waits for the lock."""
        mu = self._mu
        mu.acquire()
        if not self._writer:
            self._readers += 1
            mu.release()
            return
        gp = _curg("RWMutex.rlock")
        self._rwaiters.append(gp)
        gp.waitreason = waitReasonSyncRWMutexRLock
        yield mu.release             # unlock() counts us in before readying us

    def try_rlock(self) -> bool:
        """Read-lock it if no writer holds or waits for it; True if it did."""
        mu = self._mu
        mu.acquire()
        ok = not self._writer
        if ok:
            self._readers += 1
        mu.release()
        return ok

    def runlock(self) -> None:
        """Undo one rlock (RuntimeError if not read-locked)."""
        mu = self._mu
        mu.acquire()
        if self._readers <= 0:
            mu.release()
            raise RuntimeError("sync: RUnlock of unlocked RWMutex")
        self._readers -= 1
        wake = None
        if self._writer and self._readerwait > 0:
            self._readerwait -= 1
            if self._readerwait == 0:
                wake, self._wwaiter = self._wwaiter, None
        mu.release()
        if wake is not None:
            ready(wake)

    @awaitable
    @types.coroutine
    def lock(self) -> Generator[Any, Any, None]:
        """`await rw.lock()`: lock for writing; new readers wait from now on, then the
        writer waits for the current readers to leave."""
        yield from self._w.lock()
        mu = self._mu
        mu.acquire()
        self._writer = True
        if self._readers == 0:
            mu.release()
            return
        gp = _curg("RWMutex.lock")
        self._readerwait = self._readers
        self._wwaiter = gp
        gp.waitreason = waitReasonSyncRWMutexLock
        yield mu.release

    def try_lock(self) -> bool:
        """Write-lock it if nobody holds it; True if it did."""
        if not self._w.try_lock():
            return False
        mu = self._mu
        mu.acquire()
        if self._readers:
            mu.release()
            self._w.unlock()
            return False
        self._writer = True
        mu.release()
        return True

    def unlock(self) -> None:
        """Undo the write lock, letting waiting readers in first (RuntimeError if not write-locked)."""
        mu = self._mu
        mu.acquire()
        if not self._writer or self._readerwait:
            mu.release()
            raise RuntimeError("sync: Unlock of unlocked RWMutex")
        self._writer = False
        waiters = self._rwaiters
        self._rwaiters = []
        self._readers += len(waiters)
        mu.release()
        for gp in waiters:
            ready(gp)
        self._w.unlock()

    def rlocker(self) -> "_RLocker":
        """A locker whose lock/unlock are rlock/runlock (for Cond and `async with`)."""
        return _RLocker(self)

    def __aenter__(self) -> Awaitable[None]:
        """`async with rw:` write-locks on entry ..."""
        return self.lock()

    @types.coroutine
    def __aexit__(self, *exc: Any) -> Any:
        """... and unlocks on exit."""
        self.unlock()
        return False
        yield  # pragma: no cover


class _RLocker:
    __slots__ = ("_rw",)

    def __init__(self, rw: RWMutex) -> None:
        self._rw = rw

    def lock(self) -> Awaitable[None]:
        return self._rw.rlock()

    def unlock(self) -> None:
        self._rw.runlock()

    def __aenter__(self) -> Awaitable[None]:
        return self._rw.rlock()

    @types.coroutine
    def __aexit__(self, *exc: Any) -> Any:
        self._rw.runlock()
        return False
        yield  # pragma: no cover


class WaitGroup:
    """Wait for a collection of goroutines to finish."""

    __slots__ = ("_mu", "_n", "_waiters")

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._n = 0
        self._waiters: list[G] = []

    def add(self, delta: int) -> None:
        """Add delta to the counter; at zero every waiter wakes.  A negative counter, or an add
        racing a wait (misuse Go reports), raises."""
        mu = self._mu
        mu.acquire()
        n = self._n + delta
        if n < 0:
            mu.release()
            raise ValueError("sync: negative WaitGroup counter")
        if delta > 0 and n == delta and self._waiters:
            mu.release()
            raise RuntimeError("sync: WaitGroup misuse: Add called concurrently with Wait")
        self._n = n
        if n or not self._waiters:
            mu.release()
            return
        waiters = self._waiters
        self._waiters = []
        mu.release()
        for gp in waiters:
            ready(gp)

    def done(self) -> None:
        """add(-1): one goroutine of the group finished."""
        self.add(-1)

    @awaitable
    @types.coroutine
    def wait(self) -> Generator[Any, Any, None]:
        """`await wg.wait()`: park until the counter is zero."""
        mu = self._mu
        mu.acquire()
        if self._n == 0:
            mu.release()
            return
        gp = _curg("WaitGroup.wait")
        self._waiters.append(gp)
        gp.waitreason = waitReasonSyncWaitGroupWait
        yield mu.release
        # Go's Wait after runtime_Semacquire: `if wg.state.Load() != 0 { panic(...) }`.
        # The add that woke us left counter and waiters at zero; anything else
        # means an add (or a new wait) came before this wait returned.
        if self._n or self._waiters:
            raise RuntimeError("sync: WaitGroup is reused before previous Wait has returned")

    def go(self, fn: Callable[..., Any], *args: Any) -> None:
        """Go 1.25's WaitGroup.Go: add(1), run fn(*args) in a goroutine, done() when it returns."""
        check_async(fn, "WaitGroup.go")
        self.add(1)
        go(self._run, fn, args)

    async def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            await fn(*args)
        finally:
            self.done()


class Once:
    """Run a function exactly once; concurrent callers wait for the first to finish."""

    __slots__ = ("_done", "_m")

    def __init__(self) -> None:
        self._done = False
        self._m = Mutex()

    async def do(self, fn: Callable[..., Any], *args: Any) -> None:
        """`await once.do(fn, *args)`: call fn (plain or async) the first time only; later callers
        wait until that call has returned.  It counts as done even if fn raised (Go's rule)."""
        if self._done:
            return
        await self._m.lock()
        try:
            if not self._done:
                try:
                    r = fn(*args)
                    if isinstance(r, types.CoroutineType) or hasattr(r, "__await__"):
                        await r
                finally:
                    self._done = True   # even if fn raised (Go's rule)
        finally:
            self._m.unlock()


class Cond:
    """A condition variable bound to a locker (Mutex, RWMutex or rlocker()).

    Tickets as Go's notifyList: signal wakes the longest waiter, broadcast all;
    no spurious wake-ups, but callers should still loop on their condition.
    As Go's copyChecker, a copy (copy.copy) of a Cond that has been used raises
    RuntimeError("sync.Cond is copied") when it is used; a copy of an unused
    Cond is a new Cond on the same locker.
    """

    __slots__ = ("L", "_mu", "_wait", "_notify", "_waiters", "_checker")

    def __init__(self, locker: Any) -> None:
        if not (hasattr(locker, "lock") and hasattr(locker, "unlock")):
            raise TypeError("Cond needs a locker with lock() and unlock()")
        self.L = locker
        self._mu = threading.Lock()
        self._wait = 0               # next ticket
        self._notify = 0             # next ticket to notify
        self._waiters: dict[int, G] = {}
        self._checker = 0            # id of the Cond first used (Go's copyChecker)

    def __copy__(self) -> "Cond":
        c = Cond(self.L)
        c._checker = self._checker   # a used Cond's copy fails its first check
        return c

    def _check(self) -> None:
        """Go's copyChecker.check (mu held): the first use records who we are."""
        me = id(self)
        if self._checker != me:
            if self._checker:
                self._mu.release()
                raise RuntimeError("sync.Cond is copied")
            self._checker = me

    async def wait(self) -> None:
        """`await cond.wait()`: unlock L, park until signal/broadcast, lock L again (check the
        condition in a loop, as in Go)."""
        mu = self._mu
        mu.acquire()
        self._check()
        t = self._wait
        self._wait += 1
        mu.release()
        self.L.unlock()
        try:
            await self._park(t)
        finally:
            await self.L.lock()

    @types.coroutine
    def _park(self, t: int) -> Any:
        mu = self._mu
        mu.acquire()
        if t < self._notify:        # already notified between unlock and here
            mu.release()
            return
        gp = _curg("Cond.wait")
        self._waiters[t] = gp
        gp.waitreason = waitReasonSyncCondWait
        yield mu.release

    def signal(self) -> None:
        """Wake the goroutine that has waited longest, if any."""
        mu = self._mu
        mu.acquire()
        self._check()
        if self._notify == self._wait:
            mu.release()
            return
        t = self._notify
        self._notify += 1
        gp = self._waiters.pop(t, None)
        mu.release()
        if gp is not None:
            ready(gp)

    def broadcast(self) -> None:
        """Wake every waiting goroutine."""
        mu = self._mu
        mu.acquire()
        self._check()
        self._notify = self._wait
        gs = list(self._waiters.values())
        self._waiters.clear()
        mu.release()
        for gp in gs:
            ready(gp)


class Semaphore:
    """x/sync's semaphore.Weighted: FIFO, a large request is not overtaken by small ones.

    `await sem.acquire(n=1, ctx=None)`: without a context it blocks until n
    units are free (a request larger than the size raises ValueError: it could
    never succeed).  With a context it is x/sync's Acquire(ctx, n): if ctx is
    already done it raises `ctx.err()`; if ctx ends before the units are
    granted, the request leaves the queue (waking requests behind it that now
    fit) and `ctx.err()` is raised (x/sync returns it); a request larger than
    the size waits for ctx to end without blocking anyone.
    """

    __slots__ = ("_mu", "_size", "_cur", "_waiters")

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Semaphore size must be a non-negative int, got {n!r}")
        self._mu = threading.Lock()
        self._size = n
        self._cur = 0
        self._waiters: deque[_Waiter] = deque()

    @staticmethod
    def _check_weight(k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"semaphore weight must be a non-negative int, got {k!r}")

    def _check(self, k: int) -> None:
        self._check_weight(k)
        if k > self._size:
            raise ValueError(f"semaphore: acquire of {k} exceeds the size {self._size} (would block forever)")

    @awaitable
    def acquire(self, k: int = 1, ctx: Any = None) -> Awaitable[None]:
        """Acquire k units; an awaitable.  See the class docstring for `ctx`."""
        if ctx is None:
            return self._acquire(k)
        return self._acquire_ctx(k, ctx)

    @types.coroutine
    def _acquire(self, k: int) -> Generator[Any, Any, None]:
        self._check(k)
        mu = self._mu
        mu.acquire()
        if self._size - self._cur >= k and not self._waiters:
            self._cur += k
            mu.release()
            return
        gp = _curg("Semaphore.acquire")
        w = _Waiter(gp, k)
        self._waiters.append(w)
        gp.waitreason = waitReasonSemacquire
        yield mu.release          # release() counts us in before readying us

    async def _acquire_ctx(self, k: int, ctx: Any) -> None:
        self._check_weight(k)
        done = ctx.done()
        mu = self._mu
        mu.acquire()
        # x/sync: ctx being done "happened before" acquiring: fail even if we could
        if done is not None and done.try_recv()[2]:
            mu.release()
            raise _ctx_err(ctx)
        if self._size - self._cur >= k and not self._waiters:
            self._cur += k
            mu.release()
            return
        if k > self._size:
            # "Don't make other Acquire calls block on one that's doomed to fail."
            mu.release()
            await _select(_recv(done))
            raise _ctx_err(ctx)
        w = _Waiter(None, k, Chan())
        self._waiters.append(w)
        mu.release()
        i, _, _ = await _select(_recv(done), _recv(w.ready))
        if i == 1:
            return
        err = _ctx_err(ctx)
        mu.acquire()
        if w.granted:
            # granted after ctx ended: keep it rather than fix up the queue (x/sync)
            mu.release()
            return
        front = self._waiters[0] is w
        self._waiters.remove(w)
        woken: list[_Waiter] = []
        if front and self._size > self._cur:
            woken = self._grant_locked()     # the requests behind us may fit now
        mu.release()
        _wake(woken)
        raise err

    def try_acquire(self, k: int = 1) -> bool:
        """Acquire k units if they are free and nobody waits; True if it did."""
        self._check(k)
        mu = self._mu
        mu.acquire()
        ok = self._size - self._cur >= k and not self._waiters
        if ok:
            self._cur += k
        mu.release()
        return ok

    def release(self, k: int = 1) -> None:
        """Release k units, waking waiters in FIFO order as far as they fit."""
        mu = self._mu
        mu.acquire()
        if k > self._cur:
            mu.release()
            raise RuntimeError("semaphore: released more than held")
        self._cur -= k
        woken = self._grant_locked()
        mu.release()
        _wake(woken)

    def _grant_locked(self) -> list[_Waiter]:
        """x/sync's notifyWaiters (mu held): grant the queue's head while it fits."""
        woken = []
        while self._waiters:
            w = self._waiters[0]
            if self._size - self._cur < w.n:
                break                 # FIFO: don't let smaller requests overtake
            self._waiters.popleft()
            self._cur += w.n
            w.granted = True
            woken.append(w)
        return woken


def _ctx_err(ctx: Any) -> BaseException:
    """ctx.err() once ctx is done (Canceled if a foreign context closed done without one)."""
    e: Optional[BaseException] = ctx.err()
    if e is None:
        from .context import Canceled
        e = Canceled()
    return e


def _wake(woken: list[_Waiter]) -> None:
    for w in woken:
        if w.ready is not None:
            w.ready.close()
        else:
            ready(w.g)


class _Admission:
    """What ErrGroup.go returns: `await` it to wait until the goroutine is admitted."""

    __slots__ = ("_ch",)

    def __init__(self, ch: Optional[Chan[Any]]) -> None:
        self._ch = ch          # closed on admission; None: admitted already

    def __await__(self) -> Any:
        ch = self._ch
        if ch is not None:
            yield from ch.recv()
        return None

    def admitted(self) -> bool:
        """True once the goroutine has been started."""
        ch = self._ch
        return ch is None or ch._closed


_ADMITTED = _Admission(None)


class ErrGroup:
    """x/sync's errgroup: goroutines whose first error is raised by wait().

    `g.go(fn, *args)` registers the goroutine at once and returns an
    awaitable.  Under the limit (or without one) the goroutine starts now;
    at the limit its admission is queued, in FIFO order, and it starts as soon
    as a running goroutine of the group returns: nothing is lost, and wait()
    waits for queued goroutines too.  `await g.go(fn)` blocks the caller until
    the goroutine has been admitted, which is x/sync's Go ("blocks until the
    new goroutine can be added without the number of active goroutines in the
    group exceeding the configured limit"); calling it without await is the
    non-blocking form.  `g.try_go(fn)` starts it only if the group is below
    its limit now (never with limit 0) and returns whether it did.
    """

    def __init__(self) -> None:
        self._wg = WaitGroup()
        self._mu = threading.Lock()
        self._err: Optional[BaseException] = None
        self._cancel: Optional[Callable[..., None]] = None
        self._limit: Optional[int] = None
        self._active = 0           # goroutines holding a slot of the limit
        self._queue: deque[tuple[Callable[..., Any], tuple[Any, ...], Chan[Any]]] = deque()

    @classmethod
    def with_context(cls, ctx: Any) -> tuple["ErrGroup", Any]:
        """A group and a context derived from ctx, cancelled by the first error or by wait()."""
        from .context import with_cancel_cause
        g = cls()
        c, cancel = with_cancel_cause(ctx)
        g._cancel = cancel
        return g, c

    def set_limit(self, n: int) -> None:
        """At most n goroutines of this group run fn at once (n < 0: no limit).

        As in x/sync, a limit must not be set while goroutines admitted under
        the previous one are active (RuntimeError).  Removing the limit admits
        every queued goroutine at once.
        """
        self._mu.acquire()
        if n >= 0 and (self._active or self._queue):
            active = self._active
            self._mu.release()
            raise RuntimeError(f"errgroup: modify limit while {active} goroutines "
                               "in the group are still active")
        self._limit = None if n < 0 else n
        queued = list(self._queue)
        self._queue.clear()
        self._mu.release()
        for fn, args, admitted in queued:      # only when the limit was removed
            go(self._run, fn, args, False)
            admitted.close()

    def go(self, fn: Callable[..., Any], *args: Any) -> _Admission:
        """Run fn(*args) in a new goroutine of the group; `await` the result to
        wait until it is admitted under the limit (see the class docstring)."""
        check_async(fn, "ErrGroup.go")
        self._wg.add(1)                # registered now (may raise: WaitGroup misuse)
        self._mu.acquire()
        lim = self._limit
        if lim is None or self._active < lim:
            if lim is not None:
                self._active += 1
            self._mu.release()
            go(self._run, fn, args, lim is not None)
            return _ADMITTED
        admitted: Chan[Any] = Chan()
        self._queue.append((fn, args, admitted))
        self._mu.release()
        return _Admission(admitted)

    def try_go(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Like go, but start fn only if the group is below its limit now; True if started."""
        check_async(fn, "ErrGroup.try_go")
        self._mu.acquire()
        lim = self._limit
        if lim is not None:
            if self._active >= lim:        # (a queue implies the limit is reached)
                self._mu.release()
                return False
            self._active += 1
        self._mu.release()
        try:
            self._wg.add(1)
        except BaseException:              # WaitGroup misuse: give the slot back
            if lim is not None:
                self._release_slot()
            raise
        go(self._run, fn, args, lim is not None)
        return True

    def _release_slot(self) -> None:
        """A goroutine leaves its slot of the limit: to the first queued one, if any."""
        self._mu.acquire()
        nxt = None
        if self._queue and self._limit is not None and self._active <= self._limit:
            nxt = self._queue.popleft()    # the slot passes on: active unchanged
        else:
            self._active -= 1
        self._mu.release()
        if nxt is not None:
            go(self._run, nxt[0], nxt[1], True)
            nxt[2].close()

    async def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], counted: bool) -> None:
        try:
            await fn(*args)
        except Exception as e:
            self._mu.acquire()
            first = self._err is None
            if first:
                self._err = e
            self._mu.release()
            if first and self._cancel is not None:
                self._cancel(e)
        finally:
            if counted:
                self._release_slot()
            self._wg.done()

    async def wait(self) -> None:
        """Wait for every goroutine, queued ones included; raise the first error any raised."""
        await self._wg.wait()
        if self._cancel is not None:
            self._cancel(self._err)
        if self._err is not None:
            raise self._err
