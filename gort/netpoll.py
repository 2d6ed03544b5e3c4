"""netpoll: the network poller (netpoll.go, netpoll_epoll.go).

One `Poller` per program (`sched.poller`): an epoll instance plus an eventfd
for netpollBreak.  At most one M blocks in it (`sched.lastpoll == 0` while one
does), with a timeout set by the earliest timer, so it is also how idle Ms
sleep until a timer is due.  File descriptors are registered once,
edge-triggered, and each pollDesc has one reader and one writer slot
(`rg`/`wg`): None (Go's pdNil), READY (pdReady), or the parked G.

The runtime half of Go's net I/O (gort/net.py is the internal/poll and net
half): `block` (netpollblock) parks a G in "IO wait"; `netpoll` hands a
parked G its readiness directly (gp.param = True, slot back to nil) where Go
sets pdReady for the G to swap out, which spares the woken G a lock round;
`poll_wait` maps close and expired deadlines to error codes; `set_deadline`
arms per-pollDesc runtime timers whose firings carry `rseq`/`wseq`, so a
stale one is ignored; `unblock` (pollUnblock) wakes both sides on close.

Nothing here is module-global: a thread left over from an ended program
keeps talking to that program's poller (closed), never to a later one's.
"""
from __future__ import annotations

import os
import select
import threading
import time
from typing import Any, Optional

from . import proc as _proc   # (circular: used at call time only)
from .g import G, _Grunnable, waitReasonIOWait
from .timers import Timer

_READY = "ready"

EV_IN = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
EV_OUT = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
MAX_EVENTS = 128              # events taken per epoll_wait, as Go
MAX_WAIT = 1e6                # netpoll_epoll.go caps a wait at 1e9 ms; epoll's own limit is ~24.8 days


# pollWait's error codes (netpoll.go pollNoError..); net.py maps them to exceptions
POLL_NO_ERROR = 0
POLL_ERR_CLOSING = 1
POLL_ERR_TIMEOUT = 2


class PollDesc:
    """One pollable fd (netpoll.go `pollDesc`).

    `rg`/`wg`: None (pdNil), READY (pdReady) or the parked G.  Go's pdWait (a G
    about to park) needs no state of its own here: the parking G holds `lock`
    from its check until the M has marked it waiting (the unlock callback), so
    no notification can fall between the two.  `rd`/`wd` are deadlines in
    time.monotonic() seconds (0: none, -1: expired); `rseq`/`wseq` are bumped
    whenever a deadline changes or the descriptor closes, so a stale timer
    firing is ignored.  `rt`/`wt` are the deadline timers (made on first use).
    """

    __slots__ = ("fd", "poller", "lock", "rg", "wg", "closing", "rd", "wd",
                 "rseq", "wseq", "rt", "wt", "rrun", "wrun")

    def __init__(self, fd: int, poller: "Poller") -> None:
        self.fd = fd
        self.poller = poller
        self.lock = threading.Lock()
        self.rg: Any = None
        self.wg: Any = None
        self.closing = False
        self.rd = 0.0
        self.wd = 0.0
        self.rseq = 0
        self.wseq = 0
        self.rt: Optional[Timer] = None
        self.wt: Optional[Timer] = None
        self.rrun = False             # rt armed (Go keeps it true after a firing too)
        self.wrun = False

    def __repr__(self) -> str:
        st = " closing" if self.closing else ""
        return f"<PollDesc fd={self.fd}{st} rg={_state(self.rg)} wg={_state(self.wg)}>"


def _state(v: Any) -> str:
    return "nil" if v is None else "ready" if v is _READY else f"G{v.goid}"


