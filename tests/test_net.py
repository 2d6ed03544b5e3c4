"""gort.net: blocking-style sockets over the netpoller (reference §9).

Loopback addresses only; every loop is bounded; waits are on events with
generous timeouts (run_bounded fails a hang).
"""
from __future__ import annotations

import errno
import gc
import os
import socket
import threading
import time

import pytest

import gort
from gort import net
from helpers import run_bounded, until_parked

LO = "127.0.0.1"


def fd_count() -> int:
    gc.collect()              # sockets other tests dropped without closing close now, not mid-test
    return len(os.listdir("/proc/self/fd"))


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


async def echo(conn):
    async with conn:
        while True:
            data = await conn.read()
            if not data:
                return
            await conn.write(data)


async def serve(ln, handler=echo):
    while True:
        try:
            c = await ln.accept()
        except net.ErrClosed:
            return
        gort.go(handler, c)


# ---------------------------------------------------------------- basics

@pytest.mark.parametrize("procs", [1, 2])
def test_echo_round_trip_and_addresses(procs):
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        assert ln.addr.host == LO and ln.addr.port > 0
        assert str(ln.addr) == f"{LO}:{ln.addr.port}"
        assert ln.addr == (LO, ln.addr.port)          # a tuple too
        gort.go(serve, ln)
        async with await net.dial("tcp", str(ln.addr)) as c:
            assert c.remote_addr == ln.addr
            assert c.local_addr.host == LO and c.local_addr.port not in (0, ln.addr.port)
            assert await c.write(b"hello") == 5
            got = b""
            for _ in range(100):
                got += await c.read()
                if len(got) >= 5:
                    break
            assert c.fileno() >= 0
        assert c.fileno() == -1
        ln.close()
        return got

    assert run_bounded(main, procs=procs) == b"hello"


def test_read_into_and_memoryview_write():
    async def main():
        ln = net.listen("tcp", (LO, 0))                # a tuple address
        gort.go(serve, ln)
        c = await net.dial("tcp", ln.addr)
        await c.write(memoryview(b"abcdefgh")[2:6])
        await c.write(bytearray(b"XY"))
        buf = bytearray(6)
        got = 0
        for _ in range(100):
            got += await c.read_into(memoryview(buf)[got:])
            if got == 6:
                break
        c.close()
        ln.close()
        return bytes(buf)

    assert run_bounded(main, procs=1) == b"cdefXY"


def test_read_that_can_be_satisfied_never_parks():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        b.sendall(b"ready data")
        ran = []

        async def other():
            ran.append(True)

        gort.go(other)                                # runnext: runs as soon as main parks
        data = await c.read(100)                      # procs=1: nobody else can run it
        parked = bool(ran)
        c.close()
        b.close()
        return data, parked

    assert run_bounded(main, procs=1) == (b"ready data", False)


def test_eof_half_close_and_close_write():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        got = gort.Chan(1)

        async def server():
            c = await ln.accept()
            data = b""
            for _ in range(1000):
                chunk = await c.read()
                if not chunk:
                    break
                data += chunk
            await c.write(data.upper())             # the peer's write side is shut, ours is not
            c.close()
            await got.send(data)

        gort.go(server)
        c = await net.dial("tcp", str(ln.addr))
        await c.write(b"half ")
        await c.write(b"closed")
        c.close_write()
        reply = b""
        for _ in range(1000):
            chunk = await c.read()
            if not chunk:
                break
            reply += chunk
        assert await c.read() == b""                  # EOF again
        assert await c.read_into(bytearray(4)) == 0
        c.close()
        ln.close()
        return await got.recv(), reply

    assert run_bounded(main, procs=2) == (b"half closed", b"HALF CLOSED")


def test_from_socket_adopts_a_socketpair():
    async def main():
        a, b = socket.socketpair()
        ca, cb = net.Conn.from_socket(a), net.Conn.from_socket(b)
        assert not a.getblocking()
        assert isinstance(ca.local_addr, net.UnixAddr)
        await ca.write(b"x" * 1000)
        got = b""
        for _ in range(100):
            got += await cb.read(10_000)
            if len(got) == 1000:
                break
        ca.close()
        cb.close()
        assert a.fileno() == -1 and b.fileno() == -1  # the Conn owned the sockets
        return len(got)

    assert run_bounded(main, procs=1) == 1000


