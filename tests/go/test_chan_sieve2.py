# Port of test/chan/sieve2.go (Go 1.23)
"""Eratosthenes' sieve over odd candidates with channels: a goroutine merges the
channels of multiples of each prime (a heap of peeked heads) into one channel of
composites, a feedback loop of primes goes through an unbounded send proxy built
from a select with a nil-channel case.  Must produce the primes below 100."""
from __future__ import annotations

import heapq
from collections import deque

import pytest

import gort
from gosupport import run

PRIMES_BELOW_100 = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61,
                    67, 71, 73, 79, 83, 89, 97]


def odds():
    """A channel (cap 50) of the odd numbers from 5."""
    out = gort.Chan(50)

    async def gen():
        n = 5
        while True:
            await out.send(n)
            n += 2
    gort.go(gen)
    return out


def multiples(p):
    """A channel (cap 10) of the odd multiples of p from p*p."""
    out = gort.Chan(10)

    async def gen():
        n = p * p
        while True:
            await out.send(n)
            n += 2 * p
    gort.go(gen)
    return out


def sendproxy(out):
    """A channel whose sends never block: a goroutine buffers without bound for `out`.

    Go grows a ring; a deque is the same queue.  While the queue is empty the
    send case is on a nil channel (None), which a select never chooses.
    """
    proxy = gort.Chan(10)

    async def pump():
        q = deque()
        while True:
            c = out if q else None
            e = q[0] if q else None
            i, v, _ = await gort.select(gort.recv(proxy), gort.send(c, e))
            if i == 0:
                q.append(v)
            else:
                q.popleft()
    gort.go(pump)
    return proxy


def sieve():
    out = gort.Chan(10)
    out.try_send(2)
    out.try_send(3)
    composites = gort.Chan(50)       # all composites to eliminate, increasing
    primes = gort.Chan(10)           # the feedback loop
    primes.try_send(3)

    async def merge():
        h = []                       # Go's PeekChHeap: (head, tie-break, channel)
        seq = 0
        least = 15                   # Go's `min`
        while True:
            m = multiples(await primes.recv())
            head = await m.recv()
            while least < head:
                await composites.send(least)
                least, _, ch = heapq.heappop(h)
                seq += 1
                heapq.heappush(h, (await ch.recv(), seq, ch))
            while least == head:
                least, _, ch = heapq.heappop(h)
                seq += 1
                heapq.heappush(h, (await ch.recv(), seq, ch))
            await composites.send(head)
            seq += 1
            heapq.heappush(h, (await m.recv(), seq, m))

    async def sift():
        # The merger reads primes far more slowly than this goroutine produces
        # them: without the proxy the feedback buffer fills and both block.
        pr = sendproxy(primes)
        candidates = odds()
        p = await candidates.recv()
        while True:
            c = await composites.recv()
            while p < c:
                await pr.send(p)
                await out.send(p)
                p = await candidates.recv()
            if p == c:
                p = await candidates.recv()

    gort.go(merge)
    gort.go(sift)
    return out


@pytest.mark.parametrize("procs", [1, 2])
def test_sieve2(procs):
    async def main():
        primes = sieve()
        return [await primes.recv() for _ in PRIMES_BELOW_100]

    assert run(main, procs=procs) == PRIMES_BELOW_100
