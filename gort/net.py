"""net: Go's net package on gort's netpoller (net/*.go, internal/poll/fd_unix.go,
runtime/netpoll.go).

Blocking-style I/O without a thread per connection: every socket is
non-blocking and registered once with the program's epoll (edge-triggered).
An operation tries the system call first; on EAGAIN the goroutine parks in
"IO wait" on the socket's pollDesc, the M runs other goroutines, the
scheduler's netpoll readies it when epoll reports the socket, and it retries.

    async def handle(conn):
        async with conn:
            while data := await conn.read():
                await conn.write(data)

    async def main():
        ln = gort.net.listen("tcp", "127.0.0.1:8080")
        while True:
            gort.go(handle, await ln.accept())

Layers as in Go: `_FD` is internal/poll's FD with its fdMutex (reference
counts, one reader and one writer at a time, close that wakes everyone and
leaves the actual close to the last user) and netpoll.PollDesc underneath;
`Conn`, `Listener` and `PacketConn` are the net package's types.

Where gort differs from Go, and why:
- `close()` is idempotent (Python's socket.close is; Go returns an error the
  second time) and does not wait for a goroutine still inside a system call
  on the socket: that goroutine closes it when it leaves (Go's Close sleeps on
  a semaphore for it; a sync `close()` cannot park).
- After a stream read that returned less than asked for (it likely drained
  the socket), the next read asks poll(2) with a zero timeout before trying
  recv: "nothing there" then costs 0.4 µs instead of the 1.2 µs of an EAGAIN
  raised as BlockingIOError (a sixth of an echo request).  Anything readable
  (data, EOF, an error) shows in poll, so a read that can be satisfied at
  once still never parks; what arrives later raises an epoll edge.  Go just
  tries the call (cheap in Go).
- Name resolution runs `socket.getaddrinfo` in `gort.syscall` (Go's cgo
  resolver path); `listen` and `listen_packet` are not async, so they call it
  directly (a slow lookup is then treated as an unmarked blocking call).
- TCP keep-alive is not switched on by default (Go enables it at 15 s).
"""
from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
import types
from collections import deque
from typing import Any, Generator, NamedTuple, NoReturn, Optional, TypeVar, Union

from . import netpoll
from .g import preempt_flag, waitReasonIOWait, waitReasonSemacquire
from .netpoll import _READY, POLL_ERR_CLOSING, POLL_ERR_TIMEOUT, PollDesc, poll_wait
from .proc import _nogo, _tls, preempt_point, ready
from .syscall import syscall

__all__ = [
    "listen", "dial", "listen_packet", "Conn", "Listener", "PacketConn",
    "TLSConn", "tls_client", "tls_server",
    "ErrClosed", "DeadlineExceeded", "AddrError", "UnknownNetworkError",
    "TCPAddr", "UDPAddr", "UnixAddr", "split_host_port", "join_host_port",
]

_monotonic = time.monotonic
_SOCK_FLAGS = getattr(socket, "SOCK_NONBLOCK", 0) | getattr(socket, "SOCK_CLOEXEC", 0)


# ---------------------------------------------------------------- errors

class ErrClosed(OSError):
    """Use of a closed connection or listener (Go's net.ErrClosed).

    Raised by an operation on a closed Conn, Listener or PacketConn, and by one
    that was parked when another goroutine closed it."""


class DeadlineExceeded(TimeoutError):
    """A read or write deadline passed (Go's os.ErrDeadlineExceeded, "i/o timeout").

    The connection stays usable: set a later deadline (or None) and retry."""


class AddrError(OSError, ValueError):
    """A malformed or unusable address (Go's net.AddrError)."""


class UnknownNetworkError(AddrError):
    """A network name other than tcp, tcp4, tcp6, udp, udp4, udp6 or unix."""


_E = TypeVar("_E", bound=BaseException)


def _with(e: _E, **attrs: Any) -> _E:
    for k, v in attrs.items():
        setattr(e, k, v)
    return e


# ---------------------------------------------------------------- addresses

class TCPAddr(NamedTuple):
    """A TCP endpoint; a (host, port) tuple whose str() is Go's "host:port"."""

    host: str
    port: int

    @property
    def network(self) -> str:
        return "tcp"

    def __str__(self) -> str:
        return join_host_port(self.host, self.port)


class UDPAddr(NamedTuple):
    """A UDP endpoint; a (host, port) tuple whose str() is Go's "host:port"."""

    host: str
    port: int

    @property
    def network(self) -> str:
        return "udp"

    def __str__(self) -> str:
        return join_host_port(self.host, self.port)


class UnixAddr(NamedTuple):
    """A Unix socket path ("@name" for the abstract namespace, as Go writes it)."""

    name: str

    @property
    def network(self) -> str:
        return "unix"

    def __str__(self) -> str:
        return self.name


Addr = Union[TCPAddr, UDPAddr, UnixAddr]
AddressLike = Union[str, tuple[Any, ...], TCPAddr, UDPAddr, UnixAddr, bytes]


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's net.SplitHostPort: "host:port", "[v6]:port", ":port" -> (host, port)."""
    def bad(why: str) -> AddrError:
        return _with(AddrError(f"address {hostport}: {why}"), addr=hostport)
    i = hostport.rfind(":")
    if i < 0:
        raise bad("missing port in address")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise bad("missing ']' in address")
        if end + 1 == len(hostport):
            raise bad("missing port in address")
        if end + 1 != i:
            raise bad("too many colons in address" if hostport[end + 1] == ":"
                      else "missing port in address")
        host = hostport[1:end]
        if "[" in host[1:] or "]" in hostport[end + 1:]:
            raise bad("unexpected '[' or ']' in address")
    else:
        host = hostport[:i]
        if ":" in host:
            raise bad("too many colons in address")
        if "[" in host:
            raise bad("unexpected '[' in address")
        if "]" in host:
            raise bad("unexpected ']' in address")
    port = hostport[i + 1:]
    if "[" in port or "]" in port:
        raise bad("unexpected '[' or ']' in address")
    return host, port


