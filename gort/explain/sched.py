"""Topics on the scheduler itself: gmp (Q1), why-p (Q2), bootstrap (Q3),
gomaxprocs (Q4), g0 (Q5), wakeup (Q6)."""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from typing import Any

import gort
from gort import proc, program

from . import Report, topic


def _n(x: float, scale: float, lo: int = 1) -> int:
    return max(lo, int(x * scale))


# ---------------------------------------------------------------- Q1 gmp

@topic("gmp", "What are G, M and P? (Q1)")
def gmp(r: Report, scale: float) -> None:
    procs = 3
    r.say(f"Set-up: GOMAXPROCS={procs}; 4 goroutines computing (they yield every ~1 ms), 6 blocked on a "
          "channel, 3 sleeping, 2 inside a blocking system call; 5 samples 20 ms apart.")

    def cpu(ms: float) -> None:
        end = time.perf_counter() + ms / 1000
        while time.perf_counter() < end:
            pass

    async def main() -> list[dict[str, Any]]:
        stop = [False]
        never: gort.Chan[None] = gort.Chan()

        async def worker() -> None:
            while not stop[0]:
                cpu(1)
                await gort.gosched()

        async def blocked() -> None:
            await never.recv()

        async def sleeper() -> None:
            while not stop[0]:
                await gort.sleep(0.05)

        async def caller() -> None:
            while not stop[0]:
                await gort.syscall(time.sleep, 0.03)

        for f, k in ((worker, 4), (blocked, 6), (sleeper, 3), (caller, 2)):
            for _ in range(k):
                gort.go(f)
        samples = []
        for _ in range(5):
            await gort.sleep(0.02)
            s = proc.cursched()
            reasons: dict[str, int] = {}
            for g in list(s.allgs):
                if g.status == 4:
                    reasons[g.waitreason] = reasons.get(g.waitreason, 0) + 1
            st = gort.stats()
            st["reasons"] = reasons
            st["pstatus"] = [p["status"] for p in st["ps"]]
            samples.append(st)
        stop[0] = True
        never.close()
        return samples

    samples = gort.run(main, procs=procs)
    r.section("Samples (gort.stats())")
    r.say(f"{'t':>3} {'G running':>9} {'runnable':>8} {'waiting':>7} {'syscall':>7} | "
          f"{'M threads':>9} {'idle':>4} {'spin':>4} | P status")
    max_running = 0
    for i, st in enumerate(samples):
        g = st["goroutines"]
        max_running = max(max_running, g.get("running", 0))
        r.say(f"{i:>3} {g.get('running', 0):>9} {g.get('runnable', 0):>8} {g.get('waiting', 0):>7} "
              f"{g.get('syscall', 0):>7} | {st['threads']:>9} {st['idlethreads']:>4} "
              f"{st['spinningthreads']:>4} | {' '.join(st['pstatus'])}")
    last = samples[-1]
    r.say(f"wait reasons in the last sample: {last['reasons']}")
    total_g = sum(samples[-1]["goroutines"].values())
    r.figures.update(max_running=max_running, procs=procs, threads=last["threads"], goroutines=total_g)
    r.section("Answer")
    r.say(f"G is a goroutine: {total_g} of them here, each a coroutine with a status and, when waiting, "
          f"a reason. M is an OS thread running the scheduler loop: {last['threads']} here (sysmon "
          f"included). P is a logical processor holding a run queue: {procs}, one per GOMAXPROCS.")
    if max_running <= procs:
        r.say(f"An M must hold a P to run a G, so at most {procs} goroutines ran at once in every "
              f"sample (the most seen: {max_running}); the callers in a system call held no P.")
    else:
        r.say(f"{max_running} goroutines were running at once, more than GOMAXPROCS={procs}: some were "
              "handed off as blocked (see `explain preempt`), so they ran without a P.")


# ---------------------------------------------------------------- Q2 why-p

