"""netpoll: the network poller (netpoll.go, netpoll_epoll.go; reference §9).

An epoll instance plus an eventfd for netpollBreak.  At most one M blocks in
it (`sched.lastpoll == 0` while one does), with a timeout set by the earliest
timer, so it is also how idle Ms sleep until a timer is due.  File
descriptors are registered once, edge-triggered, and each pollDesc has one
reader and one writer slot (`rg`/`wg`): None, READY, or the parked G.
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

_ep: Any = None
_evfd = -1
_wakesig = False
_wakelock = threading.Lock()
_pds: dict[int, "PollDesc"] = {}
_pdlock = threading.Lock()
_waiters = 0
_sched: Any = None

EV_IN = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
EV_OUT = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR


class PollDesc:
    __slots__ = ("fd", "lock", "rg", "wg", "closing", "rd", "wd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.rg: Any = None
        self.wg: Any = None
        self.closing = False
        self.rd = 0.0
        self.wd = 0.0


def init(s: Any) -> None:
    global _ep, _evfd, _sched, _wakesig, _waiters
    _sched = s
    _wakesig = False
    _waiters = 0
    _pds.clear()
    _ep = select.epoll()
    _evfd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
    _ep.register(_evfd, select.EPOLLIN)


def close(s: Any) -> None:
    global _ep, _evfd
    if _sched is not s or _ep is None:
        return
    try:
        _ep.close()
        os.close(_evfd)
    except OSError:
        pass
    _ep = None
    _evfd = -1


def any_waiters() -> bool:
    return _waiters > 0


def open_fd(fd: int) -> PollDesc:
    pd = PollDesc(fd)
    _pdlock.acquire()
    _pds[fd] = pd
    _pdlock.release()
    _ep.register(fd, select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLET)
    return pd


def close_fd(pd: PollDesc) -> None:
    pd.closing = True
    gs = []
    pd.lock.acquire()
    for attr in ("rg", "wg"):
        v = getattr(pd, attr)
        if isinstance(v, G):
            gs.append(v)
        setattr(pd, attr, None)
    pd.lock.release()
    _pdlock.acquire()
    _pds.pop(pd.fd, None)
    _pdlock.release()
    try:
        _ep.unregister(pd.fd)
    except (OSError, ValueError):
        pass
    _ready_all(gs, -len(gs))


def _ready_all(gs: list, delta: int) -> None:
    global _waiters
    if delta:
        _wakelock.acquire()
        _waiters += delta
        _wakelock.release()
    if gs:
        for gp in gs:
            _proc.ready(gp)


def wait(pd: PollDesc, mode: str) -> Any:
    """Park the calling G until pd is ready for mode ('r' or 'w'); generator body."""
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

    def commit() -> bool:
        global _waiters
        _wakelock.acquire()
        _waiters += 1
        _wakelock.release()
        pd.lock.release()
        return True
    yield commit
    return not pd.closing


def netpoll(delay: float) -> list[G]:
    """Poll epoll: delay < 0 blocks, 0 does not, > 0 waits that many seconds."""
    global _wakesig
    ep = _ep
    if ep is None:
        return []
    if delay < 0:
        timeout = -1.0
    elif delay == 0:
        timeout = 0.0
    else:
        timeout = max(delay, 0.0001)
    try:
        events = ep.poll(timeout, 128)
    except (InterruptedError, OSError, ValueError):
        return []
    gs: list[G] = []
    for fd, ev in events:
        if fd == _evfd:
            if delay != 0:
                try:
                    os.eventfd_read(_evfd)
                except (BlockingIOError, OSError):
                    pass
                _wakelock.acquire()
                _wakesig = False
                _wakelock.release()
            continue
        pd = _pds.get(fd)
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
        _adjust(-len(gs))
        for gp in gs:
            if gp.status != _Gwaiting:  # pragma: no cover - protocol violation
                raise RuntimeError(f"netpoll: G{gp.goid} not waiting")
    return gs


def _adjust(delta: int) -> None:
    global _waiters
    _wakelock.acquire()
    _waiters += delta
    _wakelock.release()


def netpoll_break() -> None:
    """Wake the M blocked in netpoll (one wake-up in flight at most)."""
    global _wakesig
    if _evfd < 0:
        return
    _wakelock.acquire()
    if _wakesig:
        _wakelock.release()
        return
    _wakesig = True
    _wakelock.release()
    try:
        os.eventfd_write(_evfd, 1)
    except (BlockingIOError, OSError):
        pass


def claim_poller() -> bool:
    """lastpoll.Swap(0) != 0: become the single M blocked in netpoll."""
    s = _sched
    s.lock.acquire()
    ok = s.lastpoll != 0
    if ok:
        s.lastpoll = 0
    s.lock.release()
    return ok


def block_until(m: Any, polluntil: float, was_spinning: bool) -> Optional[G]:
    """findRunnable step 15: sleep in netpoll until polluntil (or an event / a break)."""
    s = _sched
    now = time.monotonic()
    s.polluntil = polluntil
    delay = -1.0 if polluntil == 0 else max(0.0, polluntil - now)
    m.blocked = True
    gs = [] if s.exiting else netpoll(delay)
    m.blocked = False
    s.lock.acquire()
    s.lastpoll = time.monotonic()
    s.polluntil = 0.0
    pp = s.pidleget()
    if pp is None or s.exiting:
        if pp is not None:
            s.pidleput(pp)
        s.lock.release()
        _proc.injectglist(gs)
        return None
    _proc.acquirep(m, pp)
    if was_spinning or not gs:
        _proc._become_spinning(m, s)
    s.lock.release()
    if gs:
        gp = gs.pop()
        _proc.injectglist(gs)
        gp.status = _Grunnable
        return gp
    return None


def break_if_later(polluntil: float) -> None:
    """findRunnable step 16: a blocked poller sleeping past our timer must re-arm."""
    s = _sched
    pu = s.polluntil
    if s.lastpoll == 0 and (pu == 0 or pu > polluntil):
        netpoll_break()


def wake_netpoller(when: float) -> None:
    """A new earliest timer: wake the poller if it sleeps past it, else wakep."""
    s = _sched
    if s is None:
        return
    if s.lastpoll == 0:
        pu = s.polluntil
        if pu == 0 or pu > when:
            netpoll_break()
    else:
        _proc.wakep()


def poll_nonblock_for_sysmon() -> list[G]:
    """sysmon: poll if nobody has for 10 ms."""
    s = _sched
    if not any_waiters() or s.lastpoll == 0:
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
    return netpoll(0)
