"""The C accelerator (issue #11): gort._accel, the C twin of the hot paths.

The whole suite runs twice (`GORT_PUREPY=1` forces the pure-Python modules),
so behaviour is tested there.  Here: which twin runs, the build's fallback,
the twins' fields staying in step, the C ring and global queue under
concurrent use, the C operations' own checks (a forgotten await, a wrong
receiver), the free-threaded build keeping the GIL off, and, on a debug build
of CPython, reference counts that do not drift.
"""
from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

import gort
from gort import accel
from gort.g import G, _Grunnable
from gort.p import RUNQ_SIZE, P, _Prunning, runqget, runqlist, runqput, runqsteal
from gort.sched import GQueue
from helpers import run_bounded, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C = accel.C
needs_c = pytest.mark.skipif(C is None, reason="the C accelerator is not in use (GORT_PUREPY=1 or not built)")


def script(code: str, env: dict | None = None, args: tuple = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})})


# ---------------------------------------------------------------- which twin runs

def test_accelerated_says_which_twin_runs():
    assert gort.accelerated() is (C is not None)
    if os.environ.get("GORT_PUREPY", "") not in ("", "0"):
        assert not gort.accelerated()
    p = script("import gort; print(gort.accelerated())", env={"GORT_PUREPY": "1"})
    assert p.stdout.strip() == "False", p.stderr


@needs_c
def test_the_python_modules_pick_the_c_twins():
    from gort import chan, proc, sched, m as mmod
    assert gort.Chan is C.Chan and chan.SelSudog is C.SelSudog
    assert P is C.P and G is C.G and GQueue is C.GQueue
    assert proc.ready is C.ready and proc.gosched is C.gosched and gort.gosched is C.gosched
    assert issubclass(mmod.M, C.MCore) and issubclass(sched.Sched, C.SchedCore)
    from gort import time as gtime, timers
    assert gort.sleep is C.sleep and gtime.sleep is C.sleep and timers.TimersCore is C.TimersCore


