"""chan: Go's channels (chan.go; reference §8.1-§8.4).

A waiting receiver gets the value straight from the sender (the buffer is
bypassed); a buffered channel is a ring of `cap` slots; `close` wakes every
receiver and makes every blocked sender raise.  Blocking is `gopark` with the
channel lock released by the unlock callback, after the G is marked waiting.
Wake-ups (`ready`) happen after the channel lock is released (Go's rule).
"""
from __future__ import annotations

import threading
import types
from typing import Any, AsyncIterator, Generator, Generic, Optional, TypeVar

from .g import (G, preempt_flag, waitReasonChanReceive,
                waitReasonChanReceiveNilChan, waitReasonChanSend,
                waitReasonChanSendNilChan)
from .debug import awaitable
from .proc import _nogo, _tls, park_forever, preempt_point, ready

T = TypeVar("T")


def _not_chan(x: Any, meth: str) -> TypeError:
    return TypeError(f"Chan.{meth}: {type(x).__name__} {x!r} is not a gort.Chan")


class ClosedChannelError(Exception):
    """Send on a closed channel, or close of a closed channel (Go panics)."""


class Sudog:
    """One G waiting in one channel queue (runtime2.go `sudog`).

    A plain channel wait needs no channel or case index (Go keeps them for
    every sudog): those live in SelSudog only, which keeps a parked goroutine
    small (bench W4).
    """

    __slots__ = ("g", "elem", "next", "prev", "success")
    case = -1                      # not a select's: class attribute, no slot

    def __init__(self, g: G, elem: Any) -> None:
        self.g = g
        self.elem = elem
        self.next: Optional[Sudog] = None
        self.prev: Optional[Sudog] = None
        self.success = False


class SelSudog(Sudog):
    """A select's sudog: which channel and which case it stands for."""

    __slots__ = ("c", "case")

    def __init__(self, g: G, elem: Any, c: "Chan", case: int) -> None:
        Sudog.__init__(self, g, elem)
        self.c = c
        self.case = case


