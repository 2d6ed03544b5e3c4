"""Topic stack (Q8): memory per goroutine and how it grows with await depth."""
from __future__ import annotations

import gc
import tracemalloc

import gort

from . import Report, topic


def _per_goroutine(n: int, depth: int) -> float:
    """Bytes traced per parked goroutine at `depth` nested awaits (channel excluded)."""
    async def main() -> float:
        ch: gort.Chan[int] = gort.Chan()
        started = gort.WaitGroup()

        async def nest(d: int) -> None:
            if d > 1:
                await nest(d - 1)
            else:
                started.done()
                await ch.recv()

        started.add(n)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            gort.go(nest, depth)
        await started.wait()
        used = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        ch.close()
        return used / n
    return gort.run(main, procs=1)


@topic("stack", "How are goroutine stacks made? (Q8)")
def stack(r: Report, scale: float) -> None:
    n = max(200, int(2000 * scale))
    depths = (1, 4, 16, 64)
    r.say(f"Set-up: {n} goroutines parked on one channel at await depth d (d nested async calls), "
          f"for d in {depths}; memory traced with tracemalloc.")
    per = {d: _per_goroutine(n, d) for d in depths}
    r.section("Bytes per parked goroutine")
    for d in depths:
        r.say(f"  depth {d:>3}: {per[d]:8.0f} B")
    slope = (per[depths[-1]] - per[depths[0]]) / (depths[-1] - depths[0])
    r.figures.update(per_goroutine=per, per_level=slope)
    r.section("Answer")
    grows = per[depths[-1]] > per[depths[0]]
    r.say(f"Go gives each goroutine a 2 KB stack from mmap'd memory and grows it by copying to a twice "
          f"larger one when a function prologue finds it too small. A gort goroutine has no stack of its "
          f"own: it is a G object plus a chain of coroutine frames on the heap, one per await level. A "
          f"parked one cost {per[1]:.0f} B at depth 1 here, and each further level "
          f"{'added' if grows else 'did not add (unexpected: check the measurement)'} about {slope:.0f} B. "
          "Growth is one frame allocation per call, never a copy; nothing is reserved up front, and a "
          "frame is freed when its call returns.")
