"""context: Go's context package (context/context.go) for gort goroutines.

A Context carries a cancellation signal, a deadline and request-scoped values
across goroutines::

    from gort import context

    async def main():
        ctx, cancel = context.with_timeout(context.background(), 1.0)
        try:
            i, _, _ = await gort.select(gort.recv(ctx.done()), gort.recv(results))
            if i == 0:
                return ctx.err()            # DeadlineExceeded("context deadline exceeded")
        finally:
            cancel()

Semantics follow Go:

* `background()` / `todo()` are never cancelled; their `done()` is None.
* `with_cancel`, `with_timeout`, `with_deadline` (and the `*_cause` variants)
  derive a cancellable child.  Cancelling a context closes its `done()` channel,
  sets `err()` and cancels every descendant; the first cancellation wins and
  cancel functions are idempotent.  A cancelled child detaches itself from its
  parent, so long-lived parents do not accumulate children.
* `err()` is None, or an instance of `Canceled` / `DeadlineExceeded` (classes,
  compare with `isinstance`).  `cause()` is the cause given to a `*_cause`
  cancel function, else `err()`.
* `with_deadline` with a later deadline than the parent's is just `with_cancel`;
  a deadline already past cancels at once with `DeadlineExceeded`.  Deadlines
  are `time.monotonic()` seconds.
* `with_value` adds a key/value pair; `value(key)` walks up the chain.
* `without_cancel` keeps the values but not the cancellation or deadline.
* `after_func(ctx, fn)` runs `fn` in a new goroutine once ctx is done.
* `str(ctx)` is Go's String(): "context.Background.WithCancel", ...

Your own Context types: subclass `Context` and define `deadline`, `done`,
`err` and `value` (Go's interface).  A type that wraps a gort context and
forwards `value(key)` to it (Go's struct embedding) is registered with the
wrapped context when children are derived from it, so cancellation propagates
synchronously and no goroutine is started; without a forwarding `value` (a
subclass that does not override it has no values) or with a `done()` channel
of its own, a child is cancelled by a watcher goroutine.  A type that also
defines `after_func(f) -> stop` (Go 1.21's afterFuncer: call `f()` once, in
its own goroutine, when the context is done; `stop()` unregisters `f` and
returns whether it did) has children registered through that method instead.
Keys are compared as Go compares interface values: same type and equal.

Thread safety: each cancellable context guards its state with a
`threading.Lock` that is never held across an await.  Its done channel is
created lazily, closed exactly once (under that lock, as Go does, so
`err() is not None` implies `done()` is closed), and children are cancelled
after the parent's lock is released (lock order parent -> child only).
"""
from __future__ import annotations

import inspect
import threading
import time as _time
import types
from typing import Any, Callable, Optional

from .chan import Chan
from .proc import _nogo, _tls
from .proc import go as _go
from .select import recv as _recv
from .select import select as _select
from .time import Timer
from .time import after_func as _timer_after_func

__all__ = [
    "Context", "CancelFunc", "CancelCauseFunc", "Canceled", "DeadlineExceeded",
    "background", "todo", "with_cancel", "with_cancel_cause", "with_deadline",
    "with_deadline_cause", "with_timeout", "with_timeout_cause", "with_value",
    "without_cancel", "after_func", "cause",
]

_now = _time.monotonic

CancelFunc = Callable[[], None]
CancelCauseFunc = Callable[..., None]


class Canceled(Exception):
    """The error `err()` returns when a context is cancelled: Canceled("context canceled")."""

    def __init__(self, msg: str = "context canceled") -> None:
        super().__init__(msg)


class DeadlineExceeded(TimeoutError):
    """The error `err()` returns when a deadline passes: DeadlineExceeded("context deadline exceeded").

    A TimeoutError, as Go's DeadlineExceeded has Timeout() == true.
    """

    def __init__(self, msg: str = "context deadline exceeded") -> None:
        super().__init__(msg)

    def timeout(self) -> bool:
        """Always True (Go's `Timeout() bool`)."""
        return True


# a channel closed once at import: done() of a context cancelled before anyone
# asked for its channel (Go's `closedchan`); nobody ever parks on it
_closedchan: Chan[Any] = Chan()
_closedchan.close()

# the key under which a cancellable context answers `value` with itself
# (Go's `&cancelCtxKey`), so derived contexts find their nearest cancel ancestor
_CANCEL_CTX_KEY = object()


# ---------------------------------------------------------------- Context

