"""Network benchmark: TCP echo and HTTP hello, gort against asyncio, uvloop, trio, gevent and Go.

    python bench/net.py                          # echo + http, 3 repeats, 10 s each (~12 min)
    python bench/net.py --only echo --repeat 5 --kinds gort-p1,asyncio,uvloop-proto
    python bench/net.py --duration 3 --repeat 1  # a quick look

Echo: the server (bench/net_servers.py, or Go's for reference) runs pinned to
CPU 0, the load client (bench/netload, Go, built here with `go build`) to
CPU 1: 50 connections, each sending a 64-byte request and waiting for the
whole echo before the next (closed loop), 1 s warm-up, then 10 s measured.
The client reads the server's CPU time (user + system, all threads) from
/proc/PID/stat at the start and the end of the measured window:
**server CPU µs per request** = that CPU time / requests answered.

HTTP: examples/http_hello.py (gort) and its asyncio+uvloop and gevent
equivalents (bench/http_peers.py) under `wrk -t1 -c50 -d10s --latency`
(Debian's wrk), pinned the same way; req/s, p50/p99 and server CPU µs per
request (its /proc/PID/stat read just before and after wrk).

Each cell is the median of the repeats; repeats are interleaved across
servers.  "bg" is the largest share of the machine that other processes used
during a run (from /proc/stat): a high value means a noisy row.  Raw results
go to bench/out/net-*.json.  Needs: taskset, go (Debian golang-go), wrk, and
uvloop/trio/gevent in the Python used (default .venv-bench/bin/python).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import select
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
ECHO_KINDS = ["gort-p1", "gort-p2", "asyncio", "uvloop", "uvloop-proto", "trio", "gevent", "go"]
HTTP_KINDS = ["gort-p1", "gort-p2", "uvloop", "gevent"]
SERVER_CPU, CLIENT_CPU = "0", "1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def default_python() -> str:
    p = os.path.join(ROOT, ".venv-bench", "bin", "python")
    return p if os.path.exists(p) else sys.executable


def build_netload() -> str:
    go = shutil.which("go")
    if go is None:
        raise SystemExit("bench/net.py needs Go for its load client: apt-get install golang-go")
    os.makedirs(OUT, exist_ok=True)
    exe = os.path.join(OUT, "netload")
    env = dict(os.environ, GOCACHE=os.path.join(OUT, "gocache"), GOFLAGS="-mod=mod", CGO_ENABLED="0")
    subprocess.run([go, "build", "-o", exe, "."], cwd=os.path.join(HERE, "netload"), env=env, check=True)
    return exe


def proc_cpu(pid: int) -> tuple[int, int]:
    """(user, system) clock ticks of every thread of pid."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    f2 = s[s.rindex(")") + 2:].split()
    return int(f2[11]), int(f2[12])


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return total - idle, total


def wait_idle(max_wait: float, threshold: float = 0.2) -> None:
    end = time.monotonic() + max_wait
    while time.monotonic() < end:
        b0, t0 = machine_ticks()
        time.sleep(0.5)
        b1, t1 = machine_ticks()
        if (b1 - b0) / max(1, t1 - t0) < threshold:
            return


def children_ticks() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * CLK_TCK


class Server:
    def __init__(self, cmd: list[str], env: dict) -> None:
        self.p = subprocess.Popen(["taskset", "-c", SERVER_CPU, *cmd], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        line = ""
        assert self.p.stdout is not None
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stdout], [], [], 0.5)
            if r:
                line = self.p.stdout.readline()
                if "listening" in line or "http_hello on" in line:
                    return
                if not line:
                    break
            if self.p.poll() is not None:
                break
        err = self.p.stderr.read() if self.p.poll() is not None and self.p.stderr else ""
        self.stop()
        raise RuntimeError(f"server {cmd} did not start: {line!r} {err[-2000:]}")

    @property
    def pid(self) -> int:
        return self.p.pid

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


