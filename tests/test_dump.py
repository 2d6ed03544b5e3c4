"""The goroutine dump (gort.stack, the dump signal, Deadlock) and the report of
an exception escaping a goroutine, in Go's traceback layout (runtime/traceback.go)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import traceback

import pytest

import gort
from gort import g as gmod
from gort import proc
from gort.trace import dump as dumpmod
from helpers import run_bounded, wait_until

HEADER = re.compile(r"^goroutine (\d+) \[([^\]]+)\]:$")
FUNC = re.compile(r"^(\S+)\(\.\.\.\)$")
FILELINE = re.compile(r"^\t(.+):(\d+)$")
CREATED = re.compile(r"^created by (\S+?)(?: in goroutine (\d+))?$")


def line_of(tag: str) -> int:
    """The line of this file that carries the comment `# LINE: tag`."""
    with open(__file__) as f:
        for i, text in enumerate(f, 1):
            if text.rstrip().endswith(f"# LINE: {tag}"):
                return i
    raise AssertionError(f"no line tagged {tag}")


def parse_dump(text: str) -> dict[int, dict]:
    """Go's dump layout, strictly: header, (func, \\tfile:line) pairs, optional created-by pair."""
    out = {}
    for block in text.strip("\n").split("\n\n"):
        lines = block.split("\n")
        m = HEADER.match(lines[0])
        assert m, f"bad header: {lines[0]!r}"
        g = {"status": m.group(2), "frames": [], "created": None}
        rest = lines[1:]
        while rest:
            c = CREATED.match(rest[0])
            if c:
                fl = FILELINE.match(rest[1])
                assert fl, rest
                g["created"] = (c.group(1), int(c.group(2) or 0), fl.group(1), int(fl.group(2)))
                assert len(rest) == 2, f"lines after created by: {rest}"
                break
            f, fl = FUNC.match(rest[0]), FILELINE.match(rest[1])
            assert f and fl, f"bad frame lines: {rest[:2]}"
            g["frames"].append((f.group(1), fl.group(1), int(fl.group(2))))
            rest = rest[2:]
        out[int(m.group(1))] = g
    return out


# ---------------------------------------------------------------- a known program

async def recv_forever(c):
    await c.recv()                                         # LINE: recv


async def send_forever(c):
    await c.send(1)                                        # LINE: send


async def sleeper():
    await gort.sleep(3600)                                 # LINE: sleep


async def locker(mu):
    await mu.lock()                                        # LINE: lock


async def selector(a, b):
    await gort.select(gort.recv(a), gort.recv(b))          # LINE: select


async def spawner(c, done):
    gort.go(recv_forever, c)                               # LINE: go-nested
    await done.send(gort.goid())
    await c.recv()                                         # LINE: spawner-recv


def waiting(n):
    return lambda: sum(g.status == gmod._Gwaiting for g in proc.sched.allgs) >= n