class Poller:
    """A program's epoll instance, its wake-up eventfd and its pollDescs."""

    def __init__(self, s: Any) -> None:
        self.s = s
        self.ep: Any = select.epoll()
        self.evfd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.ep.register(self.evfd, select.EPOLLIN)
        self.wakesig = False          # netpollWakeSig: one break in flight at most
        self.lock = threading.Lock()  # guards wakesig, waiters, evfd, pds
        self.waiters = 0              # netpollWaiters: Gs parked on a pollDesc
        self.pds: dict[int, PollDesc] = {}

    def close(self) -> None:
        # under the lock: a late netpoll_break from an abandoned thread must not
        # write into a reused descriptor number
        self.lock.acquire()
        ep, evfd = self.ep, self.evfd
        self.ep, self.evfd = None, -1
        self.lock.release()
        if ep is not None:
            ep.close()
            os.close(evfd)

    def any_waiters(self) -> bool:
        return self.waiters > 0

    def _adjust(self, delta: int) -> None:
        self.lock.acquire()
        self.waiters += delta
        self.lock.release()

    # ---- descriptors ----
    def open_fd(self, fd: int) -> PollDesc:
        """poll_runtime_pollOpen: register fd once, edge-triggered, both directions."""
        pd = PollDesc(fd, self)
        self.lock.acquire()
        ep = self.ep
        if ep is None:
            self.lock.release()
            raise RuntimeError("netpoll: the program has ended")
        prev = self.pds.get(fd)       # a stale entry: its fd was closed without close_fd
        self.pds[fd] = pd
        self.lock.release()
        try:
            ep.register(fd, select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLET)
        except BaseException:
            # e.g. FileExistsError: the fd is registered already (the same socket
            # adopted twice), and prev is its live pollDesc: put it back
            self.lock.acquire()
            if self.pds.get(fd) is pd:
                if prev is not None:
                    self.pds[fd] = prev
                else:
                    del self.pds[fd]
            self.lock.release()
            raise
        return pd

    def unblock(self, pd: PollDesc) -> None:
        """poll_runtime_pollUnblock: mark closing, invalidate the deadline timers
        and wake both sides (they see POLL_ERR_CLOSING).  The fd stays registered
        until close_fd, so it is not reused while someone may still use it."""
        rt, wt = _timer_locks(pd)
        pd.lock.acquire()
        if pd.closing:
            pd.lock.release()
            _timer_unlocks(rt, wt)
            return
        pd.closing = True
        pd.rseq += 1
        pd.wseq += 1
        gs = []
        v = _unblock(pd, "r", False)
        if v is not None:
            gs.append(v)
        v = _unblock(pd, "w", False)
        if v is not None:
            gs.append(v)
        # stop the timers we hold the locks of (one made meanwhile by a racing
        # set_deadline is ignored through the bumped seqs when it fires)
        if rt is not None and pd.rt is rt:
            rt._unheap()
        if wt is not None and pd.wt is wt:
            wt._unheap()
        pd.lock.release()
        _timer_unlocks(rt, wt)
        if gs:
            self._adjust(-len(gs))
            _ready_all(self, gs)

    def close_fd(self, pd: PollDesc) -> None:
        """poll_runtime_pollUnblock (if not done) + pollClose: forget fd.

        Call it before closing the fd itself, so the number is not reused while
        it is still registered here."""
        if not pd.closing:
            self.unblock(pd)
        self.lock.acquire()
        if self.pds.get(pd.fd) is pd:
            del self.pds[pd.fd]
        ep = self.ep
        self.lock.release()
        if ep is not None:
            try:
                ep.unregister(pd.fd)
            except (OSError, ValueError):
                pass

    # ---- polling ----
    def netpoll(self, delay: float) -> list[G]:
        """epoll_wait: delay < 0 blocks, 0 does not, > 0 waits that many seconds."""
        ep = self.ep
        if ep is None:
            return []
        if delay < 0:
            timeout = -1.0
        elif delay == 0:
            timeout = 0.0
        elif delay < 0.001:
            timeout = 0.001           # Go rounds a sub-millisecond wait up to 1 ms
        else:
            timeout = min(delay, MAX_WAIT)
        try:
            events = ep.poll(timeout, MAX_EVENTS)
        except (InterruptedError, OSError, ValueError):
            return []
        gs: list[G] = []
        pds = self.pds
        evfd = self.evfd
        for fd, ev in events:
            if fd == evfd:
                if delay != 0:
                    self.lock.acquire()
                    try:
                        os.eventfd_read(fd)
                    except OSError:
                        pass
                    self.wakesig = False
                    self.lock.release()
                continue
            pd = pds.get(fd)
            if pd is None:
                continue
            # netpollready: a parked G gets the readiness itself (param True,
            # the slot back to nil), else the slot becomes pdReady
            pd.lock.acquire()
            if ev & EV_IN:
                v = pd.rg
                if v is None or v is _READY:
                    pd.rg = _READY
                else:
                    pd.rg = None
                    v.param = True
                    gs.append(v)
            if ev & EV_OUT:
                v = pd.wg
                if v is None or v is _READY:
                    pd.wg = _READY
                else:
                    pd.wg = None
                    v.param = True
                    gs.append(v)
            pd.lock.release()
        if gs:
            self._adjust(-len(gs))
            if self.s.trace is not None:
                self.s.trace.event("NetpollReady", _proc._tls.m, None, None, [gp.goid for gp in gs])
        return gs

    def netpoll_break(self) -> None:
        """Wake the M blocked in netpoll (one wake-up in flight at most)."""
        self.lock.acquire()
        if self.wakesig or self.evfd < 0:
            self.lock.release()
            return
        self.wakesig = True
        try:
            os.eventfd_write(self.evfd, 1)
        except OSError:
            pass
        self.lock.release()

    def claim(self) -> bool:
        """lastpoll.Swap(0) != 0: become the single M blocked in netpoll."""
        s = self.s
        s.lock.acquire()
        ok: bool = s.lastpoll != 0
        if ok:
            s.lastpoll = 0
        s.lock.release()
        return ok

    def block_until(self, m: Any, polluntil: float, was_spinning: bool) -> Optional[G]:
        """findRunnable step 15: sleep in netpoll until polluntil (or an event / a break)."""
        s = self.s
        s.polluntil = polluntil
        delay = -1.0 if polluntil == 0 else max(0.0, polluntil - time.monotonic())
        m.blocked = True
        gs = [] if s.exiting else self.netpoll(delay)
        m.blocked = False
        s.lock.acquire()
        s.lastpoll = time.monotonic()
        s.polluntil = 0.0
        pp = s.pidleget()
        if pp is None or s.exiting:
            if pp is not None:
                s.pidleput(pp)
            s.lock.release()
            _proc.injectglist(s, gs)
            return None
        _proc.acquirep(m, pp)
        if was_spinning or not gs:
            _proc._become_spinning(m, s)
        s.lock.release()
        if gs:
            gp = gs.pop()
            _proc.injectglist(s, gs)
            gp.status = _Grunnable
            return gp
        return None

    def break_if_later(self, polluntil: float) -> None:
        """findRunnable step 16: a blocked poller sleeping past our timer must re-arm."""
        s = self.s
        pu = s.polluntil
        if s.lastpoll == 0 and (pu == 0 or pu > polluntil):
            self.netpoll_break()

    def wake(self, when: float) -> None:
        """wakeNetPoller: a new earliest timer; wake the poller if it sleeps past it, else wakep."""
        s = self.s
        if s.lastpoll == 0:
            pu = s.polluntil
            if pu == 0 or pu > when:
                self.netpoll_break()
        else:
            _proc.wakep(s)

    def poll_for_sysmon(self) -> list[G]:
        """sysmon: poll if nobody has for 10 ms."""
        s = self.s
        if not self.waiters or s.lastpoll == 0:
            return []
        now = time.monotonic()
        if s.lastpoll + 0.010 >= now:
            return []
        s.lock.acquire()
        if s.lastpoll == 0:
            s.lock.release()
            return []
        s.lastpoll = now
        s.lock.release()
        return self.netpoll(0)