def test_unix_sockets_and_unlink_on_close(tmp_path):
    path = str(tmp_path / "s.sock")

    async def main():
        ln = net.listen("unix", path)
        assert os.path.exists(path)
        assert ln.addr == net.UnixAddr(path) and str(ln.addr) == path
        gort.go(serve, ln)
        c = await net.dial("unix", path)
        await c.write(b"over unix")
        got = await c.read()
        c.close()
        ln.close()
        await gort.sleep(0.01)          # let the accept loop leave (it closes on ErrClosed)
        return got, os.path.exists(path)

    assert run_bounded(main, procs=2) == (b"over unix", False)


def test_abstract_unix_socket():
    name = f"@gort-test-{os.getpid()}-{time.monotonic_ns()}"

    async def main():
        ln = net.listen("unix", name)
        assert str(ln.addr) == name
        gort.go(serve, ln)
        c = await net.dial("unix", name)
        await c.write(b"abstract")
        got = await c.read()
        c.close()
        ln.close()
        return got

    assert run_bounded(main, procs=1) == b"abstract"


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback")
def test_ipv6_loopback():
    async def main():
        ln = net.listen("tcp6", "[::1]:0")
        assert ln.addr.host == "::1" and str(ln.addr) == f"[::1]:{ln.addr.port}"
        gort.go(serve, ln)
        c = await net.dial("tcp", f"[::1]:{ln.addr.port}")
        await c.write(b"six")
        got = await c.read()
        c.close()
        ln.close()
        return got

    assert run_bounded(main, procs=1) == b"six"


def test_dial_localhost_resolves_through_syscall():
    async def main():
        ln = net.listen("tcp4", f"{LO}:0")
        gort.go(serve, ln)
        # ::1 may refuse first: the next address is tried
        c = await net.dial("tcp", f"localhost:{ln.addr.port}")
        await c.write(b"by name")
        got = await c.read()
        c.close()
        ln.close()
        return got, c.remote_addr.host

    assert run_bounded(main, procs=2) == (b"by name", LO)


# ---------------------------------------------------------------- addresses and bad input

@pytest.mark.parametrize("hostport,want", [
    ("127.0.0.1:80", ("127.0.0.1", "80")),
    ("[::1]:0", ("::1", "0")),
    (":8080", ("", "8080")),
    ("localhost:http", ("localhost", "http")),
    ("[fe80::1%lo]:53", ("fe80::1%lo", "53")),
    ("host:", ("host", "")),
])
def test_split_host_port(hostport, want):
    assert net.split_host_port(hostport) == want


@pytest.mark.parametrize("hostport,why", [
    ("127.0.0.1", "missing port"),
    ("::1:80", "too many colons"),
    ("[::1]80", "missing port"),
    ("[::1", "missing ']'"),
    ("a]b:1", "unexpected ']'"),
    ("a[b:1", "unexpected '['"),
])
def test_split_host_port_rejects(hostport, why):
    with pytest.raises(net.AddrError, match=why.replace("[", r"\[")):
        net.split_host_port(hostport)


def test_join_host_port():
    assert net.join_host_port("::1", 80) == "[::1]:80"
    assert net.join_host_port("127.0.0.1", "0") == "127.0.0.1:0"


def test_bad_addresses_and_networks_raise_clear_errors():
    async def main():
        errs = {}
        for name, call in [
            ("no port", lambda: net.listen("tcp", LO)),
            ("bad port", lambda: net.listen("tcp", f"{LO}:99999")),
            ("bad network", lambda: net.listen("tcpx", f"{LO}:0")),
            ("udp on listen", lambda: net.listen("udp", f"{LO}:0")),
            ("bad tuple", lambda: net.listen("tcp", (LO,))),
            ("wrong family", lambda: net.listen("tcp6", f"{LO}:0")),
        ]:
            try:
                call()
            except Exception as e:   # noqa: BLE001 - the type is what is checked
                errs[name] = e
        for name, addr, network in [("dial no port", LO, "tcp"), ("dial bad network", f"{LO}:1", "ip")]:
            try:
                await net.dial(network, addr)
            except Exception as e:   # noqa: BLE001
                errs[name] = e
        return errs

    errs = run_bounded(main, procs=1)
    assert set(errs) == {"no port", "bad port", "bad network", "udp on listen", "bad tuple",
                         "wrong family", "dial no port", "dial bad network"}
    for name, e in errs.items():
        assert isinstance(e, net.AddrError), (name, e)
        assert isinstance(e, OSError) and isinstance(e, ValueError)
    assert isinstance(errs["bad network"], net.UnknownNetworkError)
    assert "unknown network tcpx" in str(errs["bad network"])
    assert "invalid port" in str(errs["bad port"])
    assert "missing port" in str(errs["no port"])


