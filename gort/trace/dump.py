"""dump: the goroutine dump (Go's SIGQUIT traceback, runtime.Stack).

`gort.stack(all=True)` returns every goroutine of the running program in Go's
layout (g.dump): the calling goroutine first, then the others in creation
order.  `gort.run` prints the same dump to stderr when the process gets the
dump signal: SIGQUIT (Ctrl-\\) by default, `GORT_DUMP_SIGNAL=SIGUSR1` picks
another, `GORT_DUMP_SIGNAL=none` turns it off.

Where gort differs from Go: Go exits (status 2) after a SIGQUIT dump; gort
prints the dump and the program goes on, since a dump is mostly wanted from
a program that hangs and may still be needed again.  Ctrl-C still stops it.

The handler is installed only when gort.run is called from the main thread
(Python runs signal handlers there) and the signal's disposition is the
default one (a handler of the user's own, or SIG_IGN, is left alone); the
previous disposition is restored when run returns.  The dump is also written
to `<tempdir>/gort-stack-<pid>.txt` (mode 0600, replaced atomically), which is
what `python -m gort stack PID` reads back.

A dump reads the scheduler's structures without stopping anything (as Go's
SIGQUIT dump from a signal handler): a goroutine that moves meanwhile may be
shown where it was a moment before.
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from types import FrameType
from typing import Any, Optional

from ..g import G, _Gdead, _Gidle, _Grunning, _Gsyscall, dump

_OFF = ("none", "off", "0", "false", "no")


def goroutines(s: Any, cur: Optional[G] = None, cur_top: Optional[FrameType] = None) -> str:
    """Every live goroutine of program s, cur first (its frames from cur_top)."""
    now = time.monotonic()
    frames = sys._current_frames()
    on_m: dict[int, Any] = {}
    for mp in list(s.allm):
        cg = mp.curg
        if cg is not None and not mp.dead:
            on_m[id(cg)] = mp
    blocks = []
    if cur is not None:
        blocks.append(dump(cur, now, cur_top))
    for gp in list(s.allgs):
        st = gp.status
        if gp is cur or st == _Gdead or st == _Gidle:
            continue
        top = None
        mp = on_m.get(id(gp))
        if mp is not None and (st == _Grunning or st == _Gsyscall):
            top = frames.get(mp.ident)
        blocks.append(dump(gp, now, top))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def stack(all: bool = True) -> str:
    """The goroutine dump of the running program, in Go's format (runtime.Stack).

    all=False: the calling goroutine only.  Called outside a goroutine (a
    plain thread, a signal handler), all=True dumps every goroutine of the
    running program ("" when none runs)."""
    from .. import proc
    m = proc._tls.m
    cur = m.curg if m is not None else None
    top = sys._getframe(1)
    if not all:
        if cur is None:
            raise proc._nogo("gort.stack(all=False)")
        return dump(cur, time.monotonic(), top) + "\n"
    s = proc.cursched()
    if not s.main_started:
        return ""
    return goroutines(s, cur, top if cur is not None else None)


def dump_signal() -> Optional[int]:
    """The dump signal from GORT_DUMP_SIGNAL (default SIGQUIT; None when turned off)."""
    v = os.environ.get("GORT_DUMP_SIGNAL", "").strip()
    if not v:
        return int(signal.SIGQUIT)
    if v.lower() in _OFF:
        return None
    if v.isdigit():
        n = int(v)
    else:
        name = v.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        sig = getattr(signal.Signals, name, None)
        if sig is None:
            raise ValueError(f"GORT_DUMP_SIGNAL={v!r}: not a signal name or number "
                             "(SIGQUIT, SIGUSR1, ... or none)")
        n = int(sig)
    if n in (signal.SIGKILL, signal.SIGSTOP):
        raise ValueError(f"GORT_DUMP_SIGNAL={v!r}: that signal cannot be caught")
    return n


def dump_path(pid: int) -> str:
    """Where process pid writes its dump when it gets the dump signal."""
    return os.path.join(tempfile.gettempdir(), f"gort-stack-{pid}.txt")


def _write_file(text: str) -> None:
    path = dump_path(os.getpid())
    tmp = f"{path}.{threading.get_ident()}.{time.monotonic_ns()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)         # replaces the name, never follows a link planted there
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


class _Installed:
    __slots__ = ("sig", "old", "blocked")

    def __init__(self, sig: int, old: Any, blocked: Any) -> None:
        self.sig = sig
        self.old = old
        self.blocked = blocked


def install(s: Any, sig: Optional[int]) -> Optional[_Installed]:
    """gort.run: print the dump on signal sig (dump_signal()) while s runs (see the module docstring)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if sig is None or signal.getsignal(sig) is not signal.SIG_DFL:
        return None

    def handler(signum: int, frame: Any) -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        text = f"{name}: goroutine dump (gort keeps running)\n\n" + goroutines(s)
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        _write_file(text)

    from .. import proc
    old = signal.signal(sig, handler)
    # Ms block the signals the main thread handles, so the kernel gives them to
    # it (proc.mstart); a dump signal of the user's choice joins them
    blocked = proc._BLOCKED
    if sig not in blocked:
        proc._BLOCKED = blocked | {sig}
    return _Installed(sig, old, blocked)


def restore(inst: Optional[_Installed]) -> None:
    """Put back what install() replaced."""
    if inst is None:
        return
    from .. import proc
    proc._BLOCKED = inst.blocked
    try:
        signal.signal(inst.sig, inst.old if inst.old is not None else signal.SIG_DFL)
    except (ValueError, TypeError):
        pass
