"""examples/http_hello.py on 1 and 2 processes (`python -m gort run --processes N`) under wrk.

    PYTHONPATH=. python3 bench/serve.py                    # 5 interleaved repeats of 10 s per row
    PYTHONPATH=. python3 bench/serve.py --repeat 1 --duration 3     # a quick look

Rows (each worker is its own gort program; nothing is pinned to a CPU, so the
workers and wrk share the machine's cores as the kernel decides):

- `1 process`          python -m gort run examples/http_hello.py          (GOMAXPROCS default)
- `1 process --procs 1` the same with GOMAXPROCS 1 (no supervisor: its cost shows against the next row)
- `--processes 1 --procs 1`, `--processes 2 --procs 1`, `--processes 2` (GOMAXPROCS default)

Each run: start the server, wait for every worker's banner, 1 s of wrk as a
warm-up, then `wrk -tT -c50 -dD --latency` measured (T: --threads, default 1).
Server CPU per request sums user + system time of the supervisor and all its
workers (/proc) over the measured window; "server cores used" is that CPU
time over the window's wall time (one GIL-bound process stays near 1), and
"wrk cores used" the same for wrk.  "bg" is the share of the whole machine
used by other processes meanwhile (from /proc/stat); "load" is the 1-minute
load average just before the run.  Cells are medians over the repeats (min..max of req/s in
brackets).  Needs wrk (Debian: apt-get install wrk); Linux only.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HELLO = os.path.join(ROOT, "examples", "http_hello.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")

ROWS = {
    "1 process": (None, None),
    "1 process --procs 1": (None, 1),
    "--processes 1 --procs 1": (1, 1),
    "--processes 2 --procs 1": (2, 1),
    "--processes 2": (2, None),
}


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks of pid (all its threads); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def children(ppid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rpartition(")")[2].split()[1]) == ppid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])
    return total - v[3] - v[4], total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(row: str, port: int, python: str) -> tuple[subprocess.Popen[bytes], int]:
    nproc, procs = ROWS[row]
    cmd = [python, "-m", "gort", "run"]
    if nproc is not None:
        cmd += ["--processes", str(nproc)]
    if procs is not None:
        cmd += ["--procs", str(procs)]
    cmd += [HELLO, f"127.0.0.1:{port}"]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    want = nproc or 1
    deadline = time.monotonic() + 60
    assert p.stdout is not None
    fd = p.stdout.fileno()
    got = b""
    # count banners, not lines: with PYTHONUNBUFFERED the workers' print() is two writes and
    # their lines can interleave
    while got.count(b"http_hello on") < want:
        left = deadline - time.monotonic()
        r, _, _ = select.select([fd], [], [], max(0.0, min(left, 1.0)))
        chunk = os.read(fd, 65536) if r else b""
        if (r and not chunk) or left <= 0 or p.poll() is not None:
            stop(p)
            raise RuntimeError(f"{cmd} did not start: {got[-2000:]!r}")
        got += chunk
    return p, want


def stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


_LAT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def measure(row: str, a: Any) -> dict[str, Any]:
    port = free_port()
    load = os.getloadavg()[0]
    p, nworkers = start(row, port, a.python)
    try:
        url = f"http://127.0.0.1:{port}/"
        subprocess.run(["wrk", f"-t{a.threads}", f"-c{a.conns}", "-d1s", url], capture_output=True,
                       timeout=60)
        pids = [p.pid] + children(p.pid)
        c0 = sum(cpu_ticks(x) for x in pids)
        b0, t0 = machine_ticks()
        w0 = os.times()
        m0 = time.monotonic()
        r = subprocess.run(["wrk", f"-t{a.threads}", f"-c{a.conns}", f"-d{a.duration}s", "--latency", url],
                           capture_output=True, text=True, timeout=a.duration + 120)
        c1 = sum(cpu_ticks(x) for x in pids)
        b1, t1 = machine_ticks()
        w1 = os.times()
        wall = time.monotonic() - m0
        assert len(children(p.pid)) == nworkers or nworkers == 1, "a worker was restarted during the run"
    finally:
        stop(p)
    out = r.stdout
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if r.returncode != 0 or not m or not rps:
        raise RuntimeError(f"wrk failed: {out[-2000:]} {r.stderr[-2000:]}")
    errors = "Non-2xx" in out or "Socket errors" in out
    lat = {pct: float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[u] for pct, v, u in _LAT.findall(out)}
    n = int(m.group(1))
    wrk_ticks = ((w1.children_user + w1.children_system) - (w0.children_user + w0.children_system)) * CLK_TCK
    other = (b1 - b0) - (c1 - c0) - wrk_ticks
    return {"rps": float(rps.group(1)), "p50": lat.get("50"), "p99": lat.get("99"),
            "cpu_us": (c1 - c0) * 1e6 / CLK_TCK / n if n else None, "cores": (c1 - c0) / CLK_TCK / wall,
            "wrk_cores": wrk_ticks / CLK_TCK / wall,
            "bg": max(0.0, other / max(1, t1 - t0)), "load": load, "errors": errors}


def med(rs: list[dict[str, Any]], k: str) -> Optional[float]:
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    ap.add_argument("--rows", default=",".join(r for r in ROWS if r != "1 process --procs 1"),
                    help=f"comma-separated rows (default: all but the second): {', '.join(ROWS)}")
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    rows = [r.strip() for r in a.rows.split(",")]
    for r in rows:
        if r not in ROWS:
            ap.error(f"unknown row {r!r}; rows: {', '.join(ROWS)}")
    res: dict[str, list[dict[str, Any]]] = {r: [] for r in rows}
    for i in range(a.repeat):                     # interleaved: repeat i of every row, then i + 1
        for row in rows:
            x = measure(row, a)
            res[row].append(x)
            print(f"# run {i + 1} {row}: {x['rps']:.0f} req/s, {x['cpu_us']:.2f} us/req, "
                  f"{x['cores']:.2f} cores, wrk {x['wrk_cores']:.2f} cores, "
                  f"bg {x['bg']:.0%}, load {x['load']:.2f}{' ERRORS' if x['errors'] else ''}",
                  file=sys.stderr, flush=True)
    print(f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"wrk -t{a.threads} -c{a.conns} -d{a.duration}s, medians of {a.repeat}")
    print("| server | req/s (min..max) | p50 µs | p99 µs | server CPU µs/req | server cores used | "
          "wrk cores used | load avg | bg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row, rs in res.items():
        lo, hi = min(r["rps"] for r in rs), max(r["rps"] for r in rs)
        print(f"| {row} | {med(rs, 'rps'):,.0f} ({lo:,.0f}..{hi:,.0f}) | {med(rs, 'p50'):,.0f} | "
              f"{med(rs, 'p99'):,.0f} | {med(rs, 'cpu_us'):.2f} | {med(rs, 'cores'):.2f} | "
              f"{med(rs, 'wrk_cores'):.2f} | "
              f"{med(rs, 'load'):.2f} | "
              f"{max(r['bg'] for r in rs):.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