def test_listen_outside_a_goroutine_raises():
    with pytest.raises(RuntimeError, match="outside a running gort program"):
        net.listen("tcp", f"{LO}:0")


def test_connection_refused_keeps_its_class_and_names_the_address():
    async def main():
        s = socket.socket()
        s.bind((LO, 0))
        port = s.getsockname()[1]
        s.close()                                     # nobody listens there now
        try:
            await net.dial("tcp", f"{LO}:{port}")
        except ConnectionRefusedError as e:
            return str(e), e.errno
        return None

    msg, code = run_bounded(main, procs=1)
    assert code == errno.ECONNREFUSED
    assert "dial tcp 127.0.0.1:" in msg and "connect" in msg


def test_address_in_use():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        try:
            net.listen("tcp", str(ln.addr))
        except OSError as e:
            ln.close()
            return e.errno, str(e)
        ln.close()
        return None

    code, msg = run_bounded(main, procs=1)
    assert code == errno.EADDRINUSE and "listen tcp 127.0.0.1:" in msg


def test_reset_by_peer_raises_connection_reset():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        ready = gort.Chan(1)

        async def server():
            c = await ln.accept()
            await ready.recv()
            # SO_LINGER 0: close sends RST
            c._fd.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()

        gort.go(server)
        c = await net.dial("tcp", str(ln.addr))
        await ready.send(None)
        try:
            for _ in range(1000):
                if not await c.read():
                    return "eof"
        except ConnectionResetError as e:
            return f"reset: {e}"
        finally:
            c.close()
            ln.close()

    r = run_bounded(main, procs=2)
    assert r.startswith("reset:") and "read tcp 127.0.0.1:" in r and "->127.0.0.1:" in r


def test_write_to_a_closed_peer_raises_broken_pipe_or_reset():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        c = await net.dial("tcp", str(ln.addr))
        s = await ln.accept()
        s.close()
        err = None
        for _ in range(10_000):                      # the first writes may still succeed
            try:
                await c.write(b"x" * 65536)
            except OSError as e:
                err = e
                break
        c.close()
        ln.close()
        return err

    err = run_bounded(main, procs=1)
    assert isinstance(err, (BrokenPipeError, ConnectionResetError)), err
    assert "write tcp" in str(err)


# ---------------------------------------------------------------- close while parked

def test_close_wakes_a_parked_reader():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        c = await net.dial("tcp", str(ln.addr))
        s = await ln.accept()
        out = gort.Chan(1)

        async def reader():
            try:
                await c.read()
                await out.send("read returned")
            except net.ErrClosed as e:
                await out.send(e)

        gort.go(reader)
        await until_parked("IO wait")
        c.close()
        e = await out.recv()
        s.close()
        ln.close()
        return e

    e = run_bounded(main, procs=2)
    assert isinstance(e, net.ErrClosed) and "use of closed network connection" in str(e)
    assert isinstance(e, OSError)


def test_close_wakes_a_parked_writer():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        c = await net.dial("tcp", str(ln.addr))
        s = await ln.accept()                        # never reads
        out = gort.Chan(1)

        async def writer():
            try:
                await c.write(b"w" * (64 << 20))
                await out.send("wrote")
            except net.ErrClosed as e:
                await out.send(e)

        gort.go(writer)
        await until_parked("IO wait")
        c.close()
        e = await out.recv()
        s.close()
        ln.close()
        return e

    e = run_bounded(main, procs=1)
    assert isinstance(e, net.ErrClosed)
    assert 0 < e.written < 64 << 20                  # some went out before it parked


def test_close_wakes_a_parked_accept():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        out = gort.Chan(1)

        async def acceptor():
            try:
                await ln.accept()
            except net.ErrClosed as e:
                await out.send(e)

        gort.go(acceptor)
        await until_parked("IO wait")
        ln.close()
        ln.close()                                    # idempotent
        return await out.recv()

    e = run_bounded(main, procs=2)
    assert isinstance(e, net.ErrClosed) and "accept tcp 127.0.0.1:" in str(e)


