"""serve: `python -m gort run --processes N app.py`, every core for network serving.

Under the GIL one gort program runs Python on one core at a time, whatever its
GOMAXPROCS.  Go's answer to "several processes" is that each is its own runtime
and the operating system schedules them; gort's is the same.  The supervisor
here starts N worker processes, each `python -m gort run app.py` (its own Ps,
Ms and netpoller), and keeps them running.  The workers share a listening port
by each calling `gort.net.listen(address, reuse_port=True)` on the same
address: SO_REUSEPORT makes the kernel spread incoming connections over them.
Linux only (SO_REUSEPORT's load spreading, /proc).

What the supervisor does:

- Each worker is told who it is in its environment: GORT_WORKER (its index,
  0..N-1, kept across restarts), GORT_WORKERS (N) and GORT_WORKER_RESTARTS (how
  many times its slot was restarted before it); `gort.worker()` reads them.
- A worker that exits with a non-zero status or is killed by a signal is
  restarted after a delay that doubles with each consecutive crash (0.1 s,
  0.2 s, ... capped at 10 s) and goes back to 0.1 s once a worker has stayed up
  for 10 s; so a worker that fails at start-up costs a start every 10 s, not a
  busy loop.  One line per crash goes to stderr.
- A worker that exits with status 0 is done and is not restarted.  When every
  worker has exited 0 the supervisor exits 0.
- SIGTERM, SIGINT (Ctrl-C) or SIGHUP to the supervisor stops the workers:
  SIGTERM to each worker's process group, then, after a grace period (10 s by
  default, `--grace`), SIGKILL to those left.  A second stop signal kills at
  once.  The supervisor then ends by the signal it was sent (the shell shows
  130 after Ctrl-C, 143 after SIGTERM; systemd counts it as a clean stop).
- SIGQUIT to the supervisor is passed to every worker as its dump signal
  (GORT_DUMP_SIGNAL, SIGQUIT by default): each prints its goroutine dump
  (gort.trace.dump), and everything keeps running.
- Each worker runs in its own process group, so Ctrl-C in a terminal reaches
  only the supervisor, which stops the workers in order.  A worker whose
  supervisor dies (even by SIGKILL) stops itself: it watches a pipe that only
  the supervisor holds open.

In a worker, `gort run` turns SIGTERM and SIGINT into the end of `gort.run`
(goroutines parked then are closed, so their `finally` blocks and `async with`
exits run) and the worker then ends by that signal.
"""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

BACKOFF_MIN = 0.1      # delay before the first restart of a crashed worker (s)
BACKOFF_MAX = 10.0     # the cap on that delay
STABLE_AFTER = 10.0    # a worker up this long resets its slot's delay to BACKOFF_MIN
GRACE = 10.0           # default: how long stopping workers get after SIGTERM before SIGKILL
KILL_WAIT = 10.0       # after SIGKILL, how long to wait for the workers to be reaped

ENV_INDEX = "GORT_WORKER"
ENV_COUNT = "GORT_WORKERS"
ENV_RESTARTS = "GORT_WORKER_RESTARTS"
ENV_FD = "GORT_SUPERVISOR_FD"          # the read end of the supervisor's lifeline pipe

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass(frozen=True)
class Worker:
    """Who this process is among the workers of `python -m gort run --processes N`.

    index: 0..count-1; a restarted worker keeps the index of the one it replaces.
    count: N.  pid: this process's id (os.getpid()).  restarts: how many times
    this index was restarted before this process started (0 for the first).
    """
    index: int
    count: int
    pid: int
    restarts: int


