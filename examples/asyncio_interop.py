"""gort and asyncio, both ways.

1. From gort: goroutines call an asyncio library with `await gort.aio.run(coro)`.
   The coroutine runs on the program's one asyncio loop (its own thread); the
   goroutine parks meanwhile, its thread goes on running other goroutines.
2. From asyncio (or any thread): `gort.start()` runs a gort program in the
   background; `gort.submit(fn, ...)` starts a goroutine and returns a
   concurrent.futures.Future, which asyncio awaits with `asyncio.wrap_future`.

    python examples/asyncio_interop.py
"""
from __future__ import annotations

import asyncio
import time

import gort
from gort import context


# ---------------------------------------------------------------- an "asyncio library"

async def fetch_price(item: str) -> float:
    """Stands for an asyncio client call (aiohttp, asyncpg, ...)."""
    await asyncio.sleep(0.05)
    return round(len(item) * 1.25, 2)


async def slow_report() -> str:
    await asyncio.sleep(10)
    return "never"


# ---------------------------------------------------------------- 1. gort calling asyncio

async def gort_main() -> None:
    items = ["apple", "kiwi", "banana", "fig", "cherry", "plum"]
    prices: gort.Chan[tuple[str, float]] = gort.Chan(len(items))

    async def worker(item: str) -> None:
        await prices.send((item, await gort.aio.run(fetch_price(item))))

    t0 = time.monotonic()
    for item in items:
        gort.go(worker, item)
    got: dict[str, float] = {}
    for _ in items:
        pair = await prices.recv()           # None only once a channel is closed
        assert pair is not None
        got[pair[0]] = pair[1]
    print(f"gort -> asyncio: {len(got)} prices in {time.monotonic() - t0:.2f} s "
          f"(each call takes 0.05 s; they ran concurrently): {got}")

    # a context deadline cancels the asyncio task
    ctx, cancel = context.with_timeout(context.background(), 0.1)
    try:
        await gort.aio.run(slow_report(), ctx)
    except context.DeadlineExceeded as e:
        print(f"gort -> asyncio with a 0.1 s deadline: {e}")
    finally:
        cancel()


# ---------------------------------------------------------------- 2. asyncio calling gort

def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


async def crunch(n: int) -> int:
    """A goroutine: blocking work goes through gort.syscall, the rest runs on gort's Ms."""
    await gort.sleep(0.01)
    return await gort.syscall(fib, n)


async def asyncio_main() -> None:
    t0 = time.monotonic()
    results = await asyncio.gather(*[asyncio.wrap_future(gort.submit(crunch, n)) for n in range(15, 25)])
    print(f"asyncio -> gort: {results} in {time.monotonic() - t0:.2f} s")
    ticks = 0

    async def ticker() -> None:          # the asyncio loop stays responsive meanwhile
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1
    t = asyncio.create_task(ticker())
    await asyncio.wrap_future(gort.submit(crunch, 30))
    t.cancel()
    print(f"asyncio -> gort: the asyncio loop ticked {ticks} times during a long goroutine")


def main() -> None:
    gort.run(gort_main)
    gort.start()
    try:
        asyncio.run(asyncio_main())
    finally:
        gort.stop()


if __name__ == "__main__":
    main()