def test_dump_names_wait_reason_innermost_line_and_creation_site():
    async def main():
        c, mu, done = gort.Chan(), gort.Mutex(), gort.Chan(1)
        await mu.lock()
        gort.go(recv_forever, c)                           # LINE: go-recv
        gort.go(send_forever, gort.Chan())                 # LINE: go-send
        gort.go(sleeper)                                   # LINE: go-sleep
        gort.go(locker, mu)                                # LINE: go-lock
        gort.go(selector, gort.Chan(), gort.Chan())        # LINE: go-select
        gort.go(spawner, gort.Chan(), done)                # LINE: go-spawner
        spawner_id = await done.recv()
        await wait_until(waiting(7), "7 goroutines parked")
        return gort.stack(), spawner_id, gort.stack(all=False)

    text, spawner_id, mine = run_bounded(main, procs=2)
    gs = parse_dump(text)
    me = __name__
    first = next(iter(gs))
    assert first == 1 and gs[1]["status"] == "running"     # the caller first, as Go
    test = "test_dump_names_wait_reason_innermost_line_and_creation_site"
    assert gs[1]["frames"][0][0] == f"{me}.{test}.<locals>.main"
    assert gs[1]["created"] is None                        # Go: main has no "created by"
    want = {  # function, wait reason, innermost line, go line
        "recv_forever": ("chan receive", "recv", "go-recv"),
        "send_forever": ("chan send", "send", "go-send"),
        "sleeper": ("sleep", "sleep", "go-sleep"),
        "locker": ("sync.Mutex.Lock", "lock", "go-lock"),
        "selector": ("select", "select", "go-select"),
        "spawner": ("chan receive", "spawner-recv", "go-spawner"),
    }
    found = {}
    for goid, g in gs.items():
        if goid == 1:
            continue
        fn, file, line = g["frames"][0]
        short = fn.rsplit(".", 1)[1]
        assert file == __file__ and not any(f[1].startswith(gmod.GORT_DIR) for f in g["frames"])
        if short == "recv_forever" and g["created"][0].endswith(".spawner"):
            # created by another goroutine: Go's "created by pkg.fn in goroutine N"
            assert g["created"][1:] == (spawner_id, __file__, line_of("go-nested"))
            assert (g["status"], line) == ("chan receive", line_of("recv"))
            found["nested"] = goid
            continue
        status, inner, go_line = want[short]
        assert g["status"] == status, (short, g)
        assert line == line_of(inner), (short, g)
        cby, parent, cfile, cline = g["created"]
        assert cby.endswith(".main") and parent == 1 and cfile == __file__ and cline == line_of(go_line), g
        found[short] = goid
    assert set(found) == set(want) | {"nested"}
    assert found["spawner"] == spawner_id
    # all=False: the calling goroutine alone
    assert list(parse_dump(mine)) == [1]


async def busy(stop):
    while not stop[0]:                                     # LINE: busy
        pass


def test_dump_shows_where_a_running_goroutine_is():
    """A goroutine running on another M (a CPU loop that never awaits) shows its current line."""
    async def main():
        stop = [False]
        gort.go(busy, stop)
        await wait_until(lambda: any(g.status == gmod._Grunning and g.goid != 1 for g in proc.sched.allgs),
                         "the busy goroutine running")
        text = gort.stack()
        stop[0] = True
        return text

    gs = parse_dump(run_bounded(main, procs=2))
    other = [g for goid, g in gs.items() if goid != 1]
    assert len(other) == 1
    assert other[0]["status"] == "running"
    # the `while` line or the `pass` under it: both are where the loop is
    assert other[0]["frames"][0][0].endswith(".busy") and other[0]["frames"][0][2] - line_of("busy") in (0, 1)


def test_header_follows_go_wait_minutes_and_locked_thread():
    gp = gmod.G()
    gp.goid, gp.status, gp.waitreason = 7, gmod._Gwaiting, "chan receive"
    now = 10_000.0
    gp.waitsince = now - 59
    assert gmod.header(gp, now) == "goroutine 7 [chan receive]:"      # under a minute: nothing
    gp.waitsince = now - 125
    assert gmod.header(gp, now) == "goroutine 7 [chan receive, 2 minutes]:"
    gp.waitsince = now - 61
    assert gmod.header(gp, now) == "goroutine 7 [chan receive, 1 minutes]:"   # Go's wording
    gp.lockedm = object()
    assert gmod.header(gp, now) == "goroutine 7 [chan receive, 1 minutes, locked to thread]:"
    gp.status, gp.lockedm = gmod._Grunnable, None
    assert gmod.header(gp, now) == "goroutine 7 [runnable]:"             # only waits are timed


