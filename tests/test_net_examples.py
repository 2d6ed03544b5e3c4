"""The network examples run (as subprocesses, bounded) and do what they say."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(*args: str, timeout: float = 120) -> str:
    p = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_echo_server_selftest():
    out = run_example("examples/echo_server.py", "--selftest")
    assert "200 clients x 50 round trips" in out


def test_fetch_against_http_hello_keep_alive_and_new_connections():
    out = run_example("examples/fetch.py", "--workers", "50", "--requests", "2000")
    assert "2,000 GETs" in out and "200: 2000" in out
    out = run_example("examples/fetch.py", "--workers", "50", "--requests", "500", "--new-conn")
    assert "500 GETs" in out and "200: 500" in out
