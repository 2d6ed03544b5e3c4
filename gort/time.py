"""time: Go's time.Sleep, Timer, Ticker, After, Tick, AfterFunc on the per-P timer heaps.

Durations are seconds (float).  Timer, Ticker, after and tick channels are Go
1.23's synchronous timer channels as a program sees them: `len(c) == 0` and
`c.cap == 0` at all times; `stop`/`reset` discard a value the timer sent that
nobody received and then report the timer as pending, so no stale value is
received after they return; a Ticker drops ticks for a slow receiver.  A
receive or select on the channel is the same as on any gort.Chan.  (Go
1.23's runtime keeps a 1-slot buffer behind a reported capacity of 0; so
does `_TimerChan`.)  The value received is the wall-clock time the timer was
due (`time.time()` seconds), as Go sends `Now().Add(-delta)`.
"""
from __future__ import annotations

import time as _time
import types
from typing import Any, Callable, Generator, Optional

from .chan import Chan
from .debug import awaitable
from .g import G, waitReasonSleep
from .proc import YIELD as _YIELD
from .proc import _nogo, _tls, callback_coroutine, check_async, newproc, ready
from .timers import Timer as _RTimer

_now = _time.monotonic


def _goroutine_ready(gp: G, seq: int, delay: float) -> None:
    ready(gp)


@awaitable
@types.coroutine
def sleep(seconds: float) -> Generator[Any, Any, None]:
    """Park the goroutine for `seconds` (wait reason "sleep"); <= 0 just yields."""
    m = _tls.m
    if m is None or m.curg is None:
        raise _nogo("gort.sleep")
    try:
        later = seconds > 0
    except TypeError:
        raise _not_seconds("gort.sleep", seconds) from None
    if not later:
        if seconds != seconds:
            raise ValueError("gort.sleep: duration is NaN")
        yield _YIELD
        return
    gp = m.curg
    t = gp.timer
    if t is None:
        t = gp.timer = _RTimer(_goroutine_ready, gp)
    when = _now() + seconds
    gp.waitreason = waitReasonSleep

    def reset_for_sleep() -> bool:
        # arm only once parked, so a tiny sleep cannot fire before the G sleeps
        t.modify(when)
        return True
    yield reset_for_sleep


