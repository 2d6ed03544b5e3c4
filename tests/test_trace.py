"""schedtrace / scheddetail in Go's formats, and the execution trace to a file
(Chrome trace-event JSON for Perfetto and chrome://tracing)."""
from __future__ import annotations

import gc
import json
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types

import pytest

import gort
from gort import netpoll, proc
from gort.g import GSTATUS_NAMES, _Gwaiting
from gort.p import PSTATUS_NAMES
from helpers import run_bounded, wait_until

# Go's formats (proc.go schedtrace), as a parser of Go's output would read them
SUMMARY = (r"SCHED (?P<ms>\d+)ms: gomaxprocs=(?P<gomaxprocs>\d+) idleprocs=(?P<idleprocs>\d+) "
           r"threads=(?P<threads>\d+) spinningthreads=(?P<spinning>\d+) needspinning=(?P<needspinning>[01]) "
           r"idlethreads=(?P<idlethreads>\d+) runqueue=(?P<runqueue>\d+)")
SCHED = re.compile(r"^" + SUMMARY + r" \[(?P<local>\d+(?: \d+)*)\]$")
SCHED_DETAIL = re.compile(r"^" + SUMMARY + r" gcwaiting=(true|false) nmidlelocked=(\d+) stopwait=(\d+) "
                          r"sysmonwait=(true|false)$")
P_LINE = re.compile(r"^  P(?P<id>\d+): status=(?P<status>\d+) schedtick=(?P<schedtick>\d+) "
                    r"syscalltick=(?P<syscalltick>\d+) m=(?P<m>\d+|nil) runqsize=(?P<runqsize>\d+) "
                    r"gfreecnt=(?P<gfree>\d+) timerslen=(?P<timers>\d+)$")
M_LINE = re.compile(r"^  M(?P<id>\d+): p=(?P<p>\d+|nil) curg=(?P<curg>\d+|nil) mallocing=\d+ throwing=\d+ "
                    r"preemptoff=\S* locks=\d+ dying=\d+ spinning=(?P<spinning>true|false) "
                    r"blocked=(?P<blocked>true|false) lockedg=(?P<lockedg>\d+|nil)$")
G_LINE = re.compile(r"^  G(?P<id>\d+): status=(?P<status>\d+)\((?P<reason>[^)]*)\) m=(?P<m>\d+|nil) "
                    r"lockedm=(?P<lockedm>\d+|nil)$")


def parse_detail(text):
    lines = text.split("\n")
    head = SCHED_DETAIL.match(lines[0])
    assert head, lines[0]
    ps, ms, gs = [], [], []
    for ln in lines[1:]:
        for rx, out in ((P_LINE, ps), (M_LINE, ms), (G_LINE, gs)):
            m = rx.match(ln)
            if m:
                out.append(m.groupdict())
                break
        else:
            raise AssertionError(f"not a Go scheddetail line: {ln!r}")
    return head.groupdict(), ps, ms, gs