def worker() -> Optional[Worker]:
    """This process's place among `python -m gort run --processes N` workers, or None.

    None when the process was not started by that supervisor (GORT_WORKER is
    not set).  An app typically logs it at start-up and listens with
    `gort.net.listen(address, reuse_port=True)` so that all workers share the
    port.  Raises ValueError if GORT_WORKER / GORT_WORKERS are set but malformed.
    """
    raw = os.environ.get(ENV_INDEX)
    if raw is None:
        return None
    try:
        index = int(raw)
        count = int(os.environ.get(ENV_COUNT, ""))
        restarts = int(os.environ.get(ENV_RESTARTS, "0"))
    except ValueError:
        raise ValueError(f"malformed worker environment: {ENV_INDEX}={raw!r} "
                         f"{ENV_COUNT}={os.environ.get(ENV_COUNT)!r} "
                         f"{ENV_RESTARTS}={os.environ.get(ENV_RESTARTS)!r}") from None
    if not 0 <= index < count or restarts < 0:
        raise ValueError(f"malformed worker environment: {ENV_INDEX}={index} {ENV_COUNT}={count} "
                         f"{ENV_RESTARTS}={restarts}")
    return Worker(index, count, os.getpid(), restarts)


class Backoff:
    """The restart delays of one worker slot: doubling per consecutive crash, capped, reset by a stable run.

    `delay(up)` is called when the slot's worker crashed after `up` seconds
    and returns how long to wait before starting the next one: base, 2*base,
    4*base, ... up to cap; a worker that was up at least `stable` seconds
    starts the sequence again at base.
    """

    def __init__(self, base: float = BACKOFF_MIN, cap: float = BACKOFF_MAX,
                 stable: float = STABLE_AFTER) -> None:
        self.base, self.cap, self.stable = base, cap, stable
        self.crashes = 0               # consecutive crashes

    def delay(self, up: float) -> float:
        if up >= self.stable:
            self.crashes = 0
        self.crashes += 1
        return min(self.cap, self.base * float(2 ** min(self.crashes - 1, 60)))


def describe_status(rc: int) -> str:
    """A Popen return code in words: "exited with status 3", "killed by SIGKILL"."""
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exited with status {rc}"


def die_by_signal(sig: int) -> int:
    """End this process by sig with its default action (as if it had not been caught).

    Returns 128 + sig only if the signal did not end the process.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    time.sleep(0.1)                     # delivered on return from kill; this is only a fallback
    return 128 + sig


def check_platform() -> Optional[str]:
    """Why --processes cannot work here, or None."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return f"--processes needs Linux (SO_REUSEPORT spreads connections over the workers); " \
               f"this is {sys.platform}"
    return None


# ---------------------------------------------------------------- the supervisor

@dataclass
class _Slot:
    index: int
    proc: Optional[subprocess.Popen[bytes]] = None
    started: float = 0.0
    backoff: Backoff = field(default_factory=Backoff)
    restarts: int = 0            # restarts so far
    restart_at: Optional[float] = None
    done: bool = False           # exited 0: not restarted