def join_host_port(host: str, port: Union[int, str]) -> str:
    """Go's net.JoinHostPort: brackets around a host that holds a colon (IPv6)."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


_NETS = {
    # network -> (socket type, address family (0: either), the base name)
    "tcp": (socket.SOCK_STREAM, 0, "tcp"),
    "tcp4": (socket.SOCK_STREAM, socket.AF_INET, "tcp"),
    "tcp6": (socket.SOCK_STREAM, socket.AF_INET6, "tcp"),
    "udp": (socket.SOCK_DGRAM, 0, "udp"),
    "udp4": (socket.SOCK_DGRAM, socket.AF_INET, "udp"),
    "udp6": (socket.SOCK_DGRAM, socket.AF_INET6, "udp"),
    "unix": (socket.SOCK_STREAM, socket.AF_UNIX, "unix"),
}


def _network(op: str, network: str, allowed: tuple[str, ...]) -> tuple[int, int, str]:
    if not isinstance(network, str) or network not in allowed:
        raise _with(UnknownNetworkError(f"{op} {network}: unknown network {network}"), net=network)
    return _NETS[network]


def _parse_port(network: str, port: Any, addr: Any) -> int:
    """A port number, or a service name looked up in /etc/services (Go's LookupPort)."""
    if isinstance(port, bool):
        port = None
    if isinstance(port, int):
        p = port
    elif isinstance(port, str) and port.isdigit():
        p = int(port)
    elif isinstance(port, str) and port == "":
        p = 0                           # Go: "host:" is port 0
    elif isinstance(port, str):
        try:
            p = socket.getservbyname(port, "udp" if network.startswith("udp") else "tcp")
        except OSError:
            raise _with(AddrError(f"address {addr}: unknown port"), addr=str(addr)) from None
    else:
        raise _with(AddrError(f"address {addr!r}: invalid port"), addr=str(addr))
    if not 0 <= p <= 65535:
        raise _with(AddrError(f"address {addr}: invalid port"), addr=str(addr))
    return p


def _host_port(network: str, address: Any) -> tuple[str, int]:
    if isinstance(address, str):
        host, ps = split_host_port(address)
        return host, _parse_port(network, ps, address)
    if isinstance(address, tuple) and len(address) in (2, 4) and isinstance(address[0], str):
        host = address[0]
        if len(address) == 4 and address[3]:
            host = f"{host}%{address[3]}"
        return host, _parse_port(network, address[1], join_host_port(address[0], str(address[1])))
    raise _with(AddrError(f"invalid address {address!r} for network {network}: "
                          "want \"host:port\" or (host, port)"), addr=repr(address))


def _literal(host: str, port: int, family: int) -> Optional[list[tuple[int, Any]]]:
    """A numeric IPv4/IPv6 host as sockaddrs without a lookup; None if it is a name."""
    h, _, zone = host.partition("%")
    try:
        socket.inet_pton(socket.AF_INET, h)
    except (OSError, ValueError):
        pass
    else:
        if zone or family == socket.AF_INET6:
            return []
        return [(socket.AF_INET, (h, port))]
    try:
        socket.inet_pton(socket.AF_INET6, h)
    except (OSError, ValueError):
        return None
    if family == socket.AF_INET:
        return []
    scope = 0
    if zone:
        try:
            scope = int(zone) if zone.isdigit() else socket.if_nametoindex(zone)
        except OSError:
            return []
    return [(socket.AF_INET6, (h, port, 0, scope))]


def _wildcard(family: int, port: int, passive: bool) -> list[tuple[int, Any]]:
    """An empty host: any address when listening; the local system when dialing (as Go)."""
    v4 = (socket.AF_INET, ("0.0.0.0" if passive else "127.0.0.1", port))
    v6 = (socket.AF_INET6, ("::" if passive else "::1", port, 0, 0))
    if family == socket.AF_INET:
        return [v4]
    if family == socket.AF_INET6:
        return [v6]
    if passive and socket.has_ipv6 and _ipv6_ok():
        return [v6]                 # dual-stack (IPV6_V6ONLY off), as Go's "tcp" ":port"
    return [v4]


_ipv6_state: list[Optional[bool]] = [None]


def _ipv6_ok() -> bool:
    if _ipv6_state[0] is None:
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                s.bind(("::1", 0))
                ok = True
            finally:
                s.close()
        except OSError:
            ok = False
        _ipv6_state[0] = ok
    return bool(_ipv6_state[0])


def _addr_parts(net: str, address: Any, passive: bool) -> tuple[str, int, Optional[list[tuple[int, Any]]]]:
    """(host, port, sockaddrs or None when the host needs a lookup)."""
    sotype, family, base = _NETS[net]
    host, port = _host_port(net, address)
    if host == "":
        return host, port, _wildcard(family, port, passive)
    return host, port, _literal(host, port, family)


def _from_infos(infos: list[tuple[Any, ...]], family: int) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for fam, _t, _p, _c, sa in infos:
        if family and fam != family:
            continue
        if fam not in (socket.AF_INET, socket.AF_INET6):
            continue
        if (fam, sa) not in out:
            out.append((fam, sa))
    return out


def _no_address(net: str, host: str) -> AddrError:
    return _with(AddrError(f"address {host}: no suitable address found for {net}"), addr=host)


def _lookup_error(host: str, e: OSError) -> OSError:
    return _with(type(e)(e.errno, f"lookup {host}: {e.strerror}"), addr=host)


def _resolve_sync(net: str, address: Any, passive: bool) -> list[tuple[int, Any]]:
    sotype, family, _ = _NETS[net]
    host, port, addrs = _addr_parts(net, address, passive)
    if addrs is None:
        try:
            infos = socket.getaddrinfo(host, port, family, sotype, 0,
                                       socket.AI_PASSIVE if passive else 0)
        except OSError as e:
            raise _lookup_error(host, e) from None
        addrs = _from_infos(infos, family)
    if not addrs:
        raise _no_address(net, host)
    return addrs


async def _resolve(net: str, address: Any) -> list[tuple[int, Any]]:
    sotype, family, _ = _NETS[net]
    host, port, addrs = _addr_parts(net, address, False)
    if addrs is None:
        try:
            infos = await syscall(socket.getaddrinfo, host, port, family, sotype)
        except OSError as e:
            raise _lookup_error(host, e) from None
        addrs = _from_infos(infos, family)
    if not addrs:
        raise _no_address(net, host)
    return addrs


def _unix_path(address: Any) -> Union[str, bytes]:
    if isinstance(address, UnixAddr):
        address = address.name
    if isinstance(address, os.PathLike):
        address = os.fspath(address)
    if isinstance(address, bytes):
        return address
    if not isinstance(address, str) or address == "":
        raise _with(AddrError(f"invalid unix address {address!r}"), addr=repr(address))
    if address.startswith("@"):     # Go's spelling of the abstract namespace
        return "\0" + address[1:]
    return address


def _sockaddr(base: str, sa: Any) -> Optional[Addr]:
    """A socket address as the package's Addr type."""
    if base == "unix":
        if isinstance(sa, bytes):
            sa = sa.decode("utf-8", "surrogateescape")
        if sa.startswith("\0"):
            sa = "@" + sa[1:]
        return UnixAddr(sa)
    if not isinstance(sa, tuple):
        return None
    host = sa[0]
    if len(sa) == 4 and sa[3]:
        try:
            host = f"{host}%{socket.if_indextoname(sa[3])}"
        except OSError:
            host = f"{host}%{sa[3]}"
    return TCPAddr(host, sa[1]) if base == "tcp" else UDPAddr(host, sa[1])


def _fmt(sa: Any) -> str:
    if isinstance(sa, tuple):
        return join_host_port(sa[0], sa[1])
    if isinstance(sa, bytes):
        sa = sa.decode("utf-8", "surrogateescape")
    return "@" + sa[1:] if isinstance(sa, str) and sa.startswith("\0") else str(sa)


def _curm(what: str) -> Any:
    m = _tls.m
    if m is None or m.sched.exiting:
        raise _nogo(what)
    return m


# ---------------------------------------------------------------- the FD

class _FD:
    """internal/poll's FD (plus netFD's addresses): a socket, its pollDesc and
    the fdMutex.

    The fdMutex's state word is the fields under `mu` (Python has no CAS):
    `refs` counts the goroutines inside an operation, `rbusy`/`wbusy` are the
    read and write locks (one reader and one writer at a time; others park on
    `rq`/`wq`), `closing` fails every later lock.  The socket itself is closed
    by whoever drops the last reference after `close` (Go's destroy), so its
    number is never reused while a goroutine may still pass it to the kernel.
    """

    __slots__ = ("sock", "sysfd", "pd", "mu", "refs", "closing", "rbusy", "wbusy",
                 "rq", "wq", "net", "laddr", "raddr", "rshort", "stream", "unlink", "rpoll")

    def __init__(self, sock: socket.socket, net: str, laddr: Optional[Addr] = None,
                 raddr: Optional[Addr] = None, unlink: Any = None) -> None:
        self.sock = sock
        self.sysfd = sock.fileno()
        self.net = net
        self.laddr = laddr
        self.raddr = raddr
        self.unlink = unlink          # a Unix listener's path, removed on close (as Go)
        self.stream = sock.type == socket.SOCK_STREAM
        self.mu = threading.Lock()
        self.refs = 0
        self.closing = False
        self.rbusy = False
        self.wbusy = False
        self.rq: deque[Any] = deque()
        self.wq: deque[Any] = deque()
        self.rshort = False           # the last stream read was short: the socket is likely drained
        self.rpoll: Any = None        # poll(2) for that case, made on first use (make_rpoll)
        m = _tls.m
        s = m.sched if m is not None else None
        if s is None or s.exiting:
            raise _nogo("gort.net")
        self.pd: PollDesc = s.poller.open_fd(self.sysfd)

    # -- fdMutex --------------------------------------------------------------
    def rwlock_slow(self, read: bool, op: str) -> Any:
        """rwlock when the fast path saw the lock taken or the fd closing: park
        until rwunlock wakes the first waiter, which then tries again (as Go's
        fdMutex, a newcomer may get there first).  A generator body."""
        mu = self.mu
        while True:
            mu.acquire()
            if self.closing:
                mu.release()
                raise self.closed_error(op)
            if read:
                if not self.rbusy:
                    self.rbusy = True
                    self.refs += 1
                    mu.release()
                    return
                q = self.rq
            else:
                if not self.wbusy:
                    self.wbusy = True
                    self.refs += 1
                    mu.release()
                    return
                q = self.wq
            m = _tls.m
            if m is None or m.curg is None:
                mu.release()
                raise _nogo("a gort network operation")
            gp = m.curg
            q.append(gp)
            gp.waitreason = waitReasonSemacquire
            yield mu.release          # readied by rwunlock or close

    def rwunlock(self, read: bool) -> None:
        mu = self.mu
        mu.acquire()
        if read:
            self.rbusy = False
            q = self.rq
        else:
            self.wbusy = False
            q = self.wq
        self.refs -= 1
        gp = q.popleft() if q else None
        last = self.closing and self.refs == 0
        mu.release()
        if gp is not None:
            ready(gp)
        if last:
            self.destroy()

    def unlocked(self, q: deque[Any]) -> None:
        """The rest of rwunlock, entered with mu held (the busy flag and the
        reference already dropped): hand over to the next waiter, close the
        socket if this was the last user after close."""
        gp = q.popleft() if q else None
        last = self.closing and self.refs == 0
        self.mu.release()
        if gp is not None:
            ready(gp)
        if last:
            self.destroy()

    def make_rpoll(self) -> Any:
        """A poll(2) on this fd alone, for "is anything (data, EOF, an error) there
        now?" with a zero timeout: its bound poll method (read lock held)."""
        p = select.poll()
        p.register(self.sysfd, select.POLLIN | select.POLLPRI)
        self.rpoll = p.poll
        return self.rpoll

    def incref(self, op: str) -> None:
        mu = self.mu
        mu.acquire()
        if self.closing:
            mu.release()
            raise self.closed_error(op)
        self.refs += 1
        mu.release()

    def decref(self) -> None:
        mu = self.mu
        mu.acquire()
        self.refs -= 1
        last = self.closing and self.refs == 0
        mu.release()
        if last:
            self.destroy()

    def close(self) -> bool:
        """increfAndClose + pd.evict + decref.  False if it was already closed."""
        mu = self.mu
        mu.acquire()
        if self.closing:
            mu.release()
            return False
        self.closing = True
        waiters = list(self.rq) + list(self.wq)
        self.rq.clear()
        self.wq.clear()
        last = self.refs == 0
        mu.release()
        if self.pd.poller.ep is not None:   # (after gort.run returned its Gs are gone)
            for gp in waiters:        # they see `closing` and raise ErrClosed
                ready(gp)
        self.pd.poller.unblock(self.pd)   # wakes those parked in IO wait
        if last:
            self.destroy()
        return True

    def destroy(self) -> None:
        """The last reference is gone: forget the fd in epoll, then close it."""
        self.pd.poller.close_fd(self.pd)
        try:
            self.sock.close()
        except OSError:
            pass
        if self.unlink is not None:
            try:
                os.unlink(self.unlink)
            except OSError:
                pass

    # -- errors -----------------------------------------------------------------
    def _where(self) -> str:
        la = self.laddr if self.laddr is not None and str(self.laddr) else None
        ra = self.raddr if self.raddr is not None and str(self.raddr) else None
        if ra is not None and la is not None:
            return f"{self.net} {la}->{ra}"
        if ra is not None:
            return f"{self.net} {ra}"
        if la is not None:
            return f"{self.net} {la}"
        return self.net

    def closed_error(self, op: str) -> ErrClosed:
        return ErrClosed(errno.EBADF, f"{op} {self._where()}: use of closed network connection")

    def poll_error(self, code: int, op: str) -> OSError:
        """internal/poll convertErr: closing -> ErrClosed, timeout -> DeadlineExceeded."""
        if code == POLL_ERR_CLOSING:
            return self.closed_error(op)
        return DeadlineExceeded(errno.ETIMEDOUT, f"{op} {self._where()}: i/o timeout")

    def wait_error(self, pd: PollDesc, mode: str, v: Any, op: str) -> OSError:
        """Why an inline netpollblock could not park (pd.lock was held when v was read)."""
        if pd.closing:
            return self.closed_error(op)
        if (pd.rd if mode == "r" else pd.wd) < 0:
            return self.poll_error(POLL_ERR_TIMEOUT, op)
        return RuntimeError(f"runtime: double wait on {pd!r} (G{getattr(v, 'goid', '?')})")  # type: ignore[return-value]

    def op_error(self, op: str, e: OSError) -> OSError:
        """Go's OpError: the same OSError subclass, with the operation and addresses."""
        if isinstance(e, (ErrClosed, DeadlineExceeded)):
            return e
        if e.errno is None:
            return e
        err = OSError(e.errno, f"{op} {self._where()}: {e.strerror or os.strerror(e.errno)}")
        err.__cause__ = e
        return _with(err, op=op)

    # -- deadlines ----------------------------------------------------------------
    def set_deadline(self, t: Optional[float], mode: str) -> None:
        # no fdMutex reference (Go takes one): only the pollDesc is touched,
        # and it outlives close (its closing flag makes this a no-op then)
        if self.closing:
            raise self.closed_error("set deadline")
        netpoll.set_deadline(self.pd, t, mode)


def _no_curg(lock: Any) -> NoReturn:
    """A park outside a goroutine: release lock and raise."""
    lock.release()
    raise _nogo("a blocking gort network operation")


@types.coroutine
def _pollwait(pd: PollDesc, mode: str) -> Any:
    """An awaitable pd.waitRead / pd.waitWrite (for the async def paths)."""
    return (yield from poll_wait(pd, mode))


def _check_deadline(t: Any) -> None:
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))):
        raise TypeError(f"deadline must be a time.monotonic() value or None, not {type(t).__name__}")


