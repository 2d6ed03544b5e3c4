"""TLS over a gort.net.Conn (Go's crypto/tls Conn, on Python's ssl.SSLObject).

No blocking ssl socket: an `ssl.SSLObject` works between two `ssl.MemoryBIO`s
and the goroutine moves the bytes with the Conn's parking read and write.
As in Go, one reader and one writer at a time (gort Mutexes held across a
park: Go's in/out mutexes); the SSLObject itself is touched only under a
short threading lock, never across a park, since the reader and the writer
may run on two threads at once.  A reader that must send something (a TLS 1.3
key update answer) takes the writer's mutex to keep the records in order, as
Go's readRecord does.

Reaching EOF without the peer's close_notify returns b"" (Python's
suppress_ragged_eofs default; Go reports io.ErrUnexpectedEOF).  `close` sends
close_notify if it can do so at once (a sync close cannot park; Go waits up
to 5 s), then closes the Conn.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Optional

from .sync import Mutex

if TYPE_CHECKING:
    import ssl

    from .net import Addr, Conn

READ_SIZE = 65536          # bytes taken from the Conn per read (records are <= 16 KB + overhead)
WRITE_CHUNK = 256 * 1024   # plaintext encrypted per step of a large write


class TLSConn:
    """A TLS connection over a Conn, with the Conn's API (read, read_into,
    write, close, deadlines, addresses, `async with`)."""

    __slots__ = ("_conn", "_obj", "_in", "_out", "_lock", "_rmu", "_wmu", "_closed", "__weakref__")

    def __init__(self, conn: "Conn", ctx: "ssl.SSLContext", server_side: bool,
                 server_hostname: Optional[str]) -> None:
        import ssl
        self._conn = conn
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_side=server_side,
                                 server_hostname=server_hostname)
        self._lock = threading.Lock()
        self._rmu = Mutex()
        self._wmu = Mutex()
        self._closed = False

    # -- plumbing ---------------------------------------------------------------
    async def _flush(self) -> None:
        """Send what the SSLObject produced (the write mutex held)."""
        while True:
            with self._lock:
                data = self._out.read()
            if not data:
                return
            await self._conn.write(data)

    async def _fill(self) -> None:
        """Feed the SSLObject with what the Conn has (EOF -> write_eof)."""
        data = await self._conn.read(READ_SIZE)
        with self._lock:
            if data:
                self._in.write(data)
            else:
                self._in.write_eof()

    async def _handshake(self) -> None:
        import ssl
        async with self._rmu:
            async with self._wmu:
                while True:
                    with self._lock:
                        try:
                            self._obj.do_handshake()
                            done = True
                        except ssl.SSLWantReadError:
                            done = False
                    await self._flush()
                    if done:
                        return
                    await self._fill()

    async def _read(self, n: int, buffer: Any) -> Any:
        import ssl
        if n <= 0:
            return 0 if buffer is not None else b""
        async with self._rmu:
            while True:
                data: Any
                with self._lock:
                    try:
                        data = self._obj.read(n, buffer) if buffer is not None else self._obj.read(n)
                    except ssl.SSLWantReadError:
                        data = None
                    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                        data = 0 if buffer is not None else b""
                    pending = self._out.pending
                if pending:
                    async with self._wmu:
                        await self._flush()
                if data is not None:
                    return data
                await self._fill()

    # -- the Conn API -------------------------------------------------------------
    async def read(self, n: int = 65536) -> bytes:
        """Read up to n bytes of plaintext (b"" at EOF)."""
        return await self._read(n, None)  # type: ignore[no-any-return]

    async def read_into(self, buffer: Any) -> int:
        """Read plaintext into a writable buffer; the byte count, 0 at EOF."""
        n = buffer.nbytes if isinstance(buffer, memoryview) else len(buffer)
        return await self._read(n, buffer)  # type: ignore[no-any-return]

    async def write(self, data: Any) -> int:
        """Encrypt and write all of data; returns its length."""
        mv = memoryview(data).cast("B")
        total = mv.nbytes
        async with self._wmu:
            for i in range(0, max(total, 1), WRITE_CHUNK):
                chunk = mv[i:i + WRITE_CHUNK]
                if chunk.nbytes:
                    with self._lock:
                        self._obj.write(chunk)
                await self._flush()
        return total

    def _send_close_notify(self) -> None:
        import ssl
        with self._lock:
            try:
                self._obj.unwrap()
            except (ssl.SSLError, ValueError, OSError):
                pass
            data = self._out.read()
        if data:
            self._conn._try_write_now(data)

    def close(self) -> None:
        """Send close_notify if possible at once, then close the Conn.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._send_close_notify()
        finally:
            self._conn.close()

    def close_write(self) -> None:
        """Send close_notify (the peer reads EOF); the Conn stays open for reading (as Go)."""
        self._send_close_notify()

    @property
    def local_addr(self) -> Optional["Addr"]:
        """The underlying Conn's local address."""
        return self._conn.local_addr

    @property
    def remote_addr(self) -> Optional["Addr"]:
        """The underlying Conn's remote address."""
        return self._conn.remote_addr

    @property
    def conn(self) -> "Conn":
        """The underlying Conn (Go's NetConn)."""
        return self._conn

    def fileno(self) -> int:
        """The underlying socket's descriptor."""
        return self._conn.fileno()

    def set_deadline(self, t: Optional[float]) -> None:
        """Deadlines apply to the underlying Conn (see Conn.set_deadline)."""
        self._conn.set_deadline(t)

    def set_read_deadline(self, t: Optional[float]) -> None:
        """The underlying Conn's read deadline."""
        self._conn.set_read_deadline(t)

    def set_write_deadline(self, t: Optional[float]) -> None:
        """The underlying Conn's write deadline."""
        self._conn.set_write_deadline(t)

    def version(self) -> Optional[str]:
        """The negotiated protocol ("TLSv1.3", ...)."""
        return self._obj.version()

    def cipher(self) -> Any:
        """The negotiated cipher (name, protocol, bits)."""
        return self._obj.cipher()

    def selected_alpn_protocol(self) -> Optional[str]:
        """The ALPN protocol both sides agreed on, if any."""
        return self._obj.selected_alpn_protocol()

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate (see ssl.SSLObject.getpeercert)."""
        return self._obj.getpeercert(binary_form)

    async def __aenter__(self) -> "TLSConn":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<gort.net.TLSConn over {self._conn!r}>"


async def _start(conn: "Conn", ctx: "ssl.SSLContext", server_side: bool,
                 server_hostname: Optional[str]) -> TLSConn:
    tc = TLSConn(conn, ctx, server_side, server_hostname)
    try:
        await tc._handshake()
    except BaseException:
        conn.close()
        raise
    return tc


async def tls_client(conn: "Conn", ssl_context: "ssl.SSLContext", *,
                     server_hostname: Optional[str] = None) -> TLSConn:
    """Run a TLS client handshake over conn; the TLSConn owns conn from now on.

    On a failed handshake (ssl.SSLError, ssl.SSLCertVerificationError, ...)
    conn is closed."""
    return await _start(conn, ssl_context, False, server_hostname)


async def tls_server(conn: "Conn", ssl_context: "ssl.SSLContext") -> TLSConn:
    """Run a TLS server handshake over conn (see tls_client)."""
    return await _start(conn, ssl_context, True, None)
