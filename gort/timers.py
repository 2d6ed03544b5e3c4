"""timers: per-P timer heaps (runtime/time.go: timers, modify, stop, run, adjust).

Each P owns a 4-ary min-heap of (when, gen, timer) entries.  The Ms run due
timers from find_runnable (their own P), from steal_work's last pass (another
P's), and the one M blocked in netpoll sleeps exactly until the earliest
deadline over all Ps (`pollUntil`).  There is no timer thread.

Lazy deletion as in Go: stopping or resetting a heaped timer bumps its `gen`,
which turns its old heap entry into a zombie that is dropped when it reaches
the top (or in a clean-up once zombies exceed a quarter of the heap).

Locks: `Timer.mu` guards a timer's fields and is taken before `Timers.mu`,
which guards one heap.  A timer's function runs with `Timer.mu` held, so a
stop/reset that returns has either prevented the call or waited for it.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from . import proc as _proc   # (circular: used at call time only)
from .p import _Pdead
from .accel import C

HEAP_N = 4                    # timerHeapN

_now = time.monotonic


class Timer:
    """A runtime timer (time.go `timer`)."""

    __slots__ = ("mu", "when", "period", "f", "arg", "seq", "ts", "gen", "heaped")

    def __init__(self, f: Callable[[Any, int, float], None], arg: Any, period: float = 0.0) -> None:
        self.mu = threading.Lock()
        self.when = 0.0
        self.period = period
        self.f = f
        self.arg = arg
        self.seq = 0          # bumped by every modify: a firing with an old seq is stale
        self.ts: Optional[Timers] = None
        self.gen = 0          # matches the live heap entry; older entries are zombies
        self.heaped = False

    # -- API used by time.py, sync, context ------------------------------------
    def modify(self, when: float, period: Optional[float] = None) -> bool:
        """(Re)arm at `when` on the caller's P; True if it was pending."""
        self.mu.acquire()
        try:
            pending = self._unheap()
            if period is not None:
                self.period = period
            self.seq += 1
            self._add(when)
            return pending
        finally:
            self.mu.release()

    def stop(self) -> bool:
        """Disarm; True if it was pending (so its function will not run)."""
        self.mu.acquire()
        try:
            self.seq += 1
            return self._unheap()
        finally:
            self.mu.release()

    # -- internals (mu held) ----------------------------------------------------
    def _unheap(self) -> bool:
        ts = self.ts
        if not self.heaped or ts is None:
            return False
        self.gen += 1
        self.heaped = False
        self.ts = None
        ts.mu.acquire()
        ts.len -= 1
        ts.zombies += 1
        ts.mu.release()
        return True

    def _add(self, when: float) -> None:
        m = _proc._tls.m
        pp = ts = None
        if m is not None:
            s = m.sched
            pp = m.p or m.oldp
            if pp is not None:
                # timers before status: sysmon's retire_p sets _Pdead before it
                # hands the heap to the fresh P, so a heap read from a P still
                # seen running is the one the fresh P took over
                ts = pp.timers
                if pp.status == _Pdead:
                    ts = None
        else:
            s = _proc.sched
        if ts is None:
            ts = s.allp[0].timers     # no P of our own: P0's heap (its lock makes that safe)
        self.gen += 1
        self.when = when
        self.heaped = True
        self.ts = ts
        ts.mu.acquire()
        earliest = not ts.whens or when < ts.whens[0]
        ts.push((when, self.gen, self))
        ts.len += 1
        ts.mu.release()
        if earliest:
            s.poller.wake(when)