class Context:
    """A Go context: cancellation signal, deadline and values.

    Do not instantiate directly; use `background()`, `todo()` and the `with_*`
    functions.
    """

    __slots__ = ("__weakref__",)

    def deadline(self) -> tuple[Optional[float], bool]:
        """(when, True) with when in `time.monotonic()` seconds, or (None, False) if no deadline."""
        return None, False

    def done(self) -> Optional[Chan[Any]]:
        """A channel closed when the context is cancelled; None if it can never be cancelled.

        Every call returns the same channel.
        """
        return None

    def err(self) -> Optional[BaseException]:
        """None while not done; then a `Canceled` or `DeadlineExceeded` instance (always the same one)."""
        return None

    def value(self, key: Any) -> Any:
        """The value bound to `key` here or in the nearest ancestor; None if none is.

        This base version is for your own Context types: one that does not
        override it has no values (Go's interface requires a Value method).
        """
        return None

    def cause(self) -> Optional[BaseException]:
        """Why the context was cancelled: the cause given to cancel, else `err()` (None while not done)."""
        return cause(self)

    def __repr__(self) -> str:
        return f"<gort.context {self._name()}>"

    def __str__(self) -> str:
        """Go's String(): "context.Background.WithCancel" and so on."""
        return self._name()

    def _name(self) -> str:
        return type(self).__name__


def _context_name(c: Context) -> str:
    """Go's contextName: the String() of a context, a user type's own if it has one."""
    if type(c).__str__ is not Context.__str__:
        return str(c)
    return c._name()


def _stringify(v: Any) -> str:
    """Go's stringify for WithValue's String(): a value's str() if its type
    defines one, else its type's name (Go prints a non-Stringer's type)."""
    if v is None:
        return "<nil>"
    t = type(v)
    if t.__str__ is not object.__str__:  # type: ignore[comparison-overlap]
        return str(v)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


class _EmptyCtx(Context):
    """background() and todo(): never cancelled, no values, no deadline."""

    __slots__ = ("_label",)

    def __init__(self, label: str) -> None:
        self._label = label

    def _name(self) -> str:
        return self._label

    def value(self, key: Any) -> Any:
        return None


_background = _EmptyCtx("context.Background")
_todo = _EmptyCtx("context.TODO")


def background() -> Context:
    """The root of every context tree: never cancelled, no values, no deadline (Go's Background)."""
    return _background


def todo() -> Context:
    """Like `background()`, for code not yet sure which context to use (Go's TODO)."""
    return _todo


def _check_parent(parent: Any, what: str) -> None:
    if parent is None:
        raise TypeError(f"context.{what}: cannot create context from None parent")
    if not isinstance(parent, Context):
        raise TypeError(f"context.{what}: parent must be a gort.context.Context, "
                        f"not {type(parent).__name__}")


# ---------------------------------------------------------------- cancelCtx

class _CancelCtx(Context):
    """A cancellable context (Go's cancelCtx)."""

    __slots__ = ("_parent", "_mu", "_done", "_children", "_err", "_cause", "_stop")

    def __init__(self, parent: Context) -> None:
        self._parent = parent
        self._mu = threading.Lock()
        self._done: Optional[Chan[Any]] = None               # created lazily; _closedchan if cancelled first
        self._children: Optional[dict[_CancelCtx, None]] = {}   # None once cancelled
        self._err: Optional[BaseException] = None
        self._cause: Optional[BaseException] = None
        # registered through the parent's after_func: its stop (Go's stopCtx)
        self._stop: Optional[Callable[[], Any]] = None

    def value(self, key: Any) -> Any:
        return _value(self, key)

    def deadline(self) -> tuple[Optional[float], bool]:
        return self._parent.deadline()

    def done(self) -> Chan[Any]:
        d = self._done
        if d is not None:
            return d
        with self._mu:
            d = self._done
            if d is None:
                d = self._done = Chan()
            return d

    def err(self) -> Optional[BaseException]:
        with self._mu:
            return self._err

    def _name(self) -> str:
        return f"{_context_name(self._parent)}.WithCancel"

    def _detach(self) -> None:
        """Leave the parent (Go's removeChild, which first tries a stopCtx's stop)."""
        stop = self._stop
        if stop is not None:
            stop()
            return
        _remove_child(self._parent, self)

    def _cancel(self, remove_from_parent: bool, err: BaseException,
                cause_: Optional[BaseException]) -> None:
        """Close done, cancel the children and (optionally) leave the parent; first call wins."""
        if cause_ is None:
            cause_ = err
        with self._mu:
            if self._err is not None:
                return                                  # already cancelled
            self._err = err
            self._cause = cause_
            d = self._done
            if d is None:
                self._done = _closedchan
            else:
                d.close()                               # exactly once: only the winner gets here
            children = self._children
            self._children = None
        # children after our lock is released: a child registering meanwhile
        # sees _children None / _err set and cancels itself
        if children:
            for child in children:
                child._cancel(False, err, cause_)
        if remove_from_parent:
            self._detach()


