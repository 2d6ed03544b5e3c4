# Port of test/chan/sieve1.go (Go 1.23)
"""The concurrent prime sieve: a daisy chain of filter goroutines joined by
unbuffered channels must produce the primes below 100, in order."""
from __future__ import annotations

import pytest

import gort
from gosupport import run

PRIMES_BELOW_100 = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61,
                    67, 71, 73, 79, 83, 89, 97]


async def generate(ch):
    i = 2
    while True:                      # 2, 3, 4, ... for ever (abandoned when main returns)
        await ch.send(i)
        i += 1


async def filter_(inp, out, prime):
    async for i in inp:
        if i % prime != 0:
            await out.send(i)


async def sieve(primes):
    ch = gort.Chan()
    gort.go(generate, ch)
    while True:
        prime = await ch.recv()     # ch is a different channel on each pass
        await primes.send(prime)
        ch1 = gort.Chan()
        gort.go(filter_, ch, ch1, prime)
        ch = ch1


@pytest.mark.parametrize("procs", [1, 2])
def test_sieve1(procs):
    async def main():
        primes = gort.Chan()
        gort.go(sieve, primes)
        return [await primes.recv() for _ in PRIMES_BELOW_100]

    assert run(main, procs=procs) == PRIMES_BELOW_100
