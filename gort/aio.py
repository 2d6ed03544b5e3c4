"""aio: asyncio code from gort goroutines.

    async def fetch(url):                     # a goroutine
        return await gort.aio.run(some_asyncio_client.get(url))

`await gort.aio.run(awaitable, ctx=None)` runs an asyncio awaitable on the
program's one asyncio event loop, in a thread of its own (started on first
use, stopped when the program ends), and parks the goroutine (not its thread)
until it finishes: the result is returned, its exception raised.  With a
context, the asyncio task is cancelled when ctx is done and `ctx.err()` is
raised, as Go's context-aware calls return it.

The other direction (asyncio, or any thread, calling into gort) is
`gort.start()` / `gort.submit(fn, ...) -> concurrent.futures.Future` /
`gort.stop()`; see gort.program.  Non-blocking channel operations
(`Chan.try_send`, `Chan.try_recv`, `Chan.close`) are safe from any thread.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import types
from typing import Any, Awaitable, Generator, Optional, TypeVar

from .debug import awaitable
from .g import waitReasonAio
from .proc import _nogo, _tls, ready

T = TypeVar("T")


class Loop:
    """The asyncio event loop of one gort program, on its own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(started,), name="gort-asyncio",
                                       daemon=True)
        self.thread.start()
        started.wait()

    def _main(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(self.loop)
                for t in tasks:
                    t.cancel()
                if tasks:
                    self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    def close(self, timeout: float = 1.0) -> None:
        """Stop the loop (pending tasks are cancelled); wait a little for it."""
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:          # already closed
            return
        self.thread.join(timeout)


_loop_lock = threading.Lock()


def program_loop(s: Any) -> Loop:
    """The program's asyncio loop, started on first use."""
    lp: Optional[Loop] = s.aio
    if lp is None:
        with _loop_lock:
            lp = s.aio
            if lp is None:
                if s.exiting:
                    raise RuntimeError("gort.aio.run: the program has ended")
                lp = s.aio = Loop()
    assert lp is not None
    return lp


async def _await(aw: Any) -> Any:
    return await aw


@awaitable
@types.coroutine
def run(aw: Awaitable[T], ctx: Any = None) -> Generator[Any, Any, T]:
    """Run the asyncio awaitable aw on the program's asyncio loop; park this
    goroutine until it finishes and return its result (or raise its error).

    ctx: a gort context; when it is done first, the asyncio task is cancelled
    and ctx.err() is raised.
    """
    m = _tls.m
    if m is None or m.curg is None:
        raise _nogo("gort.aio.run")
    if not hasattr(aw, "__await__"):
        raise TypeError(f"gort.aio.run needs an asyncio awaitable (a coroutine, task or future), "
                        f"not {type(aw).__name__}")
    if ctx is not None and ctx.err() is not None:
        if isinstance(aw, types.CoroutineType):
            aw.close()
        raise ctx.err()
    lp = program_loop(m.sched)
    fut: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(_await(aw), lp.loop)
    stop = None
    if ctx is not None:
        from .context import after_func
        stop = after_func(ctx, fut.cancel)
    gp = m.curg
    gp.waitreason = waitReasonAio
    s = m.sched

    def done(f: Any) -> None:
        ready(gp, s)
        s.lock.acquire()                  # only now: ready has woken an M if one was idle
        s.nexternal -= 1
        s.lock.release()

    def commit() -> bool:
        # the G is parked now: readying it from the loop's thread cannot race the
        # park; it counts as alive for checkdead (no M waits for it)
        s.lock.acquire()
        s.nexternal += 1
        s.lock.release()
        fut.add_done_callback(done)
        return True

    try:
        yield commit
    finally:
        if stop is not None:
            stop()
    if fut.cancelled() and ctx is not None and ctx.err() is not None:
        raise ctx.err()
    return fut.result()       # type: ignore[no-any-return]


def close(s: Any) -> None:
    """program end: stop the program's asyncio loop, if it has one."""
    lp: Optional[Loop] = s.aio
    if lp is not None:
        lp.close()
