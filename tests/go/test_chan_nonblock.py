# Port of test/chan/nonblock.go (Go 1.23)
"""Non-blocking channel operations (select with default) on unbuffered and
1-buffered channels: they never block, never fire when the other side is not
ready, and eventually succeed once it is; values arrive intact."""
from __future__ import annotations

import pytest

import gort
from gosupport import run

MAX_TRIES = 10_000                   # Go: up to ~100 ms per step on its machines


async def receiver(c, want, strobe):
    v = await c.recv()
    assert v == want, f"receiver got {v!r}, want {want!r}"
    await strobe.send(True)


async def sender(c, v, strobe):
    await c.send(v)
    await strobe.send(True)


@pytest.mark.parametrize("procs", [1, 2])
def test_nonblock(procs):
    async def main():
        ticker = gort.tick(10e-6)    # 10 us, as Go's time.Tick(10 * 1000)

        async def sleep():
            await ticker.recv()
            await ticker.recv()
            for _ in range(3):
                await gort.gosched()

        sync = gort.Chan()
        # Go's four element types (int32, int64, bool, string) are one Python case
        # each: the value sent in and the value sent back.
        kinds = [(123, 234), (123456, 234567), (True, True), ("hello", "hello again")]
        for buffer in (0, 1):
            chans = [gort.Chan(buffer) for _ in kinds]
            for c in chans:
                i, _, _ = await gort.select(gort.recv(c), default=True)
                assert i == -1, f"blocked sender on empty chan (buffer={buffer})"
            for c, (to_recv, to_send) in zip(chans, kinds):
                gort.go(receiver, c, to_recv, sync)
                tries = 0
                while True:              # non-blocking send until the receiver is there
                    i, _, _ = await gort.select(gort.send(c, to_recv), default=True)
                    if i == 0:
                        break
                    tries += 1
                    assert tries <= MAX_TRIES, f"receiver never ready (buffer={buffer})"
                    await sleep()
                await sync.recv()

                gort.go(sender, c, to_send, sync)
                if buffer > 0:
                    await sync.recv()
                tries = 0
                while True:              # non-blocking receive until the sender is there
                    i, v, _ = await gort.select(gort.recv(c), default=True)
                    if i == 0:
                        break
                    tries += 1
                    assert tries <= MAX_TRIES, f"sender never ready (buffer={buffer})"
                    await sleep()
                assert v == to_send, f"sender value {v!r} (buffer={buffer})"
                if buffer == 0:
                    await sync.recv()
        return True

    assert run(main, procs=procs)