# ---------------------------------------------------------------- Conn

class Conn:
    """A stream connection (Go's net.Conn: TCPConn, UnixConn; also a connected UDP socket).

    `read`/`read_into` return as soon as some data is there (b"" / 0 at EOF);
    `write` writes everything.  One reader and one writer may run at the same
    time; more concurrent readers (or writers) take turns.  `close` wakes
    parked readers and writers with ErrClosed.  Deadlines are time.monotonic()
    instants; an operation that reaches one raises DeadlineExceeded.
    """

    __slots__ = ("_fd", "__weakref__")

    def __init__(self, fd: _FD) -> None:
        self._fd = fd

    @classmethod
    def from_socket(cls, sock: socket.socket) -> "Conn":
        """Adopt a connected socket (made non-blocking); the Conn owns it from now on."""
        if not isinstance(sock, socket.socket):
            raise TypeError(f"Conn.from_socket wants a socket.socket, not {type(sock).__name__}")
        fam = sock.family
        if fam == socket.AF_UNIX:
            base = "unix"
        elif sock.type == socket.SOCK_DGRAM:
            base = "udp"
        else:
            base = "tcp"
        sock.setblocking(False)
        try:
            la = _sockaddr(base, sock.getsockname())
        except OSError:
            la = None
        try:
            ra = _sockaddr(base, sock.getpeername())
        except OSError:
            ra = None
        return cls(_FD(sock, base, la, ra))

    # -- addresses --------------------------------------------------------------
    @property
    def local_addr(self) -> Optional[Addr]:
        """The local address (TCPAddr, UnixAddr or UDPAddr)."""
        return self._fd.laddr

    @property
    def remote_addr(self) -> Optional[Addr]:
        """The peer's address."""
        return self._fd.raddr

    def fileno(self) -> int:
        """The socket's descriptor (-1 once closed)."""
        return -1 if self._fd.closing else self._fd.sysfd

    # -- reading ----------------------------------------------------------------
    # read, read_into and write are FD.Read / FD.Write with the fdMutex's fast
    # path, pollWait and netpollblock written out in one frame: they run once
    # per request, and every generator level costs on each park and resume.
    @types.coroutine
    def read(self, n: int = 65536) -> Generator[Any, Any, bytes]:
        """Read up to n bytes: what is there now, else park until some arrives.

        b"" at EOF.  Raises ErrClosed, DeadlineExceeded, or the socket's
        OSError (ConnectionResetError, ...) with the addresses in its message."""
        fd = self._fd
        mu = fd.mu
        mu.acquire()                                  # readLock
        if fd.rbusy or fd.closing:
            mu.release()
            yield from fd.rwlock_slow(True, "read")
        else:
            fd.rbusy = True
            fd.refs += 1
            mu.release()
        try:
            pd = fd.pd
            if pd.rd < 0:                             # prepareRead
                raise fd.poll_error(POLL_ERR_TIMEOUT, "read")
            recv = fd.sock.recv
            # after a short read the socket is likely empty: ask poll(0), cheaper
            # than an EAGAIN exception (a pending epoll readiness says yes already)
            try_io = True
            if fd.rshort and pd.rg is not _READY:
                rpoll = fd.rpoll
                if rpoll is None:
                    rpoll = fd.make_rpoll()
                try_io = bool(rpoll(0))
            while True:
                if try_io:
                    try:
                        data = recv(n)
                        break
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        fd.rshort = False
                        raise fd.op_error("read", e) from None
                try_io = True
                # pollWait / netpollblock (see netpoll.block)
                lock = pd.lock
                lock.acquire()
                v = pd.rg
                if v is _READY:
                    pd.rg = None
                    lock.release()
                    continue
                if pd.closing or pd.rd < 0 or v is not None:
                    lock.release()
                    fd.rshort = False
                    raise fd.wait_error(pd, "r", v, "read")
                m = _tls.m
                gp = m.curg if m is not None else None
                if gp is None:
                    _no_curg(lock)
                pd.rg = gp
                gp.param = None
                gp.waitreason = waitReasonIOWait
                poller = pd.poller
                poller.lock.acquire()
                poller.waiters += 1
                poller.lock.release()
                yield lock.release
                if gp.param is not True:              # close or a deadline (netpollcheckerr),
                    if pd.closing or pd.rd < 0:       # else a deadline moved since: wait again
                        fd.rshort = False
                        raise fd.wait_error(pd, "r", None, "read")
                    try_io = False
            fd.rshort = fd.stream and 0 < len(data) < n
        finally:
            mu.acquire()                              # readUnlock
            fd.rbusy = False
            fd.refs -= 1
            if fd.rq or fd.closing:
                fd.unlocked(fd.rq)
            else:
                mu.release()
        if preempt_flag[0]:
            yield from preempt_point()
        return data

    @types.coroutine
    def read_into(self, buffer: Any) -> Generator[Any, Any, int]:
        """Read into a writable buffer (bytearray, memoryview); the byte count, 0 at EOF."""
        fd = self._fd
        mu = fd.mu
        mu.acquire()
        if fd.rbusy or fd.closing:
            mu.release()
            yield from fd.rwlock_slow(True, "read")
        else:
            fd.rbusy = True
            fd.refs += 1
            mu.release()
        try:
            pd = fd.pd
            if pd.rd < 0:
                raise fd.poll_error(POLL_ERR_TIMEOUT, "read")
            recv_into = fd.sock.recv_into
            try_io = True
            if fd.rshort and pd.rg is not _READY:
                rpoll = fd.rpoll
                if rpoll is None:
                    rpoll = fd.make_rpoll()
                try_io = bool(rpoll(0))
            while True:
                if try_io:
                    try:
                        k = recv_into(buffer)
                        break
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        fd.rshort = False
                        raise fd.op_error("read", e) from None
                try_io = True
                lock = pd.lock
                lock.acquire()
                v = pd.rg
                if v is _READY:
                    pd.rg = None
                    lock.release()
                    continue
                if pd.closing or pd.rd < 0 or v is not None:
                    lock.release()
                    fd.rshort = False
                    raise fd.wait_error(pd, "r", v, "read")
                m = _tls.m
                gp = m.curg if m is not None else None
                if gp is None:
                    _no_curg(lock)
                pd.rg = gp
                gp.param = None
                gp.waitreason = waitReasonIOWait
                poller = pd.poller
                poller.lock.acquire()
                poller.waiters += 1
                poller.lock.release()
                yield lock.release
                if gp.param is not True:
                    if pd.closing or pd.rd < 0:
                        fd.rshort = False
                        raise fd.wait_error(pd, "r", None, "read")
                    try_io = False
            if fd.stream and k > 0:
                fd.rshort = k < (buffer.nbytes if type(buffer) is memoryview else len(buffer))
            else:
                fd.rshort = False
        finally:
            mu.acquire()
            fd.rbusy = False
            fd.refs -= 1
            if fd.rq or fd.closing:
                fd.unlocked(fd.rq)
            else:
                mu.release()
        if preempt_flag[0]:
            yield from preempt_point()
        return k

    # -- writing ----------------------------------------------------------------
    @types.coroutine
    def write(self, data: Any) -> Generator[Any, Any, int]:
        """Write all of data (bytes-like), parking while the peer does not read.

        Returns len(data).  On an error after a partial write the exception's
        `written` attribute says how much went out."""
        fd = self._fd
        mu = fd.mu
        mu.acquire()                                  # writeLock
        if fd.wbusy or fd.closing:
            mu.release()
            yield from fd.rwlock_slow(False, "write")
        else:
            fd.wbusy = True
            fd.refs += 1
            mu.release()
        n = 0
        try:
            pd = fd.pd
            if pd.wd < 0:                             # prepareWrite
                raise _with(fd.poll_error(POLL_ERR_TIMEOUT, "write"), written=0)
            if type(data) is bytes:
                total = len(data)
                mv = None
            else:
                mv = memoryview(data).cast("B")
                total = mv.nbytes
            send = fd.sock.send
            while n < total:
                try:
                    # as Go, a partial write is retried at once (it usually
                    # meets EAGAIN then); only EAGAIN parks
                    if mv is None:
                        n = send(data)
                        if n < total:
                            mv = memoryview(data)
                    else:
                        n += send(mv[n:])
                    continue
                except BlockingIOError:
                    pass
                except OSError as e:
                    raise _with(fd.op_error("write", e), written=n) from None
                lock = pd.lock
                lock.acquire()
                v = pd.wg
                if v is _READY:
                    pd.wg = None
                    lock.release()
                    continue
                if pd.closing or pd.wd < 0 or v is not None:
                    lock.release()
                    raise _with(fd.wait_error(pd, "w", v, "write"), written=n)
                m = _tls.m
                gp = m.curg if m is not None else None
                if gp is None:
                    _no_curg(lock)
                pd.wg = gp
                gp.param = None
                gp.waitreason = waitReasonIOWait
                poller = pd.poller
                poller.lock.acquire()
                poller.waiters += 1
                poller.lock.release()
                yield lock.release
                if gp.param is not True and (pd.closing or pd.wd < 0):
                    raise _with(fd.wait_error(pd, "w", None, "write"), written=n)
        finally:
            mu.acquire()                              # writeUnlock
            fd.wbusy = False
            fd.refs -= 1
            if fd.wq or fd.closing:
                fd.unlocked(fd.wq)
            else:
                mu.release()
        if preempt_flag[0]:
            yield from preempt_point()
        return total

    def _try_write_now(self, data: bytes) -> None:
        """Send data only if the socket takes it at once, never parking (TLS's
        close_notify from a sync close); skipped if a writer is busy."""
        fd = self._fd
        mu = fd.mu
        mu.acquire()
        if fd.wbusy or fd.closing:
            mu.release()
            return
        fd.wbusy = True
        fd.refs += 1
        mu.release()
        try:
            fd.sock.send(data)
        except OSError:
            pass
        finally:
            fd.rwunlock(False)

    # -- closing ----------------------------------------------------------------
    def close(self) -> None:
        """Close the connection; parked readers and writers raise ErrClosed.  Idempotent."""
        self._fd.close()

    def close_write(self) -> None:
        """Shut down the writing side (the peer reads EOF); reading goes on."""
        self._shutdown(socket.SHUT_WR, "close write")

    def close_read(self) -> None:
        """Shut down the reading side."""
        self._shutdown(socket.SHUT_RD, "close read")

    def _shutdown(self, how: int, op: str) -> None:
        fd = self._fd
        fd.incref(op)
        try:
            fd.sock.shutdown(how)
        except OSError as e:
            raise fd.op_error(op, e) from None
        finally:
            fd.decref()

    # -- deadlines ----------------------------------------------------------------
    def set_deadline(self, t: Optional[float]) -> None:
        """Read and write deadline: a time.monotonic() instant, None for none.

        A passed deadline fails pending and later operations with
        DeadlineExceeded until a new deadline is set."""
        _check_deadline(t)
        self._fd.set_deadline(t, "rw")

    def set_read_deadline(self, t: Optional[float]) -> None:
        """The read deadline alone (see set_deadline)."""
        _check_deadline(t)
        self._fd.set_deadline(t, "r")

    def set_write_deadline(self, t: Optional[float]) -> None:
        """The write deadline alone (see set_deadline)."""
        _check_deadline(t)
        self._fd.set_deadline(t, "w")

    # -- options ----------------------------------------------------------------
    def set_no_delay(self, flag: bool = True) -> None:
        """TCP_NODELAY (on by default, as in Go)."""
        self._setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(bool(flag)))

    def set_keep_alive(self, flag: bool = True) -> None:
        """SO_KEEPALIVE."""
        self._setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(bool(flag)))

    def _setsockopt(self, level: int, opt: int, v: int) -> None:
        fd = self._fd
        fd.incref("set")
        try:
            fd.sock.setsockopt(level, opt, v)
        except OSError as e:
            raise fd.op_error("set", e) from None
        finally:
            fd.decref()

    async def __aenter__(self) -> "Conn":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        st = " closed" if self._fd.closing else ""
        return f"<gort.net.Conn {self._fd._where()}{st}>"