def test_operations_after_close_raise_err_closed():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        c.close()
        errs = []
        for op in (lambda: c.read(), lambda: c.write(b"x"), lambda: c.read_into(bytearray(1))):
            try:
                await op()
            except net.ErrClosed as e:
                errs.append(e)
        for op in (lambda: c.set_deadline(None), c.close_write):
            try:
                op()
            except net.ErrClosed as e:
                errs.append(e)
        b.close()
        return len(errs)

    assert run_bounded(main, procs=1) == 5


def test_concurrent_readers_take_turns():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        out = gort.Chan(2)

        async def reader():
            await out.send(await c.read(1))

        gort.go(reader)
        gort.go(reader)
        await until_parked("IO wait")
        await until_parked("semacquire")             # the second waits for the read lock
        b.send(b"1")
        first = await out.recv()
        b.send(b"2")
        second = await out.recv()
        c.close()
        b.close()
        return sorted([first, second])

    assert run_bounded(main, procs=2) == [b"1", b"2"]


def test_close_wakes_readers_waiting_for_the_read_lock():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        out = gort.Chan(3)

        async def reader():
            try:
                await c.read()
            except net.ErrClosed:
                await out.send("closed")

        for _ in range(3):
            gort.go(reader)
        await until_parked("IO wait")
        await wait_parked_count("semacquire", 2)
        c.close()
        got = [await out.recv() for _ in range(3)]
        b.close()
        return got

    assert run_bounded(main, procs=2) == ["closed"] * 3


async def wait_parked_count(reason, n, limit=200_000):
    for _ in range(limit):
        k = sum(1 for g in gort.proc.sched.allgs if g.status == 4 and g.waitreason == reason)
        if k >= n:
            return
        await gort.gosched()
    raise AssertionError(f"never {n} goroutines parked on {reason!r}")


# ---------------------------------------------------------------- deadlines

def test_read_deadline_fires_within_tolerance():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        t0 = time.monotonic()
        c.set_read_deadline(t0 + 0.2)
        try:
            await c.read()
            r = None
        except net.DeadlineExceeded as e:
            r = (time.monotonic() - t0, e)
        c.close()
        b.close()
        return r

    took, e = run_bounded(main, procs=2)
    assert isinstance(e, TimeoutError) and "i/o timeout" in str(e)
    assert 0.19 <= took < 2.0


def test_deadline_in_the_past_fails_at_once_and_none_clears_it():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        b.send(b"data")
        c.set_deadline(time.monotonic() - 1)
        errs = []
        for op in (lambda: c.read(), lambda: c.write(b"x")):
            try:
                await op()
            except net.DeadlineExceeded:
                errs.append("timeout")
        c.set_deadline(None)
        got = await c.read()                         # the data was there all along
        c.close()
        b.close()
        return errs, got

    assert run_bounded(main, procs=1) == (["timeout", "timeout"], b"data")


def test_past_deadline_unblocks_a_parked_reader():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        out = gort.Chan(1)

        async def reader():
            try:
                await c.read()
            except net.DeadlineExceeded as e:
                await out.send(e)

        gort.go(reader)
        await until_parked("IO wait")
        c.set_read_deadline(time.monotonic())        # now: unblocks at once
        e = await out.recv()
        c.close()
        b.close()
        return e

    assert isinstance(run_bounded(main, procs=2), net.DeadlineExceeded)


def test_deadline_can_be_extended_after_it_fired():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        c.set_read_deadline(time.monotonic() + 0.05)
        try:
            await c.read()
            return "no timeout"
        except net.DeadlineExceeded:
            pass
        c.set_read_deadline(time.monotonic() + 30)   # usable again
        gort.after_func(0.05, sender, b)
        got = await c.read()
        c.close()
        b.close()
        return got

    async def sender(b):
        b.send(b"later")

    assert run_bounded(main, procs=2) == b"later"


def test_deadline_moved_before_it_fires_does_not_fire_early():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        t0 = time.monotonic()
        c.set_read_deadline(t0 + 0.05)
        c.set_read_deadline(t0 + 0.4)                # reset: the first timer is stale
        try:
            await c.read()
        except net.DeadlineExceeded:
            took = time.monotonic() - t0
        c.close()
        b.close()
        return took

    took = run_bounded(main, procs=1)
    assert 0.39 <= took < 3.0


