"""The one-file HTML viewer (gort.viewer, `python -m gort trace`): its summary
tables, and the page itself in headless Chromium driven over the DevTools
protocol (--remote-debugging-pipe, stdlib only): it loads from a file with no
console errors, the P and M lanes and a known goroutine's slices are in the
DOM, hovering a slice shows its details, and a screenshot is kept."""
from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time

import pytest

import gort
from gort import viewer
from helpers import run_bounded

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(os.path.dirname(__file__), "artifacts")


async def pinger(n, ping, pong):
    for i in range(n):
        await ping.send(i)
        await pong.recv()
    ping.close()


async def ponger(ping, pong):
    async for v in ping:
        await gort.sleep(0.0005)
        await pong.send(v)


async def main():
    ping, pong = gort.Chan(), gort.Chan()
    gort.go(pinger, 30, ping, pong)
    gort.go(ponger, ping, pong)                            # LINE: go-ponger
    for _ in range(40):                                    # a blocking call until sysmon hands its P off
        await gort.syscall(time.sleep, 0.03)
        if gort.stats()["handoffs"]:
            break
    await gort.sleep(0.02)


def line_of(tag):
    with open(__file__) as f:
        for i, text in enumerate(f, 1):
            if text.rstrip().endswith(f"# LINE: {tag}"):
                return i
    raise AssertionError(tag)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A traced run of main, its page written by `python -m gort trace`: (json path, html path, doc)."""
    d = tmp_path_factory.mktemp("viewer")
    path = str(d / "pingpong.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GORT_TRACE", path)
        run_bounded(main, procs=2, timeout=120)
    out = str(d / "pingpong.html")
    r = subprocess.run([sys.executable, "-m", "gort", "trace", path, "-o", out], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == out
    with open(path) as f:
        doc = json.load(f)
    return path, out, doc


def ponger_goid(doc):
    gor = doc["otherData"]["goroutines"]
    (goid,) = [int(k) for k, v in gor.items() if v[0].endswith(".ponger")]
    return goid


# ---------------------------------------------------------------- the summaries

def test_summary_tables(page):
    path, out, doc = page
    m = viewer.Model(doc)
    gid = ponger_goid(doc)
    st = m.gstates()[gid]
    assert st["running"] > 0 and st["blocked: chan receive"] > 0 and st["blocked: sleep"] > 0
    assert st.get("runnable", 0) > 0
    hs = m.handoffs()
    # the syscall hand-off is there (on a loaded machine sysmon may also retire a P whose M
    # only looked stuck, listed as kind "stuck"; starved long enough, the sleeper's own P
    # is retired that way before its call starts, and the call then needs no hand-off)
    assert (any(h["args"]["kind"] == "syscall" and h["args"]["call"] == "sleep" for h in hs)
            or any(h["args"]["kind"] == "stuck" for h in hs)), hs
    lat = m.latencies()
    assert lat == sorted(lat, key=lambda e: -e["dur"]) and all(e["cat"] == "runnable" for e in lat)
    pts = m.threads_series()
    assert pts and max(p[1] for p in pts) >= 3             # M0, sysmon, and the M that took the P
    with open(out, encoding="utf-8") as f:
        html = f.read()
    for anchor in ("s-goroutines", "s-latency", "s-steals", "s-handoffs", "s-threads"):
        assert f'id="{anchor}"' in html
    assert re.search(r"<td>[^<]*ponger</td>", html)
    assert f"test_viewer.py:{line_of('go-ponger')}" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        '"http://www.w3.org/2000/svg"', "")                # no network: nothing to fetch
    assert "<script src" not in html and "<link" not in html


def test_viewer_reads_foreign_chrome_traces(tmp_path):
    """A Chrome trace gort did not write still shows its slices (no gort tables)."""
    doc = {"traceEvents": [
        {"ph": "M", "name": "thread_name", "pid": 7, "tid": 1, "args": {"name": "worker"}},
        {"ph": "X", "name": "job", "pid": 7, "tid": 1, "ts": 10, "dur": 5, "args": {}},
        {"ph": "i", "name": "mark", "pid": 7, "tid": 1, "ts": 12, "s": "t"},
    ]}
    p = tmp_path / "x.json"
    p.write_text(json.dumps(doc))
    html_path = viewer.write(str(p))
    assert html_path.endswith("x.html")
    tl = viewer.Model(doc).timeline()
    assert [ln["name"] for ln in tl["lanes"]] == ["worker"] and len(tl["lanes"][0]["slices"]) == 1


def test_data_cannot_close_the_script_element():
    doc = {"traceEvents": [{"ph": "X", "name": "</script><b>x", "pid": 1, "tid": 1, "ts": 0, "dur": 1}]}
    page = viewer.render(doc)
    data = page.split('id="gort-data">', 1)[1]
    assert data.index("</script>") > data.index("<\\/script>")


# ---------------------------------------------------------------- in Chromium

class Chromium:
    """Headless Chromium over --remote-debugging-pipe: NUL-terminated JSON
    messages, the browser reading fd 3 and writing fd 4."""

    def __init__(self, profile, timeout=60.0):
        self.timeout = timeout
        os.makedirs(profile, exist_ok=True)
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--window-size=1400,900", "about:blank"]
        self.stderr = open(os.path.join(profile, "chromium-stderr.txt"), "w")
        # a tiny exec helper puts our pipe ends on fds 3 and 4, where Chromium looks for them
        # (moved above 9 first, so that neither lands on the other's target)
        helper = ("import fcntl, os, sys\n"
                  "r, w = (fcntl.fcntl(int(x), fcntl.F_DUPFD, 10) for x in sys.argv[1:3])\n"
                  "os.dup2(r, 3); os.dup2(w, 4)\n"
                  "os.execv(sys.argv[3], sys.argv[3:])\n")
        self.proc = subprocess.Popen([sys.executable, "-c", helper, str(to_r), str(from_w), CHROMIUM, *args],
                                     pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.nid = 0
        self.events: list[dict] = []

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.from_r], [], [], left)
            if ready:
                chunk = os.read(self.from_r, 1 << 16)
                if not chunk:
                    raise EOFError("chromium closed its DevTools pipe")
                self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\0")
        return json.loads(raw)

    def call(self, method, params=None, session=None):
        self.nid += 1
        msg = {"id": self.nid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.nid:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method):
        deadline = time.monotonic() + self.timeout
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(i)
        while True:
            m = self._read(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)

    def close(self):
        try:
            self.call("Browser.close")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_w)
        os.close(self.from_r)
        self.stderr.close()


def console_errors(events):
    out = []
    for m in events:
        p = m.get("params", {})
        if m.get("method") == "Runtime.exceptionThrown":
            out.append(p.get("exceptionDetails", {}).get("text", "exception"))
        elif m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(p["entry"].get("text", ""))
    return out


@pytest.mark.skipif(not os.path.exists(CHROMIUM),
                    reason="headless Chromium is not installed (apt-get install -y chromium): the page is "
                           "checked in a real browser only where one is available")
def test_page_in_headless_chromium(page, tmp_path):
    path, html_path, doc = page
    gid = ponger_goid(doc)
    b = Chromium(str(tmp_path / "profile"))
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            b.call(method, session=sid)
        b.call("Page.navigate", {"url": "file://" + html_path}, session=sid)
        b.wait_event("Page.loadEventFired")

        def js(expr):
            r = b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=sid)
            assert "exceptionDetails" not in r, r
            return r["result"].get("value")

        assert js("document.body.dataset.ready") == "1"
        lanes = js("[...document.querySelectorAll('#labels .lane-label')].map(e => e.textContent)")
        assert {"P0", "P1"} <= set(lanes) and any(n.startswith("M") for n in lanes)
        assert js("document.querySelectorAll('g.lane').length") == len(lanes)
        # the whole trace at first; then zoom to the ponger's first run: its slices are rectangles
        assert js(f"gortViewer.focus({gid})") is True
        sel = f'rect.slice[data-goid="{gid}"]:not(.merged)'
        assert js(f"document.querySelectorAll('{sel}').length") >= 1
        box = js(f"(() => {{ const r = document.querySelector('{sel}').getBoundingClientRect();"
                 " return [r.x + r.width / 2, r.y + r.height / 2, r.width]; })()")
        assert box[2] >= 1
        b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0], "y": box[1]}, session=sid)
        tip = js("(() => { const t = document.getElementById('tip');"
                 " return [getComputedStyle(t).display, t.innerText]; })()")
        assert tip[0] == "block", tip
        text = tip[1]
        assert f"G{gid} ponger" in text
        assert re.search(r"duration \d", text)
        assert re.search(r"then (sleep|chan receive|chan send|Gosched|preempted)", text), text
        assert f"created by {__name__}.main in goroutine 1" in text
        assert f"test_viewer.py:{line_of('go-ponger')}" in text
        # the arrows into the hovered slice are drawn
        assert js("document.querySelectorAll('path.flow').length") >= 1
        # zooming and panning keep working (the wheel, then the keyboard)
        before = js("gortViewer.view()")
        b.call("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": box[0], "y": box[1], "deltaX": 0,
                                            "deltaY": 400}, session=sid)
        after = js("gortViewer.view()")
        assert after[1] - after[0] > before[1] - before[0]
        shot = b.call("Page.captureScreenshot", {"format": "png"}, session=sid)["data"]
        png = tmp_path / "viewer.png"
        png.write_bytes(base64.b64decode(shot))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        os.makedirs(ARTIFACTS, exist_ok=True)
        shutil.copy(png, os.path.join(ARTIFACTS, "viewer.png"))
        errors = console_errors(b.events)
        assert not errors, errors
    finally:
        b.close()
