# Port of test/chan/select.go (Go 1.23)
"""A select with send cases and a default: each buffered channel takes exactly
one value, a case on a nil channel never fires, and every case's value
expression is evaluated on each pass (Go evaluates all of them before choosing)."""
from __future__ import annotations

import gort
from gosupport import run


def test_select():
    state = {"counter": 0, "shift": 0}

    def get_value():
        state["counter"] += 1
        return 1 << state["shift"]

    async def send(a, b):
        i = 0
        while True:
            # both send values are computed before the select, as Go does
            k, _, _ = await gort.select(gort.send(a, get_value()), gort.send(b, get_value()),
                                        default=True)
            if k == -1:
                break
            i += 1
            if k == 0:
                a = None
            else:
                b = None
            state["shift"] += 1
        return i

    async def main():
        a, b = gort.Chan(1), gort.Chan(1)
        v = await send(a, b)
        assert v == 2, f"Send returned {v} != 2"
        av, bv = await a.recv(), await b.recv()
        assert av | bv == 3, f"bad values {av} {bv}"
        v = await send(a, None)
        assert v == 1, f"Send returned {v} != 1"
        assert state["counter"] == 10, f"counter is {state['counter']} != 10"
        return True

    assert run(main)