# ---------------------------------------------------------------- waiting

def _unblock(pd: PollDesc, mode: str, ioready: bool) -> Optional[G]:
    """netpollunblock (pd.lock held): the G parked on mode, if any, taken off
    its slot with gp.param = ioready; the caller readies it and adjusts waiters."""
    v = pd.rg if mode == "r" else pd.wg
    if v is None or v is _READY:
        if ioready:
            if mode == "r":
                pd.rg = _READY
            else:
                pd.wg = _READY
        return None
    # a parked G takes the readiness with it (param), so its slot goes back to nil
    if mode == "r":
        pd.rg = None
    else:
        pd.wg = None
    v.param = ioready
    return v  # type: ignore[no-any-return]  # the slot holds a G, None or _READY: here a G


def checkerr(pd: PollDesc, mode: str) -> int:
    """netpollcheckerr: closing, or an expired deadline for mode."""
    if pd.closing:
        return POLL_ERR_CLOSING
    if (pd.rd < 0 if mode == "r" else pd.wd < 0):
        return POLL_ERR_TIMEOUT
    return POLL_NO_ERROR


def block(pd: PollDesc, mode: str) -> Any:
    """netpollblock: park the calling G in "IO wait" until pd is ready for mode.

    A generator body (`yield from`): True when ready (a pending pdReady is
    consumed without parking), False when woken by close or a deadline."""
    lock = pd.lock
    lock.acquire()
    if mode == "r":
        v = pd.rg
        if v is _READY:
            pd.rg = None
            lock.release()
            return True
        if v is not None:
            lock.release()
            raise RuntimeError("runtime: double wait")
        # Go re-checks the errors after publishing pdWait; here both happen under pd.lock
        if pd.closing or pd.rd < 0:
            lock.release()
            return False
        gp = _curg(lock)
        pd.rg = gp
    else:
        v = pd.wg
        if v is _READY:
            pd.wg = None
            lock.release()
            return True
        if v is not None:
            lock.release()
            raise RuntimeError("runtime: double wait")
        if pd.closing or pd.wd < 0:
            lock.release()
            return False
        gp = _curg(lock)
        pd.wg = gp
    gp.param = None
    gp.waitreason = waitReasonIOWait
    # netpollblockcommit counts the waiter once parked; counting it before the
    # park is the same here: nobody can take the G off its slot before the M
    # has released pd.lock (the unlock callback), after marking it waiting
    poller = pd.poller
    poller.lock.acquire()
    poller.waiters += 1
    poller.lock.release()
    yield lock.release
    ok = gp.param is True
    gp.param = None
    return ok