_WHYP_CHILD = r"""
import json, os, sys, threading, time
import gort
jobs, workers = int(sys.argv[1]), 16
sys.setswitchinterval(1e-4)     # with the GIL: threads interleave as often as on cores

async def main():
    work, results = gort.Chan(64), gort.Chan(64)
    moves = [0]
    async def worker():
        last = threading.get_ident()
        async for n in work:
            s = 0
            for k in range(300):
                s += k * n
            if n % 8 == 0:
                await gort.syscall(time.sleep, 0)   # a short system call: the P is handed around
            me = threading.get_ident()
            moves[0] += me != last
            last = me
            await results.send(n)
    async def feeder():
        for n in range(jobs):
            await work.send(n)
        work.close()
    for _ in range(workers):
        gort.go(worker)
    gort.go(feeder)
    t0 = time.perf_counter()
    total = 0
    for _ in range(jobs):
        total += await results.recv()
    dt = time.perf_counter() - t0
    st = gort.stats()
    return dict(seconds=dt, acquires=st["lock_acquires"], contended=st["lock_contended"],
                steals=st["steals"], handoffs=st["handoffs"], moves=moves[0], ok=total == sum(range(jobs)),
                gil=gort.program.gil_enabled())
print(json.dumps(gort.run(main, procs=4)))
"""


def _free_threaded_python() -> str | None:
    """A free-threaded interpreter to compare with, if this one has the GIL."""
    for p in (os.environ.get("GORT_FT_PYTHON"), "/opt/gort-python-3.14t/bin/python3.14t",
              "/opt/gort-python-ft/bin/python3.13t"):
        if p and os.path.exists(p):
            return p
    return None


def _whyp_run(python: str, mode: str, jobs: int) -> dict[str, Any]:
    import json
    # only gort's own directory on the path: the other interpreter has its own stdlib
    env = dict(os.environ, GORT_SCHED=mode, GORT_LOCKSTATS="1",
               PYTHONPATH=os.path.dirname(os.path.dirname(gort.__file__)))
    env.pop("PYTHON_GIL", None)     # a GIL build refuses PYTHON_GIL=0; free-threaded runs without one
    out = subprocess.run([python, "-c", _WHYP_CHILD, str(jobs)], env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"why-p child failed: {out.stderr[-2000:]}")
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


@topic("why-p", "Why invent P? Go 1.0's one global queue versus per-P queues (Q2)")
def why_p(r: Report, scale: float) -> None:
    jobs = _n(6000, scale, 200)
    r.say(f"Set-up: 16 workers, {jobs} jobs fanned out over channels on 4 Ps, every 8th job a short system "
          "call, run under Go 1.0's scheduler (GORT_SCHED=global: one global queue under sched.lock, "
          "no local queues, no stealing) and under GMP; sched.lock acquisitions counted (GORT_LOCKSTATS); "
          "a 0.1 ms GIL switch interval, so that threads interleave as they would on separate cores.")
    pythons = [sys.executable]
    ft = _free_threaded_python() if program.gil_enabled() else None
    if ft:
        pythons.append(ft)
    rows = []
    for py in pythons:
        runs: dict[str, list[dict[str, Any]]] = {"global": [], "gmp": []}
        for _ in range(3):                       # interleaved, so both see the same machine load
            for mode in ("global", "gmp"):
                runs[mode].append(_whyp_run(py, mode, jobs))
        res = {mode: sorted(rs, key=lambda x: x["seconds"])[1] for mode, rs in runs.items()}
        rows.append((py, res))
    r.section("Measured (the median run of 3 for each)")
    r.say(f"{'python':>7} {'scheduler':>9} {'seconds':>8} {'lock taken':>10} {'contended':>9} "
          f"{'steals':>6} {'G moved':>7}")
    for _py, res in rows:
        tag = "no GIL" if not res["gmp"]["gil"] else "GIL"
        for mode in ("global", "gmp"):
            x = res[mode]
            r.say(f"{tag:>7} {mode:>9} {x['seconds']:8.3f} {x['acquires']:>10} {x['contended']:>9} "
                  f"{x['steals']:>6} {x['moves']:>7}")
    here = rows[0][1]
    r.figures.update({f"{m}_{k}": here[m][k] for m in ("global", "gmp")
                      for k in ("acquires", "contended", "seconds", "steals", "moves")})
    r.section("Answer")
    g, p = here["global"], here["gmp"]
    fewer = p["acquires"] < g["acquires"]
    r.say(f"With one global queue every goroutine switch goes through sched.lock: {g['acquires']} "
          f"acquisitions ({g['contended']} contended) against {p['acquires']} ({p['contended']}) with "
          f"per-P queues{'' if fewer else ' (not fewer in this run: the run was too short to show it)'}. "
          f"P gives each M a local queue it uses without the lock, lets idle Ms steal ({p['steals']} "
          f"steals here; none in Go 1.0 mode), and carries its caches (free Gs, goroutine ids, timers) "
          "with it when its M blocks in a system call, so nothing is stranded on the blocked thread.")
    if here["gmp"]["gil"]:
        faster = p["seconds"] < 0.95 * g["seconds"]
        r.say(f"Under the GIL one lock costs little wall time: GMP took {p['seconds']:.3f} s against "
              f"{g['seconds']:.3f} s ({'faster' if faster else 'not faster'}), because only one thread "
              "runs Python at a time anyway, so a thread rarely finds the lock taken "
              f"({g['contended']} contended takes in Go 1.0 mode, {p['contended']} with P, where spinning "
              "Ms look at the global queue too). What P saves under the GIL is the acquisitions "
              f"themselves ({g['acquires']} against {p['acquires']}); the contention, and the time it "
              "costs, appear without the GIL.")
    for py, res in rows[1:]:
        gg, pp = res["global"], res["gmp"]
        r.figures.update(ft_global_seconds=gg["seconds"], ft_gmp_seconds=pp["seconds"])
        if pp["seconds"] < 0.9 * gg["seconds"]:
            verdict = "the one lock was a bottleneck, and P removed it"
        elif pp["seconds"] > 1.1 * gg["seconds"]:
            verdict = "slower in this run: on 2 cores stealing and spinning cost more than the lock saved"
        else:
            verdict = ("within 10 %: on 2 cores there is little parallelism for one lock to serialise; "
                       f"its contention shows it ({gg['contended']} contended takes against "
                       f"{pp['contended']})")
        r.say(f"Without the GIL ({os.path.basename(py)}) the threads really run at once: GMP took "
              f"{pp['seconds']:.3f} s against {gg['seconds']:.3f} s for one global queue ({verdict}).")


