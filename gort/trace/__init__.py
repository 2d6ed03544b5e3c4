"""trace: watching the scheduler work (runtime/proc.go schedtrace, runtime/trace, internal/trace).

- `stats()`: a snapshot of every P, M and G count (gort.stats()).
- `start()` / `stop()`: an execution trace with Go's event names, recorded in
  memory; `stop()` returns the events (`Event` tuples, oldest first).
- `gort.run(main, trace="out.json")` or `GORT_TRACE=out.json`: the whole run
  traced and written as Chrome trace-event JSON (Perfetto, chrome://tracing,
  `python -m gort trace out.json -o out.html`); see `gort.trace.chrome`.
- `schedtrace(s, detailed)`: Go's `GODEBUG=schedtrace=MS,scheddetail=1`
  output, which sysmon prints every MS ms (`GORT_DEBUG=schedtrace=MS`).
- `gort.stack()` and the dump signal: `gort.trace.dump`.

Events (Go's names where Go has the event; gort's own are marked *):
GoCreate, GoStart, GoStop (arg: "Gosched" or "preempted"), GoBlock (arg: the
wait reason), GoUnblock, GoDestroy, GoSyscallBegin (arg: the function),
GoSyscallEnd, GoSyscallEndBlocked, GoStatus, ProcStart, ProcStop, ProcSteal
(a P taken from an M in a syscall or stuck in a goroutine: a hand-off),
ProcStatus, ProcsChange, STWBegin, STWEnd, Steal* (arg: (thief P, Gs
taken)), MStart*, MStop*, MPark*, MWake*, MSpin*, MStatus*, PreemptRequest*,
TimerFire*, NetpollReady* (arg: the goids made runnable), GC* (arg:
(seconds, generation, collected)).  Each event also records `cg`, the
goroutine running on the M that recorded it: the waker of a GoUnblock, the
creator of a GoCreate.

Buffers: one per P (written only by the M that holds the P: the P's
single-owner rule) and one for events recorded without a P (under a lock),
each bounded at `GORT_DEBUG=tracebuf=N` events (default 100,000).  A full
buffer drops its oldest events (a flight recorder: the end of a run, where a
hang or a crash is, is kept); `stop()` reports how many were dropped and
keeps only the window in which no buffer had dropped anything.  Tracing off
costs one attribute check at each event site.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections import deque
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any, Iterator, NamedTuple, Optional

from ..g import GSTATUS_NAMES, G, _Gdead, _Gidle, _Gwaiting, code_line, code_name
from ..p import PSTATUS_NAMES

BUF_EVENTS = 100_000        # per buffer, unless GORT_DEBUG=tracebuf=N

_now = time.monotonic


class Event(NamedTuple):
    """One trace event.  Ids are plain ints (M id, goid, P id), None when absent."""

    t: float                 # seconds since the program started
    kind: str
    m: Optional[int]
    g: Optional[int]
    p: Optional[int]
    arg: Any
    cg: Optional[int] = None  # the goroutine running on the recording M, if any


if TYPE_CHECKING:
    _EventList = list[Event]
else:
    _EventList = list          # a plain list subclass: no __orig_bases__ in help()


class Events(_EventList):
    """The events of a trace, oldest first, and what the buffers dropped."""

    dropped: int = 0          # events lost to full buffers (oldest first)
    window: float = 0.0       # events before this time (seconds) were cut: some buffer lost them
    gomaxprocs: int = 0


class _Buf:
    __slots__ = ("q", "dropped")

    def __init__(self, cap: int) -> None:
        self.q: deque[tuple[Any, ...]] = deque(maxlen=cap)
        self.dropped = 0


class _LiveView:
    """Tracer.events: the events recorded so far, read afresh at each iteration."""

    def __init__(self, tr: "Tracer") -> None:
        self._tr = tr

    def __iter__(self) -> Iterator[Event]:
        start = self._tr.start
        for r in self._tr._records():
            yield Event(r[0] - start, *r[1:])

    def __len__(self) -> int:
        return len(self._tr._records())


class Tracer:
    """Records events into bounded per-P buffers (see the module docstring)."""

    def __init__(self, start: float, cap: int = 0) -> None:
        self.start = start
        self.cap = cap if cap > 0 else buf_events()
        self.bufs: list[_Buf] = []          # by P id; replaced whole when it grows
        self.shared = _Buf(self.cap)        # events recorded by an M without a P, or by no M
        self.lock = threading.RLock()       # guards shared and growing bufs; reentrant for signal handlers
        self.gcq: deque[tuple[Any, ...]] = deque(maxlen=self.cap)
        self._gcstart: dict[int, float] = {}
        self._gccb: Any = None
        self.gomaxprocs = 0

    # ---- recording (hot when tracing is on) ----
    def event(self, kind: str, m: Any, gp: Any, pp: Any = None, arg: Any = None) -> None:
        """Record kind by M m (None: sysmon's retake, a foreign thread) about gp and pp."""
        t = _now()
        if m is None:
            self._put_shared((t, kind, None, None if gp is None else gp.goid,
                              None if pp is None else pp.id, arg, None))
            return
        mp = m.p
        cg = m.curg
        rec = (t, kind, m.id, None if gp is None else gp.goid,
               (None if mp is None else mp.id) if pp is None else pp.id, arg,
               None if cg is None else cg.goid)
        if mp is None:
            self._put_shared(rec)
            return
        i = mp.id
        bufs = self.bufs
        b = bufs[i] if i < len(bufs) else self._grow(i)
        q = b.q
        if len(q) == self.cap:
            b.dropped += 1
        q.append(rec)

    def gocreate(self, m: Any, gp: G) -> None:
        """GoCreate with what the trace shows of the new goroutine: its function and creation site."""
        self.event("GoCreate", m, gp, None,
                   (getattr(gp.coro, "cr_code", None), gp.gopc, gp.gopcpc, gp.parentgoid))

    def _put_shared(self, rec: tuple[Any, ...]) -> None:
        with self.lock:
            b = self.shared
            if len(b.q) == self.cap:
                b.dropped += 1
            b.q.append(rec)

    def _grow(self, i: int) -> _Buf:
        with self.lock:
            bufs = self.bufs
            if i >= len(bufs):
                # copy-on-write: a writer that read the old list still finds its
                # buffer there (the same _Buf objects)
                bufs = bufs + [_Buf(self.cap) for _ in range(i + 1 - len(bufs))]
                self.bufs = bufs
            return bufs[i]

    # ---- snapshots and GC ----
    def snapshot(self, s: Any) -> None:
        """Status events for what exists when tracing starts (Go's ProcStatus/GoStatus)."""
        self.gomaxprocs = s.gomaxprocs
        self._put_shared((_now(), "ProcsChange", None, None, None, s.gomaxprocs, None))
        for pp in list(s.allp):
            mp = pp.m
            self._put_shared((_now(), "ProcStatus", None if mp is None else mp.id, None, pp.id,
                              PSTATUS_NAMES.get(pp.status, str(pp.status)), None))
        for mp in list(s.allm):
            if mp.dead:
                continue
            pp, cg = mp.p, mp.curg
            self._put_shared((_now(), "MStatus", mp.id, None if cg is None else cg.goid,
                              None if pp is None else pp.id, (mp.blocked, mp.spinning, mp.issys), None))
        for gp in list(s.allgs):
            st = gp.status
            if st == _Gdead or st == _Gidle:
                continue
            self._put_shared((_now(), "GoStatus", None, gp.goid, None,
                              (GSTATUS_NAMES.get(st, str(st)), gp.waitreason if st == _Gwaiting else "",
                               getattr(gp.coro, "cr_code", None), gp.gopc, gp.gopcpc, gp.parentgoid), None))

    def attach_gc(self) -> None:
        """Record garbage collections (gc.callbacks) as GC events: pauses of the program."""
        if self._gccb is None:
            self._gccb = self._gc
            gc.callbacks.append(self._gccb)

    def detach_gc(self) -> None:
        cb, self._gccb = self._gccb, None
        if cb is not None:
            try:
                gc.callbacks.remove(cb)
            except ValueError:
                pass

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        # runs inside the collector, maybe inside event(): touch nothing but
        # this dict and this deque (both safe from any thread, no lock)
        me = threading.get_ident()
        if phase == "start":
            self._gcstart[me] = _now()
            return
        t0 = self._gcstart.pop(me, None)
        if t0 is not None:
            self.gcq.append((t0, "GC", None, None, None,
                             (_now() - t0, info.get("generation"), info.get("collected")), None))

    # ---- reading ----
    @property
    def events(self) -> _LiveView:
        """The events so far, live (iterating reads the buffers again), raw args."""
        return _LiveView(self)

    def _records(self) -> list[tuple[Any, ...]]:
        recs: list[tuple[Any, ...]] = []
        for b in list(self.bufs) + [self.shared]:
            recs.extend(b.q.copy())         # copy(): one atomic snapshot of a deque
        recs.extend(self.gcq.copy())
        recs.sort(key=itemgetter(0))
        return recs

    def collect(self) -> Events:
        """Every event recorded, oldest first, with readable args (`stop()`)."""
        window = 0.0
        dropped = 0
        for b in list(self.bufs) + [self.shared]:
            if b.dropped:
                dropped += b.dropped
                q = b.q.copy()
                if q:
                    window = max(window, q[0][0])
        recs = self._records()
        out = Events()
        start = self.start
        names: dict[tuple[Any, int], tuple[str, str]] = {}
        for r in recs:
            if r[0] < window:
                continue
            kind = r[1]
            arg = r[5]
            if kind == "GoCreate" or kind == "GoStatus":
                arg = _ginfo(arg, names, r[3] == 1)
            out.append(Event(r[0] - start, kind, r[2], r[3], r[4], arg, r[6]))
        out.dropped = dropped
        out.window = window - start if window else 0.0
        out.gomaxprocs = self.gomaxprocs
        return out


def _site(code: Any, lasti: int, names: dict[tuple[Any, int], tuple[str, str]]) -> tuple[str, str]:
    key = (code, lasti)
    v = names.get(key)
    if v is None:
        v = names[key] = (code_name(code), f"{code.co_filename}:{code_line(code, lasti)}")
    return v


def _ginfo(arg: tuple[Any, ...], names: dict[tuple[Any, int], tuple[str, str]],
           main: bool = False) -> dict[str, Any]:
    """A GoCreate/GoStatus arg made readable: fn, created_by, site, parent (and status, reason).
    Main (goroutine 1) has no creation site, as in Go's tracebacks."""
    out: dict[str, Any] = {}
    if len(arg) == 6:
        out["status"], out["reason"] = arg[0], arg[1]
        arg = arg[2:]
    fncode, gopc, gopcpc, parent = arg
    out["fn"] = _site(fncode, -1, names)[0] if fncode is not None else "?"
    if gopc is not None and not main:
        out["created_by"], out["site"] = _site(gopc, gopcpc, names)
    out["parent"] = parent
    return out


def buf_events() -> int:
    """Events per trace buffer: GORT_DEBUG=tracebuf=N, else BUF_EVENTS."""
    from ..debug import parse
    v = parse(os.environ.get("GORT_DEBUG", "")).get("tracebuf")
    if v:
        try:
            n = int(v)
        except ValueError:
            raise ValueError(f"GORT_DEBUG=tracebuf={v!r} is not an integer") from None
        if n >= 1:
            return n
    return BUF_EVENTS


def start() -> None:
    """Start recording scheduler events in the running program."""
    from .. import proc
    s = proc.cursched()
    if not s.main_started:
        raise RuntimeError("gort.trace.start: no running program")
    if s.trace is None:
        tr = Tracer(s.start)
        tr.snapshot(s)
        tr.attach_gc()
        s.trace = tr


def stop() -> Events:
    """Stop recording; return the events, oldest first (with `.dropped` and `.window`).

    This also ends a trace to a file (gort.run(trace=...)): the file gets the
    events up to here."""
    from .. import proc
    s = proc.cursched()
    tr: Optional[Tracer]
    tr, s.trace = s.trace, None
    if tr is None:
        return Events()
    tr.detach_gc()
    return tr.collect()


def write(dest: "str | IO[str]", events: list[Event]) -> None:
    """Write events as Chrome trace-event JSON (a path or an open text file)."""
    from .chrome import to_chrome
    doc = to_chrome(events)
    if isinstance(dest, str):
        with open(dest, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
    else:
        json.dump(doc, dest, separators=(",", ":"))


class FileTrace:
    """A whole run traced to a file (gort.run(trace=path), GORT_TRACE=path).

    The file is opened before the program starts, so a bad path fails at once,
    and written when the program has ended, whatever the outcome (a trace of a
    deadlock or a crash is when one is wanted most)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.f: Optional[IO[str]] = open(path, "w")
        self.tracer: Optional[Tracer] = None

    def begin(self, s: Any) -> None:
        """Start recording program s (its Ps exist, nothing runs yet)."""
        self.tracer = Tracer(s.start)
        self.tracer.snapshot(s)
        self.tracer.attach_gc()
        s.trace = self.tracer

    def finish(self, s: Any) -> None:
        """The program has ended: write the file.  A failure to write is
        reported on stderr: it must not replace the program's own outcome."""
        tr = self.tracer
        f, self.f = self.f, None
        if tr is not None:
            if s.trace is tr:
                s.trace = None
            tr.detach_gc()
        if f is None:
            return
        try:
            write(f, tr.collect() if tr is not None else Events())
        except Exception as e:            # disk full...: say so, keep the program's result
            print(f"gort: writing the trace to {self.path} failed: {e!r}", file=sys.stderr)
        finally:
            f.close()


# ---------------------------------------------------------------- stats and schedtrace

def stats() -> dict[str, Any]:
    """A snapshot of the running program's scheduler: every P, the M and G counts, queues, steals."""
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