def _parent_cancel_ctx(parent: Context) -> Optional[_CancelCtx]:
    """The nearest cancellable ancestor whose done() is parent.done(), else None (Go's parentCancelCtx).

    The ancestor is found by asking parent for the package's key, which a
    user's wrapper forwards through its own value(); it only counts if its
    done channel is the one parent reports (a wrapper with a done() of its own
    must be watched instead).
    """
    done = parent.done()
    if done is _closedchan or done is None:
        return None
    p = _value(parent, _CANCEL_CTX_KEY)
    if not isinstance(p, _CancelCtx):
        return None
    if p._done is not done:          # Go: `pdone, _ := p.done.Load().(chan struct{}); if pdone != done`
        return None
    return p


def _remove_child(parent: Context, child: _CancelCtx) -> None:
    """Detach child from its nearest cancellable ancestor (Go's removeChild)."""
    p = _parent_cancel_ctx(parent)
    if p is None:
        return
    with p._mu:
        if p._children is not None:
            p._children.pop(child, None)


# Go's `goroutines` counter: watcher goroutines started by propagateCancel (read by tests)
_goroutines_mu = threading.Lock()
_goroutines_n = 0


def _goroutines() -> int:
    """How many watcher goroutines propagate_cancel has started (Go's `goroutines`, for tests)."""
    return _goroutines_n


def _propagate_cancel(parent: Context, child: _CancelCtx) -> None:
    """Arrange for child to be cancelled when parent is (Go 1.21's propagateCancel)."""
    global _goroutines_n
    done = parent.done()
    if done is None:
        return                                          # parent is never cancelled
    # Go: `select { case <-done: child.cancel(false, parent.Err(), Cause(parent)); return; default: }`
    if done is _closedchan or done.try_recv()[2]:
        child._cancel(False, parent.err() or Canceled(), cause(parent))
        return
    p = _parent_cancel_ctx(parent)
    if p is not None:
        # parent is a cancellable gort context, or wraps one: register with it
        with p._mu:
            perr = p._err
            if perr is None:
                p._children[child] = None               # type: ignore[index]
                return
            pcause = p._cause
        child._cancel(False, perr, pcause)              # parent already cancelled
        return
    af = getattr(parent, "after_func", None)
    if callable(af):
        # Go's afterFuncer: register through it; leaving calls its stop (stopCtx)
        def on_parent_done() -> None:
            child._cancel(False, parent.err() or Canceled(), cause(parent))
        child._stop = af(on_parent_done)
        return
    # a foreign Context with a done() of its own: watch it from a goroutine
    with _goroutines_mu:
        _goroutines_n += 1
    cdone = child.done()

    async def _watch() -> None:
        i, _, _ = await _select(_recv(done), _recv(cdone))
        if i == 0:
            child._cancel(False, parent.err() or Canceled(), cause(parent))
    _go(_watch)


def with_cancel(parent: Context) -> tuple[Context, CancelFunc]:
    """A copy of parent with a new done channel, and the function that cancels it (Go's WithCancel).

    The child is done when `cancel()` is called or the parent is done, whichever
    happens first; `cancel()` is idempotent and releases the child's resources
    (detaches it from the parent), so always call it.
    """
    _check_parent(parent, "with_cancel")
    c = _CancelCtx(parent)
    _propagate_cancel(parent, c)

    def cancel() -> None:
        """Cancel the context with Canceled (idempotent)."""
        c._cancel(True, Canceled(), None)
    return c, cancel


def with_cancel_cause(parent: Context) -> tuple[Context, CancelCauseFunc]:
    """Like `with_cancel`, but `cancel(cause)` records a cause (Go 1.20's WithCancelCause).

    `err()` is still Canceled; `cause(ctx)` / `ctx.cause()` returns `cause`, or
    Canceled when cancel was called with None.
    """
    _check_parent(parent, "with_cancel_cause")
    c = _CancelCtx(parent)
    _propagate_cancel(parent, c)

    def cancel(cause: Optional[BaseException] = None) -> None:
        """Cancel the context with Canceled, recording `cause` (idempotent; the first cause wins)."""
        c._cancel(True, Canceled(), cause)
    return c, cancel


