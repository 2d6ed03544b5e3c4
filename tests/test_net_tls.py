"""gort.net TLS: SSLObject over MemoryBIOs, the Conn API on top (certificates in tests/certs)."""
from __future__ import annotations

import hashlib
import os
import ssl

import pytest

import gort
from gort import net
from helpers import run_bounded, until_parked

LO = "127.0.0.1"
CERTS = os.path.join(os.path.dirname(__file__), "certs")


def server_ctx() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(CERTS, "cert.pem"), os.path.join(CERTS, "key.pem"))
    return ctx


def client_ctx() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))


async def tls_echo(raw):
    try:
        c = await net.tls_server(raw, server_ctx())
    except (ssl.SSLError, OSError):
        return
    async with c:
        try:
            while True:
                data = await c.read()
                if not data:
                    return
                await c.write(data)
        except OSError:                               # the client went away
            return


async def serve(ln):
    while True:
        try:
            raw = await ln.accept()
        except net.ErrClosed:
            return
        gort.go(tls_echo, raw)


@pytest.mark.parametrize("procs", [1, 2])
def test_tls_round_trip(procs):
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        gort.go(serve, ln)
        raw = await net.dial("tcp", str(ln.addr))
        c = await net.tls_client(raw, client_ctx(), server_hostname="localhost")
        assert c.version() in ("TLSv1.2", "TLSv1.3")
        assert c.remote_addr == ln.addr and c.conn is raw
        total = 0
        h_out, h_in = hashlib.sha256(), hashlib.sha256()
        for i in range(50):                           # bounded
            msg = os.urandom(1 + i * 997)
            await c.write(msg)
            h_out.update(msg)
            want = len(msg)
            got = 0
            for _ in range(1000):
                if got >= want:
                    break
                data = await c.read()
                assert data
                h_in.update(data)
                got += len(data)
            total += got
        c.close()
        ln.close()
        return total, h_out.digest() == h_in.digest()

    total, same = run_bounded(main, procs=procs, timeout=60)
    assert total == sum(1 + i * 997 for i in range(50)) and same


def test_tls_large_write_and_eof():
    size = 8 << 20

    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        done = gort.Chan(1)

        async def server():
            c = await net.tls_server(await ln.accept(), server_ctx())
            payload = bytes(range(256)) * (size // 256)
            await c.write(payload)
            c.close()                                  # close_notify, then EOF
            await done.send(None)

        gort.go(server)
        c = await net.tls_client(await net.dial("tcp", str(ln.addr)), client_ctx(),
                                 server_hostname="localhost")
        h = hashlib.sha256()
        got = 0
        buf = bytearray(1 << 16)
        for _ in range(size):                         # bounded by the byte count
            k = await c.read_into(buf)
            if k == 0:
                break
            h.update(memoryview(buf)[:k])
            got += k
        await done.recv()
        c.close()
        ln.close()
        return got, h.hexdigest() == hashlib.sha256(bytes(range(256)) * (size // 256)).hexdigest()

    assert run_bounded(main, procs=2, timeout=120) == (size, True)


def test_tls_bad_hostname_fails_the_handshake_and_closes_the_conn():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        gort.go(serve, ln)
        raw = await net.dial("tcp", str(ln.addr))
        try:
            await net.tls_client(raw, client_ctx(), server_hostname="not-localhost.example")
            r = "handshake passed"
        except ssl.SSLCertVerificationError as e:
            r = e
        ln.close()
        return r, raw.fileno()

    e, fileno = run_bounded(main, procs=1)
    assert isinstance(e, ssl.SSLCertVerificationError)
    assert fileno == -1


def test_tls_close_wakes_a_parked_reader():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        gort.go(serve, ln)
        c = await net.tls_client(await net.dial("tcp", str(ln.addr)), client_ctx(),
                                 server_hostname="localhost")
        out = gort.Chan(1)

        async def reader():
            try:
                await c.read()
            except net.ErrClosed as e:
                await out.send(e)

        gort.go(reader)
        await until_parked("IO wait")
        c.conn.close()
        e = await out.recv()
        c.close()
        ln.close()
        return e

    assert isinstance(run_bounded(main, procs=2), net.ErrClosed)
