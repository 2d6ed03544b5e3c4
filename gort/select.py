"""select: Go's select statement (runtime/select.go `selectgo`).

Cases are polled in a random order (fairness), channels are locked in one
global order (by id) so two selects never deadlock on each other, and a select
that must block parks on every case at once.  The first waker to win the G's
`selectdone` (a Lock taken with acquire(False): Go's CAS) completes exactly one
case; the other sudogs are then removed from their queues.
"""
from __future__ import annotations

import random
import threading
import types
from typing import Any, Generator, Optional

from .chan import Chan, ClosedChannelError, SelSudog
from .g import preempt_flag, waitReasonSelect, waitReasonSelectNoCases
from .debug import awaitable
from .proc import _nogo, _tls, park_forever, preempt_point, ready

_random = random.random


class Case:
    """One select case: made by `gort.recv(ch)` or `gort.send(ch, v)`."""

    __slots__ = ("c", "dir", "v")

    def __init__(self, c: Optional[Chan[Any]], dir: int, v: Any = None) -> None:
        if c is not None and not isinstance(c, Chan):
            raise TypeError(f"select case needs a gort.Chan or None, not {type(c).__name__}")
        self.c: Any = c
        self.dir = dir        # 0: receive, 1: send
        self.v = v

    def __repr__(self) -> str:
        return f"<{'send' if self.dir else 'recv'} case {self.c!r}>"


def recv(c: Optional[Chan[Any]]) -> Case:
    """A receive case for select."""
    return Case(c, 0)


def send(c: Optional[Chan[Any]], v: Any) -> Case:
    """A send case for select."""
    return Case(c, 1, v)


def _lock_all(chans: list[Chan[Any]]) -> None:
    for c in chans:
        c._lock.acquire()


def _unlock_all(chans: list[Chan[Any]]) -> None:
    for c in reversed(chans):
        c._lock.release()


@awaitable
@types.coroutine
def select(*cases: Case, default: bool = False) -> Generator[Any, Any, tuple[int, Any, bool]]:
    """`i, v, ok = await gort.select(gort.recv(a), gort.send(b, x), default=False)`.

    i is the index of the case that fired; (v, ok) is as `recv_ok` for a receive
    case and (None, True) for a send case; with default=True and no case ready:
    (-1, None, False).  Cases on a None channel never fire; no cases and no
    default blocks forever.  Ready cases are chosen uniformly at random.
    """
    # pollorder: nil-channel cases dropped, the rest shuffled (inside-out Fisher-Yates)
    order: list[int] = []
    for i, cs in enumerate(cases):
        if not isinstance(cs, Case):
            raise TypeError(f"select: case {i} is {type(cs).__name__}; use gort.recv(ch) or gort.send(ch, v)")
        if cs.c is None:
            continue
        j = int(_random() * (len(order) + 1))
        if j == len(order):
            order.append(i)
        else:
            order.append(order[j])
            order[j] = i
    if not order:
        if default:
            return -1, None, False
        yield from park_forever(waitReasonSelectNoCases)
    # lockorder: each distinct channel once, sorted by id
    chans = sorted({id(cases[i].c): cases[i].c for i in order}.values(), key=id)
    _lock_all(chans)
    # pass 1: look for a case that can go now
    for i in order:
        cs = cases[i]
        c = cs.c
        if cs.dir == 0:
            sg = None if c._closed else c._dequeue_send()
            if sg is not None:
                v = c._recv_locked(sg)
                _unlock_all(chans)
                sg.success = True
                sg.g.param = sg
                ready(sg.g)
                return (yield from _done(i, v, True))
            if c._qcount > 0:
                v = c._bufget()
                _unlock_all(chans)
                return (yield from _done(i, v, True))
            if c._closed:
                _unlock_all(chans)
                return (yield from _done(i, None, False))
        else:
            if c._closed:
                _unlock_all(chans)
                raise ClosedChannelError("send on closed channel")
            sg = c._dequeue_recv()
            if sg is not None:
                _unlock_all(chans)
                sg.elem = cs.v
                sg.success = True
                sg.g.param = sg
                ready(sg.g)
                return (yield from _done(i, None, True))
            if c._qcount < c._dataqsiz:
                c._bufput(cs.v)
                _unlock_all(chans)
                return (yield from _done(i, None, True))
    if default:
        _unlock_all(chans)
        return -1, None, False
    # pass 2: enqueue on every case and park
    m = _tls.m
    if m is None or m.curg is None:
        _unlock_all(chans)
        raise _nogo("gort.select")
    gp = m.curg
    if gp.selectdone is None:
        gp.selectdone = threading.Lock()
    sgs: list[SelSudog] = []
    for i in sorted(order, key=lambda k: id(cases[k].c)):   # in lock order, as Go
        cs = cases[i]
        sg = SelSudog(gp, cs.v if cs.dir else None, cs.c, i)
        if cs.dir == 0:
            cs.c._enqueue_recv(sg)
        else:
            cs.c._enqueue_send(sg)
        sgs.append(sg)
    gp.waiting = sgs
    gp.param = None
    gp.waitreason = waitReasonSelect

    def selparkcommit() -> bool:
        _unlock_all(chans)
        return True

    yield selparkcommit
    # pass 3: the waker left its sudog in gp.param; dequeue the rest
    _lock_all(chans)
    gp.selectdone.release()
    won = gp.param
    gp.param = None
    gp.waiting = None
    for sg in sgs:
        if sg is not won:
            sg.c._remove(sg, cases[sg.case].dir == 0)
    _unlock_all(chans)
    if won is None:  # pragma: no cover - protocol violation
        raise RuntimeError("selectgo: bad wakeup")
    i = won.case
    if cases[i].dir == 1:
        if not won.success:
            raise ClosedChannelError("send on closed channel")
        return i, None, True
    return i, won.elem, won.success


def _done(i: int, v: Any, ok: bool) -> Generator[Any, Any, tuple[int, Any, bool]]:
    if preempt_flag[0]:
        yield from preempt_point()
    return i, v, ok