def echo_cmd(kind: str, port: int, python: str, netload: str) -> list[str]:
    if kind == "go":
        return [netload, "-serve", "-addr", f"127.0.0.1:{port}"]
    return [python, os.path.join(HERE, "net_servers.py"), kind, str(port)]


def http_cmd(kind: str, port: int, python: str) -> list[str]:
    if kind.startswith("gort-p"):
        return [python, os.path.join(ROOT, "examples", "http_hello.py"), f"127.0.0.1:{port}",
                "--procs", kind[len("gort-p"):]]
    return [python, os.path.join(HERE, "http_peers.py"), kind, str(port)]


def run_echo(kind: str, port: int, a: Any, env: dict, netload: str) -> dict:
    srv = Server(echo_cmd(kind, port, a.python, netload), env)
    try:
        b0, t0 = machine_ticks()
        s0 = sum(proc_cpu(srv.pid))
        c0 = children_ticks()
        p = subprocess.run(["taskset", "-c", CLIENT_CPU, netload, "-addr", f"127.0.0.1:{port}",
                            "-conns", str(a.conns), "-size", str(a.size), "-duration", f"{a.duration}s",
                            "-warmup", f"{a.warmup}s", "-pid", str(srv.pid)],
                           capture_output=True, text=True, timeout=a.duration + a.warmup + 120)
        s1 = sum(proc_cpu(srv.pid))
        b1, t1 = machine_ticks()
        c1 = children_ticks()
    finally:
        srv.stop()
    if p.returncode != 0:
        raise RuntimeError(f"netload failed: {p.stderr[-2000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    other = (b1 - b0) - (s1 - s0) - (c1 - c0)
    r["bg"] = max(0.0, other / max(1, t1 - t0))
    r["user_us_per_req"] = ((r["server_cpu_s"] - r["server_sys_s"]) * 1e6 / r["requests"]
                            if r["requests"] else None)
    return r


_WRK_LAT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def run_http(kind: str, port: int, a: Any, env: dict) -> dict:
    srv = Server(http_cmd(kind, port, a.python), env)
    try:
        subprocess.run(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{a.conns}", "-d1s",
                        f"http://127.0.0.1:{port}/"], capture_output=True, timeout=60)   # warm-up
        b0, t0 = machine_ticks()
        s0 = sum(proc_cpu(srv.pid))
        c0 = children_ticks()
        p = subprocess.run(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{a.conns}",
                            f"-d{max(1, round(a.duration))}s", "--latency", f"http://127.0.0.1:{port}/"],
                           capture_output=True, text=True, timeout=a.duration + 120)
        s1 = sum(proc_cpu(srv.pid))
        b1, t1 = machine_ticks()
        c1 = children_ticks()
    finally:
        srv.stop()
    out = p.stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if p.returncode != 0 or not m or not rps:
        raise RuntimeError(f"wrk failed: {out[-2000:]} {p.stderr[-2000:]}")
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors: {out[-2000:]}")
    lat = {}
    for pct, v, unit in _WRK_LAT.findall(out):
        lat[pct] = float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
    n = int(m.group(1))
    other = (b1 - b0) - (s1 - s0) - (c1 - c0)
    return {"requests": n, "rps": float(rps.group(1)), "p50_us": lat.get("50"), "p99_us": lat.get("99"),
            "cpu_us_per_req": (s1 - s0) * 1e6 / CLK_TCK / n if n else None,
            "bg": max(0.0, other / max(1, t1 - t0))}


def med(rows: list[dict], key: str) -> Optional[float]:
    v = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(v) if v else None


