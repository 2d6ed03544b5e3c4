"""Helpers shared by the test files: bounded runs and bounded waits.

A hang must fail a test, never stall CI; waiting is done by yielding a bounded
number of times, never by sleeping and hoping.
"""
from __future__ import annotations

import threading

import pytest

import gort


def run_bounded(main, *args, procs=None, timeout=30.0):
    """gort.run(main, *args, procs=procs) on a helper thread; a hang fails the test."""
    box = {}

    def target():
        try:
            box["result"] = gort.run(main, *args, procs=procs)
        except BaseException as e:  # noqa: BLE001 - re-raised on the test thread
            box["error"] = e

    t = threading.Thread(target=target, name="gort-test-run", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        try:
            st = gort.stats()
        except Exception as e:  # pragma: no cover - diagnostics only
            st = repr(e)
        detail = hang_detail()
        try:  # best effort: stop the stuck program so later tests can run
            from gort import proc, program
            program.initiate_exit(proc.sched)
            t.join(5)
        except Exception:  # pragma: no cover
            pass
        pytest.fail(f"gort.run({main.__name__}) hung for {timeout}s; stats={st}\n{detail}", pytrace=False)
    if "error" in box:
        raise box["error"]
    return box["result"]


def hang_detail() -> str:
    """Every OS thread's Python stack and gort's goroutine dump: what a hang needs to be explained."""
    import sys
    import traceback
    names = {t.ident: t.name for t in threading.enumerate()}
    out = []
    for tid, frame in sys._current_frames().items():
        out.append(f"--- thread {names.get(tid, '?')} ({tid})\n" + "".join(traceback.format_stack(frame)))
    try:
        out.append(gort.stack(True))
    except Exception as e:  # pragma: no cover - diagnostics only
        out.append(f"(no goroutine dump: {e!r})")
    return "\n".join(out)


async def wait_until(pred, what, limit=200_000, least=10.0):
    """Yield (gosched) until pred() holds: a bounded number of tries (for a
    hang to fail, not time out), and never fewer than `least` seconds of them.
    The floor is for a loaded machine: the goroutine that makes pred true may
    sit on an M the OS has not run for a while, and 200,000 C goscheds (the
    accelerator) take only ~60 ms.  It costs nothing when pred comes true."""
    import time
    give_up = time.monotonic() + least
    while True:
        for _ in range(limit):
            if pred():
                return
            await gort.gosched()
        if time.monotonic() >= give_up:
            raise AssertionError(f"condition never became true: {what}")


async def settle(n=200):
    for _ in range(n):
        await gort.gosched()


async def until_parked(reason: str, limit: int = 200_000) -> None:
    """Yield until some goroutine is parked with this wait reason (bounded)."""
    await wait_until(lambda: any(g.status == 4 and g.waitreason == reason
                                 for g in gort.proc.sched.allgs), f"a goroutine parked on {reason!r}", limit)