# ---------------------------------------------------------------- Listener

class Listener:
    """A stream listener (Go's net.Listener: TCPListener, UnixListener)."""

    __slots__ = ("_fd", "__weakref__")

    def __init__(self, fd: _FD) -> None:
        self._fd = fd

    @property
    def addr(self) -> Optional[Addr]:
        """The address it listens on (with the port the kernel picked for port 0)."""
        return self._fd.laddr

    def fileno(self) -> int:
        """The listening socket's descriptor (-1 once closed)."""
        return -1 if self._fd.closing else self._fd.sysfd

    @types.coroutine
    def accept(self) -> Generator[Any, Any, Conn]:
        """Wait for and return the next connection; ErrClosed once the listener is closed."""
        fd = self._fd
        mu = fd.mu
        mu.acquire()
        if fd.rbusy or fd.closing:
            mu.release()
            yield from fd.rwlock_slow(True, "accept")
        else:
            fd.rbusy = True
            fd.refs += 1
            mu.release()
        try:
            pd = fd.pd
            if pd.rd < 0:
                raise fd.poll_error(POLL_ERR_TIMEOUT, "accept")
            acc = fd.sock._accept     # type: ignore[attr-defined]  # (fd, addr): no socket object yet
            while True:
                try:
                    sfd, sa = acc()
                    break
                except BlockingIOError:
                    pass
                except ConnectionAbortedError:
                    continue          # the peer gave up before we took it: next one (as Go)
                except OSError as e:
                    raise fd.op_error("accept", e) from None
                err = yield from poll_wait(pd, "r")
                if err:
                    raise fd.poll_error(err, "accept")
        finally:
            fd.rwunlock(True)
        ls = fd.sock
        try:
            s = socket.socket(ls.family, ls.type, ls.proto, sfd)
        except BaseException:
            os.close(sfd)
            raise
        try:
            s.setblocking(False)
            base = fd.net
            if base == "tcp":
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(_FD(s, base, _sockaddr(base, s.getsockname()), _sockaddr(base, sa)))
        except BaseException:
            s.close()
            raise
        if preempt_flag[0]:
            yield from preempt_point()
        return conn

    def close(self) -> None:
        """Stop listening; a parked accept raises ErrClosed.  Idempotent."""
        self._fd.close()

    def set_deadline(self, t: Optional[float]) -> None:
        """A deadline for accept (time.monotonic() instant, None for none)."""
        _check_deadline(t)
        self._fd.set_deadline(t, "r")

    async def __aenter__(self) -> "Listener":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        st = " closed" if self._fd.closing else ""
        return f"<gort.net.Listener {self._fd._where()}{st}>"