def test_extending_the_deadline_of_a_parked_reader():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        out = gort.Chan(1)
        t0 = time.monotonic()
        c.set_read_deadline(t0 + 0.1)

        async def reader():
            try:
                await out.send(await c.read())
            except net.DeadlineExceeded:
                await out.send(time.monotonic() - t0)

        gort.go(reader)
        await until_parked("IO wait")
        c.set_read_deadline(t0 + 0.5)                # moved while it waits: no wake at 0.1
        r = await out.recv()
        c.close()
        b.close()
        return r

    took = run_bounded(main, procs=2)
    assert isinstance(took, float) and 0.49 <= took < 3.0


def test_cleared_deadline_never_fires():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        c.set_read_deadline(time.monotonic() + 0.05)
        c.set_read_deadline(None)
        gort.after_func(0.3, sender, b)
        got = await c.read()                         # must outlive the cleared 0.05 s
        c.close()
        b.close()
        return got

    async def sender(b):
        b.send(b"after")

    assert run_bounded(main, procs=1) == b"after"


def test_write_deadline_with_a_peer_that_never_reads():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        c = await net.dial("tcp", str(ln.addr))
        s = await ln.accept()
        c.set_write_deadline(time.monotonic() + 0.2)
        t0 = time.monotonic()
        cpu0 = time.process_time()
        try:
            await c.write(b"z" * (64 << 20))
            r = None
        except net.DeadlineExceeded as e:
            r = (time.monotonic() - t0, time.process_time() - cpu0, e.written)
        c.close()
        s.close()
        ln.close()
        return r

    took, cpu, written = run_bounded(main, procs=1)
    assert 0.19 <= took < 3.0
    assert 0 < written < 64 << 20
    assert cpu < took * 0.8 + 0.1                    # parked, not spinning on EAGAIN


def test_accept_deadline():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        ln.set_deadline(time.monotonic() + 0.1)
        try:
            await ln.accept()
        except net.DeadlineExceeded:
            r = "timeout"
        ln.set_deadline(None)
        c = await net.dial("tcp", str(ln.addr))
        s = await ln.accept()                        # usable again
        c.close()
        s.close()
        ln.close()
        return r

    assert run_bounded(main, procs=2) == "timeout"


def test_dial_timeout_against_a_full_backlog():
    async def main():
        ln = net.listen("tcp", f"{LO}:0", backlog=0)  # never accepts: its queue fills
        held = []
        try:
            for _ in range(64):                      # bounded: fill the accept queue
                t0 = time.monotonic()
                try:
                    held.append(await net.dial("tcp", str(ln.addr), timeout=0.3))
                except net.DeadlineExceeded:
                    return time.monotonic() - t0
            return "never timed out"
        finally:
            for c in held:
                c.close()
            ln.close()

    r = run_bounded(main, procs=1)
    assert isinstance(r, float) and 0.25 <= r < 3.0


# ---------------------------------------------------------------- liveness

def test_goroutines_waiting_only_on_io_are_not_a_deadlock():
    """Go never reports a deadlock while goroutines wait on the network."""
    port_box = {}
    ready = threading.Event()

    def peer():
        ready.wait(10)
        time.sleep(0.3)                              # main and the acceptor wait on I/O meanwhile
        with socket.create_connection((LO, port_box["port"]), timeout=10) as s:
            s.sendall(b"from a thread")
            s.recv(100)

    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        port_box["port"] = ln.addr.port
        ready.set()
        c = await ln.accept()                        # no timer pending anywhere
        data = await c.read()
        await c.write(b"bye")
        c.close()
        ln.close()
        return data

    for procs in (1, 2):
        ready.clear()
        t = threading.Thread(target=peer, daemon=True)
        t.start()
        assert run_bounded(main, procs=procs) == b"from a thread"
        t.join(10)


def test_fd_numbers_are_not_reused_while_in_use():
    """close() from another goroutine leaves the real close to the parked
    reader, which holds a reference (Go's fdMutex): the number stays taken
    until the reader leaves read."""
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        fdno = c.fileno()
        out = gort.Chan(1)

        async def reader():
            try:
                await c.read()
            except net.ErrClosed:
                await out.send(a.fileno())

        gort.go(reader)
        await until_parked("IO wait")
        c.close()
        during = a.fileno()                          # procs=1: the reader has not run yet
        after = await out.recv()
        b.close()
        return fdno, during, after, c._fd.refs

    fdno, during, after, refs = run_bounded(main, procs=1)
    assert fdno >= 0 and during == fdno
    assert after == -1 and refs == 0


