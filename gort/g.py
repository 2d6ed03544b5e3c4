"""G: a goroutine (runtime/runtime2.go `type g`, its status values and waitReasonStrings).

A G wraps one coroutine.  Its status and wait reason use Go's values so that
dumps and traces line up with Go's.  Dead Gs are kept on free lists and reused
(gfput/gfget live in proc.py next to the P they belong to).

The goroutine dump (Go's traceback.go: `goroutineheader`, the frames,
`printcreatedby`) is formatted here: `dump` for one G, `created_chain` for the
note an escaping exception carries, `strip_sched_frames` for its traceback.
"""
from __future__ import annotations

import os
import sys
import threading
import types
from typing import Any, Iterator, Optional

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
preempt_flag: list[bool] = [False]


class G:
    """A goroutine.  Fields follow Go's `g`; only what a Python port needs."""

    __slots__ = (
        "goid", "coro", "status", "waitreason", "waitsince", "param",
        "preempt", "lockedm", "waiting", "selectdone", "timer", "sg",
        "gopc", "gopcpc", "parentgoid", "parent",
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
        # where it was created (Go's gopc, parentGoid), set by newproc: the code
        # object and byte offset of the `gort.go` call, formatted only by dumps
        self.gopc: Optional[types.CodeType] = None
        self.gopcpc = -1
        self.parentgoid = 0
        self.parent: Optional[G] = None    # the creating G; its goid tells whether it was reused since

    @property
    def fn(self) -> str:
        return getattr(self.coro, "__qualname__", "?")

    def __repr__(self) -> str:
        st = GSTATUS_NAMES.get(self.status, str(self.status))
        wr = f" ({self.waitreason})" if self.status == _Gwaiting and self.waitreason else ""
        return f"<G{self.goid} {st}{wr} {self.fn}>"


# ---------------------------------------------------------------- goroutine dumps

GORT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# generator, coroutine, iterable coroutine, async generator: the frames of a
# goroutine's await chain, as opposed to the scheduler's plain functions
_CO_SUSPENDABLE = 0x20 | 0x80 | 0x100 | 0x200
_THREADING_FILE = threading.__file__


def is_gort_file(filename: str) -> bool:
    """Whether a code object's file is one of gort's own (left out of dumps)."""
    return filename.startswith(GORT_DIR)


def code_line(code: types.CodeType, lasti: int) -> int:
    """The line of byte offset lasti in code (what frame.f_lineno would have said).

    newproc keeps only the offset (cheap); the line table is read when a dump
    needs it."""
    if lasti >= 0:
        for start, end, line in code.co_lines():
            if start <= lasti < end and line is not None:
                return line
    return code.co_firstlineno


_modnames: dict[str, str] = {}
_nmodules = [0]


def module_name(filename: str) -> str:
    """The module a file was imported as (for `pkg.fn` names), else its stem."""
    name = _modnames.get(filename)
    if name is not None:
        return name
    if len(sys.modules) != _nmodules[0]:      # new imports since the last look
        _nmodules[0] = len(sys.modules)
        for mname, mod in list(sys.modules.items()):
            f = getattr(mod, "__file__", None)
            if isinstance(f, str):
                _modnames.setdefault(os.path.abspath(f), mname)
                _modnames.setdefault(f, mname)
        name = _modnames.get(filename)
    if name is None:
        name = os.path.splitext(os.path.basename(filename))[0] or "?"
    return name


def code_name(code: types.CodeType, globals_: Optional[dict[str, Any]] = None) -> str:
    """Go's `pkg.fn` for a Python function: module.qualname."""
    mod = globals_.get("__name__") if globals_ is not None else None
    if not isinstance(mod, str):
        mod = module_name(code.co_filename)
    return f"{mod}.{getattr(code, 'co_qualname', code.co_name)}"


class Frame:
    """One line pair of a dump: `pkg.fn(...)` and `\\tfile:line`."""

    __slots__ = ("name", "file", "line")

    def __init__(self, name: str, file: str, line: int) -> None:
        self.name = name
        self.file = file
        self.line = line

    def __repr__(self) -> str:
        return f"{self.name}(...)\n\t{self.file}:{self.line}"


def _frame(f: types.FrameType) -> Frame:
    return Frame(code_name(f.f_code, f.f_globals), f.f_code.co_filename, f.f_lineno or 0)


def coro_chain(coro: Any) -> Iterator[types.FrameType]:
    """The frames of a suspended await chain, outermost first (cr_await / gi_yieldfrom)."""
    seen = 0
    while coro is not None and seen < 256:
        seen += 1
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            yield frame
        nxt = getattr(coro, "cr_await", None)
        if nxt is None:
            nxt = getattr(coro, "gi_yieldfrom", None)
        coro = nxt


def coro_stack(coro: Any) -> list[str]:
    """Frames of a suspended coroutine chain, outermost first ("file:line in fn")."""
    return [f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}" for f in coro_chain(coro)]


def thread_stack(top: Optional[types.FrameType]) -> list[Frame]:
    """A running goroutine's frames, innermost first, from its thread's top
    frame down to the scheduler loop (the first gort frame that is no part of
    an await chain), gort's own frames left out."""
    out: list[Frame] = []
    f = top
    n = 0
    while f is not None and n < 512:
        n += 1
        code = f.f_code
        if code.co_filename == _THREADING_FILE:
            break                     # the M's thread itself: it is not in a goroutine now
        if is_gort_file(code.co_filename):
            if not code.co_flags & _CO_SUSPENDABLE:
                if out:
                    break             # reached schedule() (or a trap) under the goroutine
            f = f.f_back
            continue
        out.append(_frame(f))
        f = f.f_back
    return out


def g_stack(gp: G, top: Optional[types.FrameType] = None) -> list[Frame]:
    """gp's frames, innermost first, without gort's: from its thread's top frame
    when it is running there (top), else from its suspended coroutine chain.
    When every frame is gort's (`gort.go(ch.send, v)`), the goroutine's own
    function is shown, as Go shows the function a goroutine runs."""
    if top is not None:
        out = thread_stack(top)
        if out:
            return out
    frames = list(coro_chain(gp.coro))
    out = [_frame(f) for f in reversed(frames) if not is_gort_file(f.f_code.co_filename)]
    if not out and frames:
        out = [_frame(frames[0])]
    return out


def header(gp: G, now: float) -> str:
    """Go's goroutineheader: `goroutine 7 [chan receive, 2 minutes, locked to thread]:`.

    The wait time is printed only from one minute on, in whole minutes, as Go."""
    st = GSTATUS_NAMES.get(gp.status, "???")
    if gp.status == _Gwaiting and gp.waitreason:
        st = gp.waitreason
    parts = [st]
    if gp.status in (_Gwaiting, _Gsyscall) and gp.waitsince:
        mins = int((now - gp.waitsince) // 60)
        if mins >= 1:
            parts.append(f"{mins} minutes")
    if gp.lockedm is not None:
        parts.append("locked to thread")
    return f"goroutine {gp.goid} [{', '.join(parts)}]:"


def created_by(code: Optional[types.CodeType], lasti: int, parentgoid: int) -> list[str]:
    """Go's printcreatedby: `created by pkg.fn in goroutine 3` and `\\tfile:line`."""
    if code is None:
        return []
    first = f"created by {code_name(code)}"
    if parentgoid:
        first += f" in goroutine {parentgoid}"
    return [first, f"\t{code.co_filename}:{code_line(code, lasti)}"]


def dump(gp: G, now: float, top: Optional[types.FrameType] = None) -> str:
    """One goroutine's paragraph of a dump, in Go's layout (no trailing newline)."""
    lines = [header(gp, now)]
    for fr in g_stack(gp, top):
        lines.append(f"{fr.name}(...)")
        lines.append(f"\t{fr.file}:{fr.line}")
    if gp.goid != 1:                  # Go: everything but main says who created it
        lines.extend(created_by(gp.gopc, gp.gopcpc, gp.parentgoid))
    return "\n".join(lines)


def describe(gp: G) -> str:
    """One dump paragraph for a G (kept for callers of the old name)."""
    import time
    return dump(gp, time.monotonic())


def created_chain(gp: G, limit: int = 16) -> list[str]:
    """The creation sites of gp, its creator, its creator's creator...

    Each G keeps its creator G (newproc); a creator that has exited and whose
    G was reused for another goroutine since (its goid changed) ends the chain."""
    lines: list[str] = []
    g: Optional[G] = gp
    goid = gp.goid
    while g is not None and goid != 1 and limit > 0:
        limit -= 1
        code, lasti, pgoid, parent = g.gopc, g.gopcpc, g.parentgoid, g.parent
        if g.goid != goid:            # reused: what we read may be the new goroutine's
            lines.append(f"(goroutine {goid} has exited: where it was created is no longer known)")
            break
        if code is None:
            break
        lines.extend(created_by(code, lasti, pgoid))
        if not pgoid:
            break
        g, goid = parent, pgoid
    return lines


def strip_sched_frames(tb: Optional[types.TracebackType]) -> Optional[types.TracebackType]:
    """Drop the leading traceback entries that are gort's scheduler (schedule,
    a trap, gort.run's wait): plain functions in gort's files.  The first
    frame of the goroutine's await chain (a coroutine, even one of gort's
    wrappers) and everything after it stays.  None when nothing is left: an
    error of the runtime itself, whose callers keep the whole traceback."""
    while tb is not None:
        code = tb.tb_frame.f_code
        if not is_gort_file(code.co_filename) or code.co_flags & _CO_SUSPENDABLE:
            break
        tb = tb.tb_next
    return tb


def panic_note(gp: G) -> str:
    """The note an exception escaping gp carries: which goroutine, and where it
    and its creators were created (Go prints `goroutine N [running]` and
    `created by` under an unrecovered panic)."""
    code = getattr(gp.coro, "cr_code", None)
    fn = f" ({code_name(code)})" if code is not None else ""
    return "\n".join([f"raised in goroutine {gp.goid}{fn}"] + created_chain(gp))


# The C twin (gort/_accel.c), unless GORT_PUREPY=1 or the module was not built:
# the same fields, with the status words as C atomics.
from .accel import C  # noqa: E402

if C is not None:
    G = C.G                                  # type: ignore[misc]  # noqa: F811