# ---------------------------------------------------------------- Q3 bootstrap

@topic("bootstrap", "How does a program start? (Q3)")
def bootstrap(r: Report, scale: float) -> None:
    r.say("Set-up: gort's bootstrap log (logger 'gort' at DEBUG) while gort.run starts a program whose "
          "main records where it runs.")
    records: list[tuple[float, str]] = []
    t0 = time.perf_counter()

    class H(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            records.append((time.perf_counter() - t0, rec.getMessage()))

    log = logging.getLogger("gort")
    h = H()
    old = log.level
    log.addHandler(h)
    log.setLevel(logging.DEBUG)

    async def main() -> dict[str, Any]:
        records.append((time.perf_counter() - t0, f"main.main: goroutine {gort.goid()} running on thread "
                        f"{threading.current_thread().name}"))
        st = gort.stats()
        return {"procs": st["gomaxprocs"], "threads": st["threads"]}
    try:
        res = gort.run(main, procs=2)
    finally:
        log.removeHandler(h)
        log.setLevel(old)
    r.section("Steps, as they happened")
    for t, msg in records:
        r.say(f"{t * 1000:8.3f} ms  {msg}")
    r.figures.update(steps=[m for _, m in records], **res)
    r.section("Answer")
    r.say("As in Go: schedinit reads the CPU count and makes GOMAXPROCS Ps (osinit + schedinit), newproc "
          "puts the main goroutine in P0's runnext, and M0 starts and enters schedule(), which executes "
          f"it: main ran as goroutine 1 with {res['procs']} Ps and {res['threads']} threads (M0 and sysmon). "
          "One difference Python forces: the thread that called gort.run only waits for the program to "
          "end (Go's exit(0) would stop every thread; Python cannot).")


# ---------------------------------------------------------------- Q4 gomaxprocs

def _chunks_parallel(procs: int, goroutines: int, chunks: int) -> float:
    async def main() -> float:
        wg = gort.WaitGroup()

        async def w() -> None:
            for _ in range(chunks):
                end = time.thread_time() + 0.001      # 1 ms of Python, then a trap
                while time.thread_time() < end:
                    pass
                await gort.gosched()
        t = time.perf_counter()
        for _ in range(goroutines):
            wg.go(w)
        await wg.wait()
        return time.perf_counter() - t
    return gort.run(main, procs=procs)


def _hash_parallel(procs: int, goroutines: int, mb: int) -> tuple[float, int]:
    data = b"x" * (mb << 20)

    async def main() -> tuple[float, int]:
        wg = gort.WaitGroup()
        peak = [0]

        async def w() -> None:
            await gort.syscall(hashlib.sha256, data)    # releases the GIL; the P is handed off
        t = time.perf_counter()
        for _ in range(goroutines):
            wg.go(w)
        await wg.wait()
        peak[0] = gort.stats()["mcreated"]
        return time.perf_counter() - t, peak[0]
    return gort.run(main, procs=procs)


@topic("gomaxprocs", "What is GOMAXPROCS? (Q4)")
def gomaxprocs(r: Report, scale: float) -> None:
    chunks = _n(60, scale, 5)
    mb = _n(32, scale, 2)
    r.say(f"Set-up: (a) 4 goroutines each running {chunks} chunks of 1 ms of Python with a gosched between "
          f"them, at GOMAXPROCS 1, 2, 4; (b) 4 goroutines hashing {mb} MB each in gort.syscall (C code that "
          "releases the GIL); (c) a resize from 1 to 2 Ps while (a) runs.")
    gil = program.gil_enabled()

    def med(xs: list[Any]) -> Any:
        return sorted(xs)[len(xs) // 2]
    a = {p: med([_chunks_parallel(p, 4, chunks) for _ in range(3)]) for p in (1, 2, 4)}
    b = {p: med([_hash_parallel(p, 4, mb) for _ in range(3)]) for p in (1, 2, 4)}
    data = b"x" * (mb << 20)
    serial = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(4):
            hashlib.sha256(data)
        serial.append(time.perf_counter() - t)
    hash_serial = med(serial)

    async def resize() -> tuple[int, int, float, float]:
        wg = gort.WaitGroup()
        done = [0, 0]
        phase = [0]

        async def w() -> None:
            for _ in range(chunks):
                end = time.thread_time() + 0.001
                while time.thread_time() < end:
                    pass
                done[phase[0]] += 1
                await gort.gosched()
        for _ in range(4):
            wg.go(w)
        t = time.perf_counter()
        await gort.sleep(0.05 * scale)
        t1 = time.perf_counter()
        phase[0] = 1
        prev = gort.gomaxprocs(2)
        await wg.wait()
        return prev, gort.gomaxprocs(), done[0] / (t1 - t), done[1] / (time.perf_counter() - t1)
    prev, now, rate1, rate2 = gort.run(resize, procs=1)
    r.section("Measured")
    r.say("(a) Python chunks, wall s: " + ", ".join(f"procs={p}: {a[p]:.3f}" for p in a))
    hashed = ", ".join(f"procs={p}: {b[p][0]:.3f} ({b[p][1]})" for p in b)
    r.say(f"(b) hashing in syscalls, wall s (Ms made): {hashed}; the same 4 hashes one after another: "
          f"{hash_serial:.3f}")
    r.say(f"(c) gomaxprocs(2) returned {prev} and then reads {now}; chunks/s before {rate1:.0f}, "
          f"after {rate2:.0f}")
    r.figures.update(chunks=a, hashing={p: b[p][0] for p in b}, hash_serial=hash_serial,
                     resize=(prev, now, rate1, rate2), gil=gil)
    r.section("Answer")
    speedup = a[1] / a[2] if a[2] else 0.0
    r.say(f"GOMAXPROCS is the number of Ps: the goroutines that can run Python between two awaits at once. "
          f"Going from 1 to 2 Ps made (a) {speedup:.2f}x faster"
          + (" - the GIL lets one thread run Python at a time, so more Ps do not run Python in parallel here"
             if gil else " - without the GIL the Ps really run in parallel (2 cores here)") + ".")
    par = b[1][0] < 0.8 * hash_serial
    r.say(f"It does not cap threads blocked outside Python: (b) at procs=1 took {b[1][0]:.3f} s against "
          f"{hash_serial:.3f} s hashing one after another ("
          + ("in parallel: " if par else "no parallelism seen in this run, although ")
          + "a goroutine in a system call gives its P away, as Go's do, so others run meanwhile). "
          f"gort.gomaxprocs(n) resizes at run time with a stop-the-world, as runtime.GOMAXPROCS does, "
          f"and returns the previous value ({prev} here; {now} after).")


# ---------------------------------------------------------------- Q5 g0

@topic("g0", "What is systemstack, why is it needed? (Q5)")
def g0(r: Report, scale: float) -> None:
    r.say("Set-up: a goroutine records its thread's Python stack at three points (gosched in between), on "
          "2 Ps; a sampler thread records the stack of an idle M.")
    stacks: list[tuple[str, list[str]]] = []

    def frames() -> list[str]:
        return [f"{os.path.basename(f.filename)}:{f.name}" for f in traceback.extract_stack()[:-1]]

    async def work() -> None:
        for _ in range(3):
            stacks.append((threading.current_thread().name, frames()))
            for _ in range(200):
                await gort.gosched()

    async def main() -> list[str]:
        wg = gort.WaitGroup()
        for _ in range(3):
            wg.go(work)
        wg.go(work)
        await wg.wait()
        s = proc.cursched()
        idle: list[str] = []
        for _ in range(250):               # until some M is parked (a loaded machine may take long)
            await gort.sleep(0.02)
            cur = sys._current_frames()
            for m in list(s.allm):
                if m.blocked and m.ident in cur:
                    idle = [f"{os.path.basename(f.filename)}:{f.name}"
                            for f in traceback.extract_stack(cur[m.ident])]
                    if any(x.endswith(":schedule") for x in idle):
                        return idle
        return idle
    idle = gort.run(main, procs=2)
    r.section("A goroutine's view of its thread")
    g_frames = stacks[0][1]
    split = next((i for i, f in enumerate(g_frames) if f.endswith(":schedule")), -1)
    r.say("  the M's own frames (its g0): " + " -> ".join(g_frames[: split + 1][-4:]))
    r.say("  the goroutine's frames:      " + " -> ".join(g_frames[split + 1:]))
    threads = sorted({t for t, _ in stacks})
    r.say(f"  the same goroutines were resumed on threads: {', '.join(threads)}")
    r.section("An idle M")
    r.say("  " + " -> ".join(idle[-4:]) if idle else "  (no idle M seen)")
    r.figures.update(g0_has_schedule=split >= 0, threads=threads, idle=idle)
    r.section("Answer")
    r.say("Go runs the scheduler on each M's own stack (g0, via systemstack) because a goroutine's stack "
          "is small, growable and can move; scheduler code must never run on it. In gort each M's Python "
          "frame for schedule() is its g0: the goroutine's frames sit on top of it only while it runs "
          f"({'seen' if split >= 0 else 'not seen'} above), the scheduler runs below them, and the same "
          f"goroutine is resumed by whichever M picks it ({len(threads)} thread(s) here). An idle M "
          "waits inside schedule() (stopm) with no goroutine frames at all.")


# ---------------------------------------------------------------- Q6 wakeup

@topic("wakeup", "How does the runtime get a thread to run a goroutine? (Q6)")
def wakeup(r: Report, scale: float) -> None:
    bursts = 5
    per = _n(200, scale, 20)
    r.say(f"Set-up: GOMAXPROCS=4; {bursts} bursts of {per} short goroutines, 30 ms apart; the scheduler's "
          "counters read between bursts and an execution trace of M wake-ups and parks.")

    async def main() -> list[dict[str, Any]]:
        rows = []
        last = gort.stats()
        for _ in range(bursts):
            gort.trace.start()
            wg = gort.WaitGroup()

            async def job() -> None:
                s = 0
                for k in range(500):
                    s += k
            peak_spin = 0
            for _ in range(per):
                wg.go(job)
                peak_spin = max(peak_spin, gort.stats()["spinningthreads"])
            await wg.wait()
            ev = gort.trace.stop()
            st = gort.stats()
            rows.append({"mwake": st["mwakeups"] - last["mwakeups"], "mpark": st["mparks"] - last["mparks"],
                         "created": st["mcreated"] - last["mcreated"], "spin": peak_spin,
                         "ev_wake": sum(e.kind == "MWake" for e in ev),
                         "ev_park": sum(e.kind == "MPark" for e in ev),
                         "steals": st["steals"] - last["steals"], "threads": st["threads"],
                         "idle": st["idlethreads"]})
            last = st
            await gort.sleep(0.03)
        return rows
    rows = gort.run(main, procs=4)
    r.section("Per burst")
    r.say(f"{'burst':>5} {'startm woke':>11} {'new Ms':>6} {'stopm parks':>11} {'spinning':>8} "
          f"{'steals':>6} {'threads':>7} {'idle after':>10}")
    for i, x in enumerate(rows):
        r.say(f"{i:>5} {x['mwake']:>11} {x['created']:>6} {x['mpark']:>11} {x['spin']:>8} {x['steals']:>6} "
              f"{x['threads']:>7} {x['idle']:>10}")
    woke = sum(x["mwake"] for x in rows)
    made = sum(x["created"] for x in rows)
    r.figures.update(rows=rows, woke=woke, created=made)
    r.section("Answer")
    r.say("There is no scheduler thread: the scheduler is code each M runs. When a goroutine is made "
          "runnable and a P is idle with no M spinning, wakep hands the P to a parked M (startm: "
          f"{woke} wake-ups here) or starts a new thread if none is parked ({made} made, most in the "
          "first burst); that M spins looking for work, steals, runs it, and when nothing is left gives "
          "its P back and parks on its note (stopm). Threads are reused burst after burst instead of "
          "being created per goroutine.")