def test_deadlock_carries_the_dump():
    async def main():
        c = gort.Chan()
        gort.go(recv_forever, c)                           # LINE: dl-go
        await gort.Chan().recv()                           # LINE: dl-main

    with pytest.raises(gort.Deadlock) as ei:
        run_bounded(main, procs=2)
    gs = parse_dump("\n\n".join(ei.value.goroutines))
    assert gs[1]["status"] == "chan receive" and gs[1]["frames"][0][2] == line_of("dl-main")
    (other,) = [g for goid, g in gs.items() if goid != 1]
    assert other["frames"][0][2] == line_of("recv")
    assert other["created"][1:] == (1, __file__, line_of("dl-go"))
    assert "all goroutines are asleep - deadlock!\n\ngoroutine " in str(ei.value)


# ---------------------------------------------------------------- exceptions

async def thrower():
    raise ValueError("deep")                               # LINE: raise


async def middle(c):
    gort.go(thrower)                                       # LINE: go-thrower
    await c.recv()


def test_exception_names_goroutine_and_creation_chain_without_scheduler_frames():
    async def main():
        c = gort.Chan()
        gort.go(middle, c)                                 # LINE: go-middle
        await c.recv()

    with pytest.raises(ValueError, match="deep") as ei:
        run_bounded(main, procs=2)
    note = "\n".join(getattr(ei.value, "__notes__", []))
    lines = note.split("\n")
    m = re.match(rf"raised in goroutine (\d+) \({re.escape(__name__)}\.thrower\)$", lines[0])
    assert m, note
    c1 = CREATED.match(lines[1])
    assert c1 and c1.group(1) == f"{__name__}.middle" and int(c1.group(2)) not in (0, 1), note
    assert lines[2] == f"\t{__file__}:{line_of('go-thrower')}"
    c2 = CREATED.match(lines[3])
    assert c2 and c2.group(1).endswith(".main") and c2.group(2) == "1", note
    assert lines[4] == f"\t{__file__}:{line_of('go-middle')}"
    frames = traceback.extract_tb(ei.value.__traceback__)
    for fr in frames:
        assert fr.name not in ("schedule", "_run", "mstart", "trap", "gopanic"), frames
        assert not fr.filename.endswith(("gort/proc.py", "gort/program.py")), frames
    assert (frames[-1].name, frames[-1].lineno) == ("thrower", line_of("raise"))


def test_main_exception_traceback_starts_at_gort_run():
    async def main():
        raise KeyError("k")                                # LINE: main-raise

    with pytest.raises(KeyError) as ei:
        gort.run(main, procs=1)
    frames = traceback.extract_tb(ei.value.__traceback__)
    names = [(os.path.basename(f.filename), f.name) for f in frames]
    assert ("__init__.py", "run") in names
    assert not any(f.filename.endswith(("gort/proc.py", "gort/program.py")) for f in frames), names
    assert frames[-1].lineno == line_of("main-raise")
    assert not getattr(ei.value, "__notes__", [])          # main needs no "raised in goroutine 1"


# ---------------------------------------------------------------- the dump signal

def _dump_file():
    return dumpmod.dump_path(os.getpid())


def test_sigquit_prints_dump_and_program_goes_on(capfd):
    """In this process: gort.run on the main thread installs the handler; a
    SIGQUIT prints the dump to stderr and the file, the program continues,
    and the old disposition is back when run returns."""
    path = _dump_file()
    if os.path.exists(path):
        os.unlink(path)
    assert threading_main()
    before = signal.getsignal(signal.SIGQUIT)

    async def main():
        c = gort.Chan()
        gort.go(recv_forever, c)
        installed = signal.getsignal(signal.SIGQUIT)
        os.kill(os.getpid(), signal.SIGQUIT)
        await wait_until(lambda: os.path.exists(path), "the dump file")
        return installed

    installed = gort.run(main, procs=2)
    assert callable(installed)
    assert signal.getsignal(signal.SIGQUIT) == before
    err = capfd.readouterr().err
    assert err.startswith("SIGQUIT: goroutine dump (gort keeps running)\n\n")
    gs = parse_dump(err.split("\n\n", 1)[1])
    assert 1 in gs and any(g["frames"][0][0].endswith(".recv_forever") for g in gs.values() if g["frames"])
    with open(path) as f:
        assert f.read() == err
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)
    os.unlink(path)