_somaxconn: list[int] = []


def _default_backlog() -> int:
    """Go's maxListenerBacklog: net.core.somaxconn, capped at 65535."""
    if not _somaxconn:
        n = socket.SOMAXCONN
        try:
            with open("/proc/sys/net/core/somaxconn") as f:
                n = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        _somaxconn.append(max(1, min(n, 65535)))
    return _somaxconn[0]


def listen(network: str, address: AddressLike, *, backlog: Optional[int] = None,
           reuse_port: bool = False) -> Listener:
    """Listen on a "tcp", "tcp4", "tcp6" or "unix" address (Go's net.Listen).

    address: "127.0.0.1:8080", "[::1]:0", ":0" (any address; port 0 picks a
    free port, see `ln.addr`), a (host, port) tuple, or a path for "unix"
    ("@name": abstract; the file is removed on close).  reuse_port sets
    SO_REUSEPORT so several processes can share the port.  Call it from a goroutine.
    """
    _curm("gort.net.listen")
    sotype, family, base = _network("listen", network, ("tcp", "tcp4", "tcp6", "unix"))
    if backlog is None:
        backlog = _default_backlog()
    if base == "unix":
        path = _unix_path(address)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | _SOCK_FLAGS)
        try:
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(path)
            sock.listen(backlog)
        except OSError as e:
            sock.close()
            raise _with(OSError(e.errno, f"listen unix {_fmt(path)}: {e.strerror}"), op="listen") from e
        abstract = (path[:1] == "\0") if isinstance(path, str) else (path[:1] == b"\0")
        try:
            fd = _FD(sock, "unix", _sockaddr("unix", sock.getsockname()),
                     unlink=None if abstract else path)
        except BaseException:
            sock.close()
            raise
        return Listener(fd)
    addrs = _resolve_sync(network, address, True)
    fam, sa = next((a for a in addrs if a[0] == socket.AF_INET), addrs[0])   # Go: first IPv4
    sock = socket.socket(fam, socket.SOCK_STREAM | _SOCK_FLAGS)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(network == "tcp6"))
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(sa)
        sock.listen(backlog)
    except OSError as e:
        sock.close()
        hint = ""
        if e.errno == errno.EADDRINUSE and not reuse_port and os.environ.get("GORT_WORKER") is not None:
            hint = " (the workers of `gort run --processes` share a port with reuse_port=True)"
        raise _with(OSError(e.errno, f"listen {base} {_fmt(sa)}: {e.strerror}{hint}"), op="listen") from e
    try:
        fd = _FD(sock, base, _sockaddr(base, sock.getsockname()))
    except BaseException:
        sock.close()
        raise
    return Listener(fd)


