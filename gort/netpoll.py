"""netpoll: the network poller (netpoll.go, netpoll_epoll.go).

One `Poller` per program (`sched.poller`): an epoll instance plus an eventfd
for netpollBreak.  At most one M blocks in it (`sched.lastpoll == 0` while one
does), with a timeout set by the earliest timer, so it is also how idle Ms
sleep until a timer is due.  File descriptors are registered once,
edge-triggered, and each pollDesc has one reader and one writer slot
(`rg`/`wg`): None (Go's pdNil), READY (pdReady), or the parked G.

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
from .g import G, _Grunnable, _Gwaiting, waitReasonIOWait

_READY = "ready"

EV_IN = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
EV_OUT = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
MAX_EVENTS = 128              # events taken per epoll_wait, as Go
MAX_WAIT = 1e6                # netpoll_epoll.go caps a wait at 1e9 ms; epoll's own limit is ~24.8 days


class PollDesc:
    __slots__ = ("fd", "poller", "lock", "rg", "wg", "closing", "rd", "wd")

    def __init__(self, fd: int, poller: "Poller") -> None:
        self.fd = fd
        self.poller = poller
        self.lock = threading.Lock()
        self.rg: Any = None
        self.wg: Any = None
        self.closing = False
        self.rd = 0.0
        self.wd = 0.0


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
        self.pds[fd] = pd
        self.lock.release()
        ep.register(fd, select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLET)
        return pd

    def close_fd(self, pd: PollDesc) -> None:
        """poll_runtime_pollUnblock + pollClose: wake both sides, then forget fd."""
        pd.lock.acquire()
        pd.closing = True
        gs = [v for v in (pd.rg, pd.wg) if isinstance(v, G)]
        pd.rg = pd.wg = None
        pd.lock.release()
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
        if gs:
            self._adjust(-len(gs))
            for gp in gs:
                _proc.ready(gp)

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
        for fd, ev in events:
            if fd == self.evfd:
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
            pd.lock.acquire()
            if ev & EV_IN:
                v = pd.rg
                pd.rg = _READY
                if isinstance(v, G):
                    gs.append(v)
            if ev & EV_OUT:
                v = pd.wg
                pd.wg = _READY
                if isinstance(v, G):
                    gs.append(v)
            pd.lock.release()
        if gs:
            self._adjust(-len(gs))
            for gp in gs:
                if gp.status != _Gwaiting:  # pragma: no cover - protocol violation
                    raise RuntimeError(f"netpoll: G{gp.goid} not waiting")
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
        ok = s.lastpoll != 0
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


def wait(pd: PollDesc, mode: str) -> Any:
    """netpollblock: park the calling G until pd is ready for mode ('r' or 'w').

    A generator body (`yield from`): True when ready, False when closed."""
    attr = "rg" if mode == "r" else "wg"
    pd.lock.acquire()
    if getattr(pd, attr) == _READY:
        setattr(pd, attr, None)
        pd.lock.release()
        return True
    if pd.closing:
        pd.lock.release()
        return False
    m: Any = _proc._tls.m
    gp = m.curg
    setattr(pd, attr, gp)
    gp.waitreason = waitReasonIOWait
    poller = pd.poller

    def commit() -> bool:           # netpollblockcommit: counted as a waiter once parked
        poller._adjust(1)
        pd.lock.release()
        return True
    yield commit
    return not pd.closing


def current() -> Poller:
    """The poller of the calling goroutine's program."""
    m = _proc._tls.m
    s = m.sched if m is not None else _proc.sched
    return s.poller
