"""time: Go's time.Sleep, Timer, Ticker, After, Tick, AfterFunc on the per-P timer heaps.

Durations are seconds (float).  Timer and Ticker channels have capacity 1;
as in Go 1.23, `stop`/`reset` drain a value the timer already sent, so no
stale value is received after they return, and a Ticker drops ticks for a slow
receiver.
"""
from __future__ import annotations

import time as _time
import types
from typing import Any, Callable, Generator, Optional

from .chan import Chan
from .debug import awaitable
from .g import G, waitReasonSleep
from .proc import YIELD as _YIELD
from .proc import _nogo, _tls, check_async, newproc, ready
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
    if not seconds > 0:
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


def _send_time(c: Chan, seq: int, delay: float) -> None:
    # non-blocking: a Ticker drops ticks nobody has taken (runs with the timer's mu held)
    c.try_send(_time.time())


class Timer:
    """A one-shot timer: `c` receives the time (time.time()) after `d` seconds."""

    def __init__(self, d: float, _f: Optional[Callable[..., Any]] = None, _args: tuple = ()) -> None:
        if _tls.m is None:
            raise _nogo("gort.Timer")
        self._fn = _f
        self._args = _args
        if _f is None:
            self.c: Optional[Chan] = Chan(1)
            self._t = _RTimer(_send_time, self.c)
        else:
            self.c = None
            self._t = _RTimer(self._fire_func, None)
        self._t.modify(_now() + max(0.0, float(d)))

    def _fire_func(self, arg: Any, seq: int, delay: float) -> None:
        fn: Any = self._fn
        newproc(fn(*self._args), _tls.m)

    def stop(self) -> bool:
        """Stop it; True if that prevented it from firing."""
        t = self._t
        t.mu.acquire()
        try:
            t.seq += 1
            pending = t._unheap()
            if self.c is not None:
                self.c.try_recv()       # drop a value sent but not received
            return pending
        finally:
            t.mu.release()

    def reset(self, d: float) -> bool:
        """Re-arm for `d` seconds from now; True if it was still pending."""
        t = self._t
        t.mu.acquire()
        try:
            pending = t._unheap()
            t.seq += 1
            if self.c is not None:
                self.c.try_recv()
            t._add(_now() + max(0.0, float(d)))
            return pending
        finally:
            t.mu.release()


class Ticker:
    """Sends the time on `c` every `d` seconds; ticks are dropped for slow receivers."""

    def __init__(self, d: float) -> None:
        if not d > 0:
            raise ValueError("non-positive interval for gort.Ticker")
        if _tls.m is None:
            raise _nogo("gort.Ticker")
        self.c: Chan = Chan(1)
        self._t = _RTimer(_send_time, self.c, period=float(d))
        self._t.modify(_now() + d)

    def stop(self) -> None:
        t = self._t
        t.mu.acquire()
        try:
            t.seq += 1
            t._unheap()
            self.c.try_recv()
        finally:
            t.mu.release()

    def reset(self, d: float) -> None:
        if not d > 0:
            raise ValueError("non-positive interval for gort.Ticker.reset")
        t = self._t
        t.mu.acquire()
        try:
            t._unheap()
            t.seq += 1
            t.period = float(d)
            self.c.try_recv()
            t._add(_now() + d)
        finally:
            t.mu.release()


def after(d: float) -> Chan:
    """A channel (cap 1) that receives the time after d seconds."""
    return Timer(d).c  # type: ignore[return-value]


def tick(d: float) -> Optional[Chan]:
    """A Ticker's channel; None for d <= 0 (as Go's time.Tick returns nil)."""
    if not d > 0:
        return None
    return Ticker(d).c


def after_func(d: float, fn: Callable[..., Any], *args: Any) -> Timer:
    """Run `fn(*args)` in its own goroutine after d seconds; stop() the Timer to cancel."""
    check_async(fn, "gort.after_func")
    return Timer(d, fn, args)
