"""trace: watching the scheduler work (reference §13).

- `stats()`: a snapshot of every P, M and G count (gort.stats()).
- `start()` / `stop()`: an in-memory execution trace with Go's event names
  (GoCreate, GoStart, GoStop, GoBlock, GoUnblock, GoDestroy, ProcStart,
  ProcStop, ProcSteal, ProcsChange, Steal, MPark, MWake): one tuple per event.
- `GORT_SCHEDTRACE=ms`: sysmon prints Go's `GODEBUG=schedtrace` line every ms.
"""
from __future__ import annotations

import time
from typing import Any, NamedTuple, Optional

from ..g import GSTATUS_NAMES, _Gdead, _Gidle
from ..p import PSTATUS_NAMES


class Event(NamedTuple):
    t: float                 # seconds since the program started
    kind: str
    m: Optional[int]
    g: Optional[int]
    p: Optional[int]
    arg: Any


class Tracer:
    """Collects events; list.append is atomic, so Ms record without a lock."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.events: list[Event] = []

    def event(self, kind: str, m: Any, gp: Any, pp: Any = None, arg: Any = None) -> None:
        self.events.append(Event(time.monotonic() - self.start, kind,
                                 m.id if m is not None else None,
                                 gp.goid if gp is not None else None,
                                 pp.id if pp is not None else None, arg))


def start() -> None:
    """Start recording scheduler events in the running program."""
    from .. import proc
    s = proc.cursched()
    if not s.main_started:
        raise RuntimeError("gort.trace.start: no running program")
    if s.trace is None:
        s.trace = Tracer(s.start)


def stop() -> list[Event]:
    """Stop recording; return the events, oldest first."""
    from .. import proc
    s = proc.cursched()
    tr, s.trace = s.trace, None
    # Ms stamp and append independently, so appends can land slightly out of order
    return sorted(tr.events, key=lambda e: e.t) if tr is not None else []


def stats() -> dict[str, Any]:
    from .. import proc
    s = proc.cursched()
    gs: dict[str, int] = {}
    for gp in list(s.allgs):
        if gp.status in (_Gdead, _Gidle):
            continue
        k = GSTATUS_NAMES.get(gp.status, str(gp.status))
        gs[k] = gs.get(k, 0) + 1
    return {
        "gomaxprocs": s.gomaxprocs,
        "ps": [{"id": pp.id, "status": PSTATUS_NAMES.get(pp.status), "schedtick": pp.schedtick,
                "syscalltick": pp.syscalltick, "runqsize": pp.runqsize(), "stolen": pp.nstolen,
                "gfree": len(pp.gfree), "timers": pp.timers.len if pp.timers is not None else 0}
               for pp in list(s.allp)],
        "threads": s.mcount,
        "idlethreads": s.nmidle,
        "spinningthreads": s.nmspinning,
        "sysmon": s.nmsys,
        "mcreated": s.mnext,
        "mwakeups": s.nmwake,
        "mparks": s.nmpark,
        "runqueue": len(s.runq),
        "goroutines": gs,
        "steals": s.nsteals,
        "scheduler": "global" if s.global_only else "gmp",
        "lock_acquires": getattr(s.lock, "acquires", None),      # with GORT_LOCKSTATS=1
        "lock_contended": getattr(s.lock, "contended", None),
        "handoffs": s.nhandoff,
        "retakes": s.nretake,
        "preempts": s.npreempt,
    }


def schedtrace_line(s: Any) -> str:
    ms = int((time.monotonic() - s.start) * 1000)
    locals_ = " ".join(str(pp.runqsize()) for pp in list(s.allp))
    return (f"SCHED {ms}ms: gomaxprocs={s.gomaxprocs} idleprocs={s.npidle} threads={s.mcount} "
            f"spinningthreads={s.nmspinning} needspinning={s.needspinning} idlethreads={s.nmidle} "
            f"runqueue={len(s.runq)} [{locals_}]")
