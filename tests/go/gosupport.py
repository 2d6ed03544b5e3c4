"""Shared support for the ports of Go's own tests (tests/go/).

Iteration counts: a port keeps Go's count unless it would take more than ~10 s
on a 2-core machine; then it uses a smaller one through `count(go, here)`, with
a comment giving Go's value.  `GORT_GO_FULL=1` restores every Go count.

Timing: nothing waits by sleeping and hoping.  Waiting for a goroutine to block
is `until_parked` (a bounded number of yields until the scheduler shows a G
parked with that wait reason); waiting for an event is a receive bounded by a
generous `after`.  A sleep only ever stands where Go's test asserts that
something did *not* happen during it, which cannot fail a correct runtime.
"""
from __future__ import annotations

import os
import threading

import gort
from helpers import run_bounded, until_parked, wait_until

FULL = os.environ.get("GORT_GO_FULL") == "1"

__all__ = ["FULL", "count", "run", "recv_within", "until_parked", "until_n_parked", "wait_until",
           "ms", "LONG", "Atomic"]

LONG = 30.0          # "forever" for a bounded wait that must succeed


def count(go: int, here: int) -> int:
    """Go's iteration count under GORT_GO_FULL=1, else the smaller `here`."""
    return go if FULL else here


def ms(n: float) -> float:
    """n milliseconds in gort's units (seconds)."""
    return n / 1000.0


def run(main, *args, procs=None, timeout: float = 120.0):
    """gort.run on a helper thread; a hang fails the test after `timeout` seconds."""
    return run_bounded(main, *args, procs=procs, timeout=timeout)


async def recv_within(ch, seconds: float = LONG, what: str = "a value"):
    """Receive (v, ok) from ch, failing if nothing arrives within `seconds`."""
    i, v, ok = await gort.select(gort.recv(ch), gort.recv(gort.after(seconds)))
    assert i == 0, f"timed out after {seconds}s waiting for {what}"
    return v, ok


def parked(reason: str) -> int:
    """How many goroutines are parked now with this wait reason."""
    return sum(1 for g in gort.proc.sched.allgs if g.status == 4 and g.waitreason == reason)


async def until_n_parked(reason: str, n: int) -> None:
    """Yield until at least n goroutines are parked with this wait reason (bounded)."""
    await wait_until(lambda: parked(reason) >= n, f"{n} goroutines parked on {reason!r}")


class Atomic:
    """An integer with atomic add/load (Go's sync/atomic), safe without the GIL."""

    __slots__ = ("_v", "_mu")

    def __init__(self, v: int = 0) -> None:
        self._v = v
        self._mu = threading.Lock()

    def add(self, delta: int) -> int:
        with self._mu:
            self._v += delta
            return self._v

    def load(self) -> int:
        with self._mu:
            return self._v

    def store(self, v: int) -> None:
        with self._mu:
            self._v = v