class TimersCore:
    """One P's 4-ary min-heap of (when, gen, timer) entries: the Python twin of
    gort._accel.TimersCore (C, used unless GORT_PUREPY=1).  Timers adds the
    lock and the running of due timers.

    `whens` mirrors the heap's deadlines in a flat list of floats, so sifting
    compares floats with C-level min() over each group of four children.
    """

    __slots__ = ("heap", "whens", "len", "zombies")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, Timer]] = []
        self.whens: list[float] = []
        self.len = 0          # live timers (what checkdead and handoffp look at)
        self.zombies = 0

    def wake_time(self) -> float:
        """Earliest deadline, 0 if none; safe to call without the lock (a hint)."""
        w = self.whens
        try:
            return w[0] if w else 0.0
        except IndexError:
            return 0.0

    # 4-ary heap on `whens` (mu held); parent of i is (i-1)//4
    def push(self, e: tuple[float, int, Timer]) -> None:
        h = self.heap
        ws = self.whens
        w = e[0]
        h.append(e)
        ws.append(w)
        i = len(h) - 1
        while i > 0:
            p = (i - 1) >> 2
            pw = ws[p]
            if w >= pw:
                break
            h[i] = h[p]
            ws[i] = pw
            i = p
        h[i] = e
        ws[i] = w

    def pop(self) -> tuple[float, int, Timer]:
        h = self.heap
        ws = self.whens
        top = h[0]
        last = h.pop()
        lw = ws.pop()
        n = len(h)
        if n:
            i = 0
            while True:
                c = (i << 2) + 1
                if c + 3 < n:             # four children: the common case, unrolled
                    best, bw = c, ws[c]
                    x = ws[c + 1]
                    if x < bw:
                        best, bw = c + 1, x
                    x = ws[c + 2]
                    if x < bw:
                        best, bw = c + 2, x
                    x = ws[c + 3]
                    if x < bw:
                        best, bw = c + 3, x
                elif c < n:
                    best, bw = c, ws[c]
                    for j in range(c + 1, n):
                        if ws[j] < bw:
                            best, bw = j, ws[j]
                else:
                    break
                if bw >= lw:
                    break
                h[i] = h[best]
                ws[i] = bw
                i = best
            h[i] = last
            ws[i] = lw
        return top

    def popdue(self, now: float, max: int) -> list[tuple[float, int, Timer]]:
        """The entries due by now (mu held), earliest first, at most max."""
        due: list[tuple[float, int, Timer]] = []
        ws = self.whens
        pop = self.pop
        while ws and ws[0] <= now and len(due) < max:
            due.append(pop())
            ws = self.whens
        return due


if C is not None:
    TimersCore = C.TimersCore                # type: ignore[misc]  # noqa: F811


