"""reuse_port=True: several processes, each its own gort program, share one port (SO_REUSEPORT)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from gort import net
from helpers import run_bounded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LO = "127.0.0.1"

CHILD = textwrap.dedent("""
    import os, sys, threading
    import gort
    from gort import net

    async def main(port):
        ln = net.listen("tcp", f"127.0.0.1:{port}", reuse_port=True)
        print("ready", flush=True)
        # stdin closing (the parent is done) closes the listener
        threading.Thread(target=lambda: (sys.stdin.read(), ln.close()), daemon=True).start()
        while True:
            try:
                c = await ln.accept()
            except net.ErrClosed:
                return
            await c.write(str(os.getpid()).encode())
            c.close()

    gort.run(main, int(sys.argv[1]), procs=1)
""")


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")
def test_two_processes_share_a_port():
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind((LO, 0))                               # reserves a port for the group, never listens
    port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    kids = [subprocess.Popen([sys.executable, "-c", CHILD, str(port)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        for k in kids:
            assert k.stdout.readline().strip() == "ready"

        async def main():
            seen = {}
            for _ in range(64):                       # bounded; the kernel spreads by 4-tuple hash
                c = await net.dial("tcp", f"{LO}:{port}", timeout=10)
                pid = b""
                for _ in range(10):
                    chunk = await c.read()
                    if not chunk:
                        break
                    pid += chunk
                c.close()
                seen[int(pid)] = seen.get(int(pid), 0) + 1
            return seen

        seen = run_bounded(main, procs=1, timeout=60)
        assert set(seen) == {k.pid for k in kids}    # both processes served
        assert sum(seen.values()) == 64
    finally:
        for k in kids:
            k.stdin.close()
        for k in kids:
            try:
                k.wait(20)
            except subprocess.TimeoutExpired:
                k.kill()
                k.wait(5)
        probe.close()
    assert [k.returncode for k in kids] == [0, 0]


def test_reuse_port_in_one_program():
    async def main():
        a = net.listen("tcp", f"{LO}:0", reuse_port=True)
        b = net.listen("tcp", str(a.addr), reuse_port=True)   # the same port, allowed
        same = a.addr == b.addr
        a.close()
        b.close()
        return same

    assert run_bounded(main, procs=1) is True
