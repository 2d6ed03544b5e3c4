# Port of test/chan/powser1.go (Go 1.23)
"""McIlroy's power series over demand channels.

A power series is a pair of unbuffered channels (req, dat): a consumer sends a
request and receives the next rational coefficient; a coefficient with
denominator 0 ends the series.  Every operator is a goroutine, so the
computation below is a large network of goroutines talking through unbuffered
channels and selects with nil (disabled) cases; the coefficients it produces
check that no value is lost, duplicated or reordered.
"""
from __future__ import annotations

import pytest

import gort
from gosupport import run

N = 10


# ---- rationals as (num, den); den == 0 marks the end of a series -------------

def gcd(u, v):
    if u < 0:
        return gcd(-u, v)
    if u == 0:
        return v
    return gcd(v % u, u)


def i2tor(u, v):
    g = gcd(u, v)
    if v > 0:
        return (u // g, v // g)     # exact divisions: // equals Go's /
    return (-u // g, -v // g)


def itor(u):
    return i2tor(u, 1)


ZERO = itor(0)
ONE = itor(1)
FINIS = i2tor(1, 0)


def end(u):
    return 1 if u[1] == 0 else 0


def add(u, v):
    g = gcd(u[1], v[1])
    return i2tor(u[0] * (v[1] // g) + v[0] * (u[1] // g), u[1] * (v[1] // g))


def mul(u, v):
    g1 = gcd(u[0], v[1])
    g2 = gcd(u[1], v[0])
    return ((u[0] // g1) * (v[0] // g2), (u[1] // g2) * (v[1] // g1))


def neg(u):
    return i2tor(-u[0], u[1])


def sub(u, v):
    return add(u, neg(v))


def inv(u):
    if u[0] == 0:
        raise ZeroDivisionError("zero divide in inv")
    return i2tor(u[1], u[0])


# ---- demand channels ------------------------------------------------------------

class Dch:
    __slots__ = ("req", "dat")

    def __init__(self):
        self.req = gort.Chan()
        self.dat = gort.Chan()


def mkdch2():
    return [Dch(), Dch()]


seqno = [0]


async def dosplit(inp, out, wait):
    """Serve two readers of one series at their own pace (see Go's comment)."""
    both = False
    i, _, _ = await gort.select(gort.recv(out[0].req), gort.recv(wait))
    if i == 1:
        both = True
        j, _, _ = await gort.select(gort.recv(out[0].req), gort.recv(out[1].req))
        if j == 1:
            out[0], out[1] = out[1], out[0]
    seqno[0] += 1
    await inp.req.send(seqno[0])
    release = gort.Chan()
    gort.go(dosplit, inp, out, release)
    dat = await inp.dat.recv()
    await out[0].dat.send(dat)
    if not both:
        await wait.recv()
    await out[1].req.recv()
    await out[1].dat.send(dat)
    await release.send(0)


async def split(inp, out):
    release = gort.Chan()
    gort.go(dosplit, inp, out, release)
    await release.send(0)


async def put(dat, out):
    await out.req.recv()
    await out.dat.send(dat)


async def get(inp):
    seqno[0] += 1
    await inp.req.send(seqno[0])
    return await inp.dat.recv()


async def get2(in0, in1):
    """One coefficient from each of two series, requests and replies in any order."""
    ins = [in0, in1]
    req = [in0.req, in1.req]
    dat = [None, None]
    out = [None, None]
    for _ in range(4):
        seqno[0] += 1
        i, v, _ = await gort.select(gort.send(req[0], seqno[0]), gort.send(req[1], seqno[0]),
                                    gort.recv(dat[0]), gort.recv(dat[1]))
        if i < 2:
            dat[i] = ins[i].dat
            req[i] = None
        else:
            out[i - 2] = v
            dat[i - 2] = None
    return out


async def copy(inp, out):
    while True:
        await out.req.recv()
        await out.dat.send(await get(inp))


async def repeat(dat, out):
    while True:
        await put(dat, out)


def Split(U):
    UU = mkdch2()
    gort.go(split, U, UU)
    return UU


def Add(U, V):
    Z = Dch()

    async def body():
        while True:
            await Z.req.recv()
            uv = await get2(U, V)
            k = end(uv[0]) + 2 * end(uv[1])
            if k == 0:
                await Z.dat.send(add(uv[0], uv[1]))
            elif k == 1:
                await Z.dat.send(uv[1])
                await copy(V, Z)
            elif k == 2:
                await Z.dat.send(uv[0])
                await copy(U, Z)
            else:
                await Z.dat.send(FINIS)
    gort.go(body)
    return Z


def Cmul(c, U):
    Z = Dch()

    async def body():
        done = False
        while not done:
            await Z.req.recv()
            u = await get(U)
            if end(u):
                done = True
            else:
                await Z.dat.send(mul(c, u))
        await Z.dat.send(FINIS)
    gort.go(body)
    return Z


def Sub(U, V):
    return Add(U, Cmul(neg(ONE), V))


def Rep(c):
    Z = Dch()
    gort.go(repeat, c, Z)
    return Z


def Shift(c, U):
    Z = Dch()

    async def body():
        await put(c, Z)
        await copy(U, Z)
    gort.go(body)
    return Z


def Mul(U, V):
    Z = Dch()

    async def body():
        await Z.req.recv()
        uv = await get2(U, V)
        if end(uv[0]) or end(uv[1]):
            await Z.dat.send(FINIS)
        else:
            await Z.dat.send(mul(uv[0], uv[1]))
            UU = Split(U)
            VV = Split(V)
            W = Add(Cmul(uv[0], VV[0]), Cmul(uv[1], UU[0]))
            await Z.req.recv()
            await Z.dat.send(await get(W))
            await copy(Add(W, Mul(UU[1], VV[1])), Z)
    gort.go(body)
    return Z


def Diff(U):
    Z = Dch()

    async def body():
        await Z.req.recv()
        u = await get(U)
        if not end(u):
            done = False
            i = 1
            while not done:
                u = await get(U)
                if end(u):
                    done = True
                else:
                    await Z.dat.send(mul(itor(i), u))
                    await Z.req.recv()
                i += 1
        await Z.dat.send(FINIS)
    gort.go(body)
    return Z


def Integ(c, U):
    Z = Dch()

    async def body():
        await put(c, Z)
        done = False
        i = 1
        while not done:
            await Z.req.recv()
            u = await get(U)
            if end(u):
                done = True
            await Z.dat.send(mul(i2tor(1, i), u))
            i += 1
        await Z.dat.send(FINIS)
    gort.go(body)
    return Z


def Exp(U):
    ZZ = mkdch2()
    gort.go(split, Integ(ONE, Mul(ZZ[0], Diff(U))), ZZ)
    return ZZ[1]


def MonSubst(U, c0, n):
    Z = Dch()

    async def body():
        c = ONE
        while True:
            await Z.req.recv()
            u = await get(U)
            await Z.dat.send(mul(u, c))
            c = mul(c, c0)
            if end(u):
                await Z.dat.send(FINIS)
                break
            for _ in range(1, n):
                await Z.req.recv()
                await Z.dat.send(ZERO)
    gort.go(body)
    return Z


async def check(U, c, count, what):
    for _ in range(count):
        r = await get(U)
        assert r == c, f"{what}: got {r}, should get {c}"


async def checka(U, a, what):
    for i in range(N):
        await check(U, a[i], 1, what)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("procs", [1, 2])
def test_powser1(procs):
    async def main():
        seqno[0] = 0
        Ones = Rep(ONE)
        Twos = Rep(itor(2))
        await check(Ones, ONE, 5, "Ones")
        await check(Add(Ones, Ones), itor(2), 0, "Add Ones Ones")
        await check(Add(Ones, Twos), itor(3), 0, "Add Ones Twos")
        a = [ZERO] * N
        d = Diff(Ones)
        for i in range(N):
            a[i] = itor(i + 1)
        await checka(d, a, "Diff")                       # 1 2 3 4 5
        integ = Integ(ZERO, Ones)
        a[0] = ZERO                                     # integration constant
        for i in range(1, N):
            a[i] = i2tor(1, i)
        await checka(integ, a, "Integ")                 # 0 1 1/2 1/3 1/4 1/5
        await check(Cmul(neg(ONE), Twos), itor(-2), 10, "CMul")
        await check(Sub(Ones, Twos), itor(-1), 0, "Sub Ones Twos")
        m = Mul(Ones, Ones)
        for i in range(N):
            a[i] = itor(i + 1)
        await checka(m, a, "Mul")                       # 1 2 3 4 5
        e = Exp(Ones)
        a[:] = [itor(1), itor(1), i2tor(3, 2), i2tor(13, 6), i2tor(73, 24), i2tor(167, 40),
                i2tor(4051, 720), i2tor(37633, 5040), i2tor(43817, 4480), i2tor(4596553, 362880)]
        await checka(e, a, "Exp")                       # 1 1 3/2 13/6 73/24
        at = Integ(ZERO, MonSubst(Ones, neg(ONE), 2))
        c = 1
        for i in range(N):
            if i % 2 == 0:
                a[i] = ZERO
            else:
                a[i] = i2tor(c, i)
                c *= -1
        await checka(at, a, "ATan")                     # 0 -1 0 -1/3 0 -1/5
        return True

    assert run(main, procs=procs)
