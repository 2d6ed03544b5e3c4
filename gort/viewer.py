"""viewer: one self-contained HTML page for a trace (`python -m gort trace out.json -o out.html`).

The page has no network dependency (inline CSS and JS, the data embedded as
JSON): a zoomable, pannable timeline with a lane per P and per M (and, folded
away, per goroutine), goroutines coloured by id, details on hover, and
summary tables computed here: per goroutine time running / runnable /
blocked by reason, steals per P, threads over time, syscall hand-offs, the
longest scheduling latencies, GC pauses.

It reads gort's Chrome trace-event JSON (gort.trace.chrome); any other
Chrome trace shows its complete slices ("X"), instants and flows on a lane
per thread, without the gort-specific tables.
"""
from __future__ import annotations

import html
import json
import os
from importlib import resources
from typing import Any, Optional

# lane groups, in display order
GROUP_P, GROUP_M, GROUP_RT, GROUP_G, GROUP_OTHER = "P", "M", "runtime", "G", "other"

# slice kinds (the JS colours them)
KINDS = ["G", "syscall", "spinning", "parked", "gc", "stw", "runnable", "blocked", "running", "other"]
_KIND = {k: i for i, k in enumerate(KINDS)}
_MARKERS = ("steal", "handoff", "wake")


def _fmt_us(v: float) -> str:
    """A duration in µs, humanly: 950 µs, 12.3 ms, 2.05 s."""
    if v >= 1e6:
        return f"{v / 1e6:.3g} s"
    if v >= 1e3:
        return f"{v / 1e3:.3g} ms"
    return f"{v:.3g} µs"


def _group(pname: str) -> str:
    if pname.startswith("P ("):
        return GROUP_P
    if pname.startswith("M ("):
        return GROUP_M
    if pname.startswith("G ("):
        return GROUP_G
    if pname == "runtime":
        return GROUP_RT
    return GROUP_OTHER


