"""io: Go's io and bufio helpers over gort connections (io/io.go, bufio/bufio.go).

A *reader* is anything with `async read(n) -> bytes` (b"" at EOF), and
optionally `async read_into(buffer) -> int`: a gort.net.Conn, a TLSConn, a
`Reader`.  A *writer* has `async write(data)` that writes everything.

    r = gort.io.Reader(conn)
    request_line = await r.read_line()              # b"GET / HTTP/1.1\\r\\n"
    headers = await r.read_until(b"\\r\\n\\r\\n")
    body = await gort.io.read_full(r, length)
"""
from __future__ import annotations

from typing import Any, Awaitable, Optional, Protocol

__all__ = ["EOF", "UnexpectedEOF", "ErrBufferFull", "copy", "read_full", "read_all", "Reader"]

COPY_BUFFER = 32 * 1024    # io.Copy's buffer size


class EOF(EOFError):
    """read_full found the reader at EOF before any byte (Go's io.EOF)."""


class UnexpectedEOF(EOFError):
    """EOF in the middle of something that needed more bytes (Go's io.ErrUnexpectedEOF).

    `partial` holds the bytes read before it."""

    def __init__(self, msg: str = "unexpected EOF", partial: bytes = b"") -> None:
        super().__init__(msg)
        self.partial = partial


class ErrBufferFull(ValueError):
    """read_until / read_line went past `limit` bytes without finding the separator."""


async def read_full(r: Any, n: int) -> bytes:
    """Read exactly n bytes (Go's io.ReadFull).

    Raises EOF if the reader is at EOF before any byte, UnexpectedEOF (with
    `.partial`) if it ends after some but fewer than n."""
    if n < 0:
        raise ValueError("read_full: negative count")
    if n == 0:
        return b""
    into = getattr(r, "read_into", None)
    if into is not None:
        buf = bytearray(n)
        mv = memoryview(buf)
        got = 0
        while got < n:
            k = await into(mv[got:])
            if k == 0:
                break
            got += k
        mv.release()
        data = bytes(buf[:got]) if got < n else bytes(buf)
    else:
        parts = []
        got = 0
        while got < n:
            chunk = await r.read(n - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        data = b"".join(parts)
    if got == 0:
        raise EOF("EOF")
    if got < n:
        raise UnexpectedEOF(f"unexpected EOF: wanted {n} bytes, got {got}", data)
    return data


async def read_all(r: Any) -> bytes:
    """Read until EOF (Go's io.ReadAll)."""
    parts: list[bytes] = []
    while True:
        chunk = await r.read(COPY_BUFFER * 2)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


async def copy(dst: Any, src: Any) -> int:
    """Copy src to dst until EOF on src; the number of bytes copied (Go's io.Copy).

    Uses src.write_to(dst) or dst.read_from(src) when they exist (Go's
    WriterTo / ReaderFrom), else a 32 KB buffer and read_into when src has it."""
    wt = getattr(src, "write_to", None)
    if wt is not None:
        return int(await wt(dst))
    rf = getattr(dst, "read_from", None)
    if rf is not None:
        return int(await rf(src))
    total = 0
    into = getattr(src, "read_into", None)
    if into is not None:
        buf = bytearray(COPY_BUFFER)
        mv = memoryview(buf)
        while True:
            k = await into(buf)
            if k == 0:
                return total
            await dst.write(mv[:k])
            total += k
    while True:
        data = await src.read(COPY_BUFFER)
        if not data:
            return total
        await dst.write(data)
        total += len(data)


class _Reader(Protocol):
    """What Reader reads from: `async read(n) -> bytes` (a Conn, a TLSConn, a Reader)."""

    def read(self, n: int, /) -> Awaitable[bytes]: ...


class Reader:
    """A buffered reader (Go's bufio.Reader) over a reader.

    Each method parks the goroutine only when the buffer cannot satisfy it.
    At EOF, `read` returns b"" and `read_until`/`read_line` return what is
    left (without the separator; b"" when nothing is).
    """

    __slots__ = ("_rd", "_buf", "_r", "_eof", "_size")

    def __init__(self, rd: _Reader, size: int = 65536) -> None:
        if size <= 0:
            raise ValueError("Reader: size must be positive")
        self._rd = rd
        self._buf = bytearray()
        self._r = 0                   # read offset into _buf
        self._eof = False
        self._size = size

    @property
    def buffered(self) -> int:
        """Bytes that can be read without touching the underlying reader."""
        return len(self._buf) - self._r

    async def _fill(self) -> bool:
        """One read of the underlying reader into the buffer; False at EOF."""
        if self._eof:
            return False
        data = await self._rd.read(self._size)
        if not data:
            self._eof = True
            return False
        buf = self._buf
        if self._r:
            del buf[:self._r]         # slide the unread bytes to the front
            self._r = 0
        buf += data
        return True

    async def read(self, n: int = 65536) -> bytes:
        """Up to n bytes: buffered ones if any, else one read of the reader; b"" at EOF."""
        if n <= 0:
            return b""
        if self._r == len(self._buf):
            if n >= self._size and not self._eof:
                return await self._rd.read(n)    # large read: skip the buffer (as bufio)
            if not await self._fill():
                return b""
        r = self._r
        end = min(r + n, len(self._buf))
        out = bytes(self._buf[r:end])
        self._r = end
        return out

    async def read_into(self, buffer: Any) -> int:
        """Read into a writable buffer (so a Reader can feed read_full and copy)."""
        mv = memoryview(buffer).cast("B")
        data = await self.read(mv.nbytes)
        k = len(data)
        mv[:k] = data
        return k

    async def peek(self, n: int) -> bytes:
        """The next n bytes without consuming them (fewer at EOF)."""
        while self.buffered < n and await self._fill():
            pass
        return bytes(self._buf[self._r:self._r + n])

    async def read_until(self, sep: bytes, *, limit: Optional[int] = None) -> bytes:
        """Bytes up to and including sep (Go's ReadSlice/ReadString).

        At EOF: the rest without sep (b"" if none).  ErrBufferFull if limit
        bytes are buffered without sep."""
        if not sep:
            raise ValueError("read_until: empty separator")
        ls = len(sep)
        if self._r == len(self._buf) and not self._eof:
            # nothing buffered (a keep-alive connection between requests): one
            # read, and when it holds sep, no copy into the buffer at all
            data = await self._rd.read(self._size)
            if not data:
                self._eof = True
                return b""
            i = data.find(sep)
            if i >= 0:
                end = i + ls
                if end < len(data):
                    self._buf = bytearray(data[end:])
                    self._r = 0
                return data if end == len(data) else data[:end]
            self._buf = bytearray(data)
            self._r = 0
        rel = 0                       # where the search resumes, relative to _r
        while True:
            buf = self._buf
            r = self._r
            i = buf.find(sep, r + rel)
            if i >= 0:
                end = i + ls
                out = bytes(buf[r:end])
                self._r = end
                return out
            have = len(buf) - r
            if limit is not None and have >= limit:
                raise ErrBufferFull(f"read_until: no {sep!r} in the first {limit} bytes")
            rel = max(0, have - ls + 1)
            if not await self._fill():
                out = bytes(self._buf[self._r:])
                self._buf.clear()
                self._r = 0
                return out

    async def read_line(self, *, limit: Optional[int] = None) -> bytes:
        """One line including its b"\\n" (b"\\r\\n" kept as sent); the rest at EOF, b"" if none."""
        return await self.read_until(b"\n", limit=limit)

    async def read_exactly(self, n: int) -> bytes:
        """Exactly n bytes (read_full on this Reader)."""
        return await read_full(self, n)