async def eventually(pred, what, timeout=30.0):
    """Wait (sleeping 1 ms at a time) until pred() holds; fail after timeout."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await gort.sleep(0.001)


async def parked_forever(c):
    await c.recv()


def test_scheddetail_parses_as_go_and_agrees_with_stats():
    async def main():
        for _ in range(3):
            gort.go(parked_forever, gort.Chan())
        await wait_until(lambda: sum(g.status == _Gwaiting for g in proc.sched.allgs) >= 3, "3 parked")
        for _ in range(1000):                # Ms spin down meanwhile: until both snapshots agree
            text = gort.trace.schedtrace(proc.sched, True)
            st = gort.stats()
            head, ps, ms, gs = parse_detail(text)
            counts: dict[str, int] = {}
            for g in gs:
                name = GSTATUS_NAMES[int(g["status"])]
                if name not in ("dead", "idle"):
                    counts[name] = counts.get(name, 0) + 1
            pairs = [(head["gomaxprocs"], st["gomaxprocs"]), (len(ps), st["gomaxprocs"]),
                     (head["threads"], st["threads"]), (head["idlethreads"], st["idlethreads"]),
                     (head["spinning"], st["spinningthreads"]), (head["runqueue"], st["runqueue"])]
            for p, q in zip(ps, st["ps"]):
                pairs += [(PSTATUS_NAMES[int(p["status"])], q["status"]), (p["schedtick"], q["schedtick"]),
                          (p["syscalltick"], q["syscalltick"]), (p["runqsize"], q["runqsize"]),
                          (p["gfree"], q["gfree"]), (p["timers"], q["timers"])]
            same = counts == st["goroutines"] and all(str(a) == str(b) for a, b in pairs)
            if same:
                return text, st
            await gort.gosched()
        raise AssertionError(f"schedtrace never agreed with stats:\n{text}\n{st}")

    text, st = run_bounded(main, procs=2)
    head, ps, ms, gs = parse_detail(text)
    assert [int(p["id"]) for p in ps] == [0, 1]
    assert st["goroutines"] == {"running": 1, "waiting": 3}
    waits = [g for g in gs if int(g["status"]) == 4]
    assert len(waits) == 3 and all(g["reason"] == "chan receive" and g["m"] == "nil" for g in waits)
    (g1,) = [g for g in gs if g["id"] == "1"]
    assert int(g1["status"]) == 2 and g1["m"] != "nil"
    (m1,) = [m for m in ms if m["curg"] == "1"]          # main's M: the one whose curg is G1
    assert m1["id"] == g1["m"] and m1["p"] != "nil"
    assert ps[int(m1["p"])]["m"] == m1["id"]              # and its P says the same M


def test_schedtrace_summary_line_is_gos():
    async def main():
        return gort.trace.schedtrace(proc.sched), gort.trace.schedtrace_line(proc.sched)

    line, same = run_bounded(main, procs=3)
    m = SCHED.match(line)
    assert m and m["gomaxprocs"] == "3" and len(m["local"].split()) == 3
    assert SCHED.match(same)


class _Tee:
    """sys.stdout while sysmon prints: keeps what it writes."""

    def __init__(self, real):
        self.real = real
        self.parts: list[str] = []

    def write(self, s):
        self.parts.append(s)
        return len(s)

    def flush(self):
        pass

    def text(self):
        return "".join(self.parts)


@pytest.mark.parametrize("setting", ["GORT_DEBUG=schedtrace=5,scheddetail=1", "GORT_DEBUG=schedtrace=5",
                                     "GORT_SCHEDTRACE=5"])
def test_sysmon_prints_schedtrace_every_ms(monkeypatch, setting):
    var, _, val = setting.partition("=")
    monkeypatch.setenv(var, val)
    detail = "scheddetail" in val
    tee = _Tee(sys.stdout)
    monkeypatch.setattr(sys, "stdout", tee)

    async def main():
        gort.go(parked_forever, gort.Chan())
        await eventually(lambda: tee.text().count("SCHED ") >= 3
                         and (not detail or "(chan receive)" in tee.text()), "3 schedtrace reports")

    run_bounded(main, procs=2)
    text = tee.text()
    blocks = ["SCHED " + b.rstrip("\n") for b in text.split("SCHED ")[1:]][:3]
    ms = []
    reasons = set()
    for b in blocks:
        if detail:
            head, ps, mls, gs = parse_detail(b)
            assert len(ps) == 2 and mls
            reasons |= {g["reason"] for g in gs}
        else:
            head = SCHED.match(b)
            assert head and "\n" not in b, b
        ms.append(int(head["ms"]))
    assert ms == sorted(ms) and ms[-1] - ms[0] >= 5       # every 5 ms, never faster
    assert not detail or "chan receive" in reasons or "(chan receive)" in text


def test_bad_schedtrace_setting(monkeypatch):
    monkeypatch.setenv("GORT_DEBUG", "schedtrace=soon")

    async def main():
        pass

    with pytest.raises(ValueError, match="schedtrace"):
        gort.run(main, procs=1)


# ---------------------------------------------------------------- the execution trace

async def produce(out, n):
    for i in range(n):
        await out.send(i)                                  # LINE: produce-send
    out.close()


async def stage(inp, out):
    async for v in inp:
        await out.send(v + 1)
    out.close()


async def hopper(n, done):
    for _ in range(n):
        await gort.gosched()
    await done.send(None)


async def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:                          # never awaits: sysmon asks it to yield
        pass


@types.coroutine
def wait_readable(pd):
    return (yield from netpoll.wait(pd, "r"))


async def reader(sock, pd, got):
    while True:
        try:
            await got.send(sock.recv(16))
            return
        except BlockingIOError:
            assert await wait_readable(pd)


def known_program():
    """4 Ps: a 4-stage pipeline, a burst of goroutines to steal, blocking
    syscalls until sysmon hands a P off, a CPU loop until it is asked to
    yield, a netpoll read, a sleep, a GC.  Returns main and the stats it saw."""
    seen = {}

    async def main():
        chans = [gort.Chan() for _ in range(4)]
        gort.go(produce, chans[0], 200)                    # LINE: go-produce
        for i in range(3):
            gort.go(stage, chans[i], chans[i + 1])
        total = 0
        async for v in chans[-1]:
            total += v
        assert total == sum(range(200)) + 3 * 200
        for _ in range(50):                                 # steals: other Ps take from P0's queue
            done = gort.Chan(32)
            for _ in range(32):
                gort.go(hopper, 20, done)
            for _ in range(32):
                await done.recv()
            if gort.stats()["steals"]:
                break
        for _ in range(40):                                 # a blocking call long enough to lose its P
            await gort.syscall(time.sleep, 0.03)
            if gort.stats()["handoffs"]:
                break
        for _ in range(40):
            gort.go(spin, 0.04)
            await gort.sleep(0.05)
            if gort.stats()["preempts"]:
                break
        a, b = socket.socketpair()
        a.setblocking(False)
        pd = netpoll.current().open_fd(a.fileno())
        got = gort.Chan(1)
        gort.go(reader, a, pd, got)
        await wait_until(lambda: any(g.waitreason == "IO wait" and g.status == _Gwaiting
                                     for g in proc.sched.allgs), "a reader in IO wait")
        b.send(b"x")
        assert await got.recv() == b"x"
        pd.poller.close_fd(pd)
        a.close()
        b.close()
        await gort.sleep(0.01)
        gc.collect()
        seen.update(gort.stats())
        return gort.trace.stop()

    return main, seen


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """One traced run of the known program: (raw events, the JSON document, stats)."""
    path = str(tmp_path_factory.mktemp("trace") / "known.json")
    main, seen = known_program()
    events = _run_traced(main, path)
    with open(path) as f:
        doc = json.load(f)
    return events, doc, seen, path


def _run_traced(main, path):
    """gort.run(main, procs=4, trace=path) on a bounded helper thread."""
    box = {}

    def target():
        try:
            box["r"] = gort.run(main, procs=4, trace=path)
        except BaseException as e:  # noqa: BLE001
            box["e"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(120)
    if t.is_alive():
        from gort import program
        program.initiate_exit(proc.sched)
        pytest.fail("the traced program hung", pytrace=False)
    if "e" in box:
        raise box["e"]
    return box["r"]


def test_trace_has_the_expected_event_kinds(traced):
    events, doc, seen, _ = traced
    kinds = {e.kind for e in events}
    want = {"GoCreate", "GoStart", "GoStop", "GoBlock", "GoUnblock", "GoDestroy", "GoSyscallBegin",
            "ProcStart", "ProcStop", "ProcSteal", "ProcStatus", "ProcsChange", "Steal", "MStart", "MPark",
            "MWake", "MSpin", "PreemptRequest", "TimerFire", "NetpollReady", "GC"}
    assert want <= kinds, want - kinds
    assert kinds & {"GoSyscallEnd", "GoSyscallEndBlocked"}
    reasons = {e.arg for e in events if e.kind == "GoBlock"}
    assert {"chan receive", "chan send", "sleep", "IO wait"} <= reasons
    assert {e.arg for e in events if e.kind == "GoStop"} <= {"Gosched", "preempted"}
    assert seen["steals"] >= 1 and seen["handoffs"] >= 1 and seen["preempts"] >= 1
    assert sum(e.kind == "Steal" for e in events) >= 1 and sum(e.kind == "ProcSteal" for e in events) >= 1
    # wake-ups by a goroutine say which one (the waker runs on the recording M)
    assert any(e.kind == "GoUnblock" and e.cg is not None and e.cg != e.g for e in events)
    # a GoCreate names the function and the gort.go line
    (prod,) = [e for e in events if e.kind == "GoCreate" and e.arg["fn"].endswith(".produce")]
    assert prod.arg["created_by"].endswith(".main") and prod.arg["parent"] == 1
    assert prod.arg["site"] == f"{__file__}:{_line('go-produce')}"
    for e in events:
        if e.kind == "Steal":
            thief, n = e.arg
            assert thief != e.p and n >= 1


def _line(tag):
    with open(__file__) as f:
        for i, text in enumerate(f, 1):
            if text.rstrip().endswith(f"# LINE: {tag}"):
                return i
    raise AssertionError(tag)


def test_trace_timestamps_are_monotonic(traced):
    events, doc, _, _ = traced
    assert all(a.t <= b.t for a, b in zip(events, events[1:]))
    ts = [e["ts"] for e in doc["traceEvents"] if e["ph"] != "M"]
    assert ts == sorted(ts) and ts[0] >= 0


def test_proc_start_and_stop_balance_per_p(traced):
    """Each P goes idle -> running (ProcStart) -> idle (ProcStop) or into a
    syscall (GoSyscallBegin) and back (ProcStart) or away (ProcSteal): every
    transition is legal from the state the P is in."""
    events, _, _, _ = traced
    state = {}
    for e in events:
        if e.kind == "ProcStatus":
            state[e.p] = {"running": "running", "syscall": "syscall"}.get(e.arg, "idle")
    assert set(state) == {0, 1, 2, 3}
    legal = {"ProcStart": ({"idle", "syscall"}, "running"), "ProcStop": ({"running"}, "idle"),
             "GoSyscallBegin": ({"running"}, "syscall"), "ProcSteal": ({"syscall", "running"}, "idle")}
    n = dict.fromkeys(state, 0)
    for e in events:
        if e.kind in legal and e.p is not None:
            frm, to = legal[e.kind]
            assert state[e.p] in frm, f"{e.kind} on P{e.p} in state {state[e.p]} at {e.t}"
            state[e.p] = to
            n[e.p] += e.kind == "ProcStart"
    assert sum(n.values()) >= 4


PHASES = {"X", "B", "E", "i", "I", "s", "t", "f", "C", "M"}
META_NAMES = {"process_name", "process_sort_index", "thread_name", "thread_sort_index"}


def test_trace_loads_as_perfetto_json(traced):
    """The fields Perfetto's JSON importer (and chrome://tracing) requires, per phase."""
    _, doc, _, _ = traced
    assert isinstance(doc["traceEvents"], list) and doc["displayTimeUnit"] in ("ms", "ns")
    json.dumps(doc, allow_nan=False)                       # strict JSON: no NaN or Infinity
    starts = {}
    for e in doc["traceEvents"]:
        ph = e["ph"]
        assert ph in PHASES, e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int) and isinstance(e["name"], str), e
        assert "args" not in e or isinstance(e["args"], dict), e
        if ph == "M":
            assert e["name"] in META_NAMES and isinstance(e["args"], dict), e
            continue
        assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
        if ph == "X":
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0, e
        elif ph in ("i", "I"):
            assert e["s"] in ("t", "p", "g"), e
        elif ph == "C":
            assert e["args"] and all(isinstance(v, (int, float)) for v in e["args"].values()), e
        elif ph in ("s", "f"):
            assert isinstance(e["id"], int) and isinstance(e["cat"], str), e
            if ph == "s":
                starts[(e["cat"], e["id"])] = e
            else:
                assert e.get("bp") == "e" and (e["cat"], e["id"]) in starts, e
                assert starts[(e["cat"], e["id"])]["name"] == e["name"]