class Model:
    """The timeline data and the summaries of one trace document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        evs = doc.get("traceEvents", doc if isinstance(doc, list) else [])
        other = doc.get("otherData", {}) if isinstance(doc, dict) else {}
        self.other = other if isinstance(other, dict) else {}
        self.goroutines: dict[str, list[Any]] = self.other.get("goroutines", {}) or {}
        pnames: dict[Any, str] = {}
        tnames: dict[tuple[Any, ...], str] = {}
        self.slices: list[dict[str, Any]] = []
        self.instants: list[dict[str, Any]] = []
        self.counters: list[dict[str, Any]] = []
        flows_s: dict[Any, dict[str, Any]] = {}
        self.flows: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for e in evs:
            ph = e.get("ph")
            if ph == "M":
                if e.get("name") == "process_name":
                    pnames[e.get("pid")] = str(e.get("args", {}).get("name", e.get("pid")))
                elif e.get("name") == "thread_name":
                    tnames[(e.get("pid"), e.get("tid"))] = str(e.get("args", {}).get("name", e.get("tid")))
            elif ph == "X":
                self.slices.append(e)
            elif ph in ("i", "I"):
                self.instants.append(e)
            elif ph == "C":
                self.counters.append(e)
            elif ph == "s":
                flows_s[(e.get("cat"), e.get("id"))] = e
            elif ph == "f":
                src = flows_s.get((e.get("cat"), e.get("id")))
                if src is not None:
                    self.flows.append((src, e))
        self.pnames = pnames
        self.tnames = tnames

    # ---- the timeline ----
    def timeline(self) -> dict[str, Any]:
        """The JSON the page draws: lanes with their slices and instants, flows, strings."""
        strings: list[str] = []
        sidx: dict[str, int] = {}

        def s(v: str) -> int:
            i = sidx.get(v)
            if i is None:
                i = sidx[v] = len(strings)
                strings.append(v)
            return i

        lanes: dict[tuple[Any, ...], dict[str, Any]] = {}

        def lane(pid: Any, tid: Any) -> dict[str, Any]:
            key = (pid, tid)
            ln = lanes.get(key)
            if ln is None:
                pname = self.pnames.get(pid, str(pid))
                ln = lanes[key] = {"name": self.tnames.get(key, f"{pname} {tid}"), "group": _group(pname),
                                   "pid": pid, "tid": tid, "slices": [], "instants": []}
            return ln

        t0, t1 = None, None
        argsl: list[Any] = []
        aidx: dict[str, int] = {}

        def a(v: dict[str, Any]) -> int:
            k = json.dumps(v, sort_keys=True, default=str)
            i = aidx.get(k)
            if i is None:
                i = aidx[k] = len(argsl)
                argsl.append(v)
            return i

        for e in self.slices:
            ts, dur = float(e.get("ts", 0)), float(e.get("dur", 0) or 0)
            t0 = ts if t0 is None or ts < t0 else t0
            t1 = ts + dur if t1 is None or ts + dur > t1 else t1
            ln = lane(e.get("pid"), e.get("tid"))
            args = dict(e.get("args") or {})
            cat = e.get("cat", "")
            goid = args.get("goid", -1)
            if cat in _MARKERS:          # zero-length markers draw as ticks
                ln["instants"].append([ts, s(cat), s(e.get("name", "")), a(args)])
                continue
            if cat == "G":
                # what the page needs; fn and site come from the goroutine table
                args = {k: v for k, v in args.items() if k in ("end", "call")}
            kind = _KIND.get(cat, _KIND["other"])
            if ln["group"] == GROUP_G and cat in ("runnable", "blocked", "syscall", "running"):
                kind = _KIND[cat]
            ln["slices"].append([ts, dur, goid if isinstance(goid, int) else -1, kind,
                                 s(e.get("name", "")), a(args)])
        for e in self.instants:
            ts = float(e.get("ts", 0))
            t0 = ts if t0 is None or ts < t0 else t0
            t1 = ts if t1 is None or ts > t1 else t1
            ln = lane(e.get("pid"), e.get("tid"))
            ln["instants"].append([ts, s("instant"), s(e.get("name", "")), a(dict(e.get("args") or {}))])
        for pid, tid in self.tnames:            # a P or M that did nothing still has its lane
            if _group(self.pnames.get(pid, "")) in (GROUP_P, GROUP_M):
                lane(pid, tid)
        order = {GROUP_P: 0, GROUP_M: 1, GROUP_RT: 2, GROUP_OTHER: 3, GROUP_G: 4}
        keyed = sorted(lanes.values(), key=lambda ln: (order[ln["group"]], str(ln["pid"]),
                                                      ln["tid"] if isinstance(ln["tid"], int) else 0))
        index = {(ln["pid"], ln["tid"]): i for i, ln in enumerate(keyed)}
        for ln in keyed:
            ln["slices"].sort(key=lambda x: x[0])
            ln["instants"].sort(key=lambda x: x[0])
        flows = []
        for src, dst in self.flows:
            si = index.get((src.get("pid"), src.get("tid")))
            di = index.get((dst.get("pid"), dst.get("tid")))
            if si is not None and di is not None:
                flows.append([si, float(src.get("ts", 0)), di, float(dst.get("ts", 0)),
                              s(str(src.get("name", "")))])
        for ln in keyed:
            del ln["pid"], ln["tid"]
        return {"t0": t0 or 0.0, "t1": t1 if t1 is not None and t1 > (t0 or 0) else (t0 or 0) + 1,
                "lanes": keyed, "strings": strings, "args": argsl, "flows": flows,
                "goroutines": self.goroutines, "kinds": KINDS}

    # ---- summaries ----
    def gstates(self) -> dict[Any, dict[str, float]]:
        """Per goroutine: µs running, runnable, in syscalls, and blocked by reason
        ("blocked: chan receive")."""
        out: dict[Any, dict[str, float]] = {}
        for e in self.slices:
            if _group(self.pnames.get(e.get("pid"), "")) != GROUP_G:
                continue
            d = out.setdefault(e.get("tid"), {})
            cat = e.get("cat", "")
            key = f"blocked: {e.get('name', '')}" if cat == "blocked" else cat
            d[key] = d.get(key, 0.0) + float(e.get("dur", 0) or 0)
        return out

    def latencies(self, n: int = 25) -> list[dict[str, Any]]:
        """The longest waits from runnable to running (G lanes' "runnable" slices)."""
        rs = [e for e in self.slices if e.get("cat") == "runnable"
              and _group(self.pnames.get(e.get("pid"), "")) == GROUP_G
              and not e.get("args", {}).get("open")]
        rs.sort(key=lambda e: -float(e.get("dur", 0) or 0))
        return rs[:n]

    def steals(self) -> dict[int, dict[str, int]]:
        out: dict[int, dict[str, int]] = {}
        for e in self.slices:
            if e.get("cat") != "steal":
                continue
            a = e.get("args", {})
            th, vi, n = a.get("thief"), a.get("victim"), int(a.get("n", 1) or 1)
            if th is not None:
                d = out.setdefault(th, {"steals": 0, "gs": 0, "victim": 0})
                d["steals"] += 1
                d["gs"] += n
            if vi is not None:
                out.setdefault(vi, {"steals": 0, "gs": 0, "victim": 0})["victim"] += 1
        return out

    def handoffs(self) -> list[dict[str, Any]]:
        return sorted((e for e in self.slices if e.get("cat") == "handoff"), key=lambda e: e.get("ts", 0))

    def threads_series(self) -> list[tuple[float, int, int]]:
        pts = []
        for e in self.counters:
            if e.get("name") == "threads":
                a = e.get("args", {})
                pts.append((float(e.get("ts", 0)), int(a.get("Ms", 0)), int(a.get("parked", 0))))
        pts.sort()
        return pts

    def mtimes(self) -> dict[Any, dict[str, float]]:
        out: dict[Any, dict[str, float]] = {}
        for e in self.slices:
            if e.get("pid") == 2 and e.get("cat") in ("G", "syscall", "spinning", "parked"):
                d = out.setdefault(e.get("tid"), {})
                k = "running" if e.get("cat") == "G" else e.get("cat", "")
                d[k] = d.get(k, 0.0) + float(e.get("dur", 0) or 0)
        return out

    def gc(self) -> list[float]:
        return [float(e.get("dur", 0) or 0) for e in self.slices if e.get("cat") == "gc"]


# ---------------------------------------------------------------- HTML

def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _table(cls: str, head: list[str], rows: list[list[Any]], raw: bool = False) -> str:
    h = "".join(f"<th>{_e(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{x if raw else _e(x)}</td>" for x in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def _threads_chart(pts: list[tuple[float, int, int]], t0: float, t1: float) -> str:
    if not pts:
        return "<p>No thread counts in this trace.</p>"
    w, h = 900, 120
    top = max(p[1] for p in pts) or 1
    span = (t1 - t0) or 1

    def y(v: int) -> float:
        return h - v / top * (h - 10)

    def path(idx: int) -> str:
        d = [f"M0,{h}"]
        for ts, *vals in pts:
            d.append(f"H{(ts - t0) / span * w:.1f}V{y(vals[idx]):.1f}")
        d.append(f"H{w}")
        return "".join(d)

    return (f'<svg class="chart" id="threads-chart" viewBox="0 0 {w} {h + 16}" width="{w}" height="{h + 16}">'
            f'<path d="{path(0)}" class="ms"/><path d="{path(1)}" class="parked"/>'
            f'<text x="0" y="{h + 14}">0</text><text x="{w - 80}" y="{h + 14}">{_e(_fmt_us(span))}</text>'
            f'<text x="4" y="12">max {top} Ms</text></svg>'
            '<p class="legend"><span class="ms">Ms alive</span> <span class="parked">Ms parked</span></p>')


def summaries(m: Model, tl: dict[str, Any]) -> str:
    """The summary tables, as HTML."""
    parts = []
    gor = m.goroutines
    gst = m.gstates()
    if gst:
        rows = []
        for goid in sorted(gst, key=lambda g: int(g) if str(g).isdigit() else 0)[:2000]:
            d = gst[goid]
            info = gor.get(str(goid), ["?", "", "", 0])
            blocked = sorted(((k[9:], v) for k, v in d.items() if k.startswith("blocked: ")),
                             key=lambda kv: -kv[1])
            btxt = ", ".join(f"{_e(k)} {_fmt_us(v)}" for k, v in blocked) or "–"
            created = f"{_e(info[1])}<br><small>{_e(info[2])}</small>" if info[1] else "–"
            gnum = int(goid) if str(goid).isdigit() else 0
            rows.append([f'<span class="gdot" style="--g:{gnum}"></span>G{_e(goid)}',
                         _e(info[0]), created, _fmt_us(d.get("running", 0.0)),
                         _fmt_us(d.get("runnable", 0.0)), _fmt_us(d.get("syscall", 0.0)), btxt])
        more = f"<p>{len(gst) - 2000} more goroutines not shown.</p>" if len(gst) > 2000 else ""
        parts.append('<h2 id="s-goroutines">Goroutines</h2>' + _table(
            "goroutines", ["goroutine", "function", "created by", "running", "runnable", "syscall",
                           "blocked (by reason)"], rows, raw=True) + more)
    lat = m.latencies()
    if lat:
        rows = []
        for e in lat:
            a = e.get("args", {})
            goid = a.get("goid", e.get("tid"))
            info = gor.get(str(goid), ["?"])
            rows.append([f"G{goid}", info[0], _fmt_us(float(e.get("dur", 0))),
                         f"{float(e.get('ts', 0)) / 1000:.3f} ms", a.get("cause", "")])
        parts.append('<h2 id="s-latency">Longest scheduling latencies</h2>'
                     '<p>From runnable (created, woken, preempted) to running.</p>' + _table(
                         "latency", ["goroutine", "function", "waited", "runnable at", "because"], rows))
    st = m.steals()
    if st or tl["lanes"]:
        rows = [[f"P{p}", str(d["steals"]), str(d["gs"]), str(d["victim"])] for p, d in sorted(st.items())]
        parts.append('<h2 id="s-steals">Steals per P</h2>' + (_table(
            "steals", ["P", "steals (as thief)", "goroutines taken", "stolen from"], rows)
            if rows else "<p>No steals.</p>"))
    hs = m.handoffs()
    rows = []
    for e in hs:
        a = e.get("args", {})
        what = "a system call" if a.get("kind") == "syscall" else "a goroutine stuck in unmarked code"
        g = a.get("goid")
        rows.append([f"{float(e.get('ts', 0)) / 1000:.3f} ms", f"P{a.get('p')}",
                     "–" if a.get("m") is None else f"M{a.get('m')}",
                     "–" if g is None else f"G{g}", a.get("call") or "", what])
    parts.append('<h2 id="s-handoffs">Syscall hand-offs</h2>' + (_table(
        "handoffs", ["at", "P", "from M", "goroutine", "call", "blocked in"], rows)
        if rows else "<p>No P was handed off.</p>"))
    pts = m.threads_series()
    mt = m.mtimes()
    mrows = [[f"M{k}", _fmt_us(v.get("running", 0.0)), _fmt_us(v.get("syscall", 0.0)),
              _fmt_us(v.get("spinning", 0.0)), _fmt_us(v.get("parked", 0.0))]
             for k, v in sorted(mt.items(), key=lambda kv: kv[0] if isinstance(kv[0], int) else 0)]
    parts.append('<h2 id="s-threads">Ms over time</h2>' + _threads_chart(pts, tl["t0"], tl["t1"]) + (_table(
        "threads", ["M", "running goroutines", "in syscalls", "spinning", "parked"], mrows) if mrows else ""))
    gcs = m.gc()
    if gcs:
        parts.append('<h2 id="s-gc">GC pauses</h2>' + _table(
            "gc", ["collections", "total", "longest"], [[len(gcs), _fmt_us(sum(gcs)), _fmt_us(max(gcs))]]))
    return "\n".join(parts)


def template() -> str:
    """The page template shipped with gort (package data)."""
    return resources.files("gort").joinpath("viewer.html").read_text(encoding="utf-8")


def render(doc: dict[str, Any], title: str = "gort trace") -> str:
    """The complete HTML page for a trace document."""
    m = Model(doc)
    tl = m.timeline()
    other = m.other
    info = []
    if other.get("generator") == "gort":
        info.append(f"GOMAXPROCS {other.get('gomaxprocs')}")
        if other.get("dropped_events"):
            info.append(f"{other['dropped_events']} events dropped by full buffers: the trace starts at "
                        f"{float(other.get('window_start_us', 0)) / 1000:.3f} ms")
    info.append(f"{sum(len(ln['slices']) for ln in tl['lanes'])} slices, {len(tl['lanes'])} lanes, "
                f"{_fmt_us(tl['t1'] - tl['t0'])}")
    data = json.dumps(tl, separators=(",", ":"), default=str)
    data = data.replace("</", "<\\/")          # never close the script element early
    page = template()
    page = page.replace("__GORT_TITLE__", _e(title))
    page = page.replace("__GORT_INFO__", _e(" · ".join(info)))
    page = page.replace("__GORT_SUMMARY__", summaries(m, tl))
    return page.replace("__GORT_DATA__", data)


def write(trace_path: str, html_path: Optional[str] = None) -> str:
    """Read a trace file, write its page (default: the trace's name with .html); return the page's path."""
    with open(trace_path) as f:
        doc = json.load(f)
    if html_path is None:
        html_path = os.path.splitext(trace_path)[0] + ".html"
    page = render(doc, title=os.path.basename(trace_path))
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(page)
    return html_path
