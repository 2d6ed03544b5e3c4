"""schedtrace / scheddetail in Go's formats (GORT_DEBUG=schedtrace=MS,scheddetail=1)."""
from __future__ import annotations

import re
import sys
import time

import pytest

import gort
from gort import proc
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
    assert m1["id"] == g1["m"] and m1["p"] == "0"
    assert ps[0]["m"] == m1["id"]


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