@pytest.mark.parametrize("procs", [1, 2])
def test_data_and_fin_together_then_eof(procs):
    """The peer writes and shuts down before we read: one epoll edge covers
    both, the read returns the data short, and the next read must find EOF
    without waiting for another edge (the short-read shortcut must not park)."""
    async def main():
        got = []
        for i in range(200):                         # bounded: many interleavings
            a, b = socket.socketpair()
            c = net.Conn.from_socket(a)
            if i % 2:
                b.sendall(b"last words")
                b.shutdown(socket.SHUT_WR)
            else:
                gort.after_func(0, finish, b)        # arrives while we park
            data = b""
            for _ in range(10):
                chunk = await c.read(4096)
                if not chunk:
                    break
                data += chunk
            got.append(data)
            c.close()
            b.close()
        return got

    async def finish(b):
        b.sendall(b"last words")
        b.shutdown(socket.SHUT_WR)

    assert run_bounded(main, procs=procs) == [b"last words"] * 200


def test_data_and_fin_over_tcp():
    async def main():
        ln = net.listen("tcp", f"{LO}:0")
        total = 0
        for i in range(100):                         # bounded
            c = await net.dial("tcp", str(ln.addr))
            s = await ln.accept()
            await s.write(b"r" * (i + 1))
            s.close()                                # data and FIN back to back
            n = 0
            for _ in range(10):
                chunk = await c.read(4096)
                if not chunk:
                    break
                n += len(chunk)
            total += n
            c.close()
        ln.close()
        return total

    assert run_bounded(main, procs=2) == sum(range(1, 101))


def test_closing_a_conn_after_its_program_ended_is_harmless():
    box = {}

    async def first():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)

        async def reader():
            await c.read()                            # parked when the program ends

        gort.go(reader)
        await until_parked("IO wait")
        box["c"], box["b"] = c, b

    run_bounded(first, procs=1)

    async def second():
        box["c"].close()                             # must not ready the old G here
        box["b"].close()
        await gort.sleep(0.01)
        return gort.num_goroutine()

    assert run_bounded(second, procs=1) == 1


def test_adopting_a_socket_twice_fails_and_leaves_the_first_conn_working():
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        try:
            net.Conn.from_socket(a)
            r = "adopted twice"
        except FileExistsError:
            r = "refused"
        out = gort.Chan(1)

        async def reader():
            await out.send(await c.read())           # parks: the wake-up must reach c's pollDesc

        gort.go(reader)
        await until_parked("IO wait")
        b.send(b"still here")
        got = await out.recv()
        c.close()
        b.close()
        return r, got

    assert run_bounded(main, procs=2) == ("refused", b"still here")


def test_refreshed_deadline_fires_at_the_last_refresh():
    """A server refreshes its deadline per request: each later deadline is only
    stored, and the timer re-arms itself when it fires early."""
    async def main():
        a, b = socket.socketpair()
        c = net.Conn.from_socket(a)
        t0 = time.monotonic()
        for i in range(200):                         # bounded: 200 refreshes over ~0.2 s
            c.set_read_deadline(time.monotonic() + 0.15)
            b.send(b"x")
            assert await c.read(1) == b"x"
            await gort.sleep(0.001)
        last = time.monotonic()
        try:
            await c.read()
            r = "no timeout"
        except net.DeadlineExceeded:
            r = time.monotonic() - last
        c.set_read_deadline(time.monotonic() + 0.05)  # earlier than nothing: a fresh timer
        c.set_read_deadline(time.monotonic() + 30)    # extended far
        c.set_read_deadline(time.monotonic() + 0.1)   # then brought in: must fire at 0.1
        t1 = time.monotonic()
        try:
            await c.read()
        except net.DeadlineExceeded:
            r2 = time.monotonic() - t1
        c.close()
        b.close()
        return r, r2, last - t0

    r, r2, spent = run_bounded(main, procs=2)
    assert isinstance(r, float) and 0.12 <= r < 3.0  # ~0.15 after the last refresh, not the first
    assert 0.09 <= r2 < 3.0