# ---------------------------------------------------------------- dial

def _partial_deadline(now: float, deadline: Optional[float], addrs_remaining: int) -> Optional[float]:
    """Go's partialDeadline: share the time left among the addresses still to try
    (each gets at least 2 s, unless less than that is left)."""
    if deadline is None:
        return None
    left = deadline - now
    if left <= 0:
        return deadline
    share = left / addrs_remaining
    if share < 2.0:
        share = min(2.0, left)
    return now + share


async def dial(network: str, address: AddressLike, *, timeout: Optional[float] = None) -> Conn:
    """Connect to address on a "tcp", "tcp4", "tcp6", "unix" or "udp" network (Go's net.Dial).

    A host name is looked up with getaddrinfo (in gort.syscall) and its
    addresses are tried in order.  timeout (seconds) bounds the whole dial:
    DeadlineExceeded when it passes.  Errors keep their OSError subclass
    (ConnectionRefusedError, ...) with the address in the message.
    """
    _curm("gort.net.dial")
    sotype, family, base = _network("dial", network, tuple(_NETS))
    deadline = None if timeout is None else _monotonic() + float(timeout)
    if base == "unix":
        path = _unix_path(address)
        return await _dial_one(base, socket.AF_UNIX, socket.SOCK_STREAM, path, deadline)
    addrs = await _resolve(network, address)
    first: Optional[BaseException] = None
    for i, (fam, sa) in enumerate(addrs):
        now = _monotonic()
        if deadline is not None and now >= deadline:
            break
        try:
            return await _dial_one(base, fam, sotype, sa,
                                   _partial_deadline(now, deadline, len(addrs) - i))
        except OSError as e:
            if first is None:
                first = e
    if first is None:
        raise DeadlineExceeded(errno.ETIMEDOUT, f"dial {base} {_fmt(addrs[0][1])}: i/o timeout")
    raise first