def test_without_the_module_gort_is_pure_python(tmp_path):
    """A machine without a compiler has no gort/_accel*.so: gort imports and runs."""
    pkg = tmp_path / "gort"
    shutil.copytree(os.path.join(ROOT, "gort"), pkg,
                    ignore=shutil.ignore_patterns("*.so", "__pycache__", "_accel.c"))
    # -S: no site-packages, so not the (editable) installed gort
    p = subprocess.run([sys.executable, "-S", "-c", textwrap.dedent("""
        import gort
        async def main():
            ch = gort.Chan()
            gort.go(ch.send, 41)
            return await ch.recv() + 1
        print(gort.accelerated(), gort.run(main))
    """)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert p.stdout.split() == ["False", "42"], p.stderr


@needs_c
def test_a_build_of_another_source_is_refused_with_one_line(tmp_path):
    """An editable install keeps one build per interpreter in gort/; one made from
    another gort/_accel.c (not rebuilt since) would not match the Python modules
    that call it: gort says so in one line and runs as pure Python."""
    pkg = tmp_path / "gort"
    shutil.copytree(os.path.join(ROOT, "gort"), pkg, ignore=shutil.ignore_patterns("__pycache__"))
    with open(pkg / "_accel.c", "a") as f:
        f.write("/* changed */\n")
    p = subprocess.run([sys.executable, "-S", "-c", textwrap.dedent("""
        import gort
        async def main():
            await gort.sleep(0.001)
            return 42
        print(gort.accelerated(), gort.run(main))
    """)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert p.stdout.split() == ["False", "42"], p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and "built from another gort/_accel.c" in lines[0], p.stderr


def test_build_without_a_compiler_falls_back_with_one_line(tmp_path):
    """CC=false stands for a machine with no C compiler: the build succeeds
    without the extension and says so in one line."""
    pytest.importorskip("setuptools")
    for f in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, f), tmp_path)
    shutil.copytree(os.path.join(ROOT, "gort"), tmp_path / "gort",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    p = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env={**os.environ, "CC": "false", "LDSHARED": "false"})
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith("gort:")]
    assert len(lines) == 1 and "pure Python" in lines[0], p.stdout + p.stderr
    assert not list((tmp_path / "out").rglob("_accel*"))


@pytest.mark.skipif(not hasattr(sys, "_is_gil_enabled") or sys._is_gil_enabled(),
                    reason="not a free-threaded build (or the GIL is on)")
def test_importing_the_module_keeps_the_gil_off():
    """Py_mod_gil = Py_MOD_GIL_NOT_USED: no PYTHON_GIL=0 needed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    p = subprocess.run([sys.executable, "-c", "import sys, gort._accel, gort; print(sys._is_gil_enabled())"],
                       capture_output=True, text=True, timeout=60,
                       env={**env, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert p.stdout.strip() == "False", p.stderr


# ---------------------------------------------------------------- the twins stay in step

def _py_twin(module: str, name: str):
    """The pure-Python twin of a class, from a fresh interpreter with GORT_PUREPY=1."""
    p = script(f"""
        import {module} as mod
        cls = getattr(mod, "{name}")
        slots = set()
        for k in cls.__mro__:
            slots.update(getattr(k, "__slots__", ()))
        print(sorted(slots))
    """, env={"GORT_PUREPY": "1"})
    assert p.returncode == 0, p.stderr
    return set(eval(p.stdout))


@needs_c
def test_c_g_has_every_field_of_the_python_g():
    fields = _py_twin("gort.g", "G")
    g = G()
    missing = [f for f in fields if not hasattr(g, f)]
    assert not missing, missing
    p = script("""
        import gort.g as g
        x = g.G()
        print({f: getattr(x, f) for f in g.G.__slots__ if f != "coro"})
    """, env={"GORT_PUREPY": "1"})
    defaults = eval(p.stdout)
    for f, v in defaults.items():
        assert getattr(g, f) == v, (f, getattr(g, f), v)
    assert repr(g) == "<G0 idle ?>"


@needs_c
def test_c_p_has_every_field_of_the_python_p():
    fields = _py_twin("gort.p", "P") - {"runq", "runnext"}   # the queue: through p.py's functions
    pp = P(3)
    missing = [f for f in fields if not hasattr(pp, f)]
    assert not missing, missing
    assert pp.id == 3 and pp.status == 3 and pp.gfree == [] and pp.runqempty() and pp.runqsize() == 0


@needs_c
def test_c_cores_hold_only_fields_of_m_and_sched():
    from gort.m import M
    from gort.sched import Sched
    s = Sched()
    m = M(0, s)
    for f in ("id", "sched", "p", "curg", "lockedg", "spinning", "exiting"):
        assert hasattr(m, f), f
    for f in ("runq", "trace", "main_g", "allgs", "npidle", "nmspinning", "gomaxprocs", "now",
              "stopflag", "exiting", "gcwaiting", "global_only", "main_started"):
        assert hasattr(s, f), f
    assert isinstance(s.runq, GQueue) and s.trace is None and s.allgs == []


# ---------------------------------------------------------------- the ring and the global queue

def _gs(n: int) -> list:
    out = []
    for i in range(n):
        gp = G()
        gp.goid = i
        gp.status = _Grunnable
        out.append(gp)
    return out


def test_ring_wraps_around_many_times():
    pp = P(0)
    gs = _gs(RUNQ_SIZE)
    got = []
    for r in range(40):                   # 40 x 200 puts: the 32-bit counters wrap the ring often
        for gp in gs[:200]:
            assert runqput(pp, gp, False) is None
        for _ in range(200):
            gp, inherit = runqget(pp)
            got.append(gp.goid)
    assert got == list(range(200)) * 40 and runqlist(pp) == []


@pytest.mark.parametrize("thieves", [1, 3])
def test_ring_owner_and_thieves_lose_nothing(switchy, thieves):
    """One owner puts and takes, thieves steal half at a time: every G comes
    out exactly once (Go's single-producer, multi-consumer ring)."""
    n = 20_000
    gs = _gs(n)
    victim = P(0)
    victim.status = _Prunning
    taken: list[list[int]] = [[] for _ in range(thieves + 1)]
    done = threading.Event()

    def thief(k: int) -> None:
        mine = P(k + 1)
        while not done.is_set() or not victim.runqempty():
            gp = runqsteal(mine, victim, True)
            if gp is not None:
                taken[k + 1].append(gp.goid)
            while True:
                gp, _ = runqget(mine)
                if gp is None:
                    break
                taken[k + 1].append(gp.goid)

    ts = [threading.Thread(target=thief, args=(k,)) for k in range(thieves)]
    for t in ts:
        t.start()
    spilled = []
    for i, gp in enumerate(gs):
        batch = runqput(victim, gp, i % 7 == 0)      # runnext now and then
        if batch:
            spilled.extend(g.goid for g in batch)
        if i % 3 == 0:
            gp2, _ = runqget(victim)
            if gp2 is not None:
                taken[0].append(gp2.goid)
    done.set()
    for t in ts:
        t.join(60)
    while True:
        gp, _ = runqget(victim)
        if gp is None:
            break
        taken[0].append(gp.goid)
    seen = [x for t in taken for x in t] + spilled
    assert sorted(seen) == list(range(n))


def test_global_queue_concurrent_puts_and_takes(switchy):
    q = GQueue()
    n, producers = 20_000, 3
    got: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def produce(k: int) -> None:
        for i in range(n):
            q.append(k * n + i)
            if i % 100 == 0:
                q.extend([])

    def consume() -> None:
        mine = []
        while not stop.is_set() or len(q):
            try:
                mine.append(q.popleft())
            except IndexError:
                pass
        with lock:
            got.extend(mine)

    cs = [threading.Thread(target=consume) for _ in range(2)]
    ps = [threading.Thread(target=produce, args=(k,)) for k in range(producers)]
    for t in cs + ps:
        t.start()
    for t in ps:
        t.join(60)
    stop.set()
    for t in cs:
        t.join(60)
    assert sorted(got) == list(range(n * producers))


def test_global_queue_is_a_deque_for_the_python_code():
    q = GQueue()
    q.append(1)
    q.appendleft(0)
    q.extend([2, 3])
    assert len(q) == 4 and bool(q) and 3 in q and list(q) == [0, 1, 2, 3]
    assert q.popleft() == 0
    q.clear()
    assert not q and len(q) == 0
    with pytest.raises(IndexError):
        q.popleft()


# ---------------------------------------------------------------- channels under load

@pytest.mark.parametrize("procs", [1, 2, 4])
@pytest.mark.parametrize("cap", [0, 1, 16])
def test_many_senders_many_receivers_every_value_once(switchy, procs, cap):
    """8 senders, 8 receivers (half of them receiving through select with a
    second, never-ready channel), one channel: each value arrives exactly once."""
    n = 2_000

    async def main():
        ch = gort.Chan(cap)
        never = gort.Chan()
        out = gort.Chan(16)
        wg = gort.WaitGroup()

        async def sender(k):
            for i in range(n):
                await ch.send(k * n + i)

        async def receiver(k):
            got = []
            while True:
                if k % 2:
                    i, v, ok = await gort.select(gort.recv(ch), gort.recv(never))
                else:
                    v, ok = await ch.recv_ok()
                if not ok:
                    break
                got.append(v)
            await out.send(got)

        for k in range(8):
            wg.go(sender, k)
        for k in range(8):
            gort.go(receiver, k)
        await wg.wait()
        ch.close()
        allv = []
        for _ in range(8):
            allv.extend(await out.recv())
        return sorted(allv)

    assert run_bounded(main, procs=procs, timeout=120) == list(range(8 * n))


def test_close_wakes_every_parked_sender_and_receiver(switchy):
    """20 receivers park; 30 senders come: 20 hand over, 10 park; close wakes
    those 10, which raise."""
    def parked(reason):
        return sum(1 for g in list(gort.proc.cursched().allgs) if g.status == 4 and g.waitreason == reason)

    async def main():
        ch = gort.Chan()
        res = gort.Chan(50)

        async def sender():
            try:
                await ch.send(1)
                await res.send("sent")
            except gort.ClosedChannelError:
                await res.send("closed")

        async def receiver():
            v, ok = await ch.recv_ok()
            await res.send(("got", v, ok))

        for _ in range(20):
            gort.go(receiver)
        await wait_until(lambda: parked("chan receive") == 20, "20 receivers parked")
        for _ in range(30):
            gort.go(sender)
        await wait_until(lambda: parked("chan send") == 10 and len(res) == 40, "10 senders parked")
        ch.close()
        return sorted(map(str, [await res.recv() for _ in range(50)]))

    got = run_bounded(main, procs=2)
    assert got.count("sent") == 20 and got.count("closed") == 10
    assert got.count(str(("got", 1, True))) == 20


# ---------------------------------------------------------------- the C operations' own checks

@needs_c
def test_a_forgotten_await_on_a_c_operation_always_warns():
    """As asyncio's "coroutine ... was never awaited", without the debug checks on."""
    p = script("""
        import gort
        async def main():
            ch = gort.Chan(1)
            ch.send(1)
            gort.gosched()
            ch.recv_ok()
            gort.sleep(1)
            await ch.send(2)
            return len(ch)
        print(gort.run(main))
    """, env={"GORT_DEBUG": ""})
    assert p.stdout.strip() == "1", p.stderr
    for name in ("Chan.send", "gosched", "Chan.recv_ok", "sleep"):
        assert f"RuntimeWarning: gort operation {name}() was never awaited" in p.stderr, p.stderr


@needs_c
def test_awaited_c_operations_never_warn():
    p = script("""
        import gort
        async def main():
            ch = gort.Chan(2)
            await ch.send(1)
            gort.go(ch.send, 2)
            op = ch.recv()
            v = await op
            async for x in ch:
                return v + x
        print(gort.run(main))
    """, args=("-W", "error::RuntimeWarning"))
    assert p.stdout.strip() == "3", p.stderr


def test_wrong_receiver_and_bad_arguments_say_so():
    with pytest.raises(TypeError, match="Chan.try_send: int 5 is not a gort.Chan"):
        gort.Chan.try_send(5, 1)
    with pytest.raises(TypeError, match="capacity must be an int"):
        gort.Chan(1.5)
    with pytest.raises(ValueError, match="size out of range"):
        gort.Chan(-1)
    ch = gort.Chan(1)
    assert ch.try_send(v=3) and ch.try_recv() == (3, True, True)


def test_operations_are_awaitables_the_way_python_sees_them():
    import inspect
    ch = gort.Chan(1)
    op = ch.send(1)
    assert inspect.isawaitable(op)
    assert list(inspect.signature(ch.send).parameters) == ["v"]
    assert gort.proc.is_async(ch.send) and gort.proc.is_async(gort.gosched)
    op.close()
    assert len(ch) == 0


# ---------------------------------------------------------------- reference counts (debug builds)

@pytest.mark.skipif(not hasattr(sys, "gettotalrefcount"),
                    reason="needs a debug build of CPython (python3-dbg)")
def test_reference_counts_do_not_drift():
    """Run the same program again and again: the interpreter's total reference
    count must not keep growing (a missing Py_DECREF in a hot path would add
    one per switch, per send...)."""
    async def main():
        ch = gort.Chan()
        buf = gort.Chan(4)
        done = gort.Chan()

        async def pinger():
            for i in range(500):
                await ch.send(i)
                await buf.send(i)
                await gort.gosched()
            await done.send(None)

        async def ponger():
            for _ in range(500):
                await ch.recv()
                await buf.recv_ok()
                ch.try_send(0)
                buf.try_recv()
            await done.send(None)

        async def sleeper():
            for i in range(50):
                await gort.sleep(0.0001 * (i % 3))
            await done.send(None)

        gort.go(pinger)
        gort.go(ponger)
        gort.go(sleeper)
        await done.recv()
        await done.recv()
        await done.recv()
        i, v, ok = await gort.select(gort.recv(buf), default=True)
        try:
            c2 = gort.Chan()
            c2.close()
            await c2.send(1)
        except gort.ClosedChannelError:
            pass

    totals = []
    for _ in range(8):
        gort.run(main, procs=2)
        gc.collect()
        totals.append(sys.gettotalrefcount())
    growth = totals[-1] - totals[2]
    assert growth < 500, totals
