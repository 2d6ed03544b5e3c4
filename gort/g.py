"""G: a goroutine (runtime/runtime2.go `type g`, its status values and waitReasonStrings).

A G wraps one coroutine.  Its status and wait reason use Go's values so that
dumps and traces line up with Go's.  Dead Gs are kept on free lists and reused
(gfput/gfget live in proc.py next to the P they belong to).
"""
from __future__ import annotations

from typing import Any

# G status (runtime2.go).  Values are Go's, unused ones kept for alignment.
_Gidle = 0
_Grunnable = 1
_Grunning = 2
_Gsyscall = 3
_Gwaiting = 4
_Gdead = 6

GSTATUS_NAMES = {
    _Gidle: "idle", _Grunnable: "runnable", _Grunning: "running",
    _Gsyscall: "syscall", _Gwaiting: "waiting", _Gdead: "dead",
}

# Wait reasons: Go's strings (runtime2.go waitReasonStrings).
waitReasonZero = ""
waitReasonIOWait = "IO wait"
waitReasonChanReceiveNilChan = "chan receive (nil chan)"
waitReasonChanSendNilChan = "chan send (nil chan)"
waitReasonSelect = "select"
waitReasonSelectNoCases = "select (no cases)"
waitReasonChanReceive = "chan receive"
waitReasonChanSend = "chan send"
waitReasonSemacquire = "semacquire"
waitReasonSleep = "sleep"
waitReasonSyncCondWait = "sync.Cond.Wait"
waitReasonSyncMutexLock = "sync.Mutex.Lock"
waitReasonSyncRWMutexRLock = "sync.RWMutex.RLock"
waitReasonSyncRWMutexLock = "sync.RWMutex.Lock"
waitReasonSyncWaitGroupWait = "sync.WaitGroup.Wait"
waitReasonPreempted = "preempted"
waitReasonStoppingTheWorld = "stopping the world"
waitReasonAio = "gort.aio.run"              # gort's own: waiting for an asyncio awaitable


# Set by sysmon while some G has a preemption request pending: the fast paths
# of gort's traps look at this one flag before looking up their G.
preempt_flag = [False]


class G:
    """A goroutine.  Fields follow Go's `g`; only what a Python port needs."""

    __slots__ = (
        "goid", "coro", "status", "waitreason", "waitsince", "param",
        "preempt", "lockedm", "waiting", "selectdone", "timer", "sg",
    )

    def __init__(self) -> None:
        self.goid = 0
        self.coro: Any = None
        self.status = _Gidle
        self.waitreason = waitReasonZero
        self.waitsince = 0.0          # time.monotonic() when it parked
        self.param: Any = None        # set by wakers (the completed sudog for channels)
        self.preempt = False          # preemption request (Go's stackguard0 = stackPreempt)
        self.lockedm: Any = None           # LockOSThread wiring
        self.waiting: Any = None           # sudogs of a blocked select, in lock order
        self.selectdone: Any = None        # lazily made Lock: acquire(False) is Go's selectDone CAS
        self.timer: Any = None             # cached runtime timer for sleep (Go's gp.timer)
        self.sg: Any = None                # cached sudog for plain channel waits (Go's sudog cache)

    @property
    def fn(self) -> str:
        return getattr(self.coro, "__qualname__", "?")

    def __repr__(self) -> str:
        st = GSTATUS_NAMES.get(self.status, str(self.status))
        wr = f" ({self.waitreason})" if self.status == _Gwaiting and self.waitreason else ""
        return f"<G{self.goid} {st}{wr} {self.fn}>"


def coro_stack(coro: Any) -> list[str]:
    """Frames of a suspended coroutine chain, outermost first ("file:line in fn")."""
    out = []
    seen = 0
    while coro is not None and seen < 64:
        seen += 1
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            out.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        nxt = getattr(coro, "cr_await", None)
        if nxt is None:
            nxt = getattr(coro, "gi_yieldfrom", None)
        coro = nxt
    return out


def describe(gp: G) -> str:
    """One dump paragraph for a G, in the shape of Go's traceback header."""
    st = GSTATUS_NAMES.get(gp.status, str(gp.status))
    if gp.status == _Gwaiting and gp.waitreason:
        st = gp.waitreason
    lines = [f"goroutine {gp.goid} [{st}]: {gp.fn}"]
    if gp.coro is not None:
        for fr in coro_stack(gp.coro):
            lines.append("    " + fr)
    return "\n".join(lines)