def cause(ctx: Context) -> Optional[BaseException]:
    """Why ctx was cancelled (Go 1.20's context.Cause).

    The cause given to the cancel function of ctx or of the ancestor that
    cancelled it; without one, `ctx.err()`; None while ctx is not done.
    """
    cc = _value(ctx, _CANCEL_CTX_KEY)
    if isinstance(cc, _CancelCtx):
        with cc._mu:
            return cc._cause
    return ctx.err()


# ---------------------------------------------------------------- timerCtx

class _TimerCtx(_CancelCtx):
    """A cancellable context with a deadline and a timer that cancels it (Go's timerCtx)."""

    __slots__ = ("_deadline", "_timer")

    def __init__(self, parent: Context, when: float) -> None:
        super().__init__(parent)
        self._deadline = when
        self._timer: Optional[Timer] = None

    def deadline(self) -> tuple[Optional[float], bool]:
        return self._deadline, True

    def _name(self) -> str:
        return (f"{_context_name(self._parent)}.WithDeadline("
                f"{self._deadline:.6f} [{self._deadline - _now():.6f}s])")

    def _cancel(self, remove_from_parent: bool, err: BaseException,
                cause_: Optional[BaseException]) -> None:
        super()._cancel(False, err, cause_)
        if remove_from_parent:
            self._detach()
        with self._mu:
            t = self._timer
            self._timer = None
        if t is not None:
            t.stop()


def with_deadline(parent: Context, when: float) -> tuple[Context, CancelFunc]:
    """A child of parent cancelled with DeadlineExceeded at `when` (`time.monotonic()` seconds).

    If the parent's deadline is already earlier this is just `with_cancel`
    (deadline() reports the parent's); a deadline already past cancels at once.
    The returned cancel function cancels with Canceled and stops the timer.
    """
    return with_deadline_cause(parent, when, None)


def with_deadline_cause(parent: Context, when: float,
                        cause: Optional[BaseException]) -> tuple[Context, CancelFunc]:
    """Like `with_deadline`, but `cause` is the cause when the deadline passes (Go 1.21).

    The returned cancel function does not set a cause.
    """
    _check_parent(parent, "with_deadline")
    when = float(when)
    if when != when:
        raise ValueError("context.with_deadline: deadline is NaN")
    cur, ok = parent.deadline()
    if ok and cur is not None and cur < when:
        return with_cancel(parent)                      # the current deadline is sooner
    dur = when - _now()
    if dur > 0 and _tls.m is None:
        raise _nogo("context.with_deadline")            # the timer needs a running program
    c = _TimerCtx(parent, when)
    _propagate_cancel(parent, c)

    def cancel() -> None:
        """Cancel the context with Canceled and stop its timer (idempotent)."""
        c._cancel(True, Canceled(), None)

    if dur <= 0:
        c._cancel(True, DeadlineExceeded(), cause)      # deadline already passed
        return c, cancel

    async def fire() -> None:
        c._cancel(True, DeadlineExceeded(), cause)

    with c._mu:
        if c._err is None:
            c._timer = _timer_after_func(dur, fire)
    return c, cancel


def with_timeout(parent: Context, seconds: float) -> tuple[Context, CancelFunc]:
    """`with_deadline(parent, time.monotonic() + seconds)` (Go's WithTimeout)."""
    return with_deadline_cause(parent, _now() + float(seconds), None)


def with_timeout_cause(parent: Context, seconds: float,
                       cause: Optional[BaseException]) -> tuple[Context, CancelFunc]:
    """`with_deadline_cause(parent, time.monotonic() + seconds, cause)` (Go 1.21's WithTimeoutCause)."""
    return with_deadline_cause(parent, _now() + float(seconds), cause)


# ---------------------------------------------------------------- valueCtx

class _ValueCtx(Context):
    """A context carrying one key/value pair (Go's valueCtx)."""

    __slots__ = ("_parent", "_key", "_val")

    def __init__(self, parent: Context, key: Any, val: Any) -> None:
        self._parent = parent
        self._key = key
        self._val = val

    def deadline(self) -> tuple[Optional[float], bool]:
        return self._parent.deadline()

    def done(self) -> Optional[Chan[Any]]:
        return self._parent.done()

    def err(self) -> Optional[BaseException]:
        return self._parent.err()

    def value(self, key: Any) -> Any:
        return _value(self, key)

    def _name(self) -> str:
        return f"{_context_name(self._parent)}.WithValue({_stringify(self._key)}, {_stringify(self._val)})"