def _curg(lock: Any) -> G:
    m: Any = _proc._tls.m
    if m is None or m.curg is None:
        lock.release()
        raise _proc._nogo("a gort network operation")
    gp: G = m.curg
    return gp


def wait(pd: PollDesc, mode: str) -> Any:
    """netpollblock for the tests of the core: True when ready, False when closed."""
    return (yield from block(pd, mode))


def poll_wait(pd: PollDesc, mode: str) -> Any:
    """poll_runtime_pollWait: a generator body returning POLL_NO_ERROR once pd
    is ready for mode ('r' or 'w'), else POLL_ERR_CLOSING / POLL_ERR_TIMEOUT.

    A wake-up without an error is a deadline that fired and was moved since:
    wait again (Go's loop)."""
    while True:
        err = checkerr(pd, mode)
        if err:
            return err
        if (yield from block(pd, mode)):
            return POLL_NO_ERROR


# ---------------------------------------------------------------- deadlines

def _timer_locks(pd: PollDesc) -> tuple[Optional[Timer], Optional[Timer]]:
    """Take pd's timers' locks (rt before wt).  gort runs a timer's function
    with its lock held and ours takes pd.lock, so the order is timer -> pd.lock
    (Go's is the other way round: its timer functions run unlocked)."""
    rt, wt = pd.rt, pd.wt
    if rt is not None:
        rt.mu.acquire()
    if wt is not None:
        wt.mu.acquire()
    return rt, wt


def _timer_unlocks(rt: Optional[Timer], wt: Optional[Timer]) -> None:
    if wt is not None:
        wt.mu.release()
    if rt is not None:
        rt.mu.release()


def _arm(t: Timer, f: Any, when: float, seq: int) -> None:
    """timer.modify(when, 0, f, pd, seq) with t.mu held: the firing carries seq."""
    t._unheap()
    t.f = f
    t.seq = seq
    t._add(when)


