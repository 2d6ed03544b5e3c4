"""`python -m gort run --processes N`: N gort programs sharing a port, restarted when they crash.

Every test runs the supervisor as a child process and, in a finally block,
kills it and every worker it had (the workers are found from the supervisor's
start-up line, the pids that answered and /proc), so a failing test leaves no
process behind.  Waits poll a condition with a deadline; none sleeps and hopes.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable, Optional, TypeVar

import pytest

import gort
from gort import serve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(ROOT, "examples", "http_hello.py")
LO = "127.0.0.1"
WAIT = 60.0                      # generous: the machine is shared and each worker is a fresh Python

pytestmark = pytest.mark.skipif(serve.check_platform() is not None, reason="Linux (SO_REUSEPORT) only")

T = TypeVar("T")


def wait_for(cond: Callable[[], Optional[T]], what: str, timeout: float = WAIT,
             detail: Optional[Callable[[], str]] = None) -> T:
    """Poll cond until it returns something truthy; fail after timeout seconds
    (with detail(), e.g. the supervisor's output, in the message)."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            more = "\n" + detail() if detail is not None else ""
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}{more}", pytrace=False)
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether pid is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def children(ppid: int) -> set[int]:
    """Live processes whose parent is ppid (from /proc)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and int(fields[1]) == ppid and fields[0] not in ("Z", "X"):
            out.add(int(d))
    return out


class Supervised:
    """`python -m gort run ARGS` as a child, its stdout/stderr in files, every worker it had tracked."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.out = tmp / "stdout.txt"
        self.err = tmp / "stderr.txt"
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for k in (serve.ENV_INDEX, serve.ENV_COUNT, serve.ENV_RESTARTS, serve.ENV_FD):
            env.pop(k, None)
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.p = subprocess.Popen([sys.executable, "-m", "gort", "run", *args], cwd=ROOT,
                                      stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=env)
        self.workers: set[int] = set()

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def outputs(self) -> str:
        return f"stdout:\n{self.stdout()}\nstderr:\n{self.stderr()}"

    def started(self) -> list[int]:
        """The first workers' pids, from the supervisor's start-up line (waits for it)."""
        def line() -> Optional[list[int]]:
            m = re.search(r"worker process(?:es)? \(supervisor pid \d+\): (.*)", self.stderr())
            if m is None:
                assert self.p.poll() is None, f"supervisor exited {self.p.returncode}:\n{self.stderr()}"
                return None
            return [int(x) for x in re.findall(r"pid (\d+)", m.group(1))]
        pids = wait_for(line, "the supervisor's start-up line")
        self.workers |= set(pids)
        return pids

    def track(self) -> set[int]:
        """The workers alive now (children of the supervisor), remembered for the clean-up."""
        now = children(self.p.pid)
        self.workers |= now
        return now

    def wait(self, timeout: float = WAIT) -> int:
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the supervisor did not exit within {timeout:g} s:\n{self.stderr()}", pytrace=False)

    def cleanup(self) -> None:
        if self.p.poll() is None:
            self.track()
            self.p.kill()
            self.p.wait(10)
        for pid in self.workers:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def ask_pid(port: int, timeout: float = 5.0) -> Optional[int]:
    """GET /pid on a new connection: the pid of the worker that answered, None if none did."""
    try:
        with socket.create_connection((LO, port), timeout=timeout) as s:
            s.sendall(b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    m = re.search(rb"\r\n\r\npid (\d+) worker (\d+)/2\n$", data)
    return int(m.group(1)) if m else None


@pytest.fixture
def port():
    """A free port, held (bound with SO_REUSEPORT, never listening) so nothing else takes it."""
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind((LO, 0))
    try:
        yield probe.getsockname()[1]
    finally:
        probe.close()


def app(tmp_path: Path, source: str) -> str:
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def test_http_hello_on_two_workers_survives_a_crash_and_stops_on_sigterm(tmp_path, port):
    sup = Supervised(tmp_path, "--processes", "2", "--procs", "1", HELLO, f"{LO}:{port}")
    try:
        first = set(sup.started())
        assert len(first) == 2
        seen: set[int] = set()

        def both() -> bool:
            pid = ask_pid(port)
            if pid is not None:
                seen.add(pid)
            return len(seen) >= 2
        wait_for(both, f"two distinct pids to answer (seen {seen})")
        assert seen == first                       # the pids the supervisor started, one per worker

        victim, survivor = sorted(first)
        os.kill(victim, signal.SIGKILL)
        answered: dict[int, int] = {}

        def replaced() -> bool:
            pid = ask_pid(port)
            if pid is not None:
                answered[pid] = answered.get(pid, 0) + 1
                sup.workers.add(pid)
            return any(p not in first for p in answered) and survivor in answered
        wait_for(replaced, f"a new worker to answer besides {survivor} (answered: {answered})")
        assert victim not in answered or not alive(victim)
        assert re.search(rf"worker \d \(pid {victim}\) killed by SIGKILL after [\d.]+ s; "
                         rf"restarting it in 0\.10 s \(restart 1\)", sup.stderr()), sup.stderr()
        new = next(p for p in answered if p not in first)
        assert f"pid {new}, worker" in wait_for(lambda: f"pid {new}," in sup.stdout() and sup.stdout(),
                                                "the new worker's banner")

        workers = sup.track() | first | {new}
        sup.p.send_signal(signal.SIGTERM)
        assert sup.wait() == -signal.SIGTERM, sup.stderr()
        wait_for(lambda: not any(alive(p) for p in workers), f"workers {workers} to be gone", 10)
        assert "Traceback" not in sup.stderr()     # the workers stopped quietly
    finally:
        sup.cleanup()


def test_all_workers_exit_0_then_the_supervisor_exits_0(tmp_path):
    path = app(tmp_path, """
        import os, gort

        async def main():
            w = gort.worker()
            assert w.pid == os.getpid()
            print(f"worker {w.index} of {w.count} pid {w.pid} restarts {w.restarts}", flush=True)
    """)
    sup = Supervised(tmp_path, "--processes", "3", path)
    try:
        assert sup.wait() == 0, sup.stderr()
        lines = sorted(re.findall(r"worker (\d) of (\d) pid (\d+) restarts (\d)", sup.stdout()))
        assert [(i, n, r) for i, n, _, r in lines] == [("0", "3", "0"), ("1", "3", "0"), ("2", "3", "0")]
        assert len({pid for _, _, pid, _ in lines}) == 3
        assert "restarting it in" not in sup.stderr()
        assert "all 3 workers exited with status 0" in sup.stderr()
    finally:
        sup.cleanup()


def test_a_worker_that_crashes_at_start_up_is_restarted_with_growing_delays(tmp_path):
    path = app(tmp_path, """
        import gort

        async def main():
            raise SystemExit(3)
    """)
    sup = Supervised(tmp_path, "--processes", "1", path)
    try:
        pat = r"worker 0 \(pid \d+\) exited with status 3 after [\d.]+ s; restarting it in ([\d.]+) s"
        delays = wait_for(lambda: (d := re.findall(pat, sup.stderr())) and len(d) >= 4 and d,
                          "four restarts")
        assert [float(d) for d in delays[:4]] == [0.1, 0.2, 0.4, 0.8]   # doubling: no busy loop
        sup.p.send_signal(signal.SIGTERM)
        assert sup.wait() == -signal.SIGTERM
    finally:
        sup.cleanup()


# Both workers print to the supervisor's stdout, and an unbuffered print writes its pieces
# one by one: "up 0" and "up 1" can arrive as "upup  10" (seen), so the tests count "up".
SLEEPER = """
    import gort

    async def main():
        print("up", gort.worker().index, flush=True)
        await gort.sleep(3600)
"""


def test_ctrl_c_stops_the_workers_and_the_supervisor_ends_by_sigint(tmp_path):
    sup = Supervised(tmp_path, "--processes", "2", app(tmp_path, SLEEPER))
    try:
        workers = set(sup.started())
        wait_for(lambda: sup.stdout().count("up") == 2, "both workers up", detail=sup.outputs)
        sup.p.send_signal(signal.SIGINT)
        assert sup.wait() == -signal.SIGINT, sup.stderr()
        assert not any(alive(p) for p in workers)    # reaped by the supervisor before it exited
        assert "Traceback" not in sup.stderr()
    finally:
        sup.cleanup()


def test_sigquit_to_the_supervisor_prints_every_workers_goroutine_dump(tmp_path):
    sup = Supervised(tmp_path, "--processes", "2", app(tmp_path, SLEEPER))
    try:
        workers = set(sup.started())
        wait_for(lambda: sup.stdout().count("up") == 2, "both workers up", detail=sup.outputs)
        sup.p.send_signal(signal.SIGQUIT)
        wait_for(lambda: sup.stderr().count("SIGQUIT: goroutine dump (gort keeps running)") == 2,
                 "two goroutine dumps")
        assert sup.p.poll() is None and all(alive(p) for p in workers)
        sup.p.send_signal(signal.SIGTERM)
        assert sup.wait() == -signal.SIGTERM
    finally:
        sup.cleanup()


def test_each_worker_writes_its_own_trace(tmp_path):
    path = app(tmp_path, """
        import gort

        async def main():
            await gort.sleep(0.01)
    """)
    sup = Supervised(tmp_path, "--processes", "2", "--trace", str(tmp_path / "out.json"), path)
    try:
        assert sup.wait() == 0, sup.stderr()
        for i in (0, 1):
            assert (tmp_path / f"out.{i}.json").stat().st_size > 0
        assert not (tmp_path / "out.json").exists()
    finally:
        sup.cleanup()


def test_workers_stop_themselves_when_the_supervisor_is_killed(tmp_path):
    sup = Supervised(tmp_path, "--processes", "2", app(tmp_path, SLEEPER))
    try:
        workers = set(sup.started())
        wait_for(lambda: sup.stdout().count("up") == 2, "both workers up", detail=sup.outputs)
        sup.p.kill()
        sup.wait()
        wait_for(lambda: not any(alive(p) for p in workers), f"orphaned workers {workers} to exit")
    finally:
        sup.cleanup()


def test_a_worker_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    path = app(tmp_path, """
        import signal
        import gort

        signal.signal(signal.SIGTERM, signal.SIG_IGN)    # at import, in the main thread

        async def main():
            print("up", flush=True)
            await gort.sleep(3600)
    """)
    sup = Supervised(tmp_path, "--processes", "1", "--grace", "0.5", path)
    try:
        workers = set(sup.started())
        wait_for(lambda: "up" in sup.stdout(), "the worker up")
        t0 = time.monotonic()
        sup.p.send_signal(signal.SIGTERM)
        assert sup.wait() == -signal.SIGTERM
        assert time.monotonic() - t0 >= 0.5
        assert "did not stop within 0.5 s of SIGTERM; killing them" in sup.stderr()
        assert not any(alive(p) for p in workers)
    finally:
        sup.cleanup()


def test_a_worker_listening_without_reuse_port_is_told_why_the_port_is_taken(tmp_path, port):
    path = app(tmp_path, f"""
        from gort import net

        async def main():
            net.listen("tcp", "{LO}:{port}")              # forgot reuse_port=True
    """)
    sup = Supervised(tmp_path, "--processes", "2", path)
    try:
        wait_for(lambda: "share a port with reuse_port=True" in sup.stderr(), "the hint")
        assert "Address already in use" in sup.stderr()
        sup.p.send_signal(signal.SIGTERM)
        assert sup.wait() == -signal.SIGTERM
    finally:
        sup.cleanup()


def test_a_second_stop_signal_kills_without_waiting_for_the_grace_period(tmp_path):
    path = app(tmp_path, """
        import signal
        import gort

        signal.signal(signal.SIGTERM, signal.SIG_IGN)

        async def main():
            print("up", flush=True)
            await gort.sleep(3600)
    """)
    sup = Supervised(tmp_path, "--processes", "1", "--grace", "600", path)
    try:
        sup.started()
        wait_for(lambda: "up" in sup.stdout(), "the worker up")
        sup.p.send_signal(signal.SIGTERM)
        sup.p.send_signal(signal.SIGINT)
        assert sup.wait(WAIT) == -signal.SIGTERM          # ends by the first signal, long before 600 s
        assert "did not stop within 600 s" in sup.stderr()
    finally:
        sup.cleanup()


def test_sigterm_closes_a_workers_parked_goroutines(tmp_path):
    path = app(tmp_path, """
        import gort

        async def main():
            try:
                print("up", flush=True)
                await gort.sleep(3600)            # parked on a timer
            finally:
                print("cleaned up", flush=True)
    """)
    sup = Supervised(tmp_path, "--processes", "1", path)
    try:
        sup.started()
        wait_for(lambda: "up" in sup.stdout(), "the worker up")
        sup.p.send_signal(signal.SIGTERM)
        assert sup.wait() == -signal.SIGTERM
        assert "cleaned up" in sup.stdout()
        assert "did not stop" not in sup.stderr()
    finally:
        sup.cleanup()


@pytest.mark.parametrize("args, message", [
    (["--processes", "0", HELLO], "--processes: must be >= 1, got 0"),
    (["--processes", "two", HELLO], "--processes: must be a whole number >= 1, got 'two'"),
    (["--processes", "2", "no-such-app.py"], "no-such-app.py: no such file"),
    (["--grace", "1", HELLO], "--grace goes with --processes"),
])
def test_bad_input_is_a_clear_error_with_status_2(args, message):
    p = subprocess.run([sys.executable, "-m", "gort", "run", *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=WAIT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert p.returncode == 2
    assert message in p.stderr


def test_a_syntax_error_is_reported_once_not_crash_looped(tmp_path):
    path = app(tmp_path, "async def main(:\n")
    p = subprocess.run([sys.executable, "-m", "gort", "run", "--processes", "2", path], cwd=ROOT,
                       capture_output=True, text=True, timeout=WAIT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert p.returncode == 2
    assert "app.py" in p.stderr and "invalid syntax" in p.stderr
    assert "worker" not in p.stderr


def test_backoff_doubles_up_to_its_cap_and_a_stable_run_resets_it():
    b = serve.Backoff(base=0.1, cap=10.0, stable=10.0)
    assert [b.delay(0.2) for _ in range(4)] == [0.1, 0.2, 0.4, 0.8]
    assert [b.delay(9.9) for _ in range(6)] == [1.6, 3.2, 6.4, 10.0, 10.0, 10.0]
    assert b.delay(10.0) == 0.1                    # up long enough: back to the start
    assert b.delay(0.0) == 0.2
    for _ in range(10_000):
        b.delay(0.0)
    assert b.delay(0.0) == 10.0


def test_worker_reads_the_environment(monkeypatch):
    for k in (serve.ENV_INDEX, serve.ENV_COUNT, serve.ENV_RESTARTS):
        monkeypatch.delenv(k, raising=False)
    assert gort.worker() is None
    monkeypatch.setenv(serve.ENV_INDEX, "1")
    monkeypatch.setenv(serve.ENV_COUNT, "4")
    monkeypatch.setenv(serve.ENV_RESTARTS, "2")
    assert gort.worker() == gort.Worker(index=1, count=4, pid=os.getpid(), restarts=2)
    monkeypatch.setenv(serve.ENV_INDEX, "4")
    with pytest.raises(ValueError, match="GORT_WORKER=4"):
        gort.worker()
