"""chrome: gort's trace events as Chrome trace-event JSON (Perfetto, chrome://tracing).

Layout (process = group of lanes, thread = lane):

- pid 1 "P (processors)": a lane per P.  Slices: the goroutines that ran on
  it ("G7 worker"), and "syscall G7" while its M is in a system call.  Zero-
  length markers for hand-offs (a P taken from an M in a syscall or stuck in
  a goroutine) and steals (on the victim), instants for preemption requests.
- pid 2 "M (threads)": a lane per M.  Slices: the goroutines it ran,
  "syscall fn", "spinning", "parked"; instants for timer fires and netpoll.
- pid 3 "G (goroutines)": a lane per goroutine, its states one after
  another: "running", "runnable" (args.cause: created, unblocked by G3,
  preempted...), the wait reason while blocked ("chan receive"), "syscall".
- pid 4 "runtime": GC pauses (gc.callbacks), stop-the-world, counters of
  threads and goroutines, GOMAXPROCS changes.

Flow arrows ("s" to "f", bound to the enclosing slices): a goroutine's
creation and each wake-up (from the waker's slice, or a marker on the M lane
for a timer, netpoll or sysmon) to the slice where it next runs; a steal
(from the victim) and a hand-off (from the P) to the next slice they lead to.

Slices of one lane never overlap: events of a P come from the Ms that held
it in turn, and a slice that would begin before the previous one ended (two
clocks read a few ns apart) is moved to begin at its end.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from . import Event

PID_P, PID_M, PID_G, PID_RT = 1, 2, 3, 4
TID_GC, TID_OTHER, TID_STW, TID_COUNTERS = 0, 1, 2, 3
PROCESS_NAMES = {PID_P: "P (processors)", PID_M: "M (threads)", PID_G: "G (goroutines)",
                 PID_RT: "runtime"}
RT_LANES = {TID_GC: "GC", TID_OTHER: "sysmon and other threads", TID_STW: "stop the world",
            TID_COUNTERS: "counters"}


def us(t: float) -> float:
    """Seconds to the JSON's microseconds (ns resolution)."""
    return round(t * 1e6, 3)


def short(fn: str) -> str:
    """`pkg.mod.Class.method` -> `Class.method`, `mod.worker` -> `worker` (lane labels)."""
    parts = fn.split(".")
    if len(parts) >= 3 and parts[-2][:1].isupper():
        return ".".join(parts[-2:])
    return parts[-1]


class _G:
    __slots__ = ("state", "since", "reason", "cause", "pslice", "mslice", "p", "m", "flows", "pless")

    def __init__(self) -> None:
        self.state = "unknown"
        self.since = 0.0
        self.reason = ""
        self.cause = ""
        self.pslice: Optional[dict[str, Any]] = None
        self.mslice: Optional[dict[str, Any]] = None
        self.p: Optional[int] = None
        self.m: Optional[int] = None
        self.flows: list[dict[str, Any]] = []          # arrows waiting for the slice where it next runs
        self.pless = False                   # running, but its P was taken (stuck in unmarked code)


class _M:
    __slots__ = ("alive", "p", "spin", "park", "sys", "last")

    def __init__(self) -> None:
        self.alive = False
        self.p: Optional[int] = None
        self.spin: Optional[dict[str, Any]] = None
        self.park: Optional[dict[str, Any]] = None
        self.sys: Optional[dict[str, Any]] = None
        self.last = ""                       # kind of its previous event