def set_deadline(pd: PollDesc, t: Optional[float], mode: str) -> None:
    """poll_runtime_pollSetDeadline: t is a time.monotonic() instant (None: no
    deadline; now or earlier: expired at once, waiters woken); mode is 'r', 'w'
    or 'rw'.  Equal read and write deadlines share one timer (Go's combo)."""
    if pd.rt is None or pd.wt is None:
        pd.lock.acquire()
        if pd.rt is None:
            pd.rt = Timer(_read_deadline, pd)
        if pd.wt is None:
            pd.wt = Timer(_write_deadline, pd)
        pd.lock.release()
    if t is None:
        d = 0.0
    else:
        d = float(t)
        if d != d:
            raise ValueError("deadline is NaN")
        if d <= time.monotonic():
            d = -1.0                  # "don't confuse deadline right now with no deadline"
    if d > 0 and _extend(pd, d, mode):
        return
    rt, wt = _timer_locks(pd)
    assert rt is not None and wt is not None
    gs: list[G] = []
    pd.lock.acquire()
    try:
        if pd.closing:
            return
        rd0, wd0 = pd.rd, pd.wd
        combo0 = rd0 > 0 and rd0 == wd0
        if "r" in mode:
            pd.rd = d
        if "w" in mode:
            pd.wd = d
        combo = pd.rd > 0 and pd.rd == pd.wd
        rtf = _deadline if combo else _read_deadline
        if not pd.rrun:
            if pd.rd > 0:
                _arm(rt, rtf, pd.rd, pd.rseq)
                pd.rrun = True
        elif pd.rd != rd0 or combo != combo0:
            pd.rseq += 1              # invalidate a firing already under way
            if pd.rd > 0:
                _arm(rt, rtf, pd.rd, pd.rseq)
            else:
                rt._unheap()
                pd.rrun = False
        if not pd.wrun:
            if pd.wd > 0 and not combo:
                _arm(wt, _write_deadline, pd.wd, pd.wseq)
                pd.wrun = True
        elif pd.wd != wd0 or combo != combo0:
            pd.wseq += 1
            if pd.wd > 0 and not combo:
                _arm(wt, _write_deadline, pd.wd, pd.wseq)
            else:
                wt._unheap()
                pd.wrun = False
        # a deadline in the past unblocks pending I/O now
        if pd.rd < 0:
            v = _unblock(pd, "r", False)
            if v is not None:
                gs.append(v)
        if pd.wd < 0:
            v = _unblock(pd, "w", False)
            if v is not None:
                gs.append(v)
    finally:
        pd.lock.release()
        _timer_unlocks(rt, wt)
    if gs:
        pd.poller._adjust(-len(gs))
        _ready_all(pd.poller, gs)


def _ready_all(poller: Poller, gs: list[G]) -> None:
    """goready each G, unless its program has ended (a Conn closed after
    gort.run returned): its Gs were closed with it and belong to nobody."""
    if poller.ep is None:
        return
    for gp in gs:
        _proc.ready(gp)


def _extend(pd: PollDesc, d: float, mode: str) -> bool:
    """A later deadline on an armed timer (a server's per-request refresh):
    only store it; the timer, when it fires at the old time, sees the new
    deadline ahead and re-arms for it (_deadline_impl).  Go re-arms at once,
    cheap in Go; in gort the timer locks and the heap push cost ~2 µs a call.
    False when this is not such a case (the caller takes the full path)."""
    pd.lock.acquire()
    rd, wd = pd.rd, pd.wd
    ok = not pd.closing
    if ok:
        nrd = d if "r" in mode else rd
        nwd = d if "w" in mode else wd
        combo = nrd > 0 and nrd == nwd
        if rd > 0 and rd == wd:       # combo before: rt serves both, it must stay so
            ok = combo and pd.rrun and d >= rd
        else:
            ok = not combo
            if ok and "r" in mode:
                ok = pd.rrun and rd > 0 and d >= rd
            if ok and "w" in mode:
                ok = pd.wrun and wd > 0 and d >= wd
        if ok:
            pd.rd = nrd
            pd.wd = nwd
    pd.lock.release()
    return ok


def _deadline_impl(pd: PollDesc, seq: int, read: bool, write: bool) -> None:
    """netpolldeadlineimpl: runs on an M from the timer (its lock held)."""
    gs = []
    pd.lock.acquire()
    if seq != (pd.rseq if read else pd.wseq):
        pd.lock.release()             # the descriptor closed or the deadline moved
        return
    due = pd.rd if read else pd.wd
    if due > time.monotonic():        # extended since it was armed (_extend): fire then
        t = pd.rt if read else pd.wt
        if t is not None:
            _arm(t, _deadline if read and write else _read_deadline if read else _write_deadline,
                 due, seq)
        pd.lock.release()
        return
    if read:
        pd.rd = -1.0
        v = _unblock(pd, "r", False)
        if v is not None:
            gs.append(v)
    if write:
        pd.wd = -1.0
        v = _unblock(pd, "w", False)
        if v is not None:
            gs.append(v)
    pd.lock.release()
    if gs:
        pd.poller._adjust(-len(gs))
        _ready_all(pd.poller, gs)


def _deadline(pd: PollDesc, seq: int, delay: float) -> None:
    _deadline_impl(pd, seq, True, True)


def _read_deadline(pd: PollDesc, seq: int, delay: float) -> None:
    _deadline_impl(pd, seq, True, False)


def _write_deadline(pd: PollDesc, seq: int, delay: float) -> None:
    _deadline_impl(pd, seq, False, True)


def current() -> Poller:
    """The poller of the calling goroutine's program."""
    m = _proc._tls.m
    s = m.sched if m is not None else _proc.sched
    poller: Poller = s.poller
    return poller