def test_trace_lanes_slices_and_flows(traced):
    _, doc, _, _ = traced
    evs = doc["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"]["name"]
             for e in evs if e["ph"] == "M" and e["name"] == "thread_name"}
    procs = {e["pid"]: e["args"]["name"] for e in evs if e["ph"] == "M" and e["name"] == "process_name"}
    assert procs[1].startswith("P") and procs[2].startswith("M") and procs[3].startswith("G")
    assert {names[(1, i)] for i in range(4)} == {"P0", "P1", "P2", "P3"}
    assert len([k for k in names if k[0] == 2]) >= 3       # Ms
    lanes: dict = {}
    for e in evs:
        if e["ph"] == "X":
            lanes.setdefault((e["pid"], e["tid"]), []).append(e)
    for key, xs in lanes.items():                          # one lane's slices never overlap
        xs = sorted((x for x in xs if x["dur"] > 0), key=lambda x: x["ts"])
        for a, b in zip(xs, xs[1:]):
            assert a["ts"] + a["dur"] <= b["ts"] + 1e-3, (key, a, b)

    def inside(ev):
        return any(x["ts"] - 1e-3 <= ev["ts"] <= x["ts"] + x["dur"] + 1e-3
                   for x in lanes.get((ev["pid"], ev["tid"]), []))

    flows = [e for e in evs if e["ph"] in ("s", "f")]
    assert {e["name"] for e in flows} >= {"go", "unblock", "steal", "handoff"}
    assert all(inside(e) for e in flows)                   # every arrow end binds to a slice
    # the pipeline's goroutines ran on P lanes, named after their function
    gnames = {x["name"] for x in evs if x["ph"] == "X" and x["pid"] == 1 and x["cat"] == "G"}
    assert any(n.endswith(" produce") for n in gnames) and any(n.endswith(" stage") for n in gnames)
    cats = {x["cat"] for x in evs if x["ph"] == "X"}
    assert {"G", "syscall", "spinning", "parked", "runnable", "blocked", "running", "steal", "handoff",
            "gc"} <= cats
    assert any(e["ph"] == "i" and e["name"].startswith("preempt request") for e in evs)
    assert any(e["ph"] == "i" and e["name"].startswith("netpoll") for e in evs)
    other = doc["otherData"]
    assert other["generator"] == "gort" and other["dropped_events"] == 0 and other["gomaxprocs"] == 4


