"""sched: the global scheduler state (runtime/runtime2.go `type schedt`; proc.go globrunqget, pidleput, mget).

Everything here is guarded by `Sched.lock` (Go's `sched.lock`) unless a field
says otherwise.  A fresh Sched is made for every `gort.run` and every M keeps a
reference to its own (`m.sched`), so nothing leaks from one program into the
next.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Optional

from .g import G
from .m import M, Note
from .p import RUNQ_SIZE, P

MAXMCOUNT = 10000       # sched.maxmcount
MAX_GOMAXPROCS = 1024   # _MaxGomaxprocs


class CountingLock:
    """sched.lock with counters (GORT_LOCKSTATS=1 or the Go 1.0 mode): how often
    it was taken and how often a taker found it held.  The counts are kept
    without a lock of their own, so under free threading they are approximate."""

    __slots__ = ("_l", "acquires", "contended")

    def __init__(self) -> None:
        self._l = threading.Lock()
        self.acquires = 0
        self.contended = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        self.acquires += 1
        if self._l.acquire(False):
            return True
        self.contended += 1
        return self._l.acquire(blocking, timeout)

    def release(self) -> None:
        self._l.release()


class SchedCore:
    """The global run queue's operations, and (in the C twin) the fields the
    scheduler's hot path reads without sched.lock: the Python twin of
    gort._accel.SchedCore (C, used unless GORT_PUREPY=1).  Sched adds the rest."""

    runq: deque[G]               # set by Sched.__init__
    global_only: bool
    gomaxprocs: int

    # ---- global run queue ----
    # A deque: append and popleft are atomic, so the hot paths (a running M's
    # Gosched, schedule()'s takes) use it without sched.lock.  Producers that
    # hold no P (injectglist, a wake-up from a thread without a P) append under
    # the lock and then wake an M, and an M about to drop its P looks at the
    # queue under the lock: that pairing is what keeps wake-ups from being lost.
    # Under the GIL, one lock taken on every switch by two busy Ms convoyed
    # them to a third of the speed (bench W0 at procs=2).
    def globrunqput(self, gp: G) -> None:
        self.runq.append(gp)

    def globrunqputhead(self, gp: G) -> None:
        self.runq.appendleft(gp)

    def globrunqputbatch(self, batch: list[G]) -> None:
        self.runq.extend(batch)

    def globrunqget(self, pp: P, max: int) -> Optional[G]:
        """Take a batch for pp: min(len/gomaxprocs+1, max, 128); run one, queue the rest locally.

        Safe with or without the lock: another taker may empty the queue meanwhile.
        """
        q = self.runq
        n = len(q)
        if n == 0:
            return None
        if self.global_only:          # Go 1.0: no local queue to fill
            max = 1
        gp: Optional[G] = None
        if n > 1:                            # min(len, len/gomaxprocs + 1)
            k = n // self.gomaxprocs + 1
            if k < n:
                n = k
        if max > 0 and n > max:
            n = max
        if n > RUNQ_SIZE // 2:
            n = RUNQ_SIZE // 2
        # schedule() takes a lone G without the lock, so the queue may shrink under us
        try:
            gp = q.popleft()
            local = pp.runq
            for _ in range(n - 1):
                if len(local) >= RUNQ_SIZE:
                    break
                local.append(q.popleft())
        except IndexError:
            pass
        return gp


from .accel import C  # noqa: E402

if C is not None:
    SchedCore = C.SchedCore                  # type: ignore[misc]  # noqa: F811
    GQueue: Any = C.GQueue                   # the global run queue: C's twin of the deque
else:
    GQueue = deque


class Sched(SchedCore):
    def __init__(self, lockstats: bool = False, global_only: bool = False) -> None:
        # Go 1.0's scheduler (seed question 2): one global queue under one lock,
        # no per-P queues, no runnext, no stealing; for comparison only
        self.global_only = global_only
        self.lock: Any = CountingLock() if lockstats or global_only else threading.Lock()
        # global run queue; len() is read without the lock as a hint only
        self.runq: deque[G] = GQueue()
        # idle Ms and Ps
        self.midle: list[M] = []
        self.nmidle = 0
        self.nmidlelocked = 0
        self.mnext = 0            # Ms created so far, = next M id
        self.mcount = 0           # Ms alive
        self.nmsys = 0            # system Ms (sysmon), not counted by checkdead
        self.nmfreed = 0
        self.pidle: list[P] = []
        self.npidle = 0
        self.nmspinning = 0
        self.needspinning = 0
        # dead Gs shared between Ps
        self.gfree: list[G] = []
        self.goidgen = 0
        # netpoll / timers (timers.py, netpoll.py); the poller is made by program.run
        self.poller: Any = None
        self.lastpoll = time.monotonic()   # 0 means: an M is blocked in netpoll
        self.polluntil = 0.0
        # stop-the-world; worldsema serialises them (Go's worldsema)
        self.worldsema = threading.Lock()
        self.gcwaiting = False
        self.stopwait = 0
        self.stopnote = Note()
        self.newprocs = 0
        # sysmon
        self.sysmonwait = False
        self.sysmonnote = Note()
        self.sysmon: Optional[M] = None
        # registry
        self.allp: list[P] = []
        self.allm: list[M] = []
        self.allgs: list[G] = []          # list.append is atomic; scanned by checkdead/dumps
        self.gomaxprocs = 0
        self.steal_coprimes: list[int] = [1]
        # the program
        self.stopflag = False     # exiting or gcwaiting: checked once per schedule round
        self.exiting = False
        self.donenote = Note()     # woken by initiate_exit: the thread in gort.run waits on it
        self.main_started = False
        self.main_g: Optional[G] = None
        self.result: Any = None
        self.panic: Optional[BaseException] = None
        self.m0: Optional[M] = None
        self.idle_m_exit = 10.0    # seconds an idle M waits before it exits
        self.start = time.monotonic()
        self.now = self.start      # coarse clock, refreshed by sysmon (for waitsince)
        self.nsteals = 0           # stats
        self.nhandoff = 0
        self.nmwake = 0            # Ms woken from their note by startm
        self.nmpark = 0            # Ms parked by stopm
        self.nretake = 0
        self.npreempt = 0
        self.trace: Any = None     # trace.Tracer when tracing
        self.checkdead = True      # off for a background runtime (gort.start), as Go's for a library
        self.nexternal = 0         # Gs parked on something outside the scheduler (asyncio): alive
        self.aio: Any = None       # aio.Loop: the program's asyncio loop, made on first use

    # ---- idle Ps (lock held) ----
    def pidleput(self, pp: P) -> None:
        if not pp.runqempty():
            raise RuntimeError("pidleput: P has non-empty run queue")
        self.pidle.append(pp)
        self.npidle += 1

    def pidleget(self) -> Optional[P]:
        if not self.pidle:
            return None
        pp = self.pidle.pop()
        self.npidle -= 1
        if self.sysmonwait:
            # a P starts running while sysmon deep-sleeps (it sleeps while every P
            # is idle): wake it, or a goroutine stuck in unmarked blocking code on
            # this P would never be handed off.  Go wakes it in exitsyscall and
            # startTheWorld only; gort needs it whenever a P starts running.
            self.sysmonnote.wakeup()
        return pp

    def pidlegetSpinning(self) -> Optional[P]:
        pp = self.pidleget()
        if pp is None:
            self.needspinning = 1
        return pp

    # ---- idle Ms (lock held) ----
    def mget(self) -> Optional[M]:
        if not self.midle:
            return None
        mp = self.midle.pop()
        self.nmidle -= 1
        return mp
