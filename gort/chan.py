"""chan: Go's channels (runtime/chan.go: makechan, chansend, chanrecv, closechan).

A waiting receiver gets the value straight from the sender (the buffer is
bypassed); a buffered channel is a ring of `cap` slots; `close` wakes every
receiver and makes every blocked sender raise.  Blocking is `gopark` with the
channel lock released by the unlock callback, after the G is marked waiting.
Wake-ups (`ready`) happen after the channel lock is released (Go's rule).
"""
from __future__ import annotations

import inspect
import threading
import types
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Generator, Generic, Optional, TypeVar

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

    def __init__(self, g: G, elem: Any, c: "Chan[Any]", case: int) -> None:
        Sudog.__init__(self, g, elem)
        self.c = c
        self.case = case


class Chan(Generic[T]):
    """A Go channel.  `Chan(0)` is unbuffered; `Chan(n)` buffers n values."""

    __slots__ = ("_lock", "_qcount", "_dataqsiz", "_buf", "_sendx", "_recvx", "_closed",
                 "_recvq_first", "_recvq_last", "_sendq_first", "_sendq_last")

    def __init__(self, cap: int = 0) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int):
            raise TypeError(f"Chan capacity must be an int, not {type(cap).__name__}")
        if cap < 0:
            raise ValueError(f"makechan: size out of range ({cap})")
        self._lock = threading.Lock()
        self._qcount = 0
        self._dataqsiz = cap
        self._buf: Any = [None] * cap if cap else None
        self._sendx = 0
        self._recvx = 0
        self._closed = False
        self._recvq_first: Optional[Sudog] = None
        self._recvq_last: Optional[Sudog] = None
        self._sendq_first: Optional[Sudog] = None
        self._sendq_last: Optional[Sudog] = None

    @property
    def cap(self) -> int:
        """The buffer size given to Chan(cap) (Go's cap(ch)); 0 for an unbuffered channel."""
        return self._dataqsiz

    def __len__(self) -> int:
        return self._qcount

    def __repr__(self) -> str:
        st = " closed" if self._closed else ""
        return f"<Chan cap={self._dataqsiz} len={self._qcount}{st}>"

    # ---- wait queues (lock held) ----
    def _enqueue_recv(self, sg: Sudog) -> None:
        last = self._recvq_last
        sg.prev = last
        sg.next = None
        if last is None:
            self._recvq_first = sg
        else:
            last.next = sg
        self._recvq_last = sg

    def _enqueue_send(self, sg: Sudog) -> None:
        last = self._sendq_last
        sg.prev = last
        sg.next = None
        if last is None:
            self._sendq_first = sg
        else:
            last.next = sg
        self._sendq_last = sg

    def _dequeue_recv(self) -> Optional[Sudog]:
        while True:
            sg = self._recvq_first
            if sg is None:
                return None
            nxt = sg.next
            self._recvq_first = nxt
            if nxt is None:
                self._recvq_last = None
            else:
                nxt.prev = None
            sg.next = None
            # a select waiter is taken only by whoever wins its selectDone
            if sg.case >= 0 and not sg.g.selectdone.acquire(False):
                continue
            return sg

    def _dequeue_send(self) -> Optional[Sudog]:
        while True:
            sg = self._sendq_first
            if sg is None:
                return None
            nxt = sg.next
            self._sendq_first = nxt
            if nxt is None:
                self._sendq_last = None
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
        elif (self._recvq_first if recv else self._sendq_first) is sg:
            if recv:
                self._recvq_first = n
            else:
                self._sendq_first = n
        else:
            return                      # not queued any more
        if n is not None:
            n.prev = p
        elif recv:
            self._recvq_last = p
        else:
            self._sendq_last = p
        sg.next = sg.prev = None

    # ---- send ----
    @awaitable
    @types.coroutine
    def send(self, v: T) -> Generator[Any, Any, None]:
        """Send v; block until a receiver takes it or there is buffer space."""
        try:
            lock = self._lock
        except AttributeError:
            raise _not_chan(self, "send") from None
        lock.acquire()
        if self._closed:
            lock.release()
            raise ClosedChannelError("send on closed channel")
        if self._recvq_first is not None:
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
        if self._qcount < self._dataqsiz:
            i = self._sendx
            self._buf[i] = v
            i += 1
            self._sendx = 0 if i == self._dataqsiz else i
            self._qcount += 1
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
            lock = self._lock
        except AttributeError:
            raise _not_chan(self, "try_send") from None
        lock.acquire()
        if self._closed:
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
        if self._qcount < self._dataqsiz:
            self._bufput(v)
            lock.release()
            return True
        lock.release()
        return False

    # ---- the ring buffer (lock held; send/recv inline the same steps) ----
    def _bufput(self, v: Any) -> None:
        i = self._sendx
        self._buf[i] = v
        i += 1
        self._sendx = 0 if i == self._dataqsiz else i
        self._qcount += 1

    def _bufget(self) -> Any:
        buf = self._buf
        i = self._recvx
        v = buf[i]
        buf[i] = None
        i += 1
        self._recvx = 0 if i == self._dataqsiz else i
        self._qcount -= 1
        return v

    # ---- receive ----
    def _recv_locked(self, sg: Sudog) -> Any:
        """recv(): take from the sender sg (lock held; released by the caller)."""
        if self._dataqsiz == 0:
            return sg.elem
        # buffer full: take the head, the sender's value goes to the tail slot
        buf = self._buf
        i = self._recvx
        v = buf[i]
        buf[i] = sg.elem
        i += 1
        if i == self._dataqsiz:
            i = 0
        self._recvx = i
        self._sendx = i
        return v

    @awaitable
    @types.coroutine
    def recv(self, _mode: int = 0) -> Generator[Any, Any, Optional[T]]:
        """`v = await ch.recv()`: the next value; None once the channel is closed
        and drained (Go's zero value; `recv_ok` tells the two apart).  Blocks
        until a sender or the buffer has a value."""
        # One body serves recv (mode 0), recv_ok (1) and `async for` (2): the
        # receive path is the hottest in gort and an extra generator layer costs.
        try:
            lock = self._lock
        except AttributeError:
            raise _not_chan(self, "recv") from None
        lock.acquire()
        if self._closed:
            if self._qcount == 0:
                lock.release()
                if _mode == 2:
                    raise StopAsyncIteration
                return (None, False) if _mode else None  # type: ignore[return-value]
        elif self._sendq_first is not None:
            sg = self._dequeue_send()
            if sg is not None:
                v: Optional[T] = self._recv_locked(sg)
                lock.release()
                sg.success = True
                gp = sg.g
                gp.param = sg
                ready(gp)
                if preempt_flag[0]:
                    yield from preempt_point()
                return (v, True) if _mode == 1 else v  # type: ignore[return-value]
        if self._qcount > 0:
            buf = self._buf
            i = self._recvx
            v = buf[i]
            buf[i] = None
            i += 1
            self._recvx = 0 if i == self._dataqsiz else i
            self._qcount -= 1
            lock.release()
            if preempt_flag[0]:
                yield from preempt_point()
            return (v, True) if _mode == 1 else v  # type: ignore[return-value]
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
            return v, sg.success  # type: ignore[return-value]
        if not sg.success:
            raise StopAsyncIteration
        return v

    def recv_ok(self) -> Awaitable[tuple[Optional[T], bool]]:
        """`v, ok = await ch.recv_ok()`: (value, True), or (None, False) once closed and drained."""
        # mode 1 returns the (value, ok) pair
        return self.recv(1)  # type: ignore[return-value]

    def try_recv(self) -> tuple[Optional[T], bool, bool]:
        """Non-blocking receive: (value, ok, selected).  selected is False if it would block."""
        try:
            lock = self._lock
        except AttributeError:
            raise _not_chan(self, "try_recv") from None
        lock.acquire()
        if self._closed and self._qcount == 0:
            lock.release()
            return None, False, True
        if not self._closed:
            sg = self._dequeue_send()
            if sg is not None:
                v = self._recv_locked(sg)
                lock.release()
                sg.success = True
                sg.g.param = sg
                ready(sg.g)
                return v, True, True
        if self._qcount > 0:
            v = self._bufget()
            lock.release()
            return v, True, True
        lock.release()
        return None, False, False

    # ---- close ----
    def close(self) -> None:
        """Close: receivers drain the buffer then get (None, False); blocked senders raise."""
        try:
            lock = self._lock
        except AttributeError:
            raise _not_chan(self, "close") from None
        lock.acquire()
        if self._closed:
            lock.release()
            raise ClosedChannelError("close of closed channel")
        self._closed = True
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
        return self

    def __anext__(self) -> Awaitable[T]:
        # mode 2 raises StopAsyncIteration at the end
        return self.recv(2)  # type: ignore[return-value]


# recv's `_mode` is how one body serves recv, recv_ok and `async for`; it is not
# part of the API, so help() and inspect show recv(self)
Chan.recv.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)],
    return_annotation="Awaitable[T | None]")


@types.coroutine
def nil_send() -> Any:
    yield from park_forever(waitReasonChanSendNilChan)


@types.coroutine
def nil_recv() -> Any:
    yield from park_forever(waitReasonChanReceiveNilChan)


# The C twins (gort/_accel.c), unless GORT_PUREPY=1 or the module was not built:
# the same channel, its operations as C awaitables.
from .accel import C  # noqa: E402

if C is not None and not TYPE_CHECKING:
    C.configure(ClosedChannelError=ClosedChannelError)
    Chan = C.Chan                            # noqa: F811
    Sudog = C.Sudog                          # noqa: F811
    SelSudog = C.SelSudog                    # noqa: F811