class _TimerChan(Chan[Any]):
    """The channel of a Timer or Ticker (Go 1.23's synchronous timer channel).

    Behind it is a 1-slot buffer, so the timer's send never blocks (Go's
    sendTime is a non-blocking send), but `len()` and `cap` are 0, as Go's
    chanlen/chancap report for a timer channel (chan.go: `if c.timer != nil {
    async := debug.asynctimerchan.Load() != 0; if !async { return 0 } }`).
    The buffered value is only ever visible to a receive.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1)

    @property
    def cap(self) -> int:
        return 0

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<timer Chan{' closed' if self._closed else ''}>"

    def _drain(self) -> bool:
        """Go's timerchandrain: drop the buffered value; True if there was one.

        Called with the timer's mu held, which the timer's send also holds, so
        no value can arrive meanwhile; a receiver may take it first (then False).
        """
        if self._qcount == 0:          # Go reads qcount atomically before locking
            return False
        self._lock.acquire()
        got = False
        while self._qcount > 0:
            self._bufget()
            got = True
        self._lock.release()
        return got


def _send_time(c: _TimerChan, seq: int, delay: float) -> None:
    # Go's sendTime: the time the send was due, `Now().Add(-delta)`; non-blocking,
    # so a Ticker drops ticks nobody has taken (runs with the timer's mu held)
    c.try_send(_time.time() - delay)


def _not_seconds(what: str, d: Any) -> TypeError:
    return TypeError(f"{what}: the duration is a number of seconds (int or float), "
                     f"not {type(d).__name__} {d!r}")


def _seconds(d: Any, what: str) -> float:
    """d as float seconds, or a TypeError naming the call."""
    if isinstance(d, bool) or not isinstance(d, (int, float)):
        raise _not_seconds(what, d)
    return float(d)


def _uninitialized(what: str) -> RuntimeError:
    return RuntimeError(f"time: {what} called on uninitialized Timer")


class Timer:
    """A one-shot timer: `c` receives the time (time.time()) after `d` seconds."""

    _t: Optional[_RTimer] = None      # a Timer whose __init__ never ran has none

    def __init__(self, d: float, _f: Optional[Callable[..., Any]] = None,
                 _args: tuple[Any, ...] = ()) -> None:
        d = _seconds(d, "gort.Timer" if _f is None else "gort.after_func")
        if _tls.m is None:
            raise _nogo("gort.Timer")
        self._fn = _f
        self._args = _args
        self._ch: Optional[_TimerChan] = None    # the runtime's channel (Go's t.hchan())
        if _f is None:
            self._ch = _TimerChan()
            self.c: Optional[Chan[Any]] = self._ch
            self._t = _RTimer(_send_time, self._ch)
        else:
            self.c = None
            self._t = _RTimer(self._fire_func, None)
        self._t.modify(_now() + max(0.0, float(d)))

    def _fire_func(self, arg: Any, seq: int, delay: float) -> None:
        newproc(callback_coroutine(self._fn, self._args, "gort.after_func"), _tls.m)

    def stop(self) -> bool:
        """Stop it; True if that prevented it from firing.

        For a channel timer (Timer(d), after) a value that the timer sent but
        nobody received is discarded and counts as pending, as in Go 1.23
        (time.go stop: `if timerchandrain(t.hchan()) { pending = true }`).
        """
        t = self._t
        if t is None:
            raise _uninitialized("Stop")
        t.mu.acquire()
        try:
            t.seq += 1
            pending = t._unheap()
            ch = self._ch
            if ch is not None and ch._drain():
                pending = True
            return pending
        finally:
            t.mu.release()

    def reset(self, d: float) -> bool:
        """Re-arm for `d` seconds from now; True if it was still pending.

        As stop, a sent but unreceived value is discarded (then True): no value
        from before the reset is received after it (time.go modify).
        """
        d = _seconds(d, "gort.Timer.reset")
        t = self._t
        if t is None:
            raise _uninitialized("Reset")
        t.mu.acquire()
        try:
            pending = t._unheap()
            t.seq += 1
            ch = self._ch
            if ch is not None and ch._drain():
                pending = True
            t._add(_now() + max(0.0, d))
            return pending
        finally:
            t.mu.release()


class Ticker:
    """Sends the time on `c` every `d` seconds; ticks are dropped for slow receivers.

    stop/reset discard a tick sent but not received (Go 1.23).
    """

    _t: Optional[_RTimer] = None      # a Ticker whose __init__ never ran has none

    def __init__(self, d: float) -> None:
        if not _seconds(d, "gort.Ticker") > 0:
            raise ValueError("non-positive interval for gort.Ticker")
        if _tls.m is None:
            raise _nogo("gort.Ticker")
        self._ch = _TimerChan()
        self.c: Chan[Any] = self._ch
        self._t = _RTimer(_send_time, self._ch, period=float(d))
        self._t.modify(_now() + d)

    def stop(self) -> None:
        """Turn the ticker off; no more ticks are sent (a tick sent but not received is dropped)."""
        t = self._t
        if t is None:
            return        # Go 1.23: misuse, but kept non-panicking (issue 21874)
        t.mu.acquire()
        try:
            t.seq += 1
            t._unheap()
            self._ch._drain()
        finally:
            t.mu.release()

    def reset(self, d: float) -> None:
        """Stop the ticker and restart it with period d seconds; the next tick comes d from now."""
        if not _seconds(d, "gort.Ticker.reset") > 0:
            raise ValueError("non-positive interval for gort.Ticker.reset")
        t = self._t
        if t is None:
            raise RuntimeError("time: Reset called on uninitialized Ticker")
        t.mu.acquire()
        try:
            t._unheap()
            t.seq += 1
            t.period = float(d)
            self._ch._drain()
            t._add(_now() + d)
        finally:
            t.mu.release()


def after(d: float) -> Chan[Any]:
    """A timer channel that receives the time after d seconds (`Timer(d).c`)."""
    return Timer(d).c  # type: ignore[return-value]


def tick(d: float) -> Optional[Chan[Any]]:
    """A Ticker's channel; None for d <= 0, as Go's time.Tick returns nil (a
    receive from None in a select never fires; use Ticker to get an error)."""
    if not _seconds(d, "gort.tick") > 0:
        return None
    return Ticker(d).c


def after_func(d: float, fn: Callable[..., Any], *args: Any) -> Timer:
    """Run `fn(*args)` in its own goroutine after d seconds; stop() the Timer to cancel.

    fn may be an async function or a plain one (every gort callback takes both:
    it runs in a goroutine of its own, as Go's AfterFunc runs f)."""
    if isinstance(fn, types.CoroutineType) or not callable(fn):
        check_async(fn, "gort.after_func")       # the clear error for each misuse
    return Timer(d, fn, args)


# The C twins (gort/_accel.c), unless GORT_PUREPY=1 or the module was not built:
# sleep as a C awaitable whose park commit arms the G's timer.
from .accel import C  # noqa: E402

if C is not None:
    C.configure(RTimer=_RTimer, goroutine_ready=C.goroutine_ready, not_seconds=_not_seconds)
    _goroutine_ready = C.goroutine_ready     # noqa: F811
    sleep = C.sleep                          # noqa: F811