async def _dial_one(base: str, fam: int, sotype: int, sa: Any, deadline: Optional[float]) -> Conn:
    """socket + connect on one address (Go's netFD.connect): EINPROGRESS, then
    wait until writable and read SO_ERROR.  A TCP connection to itself (the
    kernel picked the target port as our own) is retried, as Go does."""
    for _attempt in range(3):
        sock = socket.socket(fam, sotype | _SOCK_FLAGS)
        try:
            fd = _FD(sock, base, raddr=_sockaddr(base, sa))
        except BaseException:
            sock.close()
            raise
        try:
            err = sock.connect_ex(sa)
            if err in (errno.EINPROGRESS, errno.EALREADY, errno.EINTR):
                if deadline is not None:
                    netpoll.set_deadline(fd.pd, deadline, "w")
                while True:
                    code = await _pollwait(fd.pd, "w")
                    if code:
                        raise _with(fd.poll_error(code, "dial"), op="dial")
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err in (errno.EINPROGRESS, errno.EALREADY, errno.EINTR):
                        continue
                    if err == errno.EISCONN:
                        err = 0
                    elif err == 0:
                        # the poller can wake us early (a fresh socket's
                        # registration reports HUP/OUT): really connected? (as Go)
                        try:
                            sock.getpeername()
                        except OSError:
                            continue
                    break
                if deadline is not None:
                    netpoll.set_deadline(fd.pd, None, "w")
            elif err == errno.EISCONN:
                err = 0
            if err:
                raise _with(OSError(err, f"dial {base} {_fmt(sa)}: connect: {os.strerror(err)}"),
                            op="dial", addr=_fmt(sa))
            try:
                fd.laddr = _sockaddr(base, sock.getsockname())
            except OSError:
                fd.laddr = None
            if base == "tcp":
                if fd.laddr is not None and fd.laddr == fd.raddr:
                    fd.close()        # selfConnect: try again with another local port
                    continue
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return Conn(fd)
        except BaseException:
            fd.close()
            raise
    raise OSError(errno.EADDRNOTAVAIL, f"dial {base} {_fmt(sa)}: connected to itself")


