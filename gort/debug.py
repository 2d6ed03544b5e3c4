"""debug: GORT_DEBUG, gort's GODEBUG, and the debug checks.

`GORT_DEBUG` is a comma-separated list of settings, read when gort is imported:

- `1` (or `checkawait=1`, or running under `python -X dev`): every gort
  operation that is garbage-collected without being awaited emits a
  RuntimeWarning naming the call and the file:line that made it, as asyncio's
  "coroutine ... was never awaited" does.  A forgotten `await` is otherwise
  silent: `mu.lock()` without `await` does not lock, `ch.send(v)` sends nothing.
- `schedtrace=MS`: sysmon prints Go's schedtrace line every MS milliseconds
  (read by each gort.run, as `GORT_SCHEDTRACE=MS`); `scheddetail=1` adds Go's
  per-P, per-M and per-G lines (gort.trace.schedtrace).
- `tracebuf=N`: events per execution-trace buffer (gort.trace; default 100,000).

Why the await check is not always on: gort's operations are generator-based
awaitables (`types.coroutine`), which Python does not track, and wrapping
every channel operation costs 8-10 % on the channel benchmarks (W2, W3), over
the 5 % budget for a debug aid.  `mypy` catches the same mistake statically
with `enable_error_code = unused-awaitable` (see README).
"""
from __future__ import annotations

import functools
import os
import sys
import types
import warnings
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def parse(value: str) -> dict[str, str]:
    """GORT_DEBUG's settings: "1,schedtrace=100" -> {"1": "1", "schedtrace": "100"}."""
    out: dict[str, str] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        k, sep, v = item.partition("=")
        out[k.strip()] = v.strip() if sep else "1"
    return out


settings = parse(os.environ.get("GORT_DEBUG", ""))


def _on(key: str) -> bool:
    return settings.get(key, "0") not in ("0", "")


CHECK_AWAIT = bool(sys.flags.dev_mode or _on("1") or _on("checkawait"))


class Unawaited:
    """A gort operation made while the debug checks are on: awaits as the
    operation itself, and warns if it is collected without being awaited."""

    __slots__ = ("_aw", "_name", "_file", "_line", "_used")

    def __init__(self, aw: Any, name: str, file: str, line: int) -> None:
        self._aw = aw
        self._name = name
        self._file = file
        self._line = line
        self._used = False

    def __await__(self) -> Any:
        self._used = True
        aw = self._aw
        # a plain generator (__await__ may not return a coroutine), delegating
        # to a generator-based gort operation or to an async def's __await__
        return (yield from (aw.__await__() if type(aw) is types.CoroutineType else aw))

    __iter__ = __await__          # `yield from op` inside gort's own awaitables

    def send(self, v: Any) -> Any:  # driven by hand, as a generator
        self._used = True
        return self._aw.send(v)

    def close(self) -> None:
        self._used = True
        self._aw.close()

    def __repr__(self) -> str:
        return f"<gort awaitable {self._name}() from {self._file}:{self._line}>"

    def __del__(self) -> None:
        if not self._used:
            self._used = True
            try:
                self._aw.close()
            except BaseException:
                pass
            warnings.warn_explicit(
                f"gort operation {self._name}() was never awaited: without `await` it does nothing",
                RuntimeWarning, self._file, self._line, module="gort")


def awaitable(fn: F) -> F:
    """Mark a gort operation (a generator-based awaitable function): with the
    debug checks on, its results warn when never awaited; otherwise fn itself."""
    fn._gort_awaitable = True     # type: ignore[attr-defined]
    if not CHECK_AWAIT:
        return fn
    name = fn.__qualname__

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        f = sys._getframe(1)
        return Unawaited(fn(*args, **kwargs), name, f.f_code.co_filename, f.f_lineno)

    checked._gort_awaitable = True  # type: ignore[attr-defined]
    return checked  # type: ignore[return-value]


# The C operations (gort._accel) check their own awaits: always, and with the
# file:line of the call when the debug checks are on.
from .accel import C  # noqa: E402

if C is not None:
    C.set_check_await(CHECK_AWAIT)
