"""gort.net datagrams: listen_packet, read_from / write_to, dial("udp"), deadlines."""
from __future__ import annotations

import time

import gort
from gort import net
from helpers import run_bounded, until_parked

LO = "127.0.0.1"


def test_udp_round_trips_counted():
    n = 2000

    async def main():
        srv = net.listen_packet("udp", f"{LO}:0")
        cli = net.listen_packet("udp4", (LO, 0))
        assert isinstance(srv.local_addr, net.UDPAddr) and srv.local_addr.port > 0
        assert str(srv.local_addr) == f"{LO}:{srv.local_addr.port}"

        async def server():
            for _ in range(n):                        # bounded: one reply per datagram
                data, peer = await srv.read_from()
                await srv.write_to(data[::-1], peer)

        gort.go(server)
        got = 0
        for i in range(n):
            msg = f"datagram {i}".encode()
            await cli.write_to(msg, str(srv.local_addr))
            cli.set_read_deadline(time.monotonic() + 10)   # a lost datagram fails, it does not hang
            data, peer = await cli.read_from()
            assert data == msg[::-1] and peer == srv.local_addr
            got += len(data)
        srv.close()
        cli.close()
        return got

    assert run_bounded(main, procs=2) == sum(len(f"datagram {i}") for i in range(n))


def test_udp_read_from_parks_and_close_wakes_it():
    async def main():
        pc = net.listen_packet("udp", f"{LO}:0")
        out = gort.Chan(1)

        async def reader():
            try:
                await pc.read_from()
            except net.ErrClosed as e:
                await out.send(e)

        gort.go(reader)
        await until_parked("IO wait")
        pc.close()
        return await out.recv()

    assert isinstance(run_bounded(main, procs=1), net.ErrClosed)


def test_udp_read_deadline():
    async def main():
        pc = net.listen_packet("udp", f"{LO}:0")
        t0 = time.monotonic()
        pc.set_read_deadline(t0 + 0.1)
        try:
            await pc.read_from()
        except net.DeadlineExceeded:
            took = time.monotonic() - t0
        pc.close()
        return took

    assert 0.09 <= run_bounded(main, procs=1) < 3.0


def test_dialed_udp_conn_reads_whole_datagrams():
    async def main():
        srv = net.listen_packet("udp", f"{LO}:0")
        c = await net.dial("udp", str(srv.local_addr))
        assert isinstance(c.remote_addr, net.UDPAddr)
        await c.write(b"one")
        await c.write(b"two")
        d1, peer = await srv.read_from()
        d2, _ = await srv.read_from()
        await srv.write_to(b"A", peer)
        await srv.write_to(b"B", peer)
        # two datagrams queued: a datagram read is never "short" (no drained-socket shortcut)
        r1 = await c.read(100)
        r2 = await c.read(100)
        c.close()
        srv.close()
        return d1, d2, r1, r2

    assert run_bounded(main, procs=1) == (b"one", b"two", b"A", b"B")
