"""What a newcomer trips on (issue #10): forgotten awaits, foreign awaitables,
gort.go with functions returning gort awaitables, asyncio interop both ways."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time

import pytest

import gort
from gort import context
from helpers import run_bounded

pytestmark = pytest.mark.timeout(120)


def run_script(code: str, *, env: dict | None = None, args: tuple = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})})


# ---------------------------------------------------------------- 1. forgotten awaits

FORGETFUL = """
    import gort
    async def main():
        ch = gort.Chan(1)
        mu = gort.Mutex()
        ch.send(1)
        gort.sleep(0.2)
        gort.gosched()
        await gort.sleep(0.001)
        return len(ch)
    print("len", gort.run(main))
"""


@pytest.mark.parametrize("how", ["GORT_DEBUG=1", "-X dev"])
def test_forgotten_await_warns_in_debug_mode(how):
    env, args = ({"GORT_DEBUG": "1"}, ()) if how.startswith("GORT") else ({}, ("-X", "dev"))
    p = run_script(FORGETFUL, env=env, args=args)
    assert "len 0" in p.stdout, p.stderr
    err = p.stderr
    assert ":6: RuntimeWarning: gort operation Chan.send() was never awaited" in err, err
    assert ":7: RuntimeWarning: gort operation sleep() was never awaited" in err, err
    assert ":8: RuntimeWarning: gort operation gosched() was never awaited" in err, err


def test_debug_mode_awaitables_still_work():
    p = run_script("""
        import gort
        async def main():
            ch = gort.Chan()
            wg = gort.WaitGroup()
            wg.add(1)
            gort.go(ch.send, 7)
            gort.go(wg.wait)
            v = await ch.recv()
            i, w, ok = await gort.select(gort.recv(ch), default=True)
            wg.done()
            c = gort.Chan(2)
            await c.send(1)
            c.close()
            async for x in c:
                v += x
            return v, i
        print(gort.run(main))
    """, env={"GORT_DEBUG": "1"}, args=("-W", "error::RuntimeWarning"))
    assert p.stdout.strip() == "(8, -1)", p.stderr


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def need_mypy():
    """mypy is in the test extras; only a free-threaded build may lack it (tools/run-suite.sh)."""
    try:
        import mypy  # noqa: F401
    except ImportError:
        if sysconfig.get_config_var("Py_GIL_DISABLED"):
            pytest.skip("mypy is not installed on this free-threaded build: its dependency ast-serialize "
                        "has no free-threaded wheel (tools/run-suite.sh installs the test-core extras)")
        pytest.fail("mypy is not installed, yet it is in the test extras: pip install -e '.[test]'")


def mypy(*args, cwd):
    """mypy run as a user would: from cwd, seeing gort only through its (editable) install."""
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")})


def test_mypy_sees_the_installed_package(tmp_path):
    need_mypy()
    (tmp_path / "uses.py").write_text("import gort\nreveal_type(gort.Chan)\n")
    p = mypy("uses.py", cwd=tmp_path)
    assert "import-not-found" not in p.stdout and "gort.chan.Chan" in p.stdout, p.stdout + p.stderr


def test_mypy_strict_is_clean_on_gort_and_examples(tmp_path):
    need_mypy()
    p = mypy("--strict", "--cache-dir", str(tmp_path / "cache"), "gort", "examples", cwd=REPO)
    assert p.returncode == 0 and "Success: no issues found" in p.stdout, p.stdout + p.stderr


def test_mypy_flags_an_unused_awaitable(tmp_path):
    need_mypy()
    src = tmp_path / "forgot.py"
    src.write_text(textwrap.dedent("""
        import gort

        async def main() -> None:
            ch: gort.Chan[int] = gort.Chan(1)
            ch.send(1)
            gort.sleep(0.1)
            await ch.send(2)
    """))
    p = mypy("--enable-error-code", "unused-awaitable", str(src), cwd=tmp_path)
    assert "forgot.py:6: error" in p.stdout and "[unused-awaitable]" in p.stdout, p.stdout
    assert "forgot.py:7: error" in p.stdout, p.stdout
    assert "forgot.py:8:" not in p.stdout, p.stdout


# every public gort operation that must be awaited, left without `await`
UNAWAITED = [
    "ch.send(1)", "ch.recv()", "ch.recv_ok()", "mu.lock()", "rw.lock()", "rw.rlock()",
    "rw.rlocker().lock()", "wg.wait()", "once.do(f)", "cond.wait()", "sem.acquire()", "eg.wait()",
    "eg.go(f)", "gort.sleep(1)", "gort.gosched()", "gort.select(gort.recv(ch))",
    "gort.syscall(time.sleep, 1)", "gort.aio.run(f())", "conn.read(1)", "conn.write(b'x')",
    "conn.read_into(bytearray(1))", "ln.accept()", "net.dial('tcp', 'x:1')", "r.read(1)",
    "r.read_line()", "gio.read_full(r, 3)", "gio.copy(conn, r)",
]


def test_mypy_flags_every_gort_awaitable_left_unawaited(tmp_path):
    need_mypy()
    head = textwrap.dedent("""\
        import time
        import gort
        from gort import io as gio, net

        async def f() -> None:
            pass

        async def main(conn: net.Conn, ln: net.Listener) -> None:
            ch: gort.Chan[int] = gort.Chan(1)
            mu, rw, wg, once = gort.Mutex(), gort.RWMutex(), gort.WaitGroup(), gort.Once()
            cond, sem, eg, r = gort.Cond(mu), gort.Semaphore(2), gort.ErrGroup(), gio.Reader(conn)
    """)
    first = head.count("\n") + 1
    (tmp_path / "ops.py").write_text(head + "".join(f"    {op}\n" for op in UNAWAITED))
    p = mypy("--strict", "--enable-error-code", "unused-awaitable", "ops.py", cwd=tmp_path)
    errors = [x for x in p.stdout.splitlines() if ": error:" in x]
    for i, op in enumerate(UNAWAITED):
        mine = [x for x in errors if x.startswith(f"ops.py:{first + i}:")]
        # a generator-based operation is an unused awaitable, an `async def` one an unused coroutine
        assert any("[unused-awaitable]" in x or "[unused-coroutine]" in x for x in mine), (op, p.stdout)
    assert len(errors) == len(UNAWAITED), p.stdout


def test_mypy_checks_the_typed_api(tmp_path):
    need_mypy()
    src = tmp_path / "typed.py"
    src.write_text(textwrap.dedent("""
        import time
        import gort

        async def worker(n: int, out: gort.Chan[str]) -> None:
            await out.send(str(n))

        async def main() -> int:
            out: gort.Chan[str] = gort.Chan()
            gort.go(worker, 1, out)
            gort.go(worker, "one", out)
            s = await out.recv()
            reveal_type(s)
            v, ok = await out.recv_ok()
            reveal_type(v)
            t = await gort.syscall(time.monotonic)
            reveal_type(t)
            await gort.syscall(time.sleep, "x")
            i, w, ok2 = await gort.select(gort.recv(out), default=True)
            return i

        r = gort.run(main)
        reveal_type(r)
    """))
    p = mypy(str(src), cwd=tmp_path)
    out = p.stdout

    def line(n):
        return "\n".join(x for x in out.splitlines() if f"typed.py:{n}:" in x)
    assert 'error: Argument 2 has incompatible type "str"; expected "int"' in line(11), out
    assert "Revealed type is" in line(13) and "str" in line(13) and "None" in line(13), out
    assert "Revealed type is" in line(15) and "str" in line(15), out
    assert "float" in line(17), out
    assert 'Argument 2 to "syscall" has incompatible type "str"' in line(18), out
    assert 'Revealed type is "int"' in line(23) or "builtins.int" in line(23), out


# ---------------------------------------------------------------- 2. foreign awaitables

class Weird:
    def __await__(self):
        yield "something only a foreign loop understands"
        return 1


def test_foreign_awaitables_raise_type_error_at_the_await():
    async def main():
        out = []
        for make in (lambda: asyncio.sleep(0), Weird):
            try:
                await make()
                out.append("no error")
            except TypeError as e:
                out.append(str(e))
        # the scheduler is unharmed: goroutines still run and communicate
        ch = gort.Chan()
        gort.go(ch.send, 42)
        out.append(await ch.recv())
        return out

    got = run_bounded(main, procs=2)
    assert "asyncio.sleep" in got[0] and "gort.aio.run" in got[0], got[0]
    assert "Weird.__await__" in got[1], got[1]
    assert got[2] == 42


def test_uncaught_foreign_await_ends_the_program_with_the_type_error():
    async def main():
        await asyncio.sleep(0)

    with pytest.raises(TypeError, match="which gort cannot run"):
        run_bounded(main, procs=1)


def test_asyncio_call_without_a_loop_points_at_gort_aio():
    async def main():
        await asyncio.sleep(0.01)           # asyncio looks for its loop first

    with pytest.raises(RuntimeError) as ei:
        run_bounded(main, procs=1)
    assert any("gort.aio.run" in n for n in getattr(ei.value, "__notes__", []))


# ---------------------------------------------------------------- 3. gort.go with gort awaitables

def test_go_accepts_functions_returning_gort_awaitables():
    async def main():
        ch = gort.Chan()
        wg = gort.WaitGroup()
        wg.add(1)
        gort.go(ch.send, 5)
        gort.go(wg.wait)
        gort.go(gort.sleep, 0.01)
        v = await ch.recv()
        wg.done()
        await gort.sleep(0.02)
        return v

    assert run_bounded(main) == 5


def test_go_still_rejects_plain_functions_and_coroutine_objects():
    async def main():
        async def f():
            pass
        errs = []
        for bad in (lambda: gort.go(print, 1), lambda: gort.go(f())):
            try:
                bad()
            except TypeError as e:
                errs.append(str(e))
        return errs

    errs = run_bounded(main)
    assert "is not an async function" in errs[0]
    assert "not a coroutine object" in errs[1]


# ---------------------------------------------------------------- 4. asyncio interop

async def doubled(x):
    await asyncio.sleep(0.01)
    return 2 * x


async def failing():
    await asyncio.sleep(0.001)
    raise ValueError("from asyncio")


def test_aio_run_parks_goroutines_not_threads():
    async def main():
        out = gort.Chan(50)

        async def w(i):
            await out.send(await gort.aio.run(doubled(i)))

        for i in range(50):
            gort.go(w, i)
        got = sorted([await out.recv() for _ in range(50)])
        return got, gort.num_thread()

    got, threads = run_bounded(main, procs=2)
    assert got == [2 * i for i in range(50)]
    assert threads < 10, f"{threads} Ms for 50 goroutines waiting on asyncio"


def test_aio_run_raises_the_asyncio_exception():
    async def main():
        with pytest.raises(ValueError, match="from asyncio"):
            await gort.aio.run(failing())
        return "ok"

    assert run_bounded(main) == "ok"


def test_aio_run_with_a_context_cancels_the_asyncio_task():
    cancelled = threading.Event()

    async def forever():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def main():
        ctx, cancel = context.with_timeout(context.background(), 0.05)
        try:
            with pytest.raises(context.DeadlineExceeded):
                await gort.aio.run(forever(), ctx)
        finally:
            cancel()
        return "ok"

    assert run_bounded(main) == "ok"
    assert cancelled.wait(10)


def test_aio_loop_thread_ends_with_the_program():
    async def main():
        await gort.aio.run(asyncio.sleep(0))

    run_bounded(main)
    end = time.monotonic() + 10
    while any(t.name == "gort-asyncio" for t in threading.enumerate()) and time.monotonic() < end:
        time.sleep(0.01)
    assert not any(t.name == "gort-asyncio" for t in threading.enumerate())


def test_background_runtime_from_threads_and_asyncio():
    async def square(x):
        await gort.sleep(0.001)
        return x * x

    gort.start(procs=2)
    try:
        # from plain threads
        results = {}

        def worker(k):
            results[k] = [gort.submit(square, k * 10 + i).result(timeout=10) for i in range(10)]

        ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert results == {k: [(k * 10 + i) ** 2 for i in range(10)] for k in range(4)}

        # from asyncio
        async def amain():
            return await asyncio.gather(*[asyncio.wrap_future(gort.submit(square, i)) for i in range(20)])
        assert asyncio.run(amain()) == [i * i for i in range(20)]

        # plain functions, errors go to the future, not to the program
        assert gort.submit(lambda a, b: a + b, 2, 3).result(timeout=10) == 5

        async def bad():
            raise KeyError("nope")
        with pytest.raises(KeyError):
            gort.submit(bad).result(timeout=10)
        # nothing runs for a while: not a deadlock (checkdead is off)
        time.sleep(0.1)
        assert gort.submit(square, 3).result(timeout=10) == 9

        # a foreign thread feeding a channel with try_send
        ch = gort.Chan(100)

        async def drain(n):
            return sum([await ch.recv() for _ in range(n)])
        fut = gort.submit(drain, 100)
        for i in range(100):
            while not ch.try_send(i):
                time.sleep(0.001)
        assert fut.result(timeout=10) == sum(range(100))
        with pytest.raises(RuntimeError, match="already running"):
            gort.start()
    finally:
        gort.stop()
    with pytest.raises(RuntimeError, match="no background runtime"):
        gort.stop()


def test_submit_without_a_program_is_a_clear_error():
    async def f():
        pass

    if gort.proc.sched.main_started and not gort.proc.sched.exiting:
        pytest.skip("a program is running")
    with pytest.raises(RuntimeError, match="no running gort program"):
        gort.submit(f)


# ---------------------------------------------------------------- 3b. callbacks take plain or async functions

def test_after_func_takes_plain_and_async_functions():
    async def main():
        hits = gort.Chan(2)

        async def a():
            await hits.send("async")
        gort.after_func(0.001, a)
        gort.after_func(0.002, lambda: hits.try_send("plain"))
        got = sorted([await hits.recv(), await hits.recv()])
        with pytest.raises(TypeError, match="not callable"):
            gort.after_func(0.1, 5)
        return got

    assert run_bounded(main) == ["async", "plain"]


# ---------------------------------------------------------------- 7. small messages

def test_bad_durations_name_the_call():
    async def main():
        errs = []
        for call in (lambda: gort.sleep("1"), lambda: gort.Timer("1"), lambda: gort.after([1]),
                     lambda: gort.tick("x"), lambda: gort.Ticker(None), lambda: gort.after_func("1", print)):
            try:
                r = call()
                if hasattr(r, "__await__") or hasattr(r, "send"):
                    await r
                errs.append("no error")
            except TypeError as e:
                errs.append(str(e))
        return errs

    errs = run_bounded(main)
    for name, e in zip(["gort.sleep", "gort.Timer", "gort.Timer", "gort.tick", "gort.Ticker",
                        "gort.after_func"], errs):
        assert e.startswith(name + ":") and "number of seconds" in e, e


def test_tick_of_a_non_positive_duration_is_none_as_in_go():
    async def main():
        return gort.tick(0), gort.tick(-1)

    assert run_bounded(main) == (None, None)
    assert "None" in gort.tick.__doc__


def test_chan_methods_on_a_wrong_receiver():
    for meth, args in (("close", ()), ("try_send", (1,)), ("try_recv", ())):
        with pytest.raises(TypeError, match=f"Chan.{meth}: int 5 is not a gort.Chan"):
            getattr(gort.Chan, meth)(5, *args)


def test_chan_operations_outside_a_program_are_clear():
    ch = gort.Chan()
    with pytest.raises(RuntimeError, match="outside a running gort program"):
        ch.send(1).send(None)


# ---------------------------------------------------------------- 6. API docs where people look

def _public_api():
    import inspect
    for n in gort.__all__:
        o = getattr(gort, n)
        if inspect.ismodule(o):
            for m in getattr(o, "__all__", None) or [x for x in dir(o) if not x.startswith("_")]:
                x = getattr(o, m)
                if callable(x) and getattr(x, "__module__", "").startswith("gort"):
                    yield f"{n}.{m}", x
            continue
        yield n, o
        if inspect.isclass(o):
            for m, v in vars(o).items():
                if m.startswith("_") and m not in ("__aenter__", "__aexit__"):
                    continue
                if callable(v) or isinstance(v, (property, classmethod, staticmethod)):
                    yield f"{n}.{m}", getattr(v, "__func__", v)


def test_every_public_name_has_a_docstring():
    missing = [name for name, obj in _public_api() if not (getattr(obj, "__doc__", None) or "").strip()]
    assert not missing, missing


def test_help_of_chan_shows_no_internals():
    import pydoc
    text = pydoc.render_doc(gort.Chan, renderer=pydoc.plaintext)
    import re
    for internal in ("recvq_first", "sendx", "qcount", "dataqsiz", "_mode", "buf", "lock"):
        assert not re.search(rf"\b{internal}\b", text), internal
    for api in ("send(self, v", "recv(self)", "recv_ok(self)", "try_send", "try_recv", "close(self)", "cap"):
        assert api in text, api


def test_module_docstrings_cite_go_not_an_internal_reference():
    import pkgutil
    import importlib
    for info in pkgutil.iter_modules(gort.__path__):
        mod = importlib.import_module(f"gort.{info.name}")
        assert "reference §" not in (mod.__doc__ or ""), info.name