def test_trace_start_stop_in_memory_with_a_small_buffer(monkeypatch):
    monkeypatch.setenv("GORT_DEBUG", "tracebuf=50")

    async def main():
        gort.trace.start()
        done = gort.Chan(10)
        for _ in range(10):
            gort.go(hopper, 20, done)
        for _ in range(10):
            await done.recv()
        return gort.trace.stop()

    events = run_bounded(main, procs=2)
    assert events.dropped > 0 and events.window > 0
    assert all(e.t >= events.window for e in events)
    assert len(events) <= 50 * 3 + 50                      # two P buffers, the P-less one, GC
    assert gort.trace.stop() == []                         # stopping twice: nothing more


def test_trace_file_written_when_the_program_deadlocks(tmp_path, monkeypatch):
    path = tmp_path / "dl.json"
    monkeypatch.setenv("GORT_TRACE", str(path))            # the environment variable, this time

    async def main():
        gort.go(parked_forever, gort.Chan())
        await gort.Chan().recv()

    with pytest.raises(gort.Deadlock):
        run_bounded(main, procs=2)
    doc = json.loads(path.read_text())
    blocked = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] == "blocked"]
    assert {e["name"] for e in blocked} == {"chan receive"}
    assert all(e["args"].get("open") for e in blocked)     # still blocked when the trace ends