def threading_main():
    import threading
    return threading.current_thread() is threading.main_thread()


@pytest.mark.parametrize("setting,sig,expect", [
    ("none", signal.SIGQUIT, False),
    ("SIGUSR1", signal.SIGUSR1, True),
    ("usr1", signal.SIGUSR1, True),
    ("10", signal.SIGUSR1, True),
])
def test_dump_signal_setting(monkeypatch, setting, sig, expect):
    monkeypatch.setenv("GORT_DUMP_SIGNAL", setting)
    before = signal.getsignal(sig)
    blocked_before = proc._BLOCKED

    async def main():
        return callable(signal.getsignal(sig)), sig in proc._BLOCKED

    installed, blocked = gort.run(main, procs=1)
    assert installed is expect
    assert blocked is (expect or sig in blocked_before)   # Ms block it, so the main thread takes it
    assert signal.getsignal(sig) == before and proc._BLOCKED is blocked_before


def test_bad_dump_signal_fails_before_running(monkeypatch):
    ran = []

    async def main():
        ran.append(1)

    for bad in ("SIGNOPE", "SIGKILL"):
        monkeypatch.setenv("GORT_DUMP_SIGNAL", bad)
        with pytest.raises(ValueError, match="GORT_DUMP_SIGNAL"):
            gort.run(main, procs=1)
    assert not ran


def test_no_handler_off_the_main_thread():
    async def main():
        return signal.getsignal(signal.SIGQUIT)

    assert run_bounded(main, procs=1) == signal.SIG_DFL     # run_bounded runs gort.run on a helper thread


SCRIPT = textwrap.dedent('''
    import sys
    import gort

    async def waiter(c):
        await c.recv()

    def ready_then_read():
        # inside the syscall: main is already in status syscall when the test reads "ready"
        print("ready", flush=True)
        return sys.stdin.readline()

    async def main():
        c = gort.Chan()
        gort.go(waiter, c)
        line = await gort.syscall(ready_then_read)
        return line

    print("result", gort.run(main, procs=2).strip(), flush=True)
''')


@pytest.mark.parametrize("dumpsig", [None, "SIGUSR1"])
def test_python_m_gort_stack_prints_a_running_programs_dump(tmp_path, dumpsig):
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env.pop("GORT_DUMP_SIGNAL", None)
    if dumpsig:
        env["GORT_DUMP_SIGNAL"] = dumpsig
    p = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline() == "ready\n"
        r = subprocess.run([sys.executable, "-m", "gort", "stack", str(p.pid)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        name = dumpsig or "SIGQUIT"
        head, body = r.stdout.split("\n\n", 1)
        assert head == f"{name}: goroutine dump (gort keeps running)"
        gs = parse_dump(body)
        assert gs[1]["status"] == "syscall"
        # the call in the syscall, then the goroutine that made it
        frames = [f for f in gs[1]["frames"] if f[1] == str(script)]
        assert [f[0] for f in frames[:2]] == ["__main__.ready_then_read", "__main__.main"], gs[1]["frames"]
        (w,) = [g for goid, g in gs.items() if goid != 1]
        assert w["status"] == "chan receive" and w["created"][0] == "__main__.main" and w["created"][1] == 1
        out, err = p.communicate("bye\n", timeout=60)      # the program went on after the dump
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0 and out == "result bye\n"
    assert err.startswith(f"{name}: goroutine dump (gort keeps running)")
    if os.path.exists(dumpmod.dump_path(p.pid)):
        os.unlink(dumpmod.dump_path(p.pid))


def test_python_m_gort_stack_refuses_a_process_that_would_die():
    p = subprocess.Popen(["sleep", "60"])
    try:
        r = subprocess.run([sys.executable, "-m", "gort", "stack", str(p.pid)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 1 and "does not catch SIGQUIT" in r.stderr
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()
