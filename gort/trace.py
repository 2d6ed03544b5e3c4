"""trace: watching the scheduler work (reference §13).

`stats()` is a snapshot of every P, M and G count; `schedtrace_line()` prints
Go's `GODEBUG=schedtrace` summary line.
"""
from __future__ import annotations

from typing import Any

from .g import GSTATUS_NAMES, _Gdead, _Gidle
from .p import PSTATUS_NAMES


def stats() -> dict[str, Any]:
    from . import proc
    s = proc.sched
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
                "gfree": len(pp.gfree),
                "timers": pp.timers.len if pp.timers is not None else 0}
               for pp in list(s.allp)],
        "threads": s.mcount,
        "idlethreads": s.nmidle,
        "spinningthreads": s.nmspinning,
        "sysmon": s.nmsys,
        "mcreated": s.mnext,
        "runqueue": len(s.runq),
        "goroutines": gs,
        "steals": s.nsteals,
        "handoffs": s.nhandoff,
        "retakes": s.nretake,
        "preempts": s.npreempt,
    }


def schedtrace_line(s: Any) -> str:
    import time
    ms = int((time.monotonic() - s.start) * 1000)
    locals_ = " ".join(str(pp.runqsize()) for pp in list(s.allp))
    return (f"SCHED {ms}ms: gomaxprocs={s.gomaxprocs} idleprocs={s.npidle} threads={s.mcount} "
            f"spinningthreads={s.nmspinning} needspinning={s.needspinning} idlethreads={s.nmidle} "
            f"runqueue={len(s.runq)} [{locals_}]")
