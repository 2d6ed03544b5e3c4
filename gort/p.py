"""P: a logical processor (runtime/runtime2.go `type p`; proc.go runqput, runqget, runqgrab, runqsteal).

The local run queue.  Go's is a 256-slot ring that only the owner P appends to
and that thieves consume from with a CAS on `runqhead`.  Python has no CAS, so
the ring is a deque bounded at 256 by the owner: `deque.append`/`popleft`/`pop`
are atomic on both GIL and free-threaded CPython (documented deque guarantee),
which gives the same single-producer / multi-consumer contract with no lock.
`runnext` is a deque of at most one G: taking it with `pop()` is Go's
`CAS(runnext, g, 0)` - exactly one of owner and thief gets the G.

The C twin (gort._accel.P and the run queue functions, used unless
GORT_PUREPY=1) is Go's ring itself: 256 slots, CAS on the head, a
store-release of the tail, runnext a CAS slot.  Code outside this module
reaches a P's queue only through the functions below (runqput, runqget,
runqsteal, runqdrain, runqlist, runnextg, P.runqsize, P.runqempty), which
both twins provide.
"""
from __future__ import annotations

import os
import time
from collections import deque
from typing import Any, Optional

from .g import G

# P status (runtime2.go)
_Pidle = 0
_Prunning = 1
_Psyscall = 2
_Pgcstop = 3
_Pdead = 4

PSTATUS_NAMES = {_Pidle: "idle", _Prunning: "running", _Psyscall: "syscall",
                 _Pgcstop: "gcstop", _Pdead: "dead"}

RUNQ_SIZE = 256          # len(p.runq) in Go
GFREE_MAX = 64           # gfput: spill when the local free list reaches 64 ...
GFREE_KEEP = 32          # ... down to 32; gfget refills 32 at a time
GOID_CACHE_BATCH = 16    # _GoidCacheBatch


class P:
    __slots__ = (
        "id", "status", "m", "runq", "runnext", "schedtick", "syscalltick",
        "sysmontick", "gfree", "goidcache", "goidcacheend", "timers",
        "preempt", "nstolen", "busysample",
    )

    def __init__(self, pid: int) -> None:
        self.id = pid
        self.status = _Pgcstop            # p.init leaves a new P stopped
        self.m: Any = None
        self.runq: deque[G] = deque()
        self.runnext: deque[G] = deque()
        self.schedtick = 0                # bumped by execute on each new time slice
        self.syscalltick = 0              # bumped on each syscall exit / retake
        # schedtick, schedwhen, syscalltick, syscallwhen: as sysmon last saw them
        # (the clock starts now, or sysmon's first look would see a stale slice)
        now = time.monotonic()
        self.sysmontick = [0, now, 0, now]
        self.gfree: list[G] = []
        self.goidcache = 0
        self.goidcacheend = 0
        self.timers: Any = None                # timers.Timers, created by timers.py
        self.preempt = False              # the time slice ran out (sysmon): timer wake-ups queue at the tail
        self.nstolen = 0                  # Gs this P took from other Ps (stats)
        self.busysample: Any = None       # sysmon's look at a stuck M's frame (busyhandoff=0)

    def runqsize(self) -> int:
        return len(self.runq) + len(self.runnext)

    def runqempty(self) -> bool:
        return not self.runq and not self.runnext

    def __repr__(self) -> str:
        return (f"<P{self.id} {PSTATUS_NAMES.get(self.status)} runq={len(self.runq)}"
                f" runnext={len(self.runnext)} schedtick={self.schedtick}>")


def runqput(pp: P, gp: G, next: bool) -> Optional[list[G]]:
    """Put gp on pp's local queue (owner only).

    With next, gp goes to runnext and the previous runnext is kicked to the tail.
    Returns the batch that overflowed to the global queue (half the ring + 1),
    which the caller hands to globrunqputbatch; None when nothing overflowed.
    """
    if next:
        rn = pp.runnext
        old = None
        if rn:
            try:
                old = rn.pop()
            except IndexError:      # a thief took it between the test and the pop
                pass
        rn.append(gp)
        if old is None:
            return None
        gp = old
    q = pp.runq
    if len(q) < RUNQ_SIZE:          # only the owner appends, so this test is stable
        q.append(gp)
        return None
    return runqputslow(pp, gp)


def runqputslow(pp: P, gp: G) -> list[G]:
    """Move half the local queue plus gp (129 Gs) into a batch for the global queue."""
    batch = []
    q = pp.runq
    for _ in range(RUNQ_SIZE // 2):
        try:
            batch.append(q.popleft())
        except IndexError:          # thieves emptied it meanwhile
            break
    batch.append(gp)
    return batch


def runqget(pp: P) -> tuple[Optional[G], bool]:
    """Next G of pp: runnext first (inherits the time slice), then the queue head."""
    rn = pp.runnext
    if rn:
        try:
            return rn.pop(), True
        except IndexError:
            pass
    q = pp.runq
    if q:
        try:
            return q.popleft(), False
        except IndexError:
            pass
    return None, False


def runqgrab(p2: P, steal_runnext: bool) -> list[G]:
    """Take half (rounded up) of p2's queue; its runnext only if allowed and the queue is empty."""
    q = p2.runq
    n = len(q)
    n -= n // 2
    got = []
    for _ in range(n):
        try:
            got.append(q.popleft())
        except IndexError:
            break
    if got or not steal_runnext or not p2.runnext:
        return got
    if p2.status == _Prunning:
        # Go sleeps 3 µs so the victim can run the G it just readied; Python's
        # shortest sleep is ~50 µs, so yield the CPU instead (Go's osyield
        # fallback on low-resolution-timer platforms).
        os.sched_yield()
    try:
        got.append(p2.runnext.pop())
    except IndexError:
        pass
    return got


def runqdrain(pp: P) -> list[G]:
    """Take every G off pp, runnext first (the owner, or a P nobody runs)."""
    gs: list[G] = []
    while True:
        gp, _ = runqget(pp)
        if gp is None:
            return gs
        gs.append(gp)


def runqlist(pp: P) -> list[G]:
    """The Gs in pp's queue, head first, without taking them (a snapshot: dumps, tests)."""
    return list(pp.runq)


def runnextg(pp: P) -> Optional[G]:
    """pp's runnext G, or None (a snapshot)."""
    try:
        return pp.runnext[0]
    except IndexError:
        return None


def runqsteal(pp: P, p2: P, steal_runnext: bool) -> Optional[G]:
    """Steal half of p2's Gs into pp's queue; return one of them to run."""
    got = runqgrab(p2, steal_runnext)
    if not got:
        return None
    gp = got.pop()
    if got:
        pp.runq.extend(got)         # pp's queue is empty: a spinning M owns it
    pp.nstolen += len(got) + 1
    return gp


# The C twins (gort/_accel.c), unless GORT_PUREPY=1 or the module was not built.
from .accel import C  # noqa: E402

if C is not None:
    C.configure(monotonic=time.monotonic)
    P = C.P                                  # type: ignore[misc]  # noqa: F811
    runqput = C.runqput                      # noqa: F811
    runqget = C.runqget                      # noqa: F811
    runqgrab = C.runqgrab                    # noqa: F811
    runqsteal = C.runqsteal                  # noqa: F811
    runqdrain = C.runqdrain                  # noqa: F811
    runqlist = C.runqlist                    # noqa: F811
    runnextg = C.runnextg                    # noqa: F811