def with_value(parent: Context, key: Any, value: Any) -> Context:
    """A child of parent in which `value(key)` is `value` (Go's WithValue).

    key must be hashable and not None (TypeError otherwise).  To avoid
    collisions between packages, use keys of your own type or `object()`
    sentinels rather than plain strings.
    """
    _check_parent(parent, "with_value")
    if key is None:
        raise TypeError("context.with_value: None key")
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"context.with_value: key is not hashable: {type(key).__name__}") from None
    return _ValueCtx(parent, key, value)


# ---------------------------------------------------------------- withoutCancel

class _WithoutCancelCtx(Context):
    """Parent's values without its cancellation or deadline (Go's withoutCancelCtx)."""

    __slots__ = ("_parent",)

    def __init__(self, parent: Context) -> None:
        self._parent = parent

    def value(self, key: Any) -> Any:
        return _value(self, key)

    def _name(self) -> str:
        return f"{_context_name(self._parent)}.WithoutCancel"


def without_cancel(parent: Context) -> Context:
    """A context with parent's values that is never cancelled and has no deadline (Go 1.21)."""
    _check_parent(parent, "without_cancel")
    return _WithoutCancelCtx(parent)


def _value(c: Context, key: Any) -> Any:
    """Walk up from c looking for key, iteratively (Go's `value`).

    Keys match as Go's interface values compare: same type and equal (so
    1, 1.0 and True are three keys, and so are two int subclasses).
    """
    tkey = type(key)
    while True:
        t = type(c)
        if t is _ValueCtx:
            k = c._key                                  # type: ignore[attr-defined]
            if k is key or (type(k) is tkey and k == key):
                return c._val                           # type: ignore[attr-defined]
            c = c._parent                               # type: ignore[attr-defined]
        elif t is _CancelCtx or t is _TimerCtx or t is _AfterFuncCtx:
            if key is _CANCEL_CTX_KEY:
                return c
            c = c._parent                               # type: ignore[attr-defined]
        elif t is _WithoutCancelCtx:
            if key is _CANCEL_CTX_KEY:
                return None                             # so that cause() is None
            c = c._parent                               # type: ignore[attr-defined]
        elif t is _EmptyCtx:
            return None
        else:
            # a user's Context type: ask it, for every key (Go: `default: return
            # c.Value(key)`), so a wrapper that forwards value() leads us to
            # the gort context it wraps (parentCancelCtx, Cause)
            return c.value(key)


# ---------------------------------------------------------------- AfterFunc

class _AfterFuncCtx(_CancelCtx):
    """A child registered in ctx that starts `fn` on cancellation (Go's afterFuncCtx)."""

    __slots__ = ("_fn", "_started")

    def __init__(self, parent: Context, fn: Callable[[], Any]) -> None:
        super().__init__(parent)
        self._fn = fn
        self._started = False                           # Go's `once`

    def _name(self) -> str:
        return f"{_context_name(self._parent)}.AfterFunc"

    def _claim(self) -> bool:
        with self._mu:
            if self._started:
                return False
            self._started = True
            return True

    def _cancel(self, remove_from_parent: bool, err: BaseException,
                cause_: Optional[BaseException]) -> None:
        super()._cancel(False, err, cause_)
        if remove_from_parent:
            self._detach()
        if self._claim():
            _go(_call, self._fn)


async def _call(fn: Callable[[], Any]) -> Any:
    """The goroutine after_func starts: call fn and await its result if it is awaitable."""
    r = fn()
    if inspect.isawaitable(r):
        r = await r
    return r


def after_func(ctx: Context, fn: Callable[[], Any]) -> Callable[[], bool]:
    """Run `fn()` in a new goroutine once ctx is done (Go 1.21's context.AfterFunc).

    If ctx is already done, fn starts at once.  fn may be an async function or
    a plain callable (then called inside a goroutine).  Several after_func
    calls on one ctx run independently.  Returns `stop`: `stop()` detaches fn
    from ctx and returns True if that prevented fn from being started; False
    if fn was already started or stopped.  stop does not wait for fn.
    """
    _check_parent(ctx, "after_func")
    if isinstance(fn, types.CoroutineType):
        fn.close()
        raise TypeError("context.after_func: pass the function, not a coroutine object")
    if not callable(fn):
        raise TypeError(f"context.after_func: {fn!r} is not callable")
    a = _AfterFuncCtx(ctx, fn)
    _propagate_cancel(ctx, a)

    def stop() -> bool:
        """Prevent fn from starting; True if this call did so."""
        if not a._claim():
            return False
        a._cancel(True, Canceled(), None)
        return True
    return stop