class Chan(Generic[T]):
    """A Go channel.  `Chan(0)` is unbuffered; `Chan(n)` buffers n values."""

    __slots__ = ("lock", "qcount", "dataqsiz", "buf", "sendx", "recvx", "closed",
                 "recvq_first", "recvq_last", "sendq_first", "sendq_last")

    def __init__(self, cap: int = 0) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int):
            raise TypeError(f"Chan capacity must be an int, not {type(cap).__name__}")
        if cap < 0:
            raise ValueError(f"makechan: size out of range ({cap})")
        self.lock = threading.Lock()
        self.qcount = 0
        self.dataqsiz = cap
        self.buf: Any = [None] * cap if cap else None
        self.sendx = 0
        self.recvx = 0
        self.closed = False
        self.recvq_first: Optional[Sudog] = None
        self.recvq_last: Optional[Sudog] = None
        self.sendq_first: Optional[Sudog] = None
        self.sendq_last: Optional[Sudog] = None

    @property
    def cap(self) -> int:
        return self.dataqsiz

    def __len__(self) -> int:
        return self.qcount

    def __repr__(self) -> str:
        st = " closed" if self.closed else ""
        return f"<Chan cap={self.dataqsiz} len={self.qcount}{st}>"

    # ---- wait queues (lock held) ----
    def _enqueue_recv(self, sg: Sudog) -> None:
        last = self.recvq_last
        sg.prev = last
        sg.next = None
        if last is None:
            self.recvq_first = sg
        else:
            last.next = sg
        self.recvq_last = sg

    def _enqueue_send(self, sg: Sudog) -> None:
        last = self.sendq_last
        sg.prev = last
        sg.next = None
        if last is None:
            self.sendq_first = sg
        else:
            last.next = sg
        self.sendq_last = sg

    def _dequeue_recv(self) -> Optional[Sudog]:
        while True:
            sg = self.recvq_first
            if sg is None:
                return None
            nxt = sg.next
            self.recvq_first = nxt
            if nxt is None:
                self.recvq_last = None
            else:
                nxt.prev = None
            sg.next = None
            # a select waiter is taken only by whoever wins its selectDone
            if sg.case >= 0 and not sg.g.selectdone.acquire(False):
                continue
            return sg

    def _dequeue_send(self) -> Optional[Sudog]:
        while True:
            sg = self.sendq_first
            if sg is None:
                return None
            nxt = sg.next
            self.sendq_first = nxt
            if nxt is None:
                self.sendq_last = None
            else:
                nxt.prev = None
            sg.next = None
            if sg.case >= 0 and not sg.g.selectdone.acquire(False):
                continue
            return sg

    def _remove(self, sg: Sudog, recv: bool) -> None:
        """dequeueSudoG: take a select's losing sudog out of its queue, if still there."""
        p, n = sg.prev, sg.next
        if p is not None:
            p.next = n
        elif (self.recvq_first if recv else self.sendq_first) is sg:
            if recv:
                self.recvq_first = n
            else:
                self.sendq_first = n
        else:
            return                      # not queued any more
        if n is not None:
            n.prev = p
        elif recv:
            self.recvq_last = p
        else:
            self.sendq_last = p
        sg.next = sg.prev = None

    # ---- send ----
    @awaitable
    @types.coroutine
    def send(self, v: T) -> Generator[Any, Any, None]:
        """Send v; block until a receiver takes it or there is buffer space."""
        try:
            lock = self.lock
        except AttributeError:
            raise _not_chan(self, "send") from None
        lock.acquire()
        if self.closed:
            lock.release()
            raise ClosedChannelError("send on closed channel")
        if self.recvq_first is not None:
            sg = self._dequeue_recv()
            if sg is not None:
                # a receiver waits: hand the value straight to it
                lock.release()
                sg.elem = v
                sg.success = True
                gp = sg.g
                gp.param = sg
                ready(gp)
                if preempt_flag[0]:
                    yield from preempt_point()
                return
        if self.qcount < self.dataqsiz:
            i = self.sendx
            self.buf[i] = v
            i += 1
            self.sendx = 0 if i == self.dataqsiz else i
            self.qcount += 1
            lock.release()
            if preempt_flag[0]:
                yield from preempt_point()
            return
        m = _tls.m
        if m is None or m.curg is None:
            lock.release()
            raise _nogo("Chan.send")
        gp = m.curg
        sg = gp.sg
        if sg is None:
            sg = gp.sg = Sudog(gp, v)
        else:
            sg.elem = v
            sg.success = False
        self._enqueue_send(sg)
        gp.waitreason = waitReasonChanSend
        gp.param = None
        yield lock.release
        sg.elem = None
        if not sg.success:
            raise ClosedChannelError("send on closed channel")

    def try_send(self, v: T) -> bool:
        """Non-blocking send (Go's `select { case c <- v: default: }`): True if sent."""
        try:
            lock = self.lock
        except AttributeError:
            raise _not_chan(self, "try_send") from None
        lock.acquire()
        if self.closed:
            lock.release()
            raise ClosedChannelError("send on closed channel")
        sg = self._dequeue_recv()
        if sg is not None:
            lock.release()
            sg.elem = v
            sg.success = True
            sg.g.param = sg
            ready(sg.g)
            return True
        if self.qcount < self.dataqsiz:
            self._bufput(v)
            lock.release()
            return True
        lock.release()
        return False

    # ---- the ring buffer (lock held; send/recv inline the same steps) ----
    def _bufput(self, v: Any) -> None:
        i = self.sendx
        self.buf[i] = v
        i += 1
        self.sendx = 0 if i == self.dataqsiz else i
        self.qcount += 1

    def _bufget(self) -> Any:
        buf = self.buf
        i = self.recvx
        v = buf[i]
        buf[i] = None
        i += 1
        self.recvx = 0 if i == self.dataqsiz else i
        self.qcount -= 1
        return v

    # ---- receive ----
    def _recv_locked(self, sg: Sudog) -> Any:
        """recv(): take from the sender sg (lock held; released by the caller)."""
        if self.dataqsiz == 0:
            return sg.elem
        # buffer full: take the head, the sender's value goes to the tail slot
        buf = self.buf
        i = self.recvx
        v = buf[i]
        buf[i] = sg.elem
        i += 1
        if i == self.dataqsiz:
            i = 0
        self.recvx = i
        self.sendx = i
        return v

    @awaitable
    @types.coroutine
    def recv(self, _mode: int = 0) -> Generator[Any, Any, Any]:
        """Receive a value; None once closed and drained (Go's zero value).

        One body serves recv (mode 0), recv_ok (1) and `async for` (2): the
        receive path is the hottest in gort and an extra generator layer costs.
        """
        try:
            lock = self.lock
        except AttributeError:
            raise _not_chan(self, "recv") from None
        lock.acquire()
        if self.closed:
            if self.qcount == 0:
                lock.release()
                if _mode == 2:
                    raise StopAsyncIteration
                return (None, False) if _mode else None
        elif self.sendq_first is not None:
            sg = self._dequeue_send()
            if sg is not None:
                v = self._recv_locked(sg)
                lock.release()
                sg.success = True
                gp = sg.g
                gp.param = sg
                ready(gp)
                if preempt_flag[0]:
                    yield from preempt_point()
                return (v, True) if _mode == 1 else v
        if self.qcount > 0:
            buf = self.buf
            i = self.recvx
            v = buf[i]
            buf[i] = None
            i += 1
            self.recvx = 0 if i == self.dataqsiz else i
            self.qcount -= 1
            lock.release()
            if preempt_flag[0]:
                yield from preempt_point()
            return (v, True) if _mode == 1 else v
        m = _tls.m
        if m is None or m.curg is None:
            lock.release()
            raise _nogo("Chan.recv")
        gp = m.curg
        sg = gp.sg
        if sg is None:
            sg = gp.sg = Sudog(gp, None)
        else:
            sg.success = False
        self._enqueue_recv(sg)
        gp.waitreason = waitReasonChanReceive
        gp.param = None
        yield lock.release
        v = sg.elem
        sg.elem = None
        if _mode == 0:
            return v
        if _mode == 1:
            return v, sg.success
        if not sg.success:
            raise StopAsyncIteration
        return v

    def recv_ok(self) -> Any:
        """Receive: (value, True), or (None, False) once closed and drained."""
        return self.recv(1)

    def try_recv(self) -> tuple[Any, bool, bool]:
        """Non-blocking receive: (value, ok, selected).  selected is False if it would block."""
        try:
            lock = self.lock
        except AttributeError:
            raise _not_chan(self, "try_recv") from None
        lock.acquire()
        if self.closed and self.qcount == 0:
            lock.release()
            return None, False, True
        if not self.closed:
            sg = self._dequeue_send()
            if sg is not None:
                v = self._recv_locked(sg)
                lock.release()
                sg.success = True
                sg.g.param = sg
                ready(sg.g)
                return v, True, True
        if self.qcount > 0:
            v = self._bufget()
            lock.release()
            return v, True, True
        lock.release()
        return None, False, False

    # ---- close ----
    def close(self) -> None:
        """Close: receivers drain the buffer then get (None, False); blocked senders raise."""
        try:
            lock = self.lock
        except AttributeError:
            raise _not_chan(self, "close") from None
        lock.acquire()
        if self.closed:
            lock.release()
            raise ClosedChannelError("close of closed channel")
        self.closed = True
        woken = []
        while True:
            sg = self._dequeue_recv()
            if sg is None:
                break
            sg.elem = None
            sg.success = False
            sg.g.param = sg
            woken.append(sg.g)
        while True:
            sg = self._dequeue_send()
            if sg is None:
                break
            sg.success = False
            sg.g.param = sg
            woken.append(sg.g)
        lock.release()
        for gp in woken:
            ready(gp)

    # ---- range ----
    def __aiter__(self) -> AsyncIterator[T]:
        return self  # type: ignore[return-value]

    def __anext__(self) -> Any:
        return self.recv(2)


@types.coroutine
def nil_send() -> Any:
    yield from park_forever(waitReasonChanSendNilChan)


@types.coroutine
def nil_recv() -> Any:
    yield from park_forever(waitReasonChanReceiveNilChan)
