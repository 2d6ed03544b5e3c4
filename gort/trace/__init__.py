"""trace: watching the scheduler work (reference §13).

- `stats()`: a snapshot of every P, M and G count (gort.stats()).
- `start()` / `stop()`: an in-memory execution trace with Go's event names
  (GoCreate, GoStart, GoStop, GoBlock, GoUnblock, GoDestroy, ProcStart,
  ProcStop, ProcSteal, ProcsChange, Steal, MPark, MWake): one tuple per event.
- `schedtrace(s, detailed)`: Go's `GODEBUG=schedtrace=MS,scheddetail=1`
  output, which sysmon prints every MS ms (`GORT_DEBUG=schedtrace=MS`,
  `GORT_SCHEDTRACE=MS`).
"""
from __future__ import annotations

import os
import time
from typing import Any, NamedTuple, Optional

from ..g import GSTATUS_NAMES, _Gdead, _Gidle, _Gwaiting
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


def _b(v: Any) -> str:
    return "true" if v else "false"


def _id(x: Any) -> str:
    return "nil" if x is None else str(x.id)


def schedtrace(s: Any, detailed: bool = False) -> str:
    """Go's schedtrace output (proc.go `schedtrace`), without a trailing newline.

    The summary line; with detailed (scheddetail=1), Go's extra summary fields
    and one line per P, per M and per G in Go's order and format.  gort has
    no allocator, throw or per-M locks: an M's `mallocing`, `throwing`,
    `locks` and `dying` are always 0 and `preemptoff` empty, printed so that
    Go's parsers read the line.  Runqsize counts runnext, as gort.stats().
    Taken under sched.lock, as Go; still a snapshot of moving parts."""
    now = time.monotonic()
    s.lock.acquire()
    try:
        allp = list(s.allp)
        head = (f"SCHED {int((now - s.start) * 1000)}ms: gomaxprocs={s.gomaxprocs} idleprocs={s.npidle} "
                f"threads={s.mcount} spinningthreads={s.nmspinning} needspinning={s.needspinning} "
                f"idlethreads={s.nmidle} runqueue={len(s.runq)}")
        if not detailed:
            return head + " [" + " ".join(str(pp.runqsize()) for pp in allp) + "]"
        lines = [head + f" gcwaiting={_b(s.gcwaiting)} nmidlelocked={s.nmidlelocked} "
                        f"stopwait={s.stopwait} sysmonwait={_b(s.sysmonwait)}"]
        for pp in allp:
            ntimers = pp.timers.len if pp.timers is not None else 0
            lines.append(f"  P{pp.id}: status={pp.status} schedtick={pp.schedtick} "
                         f"syscalltick={pp.syscalltick} m={_id(pp.m)} runqsize={pp.runqsize()} "
                         f"gfreecnt={len(pp.gfree)} timerslen={ntimers}")
        gm: dict[int, Any] = {}
        for mp in list(s.allm):
            if mp.dead:
                continue
            cg = mp.curg
            if cg is not None:
                gm[id(cg)] = mp
            lg = mp.lockedg
            lines.append(f"  M{mp.id}: p={_id(mp.p)} curg={'nil' if cg is None else cg.goid} "
                         f"mallocing=0 throwing=0 preemptoff= locks=0 dying=0 "
                         f"spinning={_b(mp.spinning)} blocked={_b(mp.blocked)} "
                         f"lockedg={'nil' if lg is None else lg.goid}")
        for gp in list(s.allgs):
            st = gp.status
            wr = gp.waitreason if st == _Gwaiting else ""
            lines.append(f"  G{gp.goid}: status={st}({wr}) m={_id(gm.get(id(gp)))} "
                         f"lockedm={_id(gp.lockedm)}")
        return "\n".join(lines)
    finally:
        s.lock.release()


def schedtrace_settings(legacy_ms: float = 0) -> tuple[int, bool]:
    """(schedtrace ms, scheddetail) from GORT_DEBUG=schedtrace=MS,scheddetail=1;
    GORT_SCHEDTRACE=MS (legacy_ms) is an alias for schedtrace."""
    from ..debug import parse
    d = parse(os.environ.get("GORT_DEBUG", ""))
    v = d.get("schedtrace")
    ms = legacy_ms
    if v:
        try:
            ms = float(v)
        except ValueError:
            raise ValueError(f"GORT_DEBUG=schedtrace={v!r} is not a number of milliseconds") from None
    return max(0, int(ms)), d.get("scheddetail", "0") not in ("0", "")


def schedtrace_line(s: Any) -> str:
    """The summary line alone (Go's schedtrace without scheddetail)."""
    return schedtrace(s, False)
