"""gort.io: read_full, read_all, copy, the buffered Reader (over fakes and over sockets)."""
from __future__ import annotations

import hashlib
import socket

import pytest

import gort
from gort import io as gio
from gort import net
from helpers import run_bounded


class Chunks:
    """A reader that hands out fixed chunks, then EOF (read only, no read_into)."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.reads = 0

    async def read(self, n: int = 65536) -> bytes:
        self.reads += 1
        if not self.chunks:
            return b""
        c = self.chunks[0]
        self.chunks[0] = c[n:]
        if not self.chunks[0]:
            self.chunks.pop(0)
        return c[:n]


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    async def write(self, b) -> int:
        self.data += b
        return len(b)


def run(coro_fn, *args):
    return run_bounded(coro_fn, *args, procs=1)


def test_read_full_exact_eof_and_unexpected_eof():
    async def main():
        r = Chunks(b"ab", b"cde", b"f")
        out = [await gio.read_full(r, 4)]
        try:
            await gio.read_full(r, 5)
        except gio.UnexpectedEOF as e:
            out.append(("short", e.partial))
        try:
            await gio.read_full(r, 1)
        except gio.EOF:
            out.append("eof")
        out.append(await gio.read_full(r, 0))
        return out

    assert run(main) == [b"abcd", ("short", b"ef"), "eof", b""]


def test_eof_classes_are_eoferrors():
    assert issubclass(gio.EOF, EOFError) and issubclass(gio.UnexpectedEOF, EOFError)
    assert not issubclass(gio.UnexpectedEOF, gio.EOF)


def test_copy_counts_bytes_through_read_and_read_into():
    async def main():
        sink = Sink()
        n1 = await gio.copy(sink, Chunks(b"x" * 100_000, b"y" * 7))
        a, b = socket.socketpair()
        src = net.Conn.from_socket(a)
        payload = bytes(range(256)) * 4096
        gort.go(feeder, b, payload)
        sink2 = Sink()
        n2 = await gio.copy(sink2, src)               # read_into path, until EOF
        src.close()
        return n1, len(sink.data), n2, hashlib.sha256(sink2.data).digest() == hashlib.sha256(payload).digest()

    async def feeder(b, payload):
        c = net.Conn.from_socket(b)
        await c.write(payload)
        c.close()

    assert run(main) == (100_007, 100_007, 256 * 4096, True)


def test_read_all():
    async def main():
        return await gio.read_all(Chunks(b"a" * 70_000, b"b"))

    assert run(main) == b"a" * 70_000 + b"b"


def test_reader_lines_until_and_read():
    async def main():
        r = gio.Reader(Chunks(b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r\nbody1234", b"tail"), size=8)
        out = [await r.read_line(), await r.read_until(b"\r\n\r\n"), await r.read(4),
               await r.peek(3), r.buffered >= 3, await r.read_exactly(5), await r.read_line(),
               await r.read_line(), await r.read(10)]
        return out

    assert run(main) == [b"GET / HTTP/1.1\r\n", b"Host: x\r\n\r\n", b"body", b"123", True,
                         b"1234t", b"ail", b"", b""]


def test_reader_separator_split_across_reads():
    async def main():
        r = gio.Reader(Chunks(b"abc\r", b"\n", b"\r", b"\nrest"), size=3)
        return [await r.read_until(b"\r\n"), await r.read_until(b"\r\n"), await r.read_until(b"\r\n")]

    assert run(main) == [b"abc\r\n", b"\r\n", b"rest"]


def test_reader_limit():
    async def main():
        r = gio.Reader(Chunks(b"x" * 1000 + b"\n"), size=64)
        try:
            await r.read_line(limit=100)
        except gio.ErrBufferFull:
            return "full"

    assert run(main) == "full"


def test_reader_rejects_bad_arguments():
    with pytest.raises(ValueError):
        gio.Reader(Chunks(), size=0)

    async def main():
        try:
            await gio.Reader(Chunks(b"a")).read_until(b"")
        except ValueError:
            return "empty sep"

    assert run(main) == "empty sep"


def test_reader_large_read_bypasses_the_buffer():
    async def main():
        src = Chunks(b"z" * 200)
        r = gio.Reader(src, size=16)
        data = await r.read(100)
        return len(data), src.reads

    assert run(main) == (100, 1)


def test_reader_over_a_conn_with_read_full():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        b.sendall(b"5\r\nhello3\r\nabc")
        b.close()
        r = gio.Reader(c)
        out = []
        for _ in range(10):                          # bounded
            line = await r.read_line()
            if not line:
                break
            n = int(line)
            out.append(await gio.read_full(r, n))
        c.close()
        return out

    assert run(main) == [b"hello", b"abc"]


def test_reader_pipelined_heads_in_one_read():
    async def main():
        r = gio.Reader(Chunks(b"A\r\n\r\nB\r\n\r\nC"))
        return [await r.read_until(b"\r\n\r\n"), await r.read_until(b"\r\n\r\n"),
                await r.read_until(b"\r\n\r\n"), await r.read_until(b"\r\n\r\n")]

    assert run(main) == [b"A\r\n\r\n", b"B\r\n\r\n", b"C", b""]
