"""Topics preempt (Q9) and threads (Q10)."""
from __future__ import annotations

import os
import time
from typing import Any

import gort

from . import Report, topic


def _cpu(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _latency_run(hog_kind: str, seconds: float) -> dict[str, Any]:
    """procs=1: a hog of the given kind runs while a ticker wants to run every 2 ms."""
    async def main() -> dict[str, Any]:
        mu = gort.Mutex()
        stop = [False]
        gaps: list[float] = []
        done: gort.Chan[float] = gort.Chan(1)

        async def ticker() -> None:
            last = time.perf_counter()
            while not stop[0]:
                await gort.sleep(0.002)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        async def hog() -> None:
            t0 = time.perf_counter()
            if hog_kind == "traps":
                while time.perf_counter() - t0 < seconds:
                    _cpu(0.001)
                    await mu.lock()            # an uncontended lock: a trap that checks the request
                    mu.unlock()
            else:
                _cpu(seconds)                  # no trap at all
            await done.send(time.perf_counter() - t0)

        gort.go(ticker)
        await gort.sleep(0.02)
        before = gort.stats()
        gort.go(hog)
        took = await done.recv()
        stop[0] = True
        st = gort.stats()
        return {"took": took, "preempts": st["preempts"] - before["preempts"],
                "retakes": st["retakes"] - before["retakes"], "mcreated": st["mcreated"] - before["mcreated"],
                "worst_gap_ms": max(gaps) * 1000 if gaps else 0.0, "ticks": len(gaps)}
    return gort.run(main, procs=1)


@topic("preempt", "How is a goroutine that never yields preempted? (Q9)")
def preempt(r: Report, scale: float) -> None:
    secs = max(0.1, 0.4 * scale)
    r.say(f"Set-up: GOMAXPROCS=1; a ticker goroutine wants to run every 2 ms while another goroutine "
          f"computes for {secs:.1f} s: (a) reaching a gort operation every ~1 ms (an uncontended "
          "Mutex.lock, which checks the preemption request), (b) never reaching one.")
    a = _latency_run("traps", secs)
    b = _latency_run("none", secs)
    r.section("Measured")
    for label, x in (("(a) with traps", a), ("(b) no trap", b)):
        r.say(f"  {label}: preemption requests {x['preempts']}, P hand-offs {x['retakes']}, new Ms "
              f"{x['mcreated']}, ticker ran {x['ticks']} times, worst gap {x['worst_gap_ms']:.1f} ms")
    r.figures.update(traps=a, none=b)
    r.section("Answer")
    slice_note = ("about one slice" if a["worst_gap_ms"] < 25
                  else "more than a slice: a busy machine delays sysmon and the threads")
    handoff_note = ("no P was handed off" if a["retakes"] == 0
                    else f"{a['retakes']} P hand-off(s) happened all the same")
    r.say("Go's stackguard0 is both the stack limit every function prologue compares against and the "
          "preemption flag: sysmon sets it to a sentinel after a goroutine ran 10 ms, and the next "
          "prologue check diverts into the scheduler. gort's equivalent is G.preempt, checked at every "
          f"gort operation: in (a) sysmon asked {a['preempts']} times and the goroutine yielded at its "
          f"next lock: the ticker's worst wait was {a['worst_gap_ms']:.0f} ms against a 10 ms time slice "
          f"({slice_note}), and {handoff_note}.")
    if b["retakes"] >= 1:
        r.say(f"In (b) the request was never honoured (no trap to check it; Go would preempt it with a "
              f"signal, Python cannot): after the grace sysmon treated the goroutine as blocked, retired "
              f"its P and handed a fresh one to another thread ({b['retakes']} hand-off(s), {b['mcreated']} "
              f"new M), so the ticker kept running (worst gap {b['worst_gap_ms']:.0f} ms).")
    else:
        r.say("In (b) no hand-off happened in this run (sysmon did not see the goroutine stuck long "
              "enough: the computation was shorter than a time slice plus the grace).")


@topic("threads", "Won't Ms grow without bound? Aren't M and P one-to-one? (Q10)")
def threads(r: Report, scale: float) -> None:
    waves = 3
    per = max(5, int(20 * scale))
    idle_exit = 0.2
    r.say(f"Set-up: GOMAXPROCS=2; {waves} waves of {per} goroutines blocking 0.1 s in gort.syscall, "
          f"0.4 s apart; idle Ms leave after {idle_exit} s (GORT_IDLE_M_EXIT); the M count sampled "
          "every 10 ms.")
    old = os.environ.get("GORT_IDLE_M_EXIT")
    os.environ["GORT_IDLE_M_EXIT"] = str(idle_exit)

    async def main() -> dict[str, Any]:
        samples: list[int] = []
        stop = [False]

        async def sampler() -> None:
            while not stop[0]:
                samples.append(gort.num_thread())
                await gort.sleep(0.01)

        async def call() -> None:
            await gort.syscall(time.sleep, 0.1)

        gort.go(sampler)
        await gort.sleep(0.05)
        rest = gort.num_thread()
        peaks = []
        for _ in range(waves):
            start = len(samples)
            wg = gort.WaitGroup()
            for _ in range(per):
                wg.go(call)
            await wg.wait()
            await gort.sleep(0.4)
            peaks.append(max(samples[start:]))
        stop[0] = True
        st = gort.stats()
        return {"rest": rest, "peaks": peaks, "end": samples[-1], "handoffs": st["handoffs"],
                "retakes": st["retakes"], "created": st["mcreated"], "samples": samples}
    try:
        res = gort.run(main, procs=2)
    finally:
        if old is None:
            del os.environ["GORT_IDLE_M_EXIT"]
        else:
            os.environ["GORT_IDLE_M_EXIT"] = old
    r.section("Measured")
    r.say(f"  threads at rest {res['rest']}, peak per wave {res['peaks']}, after the last wave "
          f"{res['end']}; Ms created in all {res['created']}; P hand-offs {res['handoffs']} "
          f"(sysmon retakes {res['retakes']})")
    line = "".join(" .:-=+*#%@"[min(9, max(0, (n * 9) // max(1, max(res["peaks"]))))]
                   for n in res["samples"][::3])
    r.say(f"  M count over time: {line}")
    r.figures.update(res)
    r.section("Answer")
    rose = max(res["peaks"]) > res["rest"]
    fell = res["end"] < max(res["peaks"])
    r.say(f"M and P are not one-to-one: a goroutine blocked in a system call keeps its M but gives its P "
          f"to another M, so the M count {'rose' if rose else 'did not rise (unexpected)'} from "
          f"{res['rest']} to {max(res['peaks'])} with {per} calls in flight on 2 Ps. It is bounded by "
          f"what blocks at once (and capped at 10,000, Go's limit), not by goroutines, and idle Ms "
          f"{'went away again' if fell else 'had not left yet'} ({res['end']} at the end).")
    if res["created"] < waves * per:
        r.say(f"Ms are reused: {res['created']} were made for {waves * per} calls.")
    else:
        r.say(f"{res['created']} Ms were made for {waves * per} calls: each wave made its own, because the "
              f"idle ones left during the 0.4 s pauses (GORT_IDLE_M_EXIT={idle_exit} s; Go keeps them).")