# ---------------------------------------------------------------- PacketConn

class PacketConn:
    """A datagram socket (Go's net.PacketConn: UDPConn from listen_packet)."""

    __slots__ = ("_fd", "__weakref__")

    def __init__(self, fd: _FD) -> None:
        self._fd = fd

    @property
    def local_addr(self) -> Optional[Addr]:
        """The address it is bound to."""
        return self._fd.laddr

    def fileno(self) -> int:
        """The socket's descriptor (-1 once closed)."""
        return -1 if self._fd.closing else self._fd.sysfd

    @types.coroutine
    def read_from(self, n: int = 65536) -> Generator[Any, Any, tuple[bytes, Optional[Addr]]]:
        """Receive one datagram (up to n bytes; the rest of a longer one is lost): (data, sender)."""
        fd = self._fd
        mu = fd.mu
        mu.acquire()
        if fd.rbusy or fd.closing:
            mu.release()
            yield from fd.rwlock_slow(True, "read")
        else:
            fd.rbusy = True
            fd.refs += 1
            mu.release()
        try:
            pd = fd.pd
            if pd.rd < 0:
                raise fd.poll_error(POLL_ERR_TIMEOUT, "read")
            recvfrom = fd.sock.recvfrom
            while True:
                try:
                    data, sa = recvfrom(n)
                    break
                except BlockingIOError:
                    pass
                except OSError as e:
                    raise fd.op_error("read", e) from None
                err = yield from poll_wait(pd, "r")
                if err:
                    raise fd.poll_error(err, "read")
        finally:
            fd.rwunlock(True)
        if preempt_flag[0]:
            yield from preempt_point()
        return data, _sockaddr(fd.net, sa)

    async def write_to(self, data: Any, addr: AddressLike) -> int:
        """Send data as one datagram to addr ("host:port", (host, port) or a UDPAddr)."""
        fd = self._fd
        if isinstance(addr, (TCPAddr, UDPAddr)):
            addr = tuple(addr)
        net = {socket.AF_INET: "udp4", socket.AF_INET6: "udp6"}.get(fd.sock.family, "udp")
        host, port, addrs = _addr_parts(net, addr, False)
        if addrs is None:
            addrs = await _resolve(net, addr)
        if not addrs:
            raise _no_address(net, host)
        sa = addrs[0][1]
        if fd.sock.family == socket.AF_INET6 and addrs[0][0] == socket.AF_INET:
            sa = ("::ffff:" + sa[0], sa[1], 0, 0)
        return await self._sendto(data, sa)

    @types.coroutine
    def _sendto(self, data: Any, sa: Any) -> Generator[Any, Any, int]:
        fd = self._fd
        mu = fd.mu
        mu.acquire()
        if fd.wbusy or fd.closing:
            mu.release()
            yield from fd.rwlock_slow(False, "write")
        else:
            fd.wbusy = True
            fd.refs += 1
            mu.release()
        try:
            pd = fd.pd
            if pd.wd < 0:
                raise fd.poll_error(POLL_ERR_TIMEOUT, "write")
            sendto = fd.sock.sendto
            while True:
                try:
                    k = sendto(data, sa)
                    break
                except BlockingIOError:
                    pass
                except OSError as e:
                    raise fd.op_error("write", e) from None
                err = yield from poll_wait(pd, "w")
                if err:
                    raise fd.poll_error(err, "write")
        finally:
            fd.rwunlock(False)
        if preempt_flag[0]:
            yield from preempt_point()
        return k

    def close(self) -> None:
        """Close; parked read_from/write_to raise ErrClosed.  Idempotent."""
        self._fd.close()

    def set_deadline(self, t: Optional[float]) -> None:
        """Read and write deadline (time.monotonic() instant, None for none)."""
        _check_deadline(t)
        self._fd.set_deadline(t, "rw")

    def set_read_deadline(self, t: Optional[float]) -> None:
        """The read deadline alone."""
        _check_deadline(t)
        self._fd.set_deadline(t, "r")

    def set_write_deadline(self, t: Optional[float]) -> None:
        """The write deadline alone."""
        _check_deadline(t)
        self._fd.set_deadline(t, "w")

    async def __aenter__(self) -> "PacketConn":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        st = " closed" if self._fd.closing else ""
        return f"<gort.net.PacketConn {self._fd._where()}{st}>"


def listen_packet(network: str, address: AddressLike) -> PacketConn:
    """A datagram socket bound to a "udp", "udp4" or "udp6" address (Go's net.ListenPacket)."""
    _curm("gort.net.listen_packet")
    sotype, family, base = _network("listen", network, ("udp", "udp4", "udp6"))
    addrs = _resolve_sync(network, address, True)
    fam, sa = next((a for a in addrs if a[0] == socket.AF_INET), addrs[0])
    sock = socket.socket(fam, socket.SOCK_DGRAM | _SOCK_FLAGS)
    try:
        if fam == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(network == "udp6"))
        sock.bind(sa)
    except OSError as e:
        sock.close()
        raise _with(OSError(e.errno, f"listen {base} {_fmt(sa)}: {e.strerror}"), op="listen") from e
    try:
        fd = _FD(sock, base, _sockaddr(base, sock.getsockname()))
    except BaseException:
        sock.close()
        raise
    return PacketConn(fd)


# ---------------------------------------------------------------- TLS

from ._tls import TLSConn, tls_client, tls_server  # noqa: E402  (uses Conn above)