def fmt(v: Optional[float], digits: int = 2) -> str:
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def table(title: str, results: dict[str, list[dict]], ref: str, user: bool) -> str:
    refv = med(results.get(ref, []), "cpu_us_per_req")
    head = ("| server | req/s | p50 µs | p99 µs | server CPU µs/req | " + ("user µs/req | " if user else "")
            + f"vs {ref} | runs | bg |")
    lines = [f"### {title}", "", head, "|" + "---|" * (head.count("|") - 1)]
    for kind, rows in results.items():
        cpu = med(rows, "cpu_us_per_req")
        ratio = f"{cpu / refv:.2f}" if cpu and refv else "-"
        lo = min((r["cpu_us_per_req"] for r in rows if r.get("cpu_us_per_req")), default=None)
        hi = max((r["cpu_us_per_req"] for r in rows if r.get("cpu_us_per_req")), default=None)
        rng = f" ({fmt(lo)}..{fmt(hi)})" if lo is not None and hi is not None and len(rows) > 1 else ""
        bg = max((r.get("bg", 0) for r in rows), default=0)
        cells = [kind, fmt(med(rows, "rps"), 0), fmt(med(rows, "p50_us"), 0), fmt(med(rows, "p99_us"), 0),
                 fmt(cpu) + rng]
        if user:
            cells.append(fmt(med(rows, "user_us_per_req")))
        cells += [ratio, str(len(rows)), f"{bg:.0%}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["echo", "http"], default=None)
    ap.add_argument("--kinds", default=None, help="comma-separated subset of the servers")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--python", default=default_python())
    ap.add_argument("--wait-idle", type=float, default=0.0,
                    help="wait up to S s for a quiet machine before each run")
    ap.add_argument("--port", type=int, default=9300)
    a = ap.parse_args(argv)
    for tool in ("taskset",) + (("wrk",) if a.only != "echo" else ()):
        if shutil.which(tool) is None:
            pkg = "util-linux" if tool == "taskset" else tool
            raise SystemExit(f"bench/net.py needs {tool} (apt-get install {pkg})")
    netload = build_netload() if a.only != "http" else ""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("GORT_MAXPROCS", None)
    want = set(a.kinds.split(",")) if a.kinds else None
    plans = []
    if a.only in (None, "echo"):
        plans += [("echo", k) for k in ECHO_KINDS if want is None or k in want]
    if a.only in (None, "http"):
        plans += [("http", k) for k in HTTP_KINDS if want is None or k in want]
    pyver = subprocess.run([a.python, "-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": pyver, "commit": commit,
            "machine": platform.processor() or platform.machine(), "ncpu": os.cpu_count(),
            "argv": sys.argv[1:]}
    print(f"# bench/net.py {' '.join(sys.argv[1:])}: Python {pyver}, gort {commit}, {meta['date']}",
          flush=True)
    results: dict[str, dict[str, list[dict]]] = {"echo": {}, "http": {}}
    port = a.port
    failed = 0
    for rep in range(a.repeat):
        for what, kind in plans:
            if a.wait_idle:
                wait_idle(a.wait_idle)
            port += 1
            try:
                r = run_echo(kind, port, a, env, netload) if what == "echo" else run_http(kind, port, a, env)
            except Exception as e:   # noqa: BLE001 - one failed run is reported, the rest go on
                print(f"  {what} {kind} run {rep + 1}: FAILED {e}", flush=True)
                failed += 1
                continue
            results[what].setdefault(kind, []).append(r)
            print(f"  {what} {kind} run {rep + 1}: {r['rps']:,.0f} req/s, "
                  f"{fmt(r.get('cpu_us_per_req'))} µs/req, p99 {fmt(r.get('p99_us'), 0)} µs, "
                  f"bg {r.get('bg', 0):.0%}", flush=True)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, time.strftime("net-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    print()
    if results["echo"]:
        print(table(f"TCP echo, {a.size}-byte request/response, {a.conns} connections, {a.duration:g} s "
                    f"(medians of {a.repeat})", results["echo"], "asyncio", True))
        print()
    if results["http"]:
        print(table(f"examples/http_hello.py under wrk -t1 -c{a.conns} -d{a.duration:g}s "
                    f"(medians of {a.repeat})", results["http"], "uvloop", False))
    print(f"\nraw results: {os.path.relpath(path, ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