class Timers(TimersCore):
    """One P's timers (time.go `timers`): the heap, its lock, running what is due."""

    __slots__ = ("mu", "moved_to")

    def __init__(self) -> None:
        TimersCore.__init__(self)
        self.mu = threading.Lock()
        # set when a retired P's heap is emptied into another (move_timers): a
        # periodic timer that run() took out before the move goes there instead
        self.moved_to: Optional[Timers] = None

    def has_ready(self) -> bool:
        w = self.wake_time()
        return w != 0.0 and w <= _now()

    def clean(self) -> None:
        """Drop zombie entries (mu held): Go's adjust/cleanHead when zombies > len/4."""
        live = [e for e in self.heap if e[2].gen == e[1] and e[2].ts is self]
        # the zombie count is a heuristic for when to clean (a concurrent stop
        # may count its zombie just after we dropped it), so keep it >= 0
        self.zombies = max(0, self.zombies - (len(self.heap) - len(live)))
        live.sort(key=lambda e: e[0])
        self.heap = live            # a sorted array is a valid heap
        self.whens = [e[0] for e in live]

    def run(self, m: Any, now: float) -> tuple[float, bool]:
        """Run every due timer; return (next wake time or 0, whether any ran)."""
        mu = self.mu
        if self.zombies > len(self.heap) // 4 and self.zombies > 64:
            mu.acquire()
            self.clean()
            mu.release()
        ran = False
        while True:
            mu.acquire()
            ws = self.whens
            if not ws or ws[0] > now:
                mu.release()
                return self.wake_time(), ran
            due = self.popdue(now, 512)
            mu.release()
            fired = zombies = 0
            err: Optional[BaseException] = None
            for when, gen, t in due:
                t.mu.acquire()
                if t.gen != gen or t.ts is not self:
                    t.mu.release()        # a zombie: its stop/reset took it out of `len`
                    zombies += 1
                    continue
                delay = now - when
                if t.period > 0:
                    t.when = when + t.period * (1 + int(delay // t.period))
                    t.gen += 1
                    mu.acquire()
                    if self.moved_to is None:
                        self.push((t.when, t.gen, t))
                        mu.release()
                    else:
                        mu.release()
                        self._forward(m, t)
                else:
                    t.heaped = False
                    t.ts = None
                    fired += 1
                if m is not None and m.sched.trace is not None:
                    m.sched.trace.event("TimerFire", m, None, None, delay)
                tls = _proc._tls
                tls.firing = t
                try:
                    t.f(t.arg, t.seq, delay)
                except BaseException as e:   # finish the batch: the rest are off the heap
                    if err is None:
                        err = e
                finally:
                    tls.firing = None
                    t.mu.release()
                ran = True
            mu.acquire()
            self.len -= fired
            self.zombies = max(0, self.zombies - zombies)
            mu.release()
            if err is not None:
                raise err

    def _forward(self, m: Any, t: Timer) -> None:
        """Re-heap periodic t (t.mu held) on the heap this one was emptied into:
        a callback of this run found our P retired and flushed it meanwhile."""
        ts = self
        while True:
            ts.mu.acquire()
            nxt = ts.moved_to
            if nxt is None:
                break
            ts.mu.release()
            ts = nxt
        t.ts = ts                 # (our len was zeroed by the move)
        earliest = not ts.whens or t.when < ts.whens[0]
        ts.push((t.when, t.gen, t))
        ts.len += 1
        ts.mu.release()
        if earliest and m is not None:
            m.sched.poller.wake(t.when)


def init_p(pp: Any) -> None:
    pp.timers = Timers()


def check_p(m: Any, pp: Any) -> tuple[float, float]:
    """findRunnable step 2: run pp's due timers; return (now, next wake time)."""
    ts = pp.timers
    if ts is None or not ts.heap:
        return 0.0, 0.0
    if ts.zombies > len(ts.heap) // 4:
        # our own heap: drop stopped timers now (Go forces adjust here), so a
        # stopped timer neither delays an idle M nor hides a deadlock
        ts.mu.acquire()
        ts.clean()
        ts.mu.release()
        if not ts.heap:
            return 0.0, 0.0
    now = _now()
    w = ts.wake_time()            # read without the lock (a thief may pop meanwhile)
    if w == 0.0 or w > now:
        return now, w
    nxt, _ = ts.run(m, now)
    return now, nxt


def steal_timers(m: Any, pp: Any, p2: Any) -> tuple[float, float, bool]:
    """stealWork's last pass: run p2's due timers here (Gs they ready land on pp)."""
    ts = p2.timers
    now = _now()
    w = ts.wake_time()
    if w == 0.0 or w > now:
        return now, w, False
    nxt, ran = ts.run(m, now)
    return now, nxt, ran


def check_timers_nop(s: Any) -> float:
    """Earliest timer over all Ps (read without locks: a hint, as Go's)."""
    w = 0.0
    for pp in s.allp:
        ts = pp.timers
        if ts is not None and ts.heap:
            t = ts.wake_time()
            if t and (w == 0.0 or t < w):
                w = t
    return w


def move_timers(src: Any, dst: Any) -> None:
    """A destroyed P's timers go to dst (timers.take); world stopped."""
    ts = src.timers
    if ts is None:
        return
    d = dst.timers
    ts.mu.acquire()
    entries = ts.heap
    ts.heap = []
    ts.whens = []
    ts.len = 0
    ts.zombies = 0
    ts.moved_to = d
    ts.mu.release()
    firing = _proc._tls.firing      # its mu is ours already: a callback of it got here
    for when, gen, t in entries:
        mine = t is firing
        if not mine:
            t.mu.acquire()
        if t.gen == gen and t.ts is ts:
            t.ts = d
            d.mu.acquire()
            d.push((when, gen, t))
            d.len += 1
            d.mu.release()
        if not mine:
            t.mu.release()
