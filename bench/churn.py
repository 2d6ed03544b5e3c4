"""GIL churn (#7 item 8): retires of Ps whose goroutines never block, procs=4, 5 s.

    PYTHONPATH=. python bench/churn.py LABEL   -> LABEL (retires, Ms made, threads)

Four goroutines compute ~1 ms at a time and then gosched: none ever blocks, so every
retire sysmon makes is a spurious hand-off of an M that was only waiting (for the GIL).
"""
import sys
import time

import gort


def cpu_for(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


async def main() -> tuple[int, int, int]:
    stop = [False]
    done: gort.Chan[int] = gort.Chan(8)

    async def busy() -> None:
        while not stop[0]:
            cpu_for(0.001)
            await gort.gosched()
        await done.send(1)

    for _ in range(4):
        gort.go(busy)
    await gort.sleep(5.0)
    stop[0] = True
    for _ in range(4):
        await done.recv()
    st = gort.stats()
    return st["retakes"], st["mcreated"], st["threads"]


if __name__ == "__main__":
    print(sys.argv[1] if len(sys.argv) > 1 else "gort", gort.run(main, procs=4))