class _Conv:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.out: list[dict[str, Any]] = []
        self.slices: list[dict[str, Any]] = []
        self.flows: list[dict[str, Any]] = []
        self.gs: dict[int, _G] = {}
        self.ms: dict[int, _M] = {}
        self.ginfo: dict[int, dict[str, Any]] = {}
        self.prun: dict[int, int] = {}       # P id -> goid running there
        self.psys: dict[int, dict[str, Any]] = {}      # P id -> open "syscall" slice
        self.pflow: dict[int, list[dict[str, Any]]] = {}   # P id -> hand-off arrows to its next slice
        self.lanes: set[tuple[int, int]] = set()
        self.nflow = 0
        self.nm = 0
        self.nparked = 0
        self.ngs = 0
        self.stw: Optional[dict[str, Any]] = None

    # ---- helpers ----
    def g(self, goid: int) -> _G:
        st = self.gs.get(goid)
        if st is None:
            st = self.gs[goid] = _G()
        return st

    def m(self, mid: int) -> _M:
        st = self.ms.get(mid)
        if st is None:
            st = self.ms[mid] = _M()
        return st

    def open(self, pid: int, tid: int, name: str, t: float, cat: str, args: dict[str, Any]) -> dict[str, Any]:
        self.lanes.add((pid, tid))
        d = {"ph": "X", "pid": pid, "tid": tid, "name": name, "cat": cat, "ts": us(t), "dur": None,
             "args": args}
        self.slices.append(d)
        return d

    @staticmethod
    def close(d: Optional[dict[str, Any]], t: float, **args: Any) -> None:
        if d is not None and d["dur"] is None:
            d["dur"] = max(0.0, round(us(t) - d["ts"], 3))
            if args:
                d["args"].update(args)

    def marker(self, pid: int, tid: int, name: str, t: float, cat: str,
               args: dict[str, Any]) -> dict[str, Any]:
        d = self.open(pid, tid, name, t, cat, args)
        d["dur"] = 0.0
        d["marker"] = True
        return d

    def instant(self, pid: int, tid: int, name: str, t: float, args: Optional[dict[str, Any]] = None,
                scope: str = "t") -> None:
        self.lanes.add((pid, tid))
        self.out.append({"ph": "i", "s": scope, "pid": pid, "tid": tid, "name": name, "ts": us(t),
                         "args": args or {}})

    def counter(self, name: str, t: float, **vals: int) -> None:
        self.out.append({"ph": "C", "pid": PID_RT, "tid": TID_COUNTERS, "name": name, "ts": us(t),
                         "args": vals})

    def flow(self, name: str, src: dict[str, Any], t: float) -> dict[str, Any]:
        """An arrow from slice src (at time t, clamped into it) to a slice found later."""
        self.nflow += 1
        f = {"id": self.nflow, "name": name, "src": src, "t": us(t), "dst": None}
        self.flows.append(f)
        return f

    def src_for(self, m: Optional[int], cg: Optional[int], t: float, what: str,
                args: dict[str, Any]) -> dict[str, Any]:
        """Where an arrow starts: the running slice of goroutine cg, else a marker
        on M m's lane (a timer, netpoll, the scheduler), else on the runtime lane."""
        if cg is not None:
            w = self.gs.get(cg)
            if w is not None and w.state == "running":
                s = w.pslice if w.pslice is not None else w.mslice
                if s is not None:
                    return s
        if m is not None:
            return self.marker(PID_M, m, what, t, "wake", args)
        return self.marker(PID_RT, TID_OTHER, what, t, "wake", args)

    def gname(self, goid: int) -> str:
        info = self.ginfo.get(goid)
        return f"G{goid} {short(info['fn'])}" if info else f"G{goid}"

    def gargs(self, goid: int) -> dict[str, Any]:
        info = self.ginfo.get(goid) or {}
        a = {"goid": goid, "fn": info.get("fn", "?")}
        if "created_by" in info:
            a["created_by"] = info["created_by"]
            a["site"] = info.get("site", "")
        if info.get("parent"):
            a["parent"] = info["parent"]
        return a

    # ---- goroutine state ----
    def gstate(self, goid: int, st: _G, t: float, new: str, reason: str = "", cause: str = "") -> None:
        """Close gp's current state on its G lane and enter the new one
        ("end": the trace ends in that state; the slice says so)."""
        old = st.state
        if old in ("runnable", "blocked", "syscall", "running"):
            name = (st.reason or "blocked") if old == "blocked" else old
            d = self.open(PID_G, goid, name, st.since, old, {"goid": goid})
            if old == "runnable":
                d["args"]["cause"] = st.cause
            elif old == "blocked":
                d["args"]["reason"] = st.reason
            if new == "end":
                d["args"]["open"] = True
            self.close(d, t)
        st.state, st.since, st.reason, st.cause = new, t, reason, cause

    def run(self, goid: int, st: _G, t: float, p: Optional[int], m: Optional[int]) -> None:
        """gp starts running on P p and M m: its slices open, arrows to it end there."""
        if st.state == "running":
            self.stoprun(goid, st, t, "?")
        self.gstate(goid, st, t, "running")
        name = self.gname(goid)
        st.p, st.m, st.pless = p, m, False
        st.pslice = st.mslice = None
        if p is not None:
            other = self.prun.get(p)
            if other is not None and other != goid:       # it lost the P without an event
                o = self.gs.get(other)
                if o is not None and o.pslice is not None:
                    self.close(o.pslice, t)
                    o.pslice = None
                    o.pless = True
            self.prun[p] = goid
            self.close(self.psys.pop(p, None), t)
            st.pslice = self.open(PID_P, p, name, t, "G", self.gargs(goid))
            for f in self.pflow.pop(p, []):
                f["dst"] = st.pslice
        if m is not None:
            mm = self.m(m)
            self.close(mm.spin, t)
            mm.spin = None
            self.close(mm.park, t)
            mm.park = None
            st.mslice = self.open(PID_M, m, name, t, "G", self.gargs(goid))
        dst = st.pslice if st.pslice is not None else st.mslice
        for f in st.flows:
            f["dst"] = dst
        st.flows = []

    def stoprun(self, goid: int, st: _G, t: float, end: str) -> None:
        self.close(st.pslice, t, end=end)
        self.close(st.mslice, t, end=end)
        if st.p is not None and self.prun.get(st.p) == goid:
            del self.prun[st.p]
        st.pslice = st.mslice = None

    # ---- the events ----
    def convert(self) -> dict[str, Any]:
        evs = self.events
        t_end = evs[-1].t if evs else 0.0
        for e in evs:
            h = getattr(self, "ev_" + e.kind, None)
            if h is not None:
                h(e)
            if e.m is not None:
                self.m(e.m).last = e.kind
        self.finish(t_end)
        return self.document(evs)

    def ev_GoCreate(self, e: Any) -> None:
        self.ginfo[e.g] = e.arg if isinstance(e.arg, dict) else {}
        st = self.g(e.g)
        self.gstate(e.g, st, e.t, "runnable", cause="created")
        self.ngs += 1
        self.counter("goroutines", e.t, goroutines=self.ngs)
        if e.cg is not None or e.m is not None:
            st.flows.append(self.flow("go", self.src_for(e.m, e.cg, e.t, f"go G{e.g}", {"goid": e.g}), e.t))

    def ev_GoStatus(self, e: Any) -> None:
        info = e.arg if isinstance(e.arg, dict) else {}
        self.ginfo[e.g] = info
        st = self.g(e.g)
        self.ngs += 1
        self.counter("goroutines", e.t, goroutines=self.ngs)
        status = info.get("status")
        if st.state == "running":
            return                                        # MStatus already put it on its M
        if status == "waiting":
            self.gstate(e.g, st, e.t, "blocked", reason=info.get("reason") or "waiting")
        elif status == "syscall":
            self.gstate(e.g, st, e.t, "syscall")
        else:
            self.gstate(e.g, st, e.t, "runnable", cause="before the trace")

    def ev_GoStart(self, e: Any) -> None:
        self.run(e.g, self.g(e.g), e.t, e.p, e.m)

    def ev_GoStop(self, e: Any) -> None:
        st = self.g(e.g)
        why = e.arg or "Gosched"
        self.stoprun(e.g, st, e.t, why)
        self.gstate(e.g, st, e.t, "runnable", cause=why)

    def ev_GoBlock(self, e: Any) -> None:
        st = self.g(e.g)
        why = e.arg or "blocked"
        self.stoprun(e.g, st, e.t, why)
        self.gstate(e.g, st, e.t, "blocked", reason=why)

    def ev_GoDestroy(self, e: Any) -> None:
        st = self.g(e.g)
        self.stoprun(e.g, st, e.t, "exit")
        self.gstate(e.g, st, e.t, "dead")
        self.ngs -= 1
        self.counter("goroutines", e.t, goroutines=self.ngs)

    def ev_GoUnblock(self, e: Any) -> None:
        st = self.g(e.g)
        cause = f"unblocked by G{e.cg}" if e.cg is not None else (
            "timer" if e.m is not None and self.m(e.m).last == "TimerFire" else "scheduler")
        self.gstate(e.g, st, e.t, "runnable", cause=cause)
        st.flows.append(self.flow("unblock", self.src_for(e.m, e.cg, e.t, f"{cause}: G{e.g}", {"goid": e.g}),
                                  e.t))

    def ev_GoSyscallBegin(self, e: Any) -> None:
        st = self.g(e.g)
        fn = e.arg or "syscall"
        self.stoprun(e.g, st, e.t, f"syscall {fn}")
        self.gstate(e.g, st, e.t, "syscall")
        args = dict(self.gargs(e.g), call=fn)
        if e.m is not None:
            mm = self.m(e.m)
            self.close(mm.sys, e.t)
            mm.sys = self.open(PID_M, e.m, f"syscall {fn}", e.t, "syscall", args)
        if e.p is not None:
            self.close(self.psys.pop(e.p, None), e.t)
            self.psys[e.p] = self.open(PID_P, e.p, f"syscall G{e.g}", e.t, "syscall", dict(args, m=e.m))

    def ev_GoSyscallEnd(self, e: Any) -> None:
        if e.m is not None:
            mm = self.m(e.m)
            self.close(mm.sys, e.t)
            mm.sys = None
        self.run(e.g, self.g(e.g), e.t, e.p, e.m)

    def ev_GoSyscallEndBlocked(self, e: Any) -> None:
        if e.m is not None:
            mm = self.m(e.m)
            self.close(mm.sys, e.t)
            mm.sys = None
        st = self.g(e.g)
        if st.state == "running":
            self.stoprun(e.g, st, e.t, "syscall")
        self.gstate(e.g, st, e.t, "runnable", cause="syscall returned without a P")

    def ev_NetpollReady(self, e: Any) -> None:
        goids = list(e.arg or ())
        tid_pid = (PID_M, e.m) if e.m is not None else (PID_RT, TID_OTHER)
        self.instant(tid_pid[0], tid_pid[1], f"netpoll: {len(goids)} ready", e.t, {"goids": goids})
        src = self.marker(tid_pid[0], tid_pid[1], "netpoll", e.t, "wake", {"goids": goids})
        for goid in goids:
            st = self.g(goid)
            self.gstate(goid, st, e.t, "runnable", cause="netpoll")
            st.flows.append(self.flow("unblock", src, e.t))

    def ev_TimerFire(self, e: Any) -> None:
        if e.m is not None:
            self.instant(PID_M, e.m, "timer", e.t, {"late_us": us(e.arg or 0.0)})
        else:
            self.instant(PID_RT, TID_OTHER, "timer", e.t, {"late_us": us(e.arg or 0.0)})

    def ev_PreemptRequest(self, e: Any) -> None:
        if e.p is not None:
            self.instant(PID_P, e.p, f"preempt request G{e.g}", e.t, {"goid": e.g})

    def ev_ProcStatus(self, e: Any) -> None:
        if e.p is not None:
            self.lanes.add((PID_P, e.p))          # every P has its lane, even one that never ran

    def ev_ProcStart(self, e: Any) -> None:
        if e.p is None:
            return
        self.lanes.add((PID_P, e.p))
        self.close(self.psys.pop(e.p, None), e.t)
        if e.m is not None:
            mm = self.m(e.m)
            mm.p = e.p
            self.close(mm.park, e.t)
            mm.park = None

    def ev_ProcStop(self, e: Any) -> None:
        if e.m is not None:
            mm = self.m(e.m)
            mm.p = None
            self.close(mm.spin, e.t)
            mm.spin = None

    def ev_ProcSteal(self, e: Any) -> None:
        """sysmon took P e.p from its M: out of a syscall (retake), or stuck in a goroutine (retire)."""
        if e.p is None:
            return
        sysd = self.psys.pop(e.p, None)
        call = None
        if sysd is not None:
            kind, goid, oldm = "syscall", sysd["args"].get("goid"), sysd["args"].get("m")
            call = sysd["args"].get("call")
            self.close(sysd, e.t)
        else:
            kind, goid, oldm = "stuck", self.prun.get(e.p), None
            if goid is not None:
                st = self.gs.get(goid)
                if st is not None:
                    oldm = st.m
                    self.close(st.pslice, e.t)
                    st.pslice = None
                    st.pless = True
                del self.prun[e.p]
        args = {"p": e.p, "goid": goid, "m": oldm, "kind": kind, "call": call}
        d = self.marker(PID_P, e.p, f"handoff P{e.p} ({kind})", e.t, "handoff", args)
        self.pflow.setdefault(e.p, []).append(self.flow("handoff", d, e.t))

    def ev_Steal(self, e: Any) -> None:
        thief, n = e.arg if isinstance(e.arg, tuple) else (None, 1)
        if e.p is None:
            return
        args = {"victim": e.p, "thief": thief, "n": n, "goid": e.g, "m": e.m}
        d = self.marker(PID_P, e.p, f"steal {n} G -> P{thief}", e.t, "steal", args)
        if e.g is not None:
            self.g(e.g).flows.append(self.flow("steal", d, e.t))

    def ev_MStart(self, e: Any) -> None:
        mm = self.m(e.m)
        if not mm.alive:
            mm.alive = True
            self.nm += 1
            self.counter("threads", e.t, Ms=self.nm, parked=self.nparked)
        self.lanes.add((PID_M, e.m))

    def ev_MStatus(self, e: Any) -> None:
        self.ev_MStart(e)
        mm = self.m(e.m)
        mm.p = e.p
        blocked, spinning, issys = e.arg
        if blocked:
            self.ev_MPark(e)
        elif spinning:
            self.ev_MSpin(e)
        if e.g is not None:
            self.run(e.g, self.g(e.g), e.t, e.p, e.m)

    def ev_MStop(self, e: Any) -> None:
        mm = self.m(e.m)
        for d in (mm.spin, mm.park, mm.sys):
            self.close(d, e.t)
        if mm.park is not None:
            self.nparked -= 1
        mm.spin = mm.park = mm.sys = None
        if mm.alive:
            mm.alive = False
            self.nm -= 1
            self.counter("threads", e.t, Ms=self.nm, parked=self.nparked)

    def ev_MPark(self, e: Any) -> None:
        mm = self.m(e.m)
        self.close(mm.spin, e.t)
        mm.spin = None
        if mm.park is None:
            mm.park = self.open(PID_M, e.m, "parked", e.t, "parked", {"m": e.m})
            self.nparked += 1
            self.counter("threads", e.t, Ms=self.nm, parked=self.nparked)

    def ev_MWake(self, e: Any) -> None:
        mm = self.m(e.m)
        if mm.park is not None:
            self.close(mm.park, e.t, woken_for=e.p)
            mm.park = None
            self.nparked -= 1
            self.counter("threads", e.t, Ms=self.nm, parked=self.nparked)

    def ev_MSpin(self, e: Any) -> None:
        mm = self.m(e.m)
        if mm.spin is None:
            mm.spin = self.open(PID_M, e.m, "spinning", e.t, "spinning", {"m": e.m, "p": mm.p})

    def ev_ProcsChange(self, e: Any) -> None:
        self.instant(PID_RT, TID_STW, f"GOMAXPROCS={e.arg}", e.t, {"gomaxprocs": e.arg}, scope="g")

    def ev_STWBegin(self, e: Any) -> None:
        self.close(self.stw, e.t)
        self.stw = self.open(PID_RT, TID_STW, f"stop the world ({e.arg})", e.t, "stw", {"reason": e.arg})

    def ev_STWEnd(self, e: Any) -> None:
        self.close(self.stw, e.t)
        self.stw = None

    def ev_GC(self, e: Any) -> None:
        dur, gen, collected = e.arg
        d = self.open(PID_RT, TID_GC, f"GC gen{gen}", e.t, "gc", {"generation": gen, "collected": collected})
        self.close(d, e.t + dur)

    # ---- the end ----
    def finish(self, t_end: float) -> None:
        for goid, st in self.gs.items():
            if st.state == "running":
                self.close(st.pslice, t_end, end="(trace ended)")
                self.close(st.mslice, t_end, end="(trace ended)")
            if st.state in ("runnable", "blocked", "syscall", "running"):
                self.gstate(goid, st, t_end, "end")
        for mm in self.ms.values():
            for d in (mm.spin, mm.park, mm.sys):
                self.close(d, t_end)
        for d in self.psys.values():
            self.close(d, t_end)
        self.close(self.stw, t_end)
        for d in self.slices:                    # anything left open (defensive)
            if d["dur"] is None:
                d["dur"] = max(0.0, round(us(t_end) - d["ts"], 3))

    def clamp(self) -> None:
        """One lane's slices must not overlap: a slice that begins before the
        previous one ended (clocks of two threads) begins at its end."""
        lanes: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for d in self.slices:
            if not d.get("marker"):
                lanes.setdefault((d["pid"], d["tid"]), []).append(d)
        for ds in lanes.values():
            ds.sort(key=lambda d: d["ts"])
            end = None
            for d in ds:
                if end is not None and d["ts"] < end:
                    e = d["ts"] + d["dur"]
                    d["ts"] = end
                    d["dur"] = max(0.0, round(e - end, 3))
                e2 = round(d["ts"] + d["dur"], 3)
                end = e2 if end is None or e2 > end else end

    def document(self, evs: list[Event]) -> dict[str, Any]:
        self.clamp()
        out = self.out
        for d in self.slices:
            d.pop("marker", None)
            out.append(d)
        for f in self.flows:
            dst = f["dst"]
            if dst is None:
                continue                          # it never ran again within the trace
            src = f["src"]
            ts = min(max(f["t"], src["ts"]), round(src["ts"] + src["dur"], 3))
            out.append({"ph": "s", "id": f["id"], "cat": "flow", "name": f["name"], "pid": src["pid"],
                        "tid": src["tid"], "ts": ts})
            out.append({"ph": "f", "bp": "e", "id": f["id"], "cat": "flow", "name": f["name"],
                        "pid": dst["pid"], "tid": dst["tid"], "ts": max(dst["ts"], ts)})
        out.sort(key=lambda d: d["ts"])
        meta: list[dict[str, Any]] = []
        for pid, name in PROCESS_NAMES.items():
            meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "ts": 0,
                         "args": {"name": name}})
            meta.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "ts": 0,
                         "args": {"sort_index": pid}})
        for pid, tid in sorted(self.lanes | {(PID_RT, t) for t in RT_LANES}):
            if pid == PID_P:
                name = f"P{tid}"
            elif pid == PID_M:
                name = f"M{tid}"
            elif pid == PID_G:
                name = self.gname(tid)
            else:
                name = RT_LANES.get(tid, str(tid))
            meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "ts": 0,
                         "args": {"name": name}})
            meta.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "ts": 0,
                         "args": {"sort_index": tid}})
        # for gort's viewer: each goroutine's [fn, created_by, site, parent goid]
        gor = {str(k): [v.get("fn", "?"), v.get("created_by", ""), v.get("site", ""), v.get("parent") or 0]
               for k, v in self.ginfo.items()}
        other = {"generator": "gort", "dropped_events": getattr(evs, "dropped", 0),
                 "window_start_us": us(getattr(evs, "window", 0.0)),
                 "gomaxprocs": getattr(evs, "gomaxprocs", 0), "goroutines": gor}
        return {"traceEvents": meta + out, "displayTimeUnit": "ms", "otherData": other}


def to_chrome(events: list[Event]) -> dict[str, Any]:
    """The Chrome trace-event document for gort's events (`gort.trace.stop()`'s list)."""
    return _Conv(events).convert()
