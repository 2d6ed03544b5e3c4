"""`make demo` (examples/demo.py) at its small size: every figure it prints is read back
and checked against the others and against what its "=>" lines conclude (issue #13:
nothing in the demo may contradict what it claims)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(150)

SCHED = re.compile(r"SCHED (\d+)ms: gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) spinningthreads=(\d+) "
                   r"needspinning=(\d+) idlethreads=(\d+) runqueue=(\d+) \[(\d+(?: \d+)*)\]")


def num(s: str) -> int:
    return int(s.replace(",", ""))


def find(pattern: str, text: str) -> re.Match:
    m = re.search(pattern, text, re.M)
    assert m, f"no line matches {pattern!r} in:\n{text}"
    return m


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One run of the small demo: (its stdout without the SCHED lines, the SCHED lines, the page)."""
    html = str(tmp_path_factory.mktemp("demo") / "trace.html")
    p = subprocess.run([sys.executable, "examples/demo.py", "--small", "--schedtrace", "100", "--out", html],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    sched = [ln for ln in lines if ln.startswith("SCHED ")]
    rest = "\n".join(ln for ln in lines if not ln.startswith("SCHED "))
    return rest, sched, html


def section(text: str, n: str) -> str:
    """The lines of part n ("1".."4" or "Trace") up to the next part."""
    m = find(rf"^== {re.escape(n)}\b.*$", text)
    end = text.find("\n== ", m.end())
    return text[m.start():] if end < 0 else text[m.start():end]


def test_schedtrace_lines_are_gos_format_while_it_runs(demo):
    rest, sched, _ = demo
    assert "SCHED" not in rest.replace("SCHED <ms", ""), "a schedtrace line was cut into another line"
    assert len(sched) >= 3, sched
    times = []
    for ln in sched:
        m = SCHED.fullmatch(ln)
        assert m, ln
        procs, queues = int(m[2]), m[9].split()
        assert len(queues) == procs, ln              # one local queue per P
        assert int(m[3]) <= procs and int(m[7]) <= int(m[4])
        times.append(int(m[1]))
    assert times == sorted(times)
    # part 4 runs at GOMAXPROCS=1 for two 0.2 s calls: a line every 100 ms sees it
    assert any(SCHED.fullmatch(ln)[2] == "1" for ln in sched), sched


def test_sieve(demo):
    s = section(demo[0], "1")
    shown = find(r"primes: ([\d ]+) \.\.\. ([\d ]+)$", s)
    first30 = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
               97, 101, 103, 107, 109, 113]
    assert [int(x) for x in shown[1].split()] == first30[:10]
    assert [int(x) for x in shown[2].split()] == first30[-3:]
    assert "trial division agrees: yes" in s
    g = find(r"goroutines: (\d+) before, (\d+) with the generator and the 30 filters, (\d+) after", s)
    before, peak, after = map(int, g.groups())
    assert peak == before + 31 and after == before
    threads = int(find(r"filters ran on (\d+) OS threads", s)[1])
    claim = find(r"^=> (.*)$", s)[1]
    assert f"31 sieve goroutines shared {threads} OS threads" in claim
    assert "closing quit stopped all of them" in claim


def test_pipeline(demo):
    s = section(demo[0], "2")
    m = find(r"the sink got ([\d,]+) results summing to ([\d,]+) \(the squares of 0\.\.(\d+): ([\d,]+)\)", s)
    got, total, last, expected = num(m[1]), num(m[2]), int(m[3]), num(m[4])
    assert got == 200 == last + 1
    assert expected == sum(n * n for n in range(200)) == total
    per = [int(x) for x in find(r"items per worker: ([\d ]+)$", s)[1].split()]
    assert len(per) == 4 and sum(per) == 200
    assert f"=> every item went through exactly once; the fan-out gave each worker {min(per)}-{max(per)}" in s


def test_echo_server(demo):
    s = section(demo[0], "3")
    m = find(r"echoes checked: ([\d,]+) of ([\d,]+) came back intact, (\d+) wrong or missing", s)
    assert num(m[1]) == num(m[2]) == 10 * 5 and m[3] == "0"
    threads = int(find(r"(\d+) OS threads \(sysmon included\)", s)[1])
    io = int(find(r"the most parked on sockets at once: (\d+) \(", s)[1])
    assert "=> all 50 echoes came back" in s
    if io > threads:
        assert f"{io} goroutines waited on sockets at once with {threads} threads in all" in s
    else:
        assert "this run does not show" in s


def test_blocking_call_does_not_stop_the_others(demo):
    s = section(demo[0], "4")
    rows = re.findall(r"^   (\S.*?)\s+([\d.]+) s: the ticker ticked (\d+) times meanwhile "
                      r"\(one per 10 ms makes (\d+)\); sysmon took the P away (once|\d+ times)$", s, re.M)
    assert [r[0] for r in rows] == ["gort.syscall(time.sleep)", "time.sleep, unwrapped"], s
    for how, wall, ticks, due, retakes in rows:
        ticks, due = int(ticks), int(due)
        assert float(wall) >= 0.2 and abs(due - float(wall) / 0.01) <= 1
        # GOMAXPROCS=1: the ticker can only have run if sysmon took the P from the blocked thread
        assert ticks > 0, s
        assert retakes != "0 times", s
        claim = find(rf"^=> {re.escape(how)}: (.*)$", s)[1]
        m = find(rf"^the other goroutines kept running: {ticks} ticks, the first (\d+) ms into the call",
                 claim)
        assert int(m[1]) <= float(wall) * 1000
        handed = "handed it to another" if how.startswith("gort.syscall") else "on another thread"
        assert claim.endswith(handed), claim


def test_trace_page_written_and_named(demo):
    rest, _, html = demo
    s = section(rest, "Trace")
    assert f"open the viewer: file://{html}" in s
    jpath = os.path.splitext(html)[0] + ".json"
    assert f": {jpath}" in s
    with open(html, encoding="utf-8") as f:
        page = f.read()
    assert page.lstrip().lower().startswith("<!doctype html") and len(page) > 10_000
    with open(jpath) as f:
        doc = json.load(f)
    m = find(r"([\d,]+) trace events, ([\d,]+) goroutines, ([\d,]+) events dropped", s)
    assert num(m[1]) == sum(1 for e in doc["traceEvents"] if e["ph"] != "M") > 0
    assert num(m[2]) == len(doc["otherData"]["goroutines"])
    assert num(m[3]) == doc["otherData"]["dropped_events"]