class Supervisor:
    """N worker processes running one command, restarted when they crash.

    argv: the worker's command line (`python -m gort run ... app.py args`).
    The workers inherit stdout and stderr; stdin is /dev/null.
    """

    def __init__(self, argv: Sequence[str], n: int, *, grace: float = GRACE,
                 env: Optional[dict[str, str]] = None, name: str = "gort run") -> None:
        if n < 1:
            raise ValueError(f"the number of processes must be >= 1, got {n}")
        self.argv = list(argv)
        self.n = n
        self.grace = grace
        self.env = dict(os.environ if env is None else env)
        self.name = name
        self.slots = [_Slot(i) for i in range(n)]
        self.stop_sig: Optional[int] = None
        self._kill_at: Optional[float] = None
        self._killed = False
        self._life_r = self._life_w = -1
        from .trace import dump
        self.dump_sig = dump.dump_signal()   # what the workers print their goroutine dump on

    def log(self, msg: str) -> None:
        try:
            print(f"{self.name}: {msg}", file=sys.stderr, flush=True)
        except (OSError, ValueError):              # stderr closed: supervise anyway
            pass

    # -------------------------------------------------------------- workers

    def _spawn(self, slot: _Slot) -> None:
        env = dict(self.env)
        env[ENV_INDEX] = str(slot.index)
        env[ENV_COUNT] = str(self.n)
        env[ENV_RESTARTS] = str(slot.restarts)
        env[ENV_FD] = str(self._life_r)
        slot.restart_at = None
        try:
            slot.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                         pass_fds=(self._life_r,), process_group=0)
        except OSError as e:
            slot.proc = None
            self._crashed(slot, f"could not start ({e})", 0.0)
            return
        slot.started = time.monotonic()

    def _crashed(self, slot: _Slot, how: str, up: float) -> None:
        slot.restarts += 1
        delay = slot.backoff.delay(up)
        slot.restart_at = time.monotonic() + delay
        self.log(f"worker {slot.index} {how} after {up:.1f} s; restarting it in {delay:.2f} s "
                 f"(restart {slot.restarts})")

    def _reap(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            p = slot.proc
            if p is None:
                continue
            rc = p.poll()
            if rc is None:
                continue
            slot.proc = None
            up = now - slot.started
            if self.stop_sig is not None:
                if rc not in (0, -self.stop_sig, -signal.SIGTERM, 128 + signal.SIGTERM):
                    self.log(f"worker {slot.index} (pid {p.pid}) {describe_status(rc)} while stopping")
            elif rc == 0:
                slot.done = True
                left = sum(1 for s in self.slots if not s.done)
                self.log(f"worker {slot.index} (pid {p.pid}) exited with status 0 after {up:.1f} s; "
                         f"not restarting it ({left} of {self.n} still running)")
            else:
                self._crashed(slot, f"(pid {p.pid}) {describe_status(rc)}", up)

    def _signal_all(self, sig: int, group: bool) -> None:
        for slot in self.slots:
            p = slot.proc
            if p is None or p.returncode is not None:
                continue
            try:
                if group:
                    os.killpg(p.pid, sig)    # its process group: what it started too
                else:
                    os.kill(p.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def _live(self) -> list[_Slot]:
        return [s for s in self.slots if s.proc is not None]

    # -------------------------------------------------------------- signals

    def _begin_stop(self, sig: int) -> None:
        if self.stop_sig is None:
            self.stop_sig = sig
            for s in self.slots:
                s.restart_at = None
            self._kill_at = time.monotonic() + self.grace
            self._signal_all(signal.SIGTERM, group=True)
        elif not self._killed:                   # a second stop signal: no more waiting
            self._kill_at = time.monotonic()

    def _on_signals(self, sigs: bytes) -> None:
        for sig in sigs:
            if sig in STOP_SIGNALS:
                self._begin_stop(sig)
            elif sig == signal.SIGQUIT:
                if self.dump_sig is None:
                    self.log("SIGQUIT: the goroutine dump is off (GORT_DUMP_SIGNAL); not passing it on")
                else:
                    self._signal_all(self.dump_sig, group=False)

    # -------------------------------------------------------------- the loop

    def run(self) -> int:
        """Start the workers and supervise them until they are done or stopped.

        Returns 0 when every worker exited 0, or -SIG when a stop signal SIG
        ended the supervision (the caller ends the process by SIG:
        `die_by_signal`).  Must be called from the main thread (it installs
        signal handlers; they are restored before it returns).
        """
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            os.set_blocking(fd, False)
        self._life_r, self._life_w = os.pipe()     # workers see EOF on it when the supervisor is gone
        watched = STOP_SIGNALS + (signal.SIGQUIT, signal.SIGCHLD)
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)   # first: no signal lost
        old_handlers = {sig: signal.signal(sig, _noop) for sig in watched}
        try:
            for slot in self.slots:
                self._spawn(slot)
            pids = ", ".join(f"worker {s.index} pid {s.proc.pid}" for s in self.slots if s.proc)
            self.log(f"{self.n} worker process{'es' if self.n != 1 else ''} (supervisor pid "
                     f"{os.getpid()}): {pids}")
            return self._loop(wake_r)
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, h in old_handlers.items():
                signal.signal(sig, h if h is not None else signal.SIG_DFL)
            for fd in (wake_r, wake_w, self._life_r, self._life_w):
                os.close(fd)
            self._last_resort()

    def _loop(self, wake_r: int) -> int:
        while True:
            self._reap()
            now = time.monotonic()
            timeout = 1.0                      # SIGCHLD wakes us; this is only a safety net
            if self.stop_sig is not None:
                if not self._live():
                    return -self.stop_sig
                assert self._kill_at is not None
                if not self._killed and now >= self._kill_at:
                    left = ", ".join(str(s.proc.pid) for s in self._live() if s.proc)
                    self.log(f"workers did not stop within {self.grace:g} s of SIGTERM; "
                             f"killing them (pids {left})")
                    self._signal_all(signal.SIGKILL, group=True)
                    self._killed = True
                    self._kill_at = now + KILL_WAIT
                elif self._killed and now >= self._kill_at:
                    self.log("workers still not reaped after SIGKILL; giving up on them")
                    return -self.stop_sig
                timeout = min(timeout, max(0.0, self._kill_at - now))
            else:
                for slot in self.slots:
                    if slot.restart_at is not None and slot.restart_at <= now:
                        self._spawn(slot)
                if all(s.done for s in self.slots):
                    self.log(f"all {self.n} workers exited with status 0")
                    return 0
                due = [s.restart_at for s in self.slots if s.restart_at is not None]
                if due:
                    timeout = min(timeout, max(0.0, min(due) - now))
            try:
                ready, _, _ = select.select([wake_r], [], [], timeout)
            except InterruptedError:           # pragma: no cover - PEP 475 retries
                ready = []
            if ready:
                try:
                    sigs = os.read(wake_r, 512)
                except BlockingIOError:
                    sigs = b""
                self._on_signals(sigs)

    def _last_resort(self) -> None:
        """On the way out for any reason (an error in the supervisor too): leave no worker behind."""
        live = self._live()
        if not live:
            return
        self._signal_all(signal.SIGKILL, group=True)
        deadline = time.monotonic() + KILL_WAIT
        for s in live:
            assert s.proc is not None
            try:
                s.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass


def _noop(sig: int, frame: object) -> None:
    """The handler of the signals the supervisor waits for: set_wakeup_fd tells the loop."""


# ---------------------------------------------------------------- the worker's side

def worker_setup() -> None:
    """In a worker (`gort run` with GORT_SUPERVISOR_FD set): stop on SIGTERM/SIGINT and with the supervisor.

    SIGTERM and SIGINT raise `Stopped` in the main thread (the one waiting in
    gort.run), so the program ends as after Ctrl-C; a thread waits for EOF on
    the supervisor's lifeline pipe and sends this process SIGTERM when it comes.
    """
    raw = os.environ.pop(ENV_FD, None)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop_handler)
    if raw is None:
        return
    try:
        fd = int(raw)
        os.set_inheritable(fd, False)           # not for the app's own child processes
    except (ValueError, OSError):
        return

    def watch() -> None:
        try:
            while os.read(fd, 64):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="gort-supervisor-watch", daemon=True).start()


class Stopped(BaseException):
    """Raised in a worker's main thread by SIGTERM or SIGINT: the worker is to stop."""

    def __init__(self, sig: int) -> None:
        super().__init__(f"stopped by {signal.Signals(sig).name}")
        self.sig = sig


def _stop_handler(sig: int, frame: object) -> None:
    for s in (signal.SIGTERM, signal.SIGINT):  # once: a second signal must not interrupt the shutdown
        signal.signal(s, signal.SIG_IGN)
    raise Stopped(sig)