def test_bad_trace_path_fails_before_running(tmp_path):
    ran = []

    async def main():
        ran.append(1)

    with pytest.raises(OSError):
        gort.run(main, procs=1, trace=str(tmp_path / "no" / "such" / "dir.json"))
    assert not ran


# ---------------------------------------------------------------- python -m gort run

RUN_SCRIPT = textwrap.dedent('''
    import sys
    import gort

    async def worker(c):
        await c.send(sys.argv[1:])

    async def main():
        c = gort.Chan()
        gort.go(worker, c)
        print("argv", await c.recv(), __name__, gort.gomaxprocs(), flush=True)
        await gort.sleep(0.05)

    if __name__ == "__main__":
        print("not like this")
''')


def test_python_m_gort_run(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(RUN_SCRIPT)
    trace = tmp_path / "t.json"
    r = subprocess.run([sys.executable, "-m", "gort", "run", "--procs", "3", "--trace", str(trace),
                        "--schedtrace", "5", str(script), "a", "--b"], capture_output=True, text=True,
                       timeout=120, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    # sysmon's lines and the script's share stdout: a SCHED line may land inside one of its
    assert "argv ['a', '--b'] prog 3" in r.stdout and "not like this" not in r.stdout
    assert re.search(SUMMARY + r" \[\d+ \d+ \d+\]\n", r.stdout)
    doc = json.loads(trace.read_text())
    assert any(e["ph"] == "X" and e["name"].endswith(" worker") for e in doc["traceEvents"])


def test_python_m_gort_run_deadlock_exits_2_with_the_dump(tmp_path):
    script = tmp_path / "dl.py"
    script.write_text("import gort\n\nasync def main():\n    await gort.Chan().recv()\n")
    r = subprocess.run([sys.executable, "-m", "gort", "run", str(script)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("fatal error: all goroutines are asleep - deadlock!\n\n"
                               "goroutine 1 [chan receive]:\ndl.main(...)\n")


def test_python_m_gort_run_needs_an_async_main(tmp_path):
    script = tmp_path / "nomain.py"
    script.write_text("def main():\n    pass\n")
    r = subprocess.run([sys.executable, "-m", "gort", "run", str(script)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "async def main()" in r.stderr
