# Port of test/chan/select5.go (Go 1.23)
"""Every combination of a single-goroutine channel operation phrased as a plain
operation or as a select with default, dummy and nil-channel cases.

Go's select5.go is a generator: it enumerates all paths through templates and
prints a program with one init function per combination.  The port enumerates
the same choices with itertools.product and runs each combination directly.
Choices that only change Go syntax collapse here: the five receive forms
(`x = <-c`, `*f(&x) = <-c`, `y := <-c`, `i = <-c`, `m[13] = <-c`) are one gort
call that returns the value, and default "before" or "after" the cases is one
`default=True` flag.
"""
from __future__ import annotations

import itertools

import pytest

import gort
from gosupport import run

OPTIONAL_CASES = ("dummy send", "dummy recv", "nil send", "nil recv")


def _extra_cases(flags, dummy):
    cases = []
    for on, name in zip(flags, OPTIONAL_CASES):
        if not on:
            continue
        ch = dummy if name.startswith("dummy") else None
        cases.append(gort.send(ch, 1) if name.endswith("send") else gort.recv(ch))
    return cases


def _combinations():
    # (plain operation?, default?, which optional cases)
    yield (True, False, (False,) * 4)
    for default in (False, True):
        for flags in itertools.product((False, True), repeat=4):
            yield (False, default, flags)


def test_recv_and_send_combinations():
    async def main():
        c = gort.Chan(1)             # buffered: the test is single-goroutine
        dummy = gort.Chan()
        n = 1
        ran = 0
        for plain, default, flags in _combinations():
            # recv: send n, receive it one way or another, check it
            await c.send(n)
            if plain:
                x = await c.recv()
            else:
                i, x, ok = await gort.select(gort.recv(c), *_extra_cases(flags, dummy), default=default)
                assert i == 0, f"recv: case {i} fired ({flags}, default={default})"
                assert ok
            assert x == n, f"recv: have {x} want {n}"
            n += 1
            # send: send n one way or another, receive it, check it
            if plain:
                await c.send(n)
            else:
                i, _, _ = await gort.select(gort.send(c, n), *_extra_cases(flags, dummy), default=default)
                assert i == 0, f"send: case {i} fired ({flags}, default={default})"
            x = await c.recv()
            assert x == n, f"send: have {x} want {n}"
            n += 1
            ran += 1
        return ran

    assert run(main) == 1 + 2 * 16


def test_nonblock_combinations():
    """Non-blocking selects over cases that can never be ready take the default
    and touch nothing."""
    async def main():
        dummy = gort.Chan()
        ran = 0
        for flags in itertools.product((False, True), repeat=4):
            i, v, ok = await gort.select(*_extra_cases(flags, dummy), default=True)
            assert (i, v, ok) == (-1, None, False), f"nonblock: case {i} fired ({flags})"
            ran += 1
        return ran

    assert run(main) == 16


@pytest.mark.skip(reason="recvOrder/sendOrder check Go's order of evaluation of case operands and "
                         "assignment targets; gort's select takes already-evaluated Python "
                         "arguments (left to right by the language), so nothing of gort's is "
                         "left to test")
def test_order_of_evaluation():
    pass
