"""M: an OS thread running the scheduler loop (runtime/runtime2.go `type m`; proc.go mstart, stopm).

The thread's own loop (proc.schedule) is its g0: scheduler code runs there,
outside every G.  An M without work parks on its `park` note.
"""
from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from .sched import Sched


class Note:
    """Go's note (lock_futex.go): one sleeper, one wake-up.

    A Lock held by nobody but the note: sleep acquires it (blocks until a
    wakeup releases it), wakeup releases it.  Works across threads, on any build.
    """

    __slots__ = ("_l",)

    def __init__(self) -> None:
        self._l = threading.Lock()
        self._l.acquire()

    def sleep(self, timeout: float = -1) -> bool:
        return self._l.acquire(True, timeout)

    def wakeup(self) -> None:
        try:
            self._l.release()
        except RuntimeError:        # already woken and not yet consumed
            pass

    def clear(self) -> None:
        self._l.acquire(False)


class MCore:
    """The fields of an M that the scheduler's hot path reads: the Python twin
    of gort._accel.MCore (C, used unless GORT_PUREPY=1).  M adds the rest."""

    __slots__ = ("id", "sched", "p", "curg", "lockedg", "spinning", "exiting")


from .accel import C  # noqa: E402

if C is not None:
    MCore = C.MCore                          # type: ignore[misc]  # noqa: F811


class M(MCore):
    __slots__ = (
        "thread", "ident", "nextp", "oldp", "blocked", "park", "lockedext",
        "syscalltick", "rand", "issys", "dead", "abandoned",
    )

    def __init__(self, mid: int, s: "Sched") -> None:
        self.id = mid
        self.sched = s               # the program this M belongs to, for its whole life
        self.thread: Optional[threading.Thread] = None
        self.ident = 0
        self.p: Any = None           # attached P
        self.nextp: Any = None       # P handed over by startm / startlockedm
        self.oldp: Any = None        # P held before a syscall
        self.curg: Any = None        # G being run
        self.spinning = False
        self.blocked = False    # parked on its note
        self.park = Note()
        self.lockedg: Any = None
        self.lockedext = 0
        self.syscalltick = 0
        self.rand = random.Random()  # per-M random source (Go's per-M cheaprand)
        self.exiting = False    # told to leave its loop
        self.issys = False      # sysmon: not counted by checkdead
        self.dead = False
        self.abandoned: Any = None   # the G it was stuck in when its program ended

    def __repr__(self) -> str:
        p = self.p.id if self.p is not None else None
        g = self.curg.goid if self.curg is not None else None
        return f"<M{self.id} p={p} curg={g} spinning={self.spinning} blocked={self.blocked}>"
