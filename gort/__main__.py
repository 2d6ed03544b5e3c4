"""python -m gort: run a script as a gort program, view a trace, dump a running program.

    python -m gort run [--procs N] [--trace FILE] [--schedtrace MS] [--scheddetail] script.py [args...]
    python -m gort trace FILE [-o HTML]
    python -m gort stack PID [--signal SIG] [--timeout S]

`run` imports script.py as a module (its `__name__` is the file's stem, not
"__main__", so an `if __name__ == "__main__":` block does not run), finds its
`main` coroutine function and runs it as the program's main goroutine with
`gort.run`; the script sees `sys.argv == [script.py, args...]`.  A deadlock
prints Go's "fatal error: all goroutines are asleep - deadlock!" with every
goroutine's stack and exits with status 2, as Go does.

`trace` writes the one-file HTML viewer for a trace (gort.viewer).

`stack` sends the dump signal (SIGQUIT unless --signal, or the target's
GORT_DUMP_SIGNAL) to a process inside gort.run: it prints the goroutine dump
on its own stderr and writes it to <tempdir>/gort-stack-PID.txt, which this
command prints.  It refuses to send a signal the process does not catch (an
uncaught SIGQUIT would kill it, with a core dump).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import time
from typing import Any, Optional


def _load_script(path: str) -> Any:
    """Import path as a module (not as __main__) and return it."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() and stem not in sys.modules else "__gort_main__"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"gort run: cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def cmd_run(ns: argparse.Namespace) -> int:
    import gort
    from gort.proc import is_async
    path = ns.script
    if not os.path.isfile(path):
        print(f"gort run: {path}: no such file", file=sys.stderr)
        return 2
    if ns.schedtrace is not None or ns.scheddetail:
        extra = []
        if ns.schedtrace is not None:
            extra.append(f"schedtrace={ns.schedtrace}")
        if ns.scheddetail:
            extra.append("scheddetail=1")
        old = os.environ.get("GORT_DEBUG", "")
        os.environ["GORT_DEBUG"] = ",".join(x for x in [old] + extra if x)
    sys.argv = [path] + list(ns.args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    mod = _load_script(path)
    main = getattr(mod, "main", None)
    if main is None or not is_async(main):
        print(f"gort run: {path} has no `async def main()` to run", file=sys.stderr)
        return 2
    try:
        gort.run(main, procs=ns.procs, trace=ns.trace)
    except gort.Deadlock as e:
        print(f"fatal error: {e}", file=sys.stderr)
        return 2
    finally:
        if ns.trace:
            print(f"gort: trace written to {ns.trace} (view it: python -m gort trace {ns.trace})",
                  file=sys.stderr)
    return 0


def cmd_trace(ns: argparse.Namespace) -> int:
    from gort import viewer
    out = viewer.write(ns.file, ns.output)
    print(out)
    return 0


def _caught(pid: int, sig: int) -> Optional[bool]:
    """Whether process pid catches sig (its SigCgt mask in /proc), None if unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except (OSError, ValueError):
        return None
    return None


def _target_env(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def cmd_stack(ns: argparse.Namespace) -> int:
    from gort.trace import dump
    pid = ns.pid
    env = _target_env(pid)
    old = os.environ.get("GORT_DUMP_SIGNAL")
    try:
        if ns.signal:
            os.environ["GORT_DUMP_SIGNAL"] = ns.signal
        elif "GORT_DUMP_SIGNAL" in env:
            os.environ["GORT_DUMP_SIGNAL"] = env["GORT_DUMP_SIGNAL"]
        sig = dump.dump_signal()
    finally:
        if old is None:
            os.environ.pop("GORT_DUMP_SIGNAL", None)
        else:
            os.environ["GORT_DUMP_SIGNAL"] = old
    if sig is None:
        print(f"gort stack: the dump signal is off for process {pid} (GORT_DUMP_SIGNAL)", file=sys.stderr)
        return 1
    name = signal.Signals(sig).name
    caught = _caught(pid, sig)
    if caught is False:
        print(f"gort stack: process {pid} does not catch {name} (not inside gort.run on its main thread, "
              f"or GORT_DUMP_SIGNAL differs): not sending it, it would end the process", file=sys.stderr)
        return 1
    # where the target writes: its own temporary directory
    dirs = []
    if env.get("TMPDIR"):
        dirs.append(os.path.join(env["TMPDIR"], os.path.basename(dump.dump_path(pid))))
    dirs.append(dump.dump_path(pid))
    before = {p: _mtime(p) for p in dirs}
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        print(f"gort stack: no process {pid}", file=sys.stderr)
        return 1
    deadline = time.monotonic() + ns.timeout
    while time.monotonic() < deadline:
        for p in dirs:
            m = _mtime(p)
            if m is not None and m != before[p]:
                time.sleep(0.01)
                with open(p) as f:
                    sys.stdout.write(f.read())
                print(f"(the dump is also on process {pid}'s stderr, and in {p})", file=sys.stderr)
                return 0
        time.sleep(0.02)
    print(f"gort stack: sent {name} to {pid}; no dump appeared in {dirs[0]} within {ns.timeout:g} s. "
          f"If the process runs gort, the dump went to its stderr.", file=sys.stderr)
    return 1


def _mtime(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m gort", description="gort: Go's runtime scheduler for Python")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run script.py's async main() as a gort program")
    r.add_argument("--procs", type=int, default=None, help="GOMAXPROCS (default: GORT_MAXPROCS or the CPUs)")
    r.add_argument("--trace", metavar="FILE", help="write an execution trace (Chrome trace-event JSON)")
    r.add_argument("--schedtrace", metavar="MS", type=int, help="print Go's schedtrace line every MS ms")
    r.add_argument("--scheddetail", action="store_true", help="with --schedtrace: per-P, M and G lines too")
    r.add_argument("script")
    r.add_argument("args", nargs=argparse.REMAINDER)
    r.set_defaults(fn=cmd_run)
    t = sub.add_parser("trace", help="write the HTML viewer for a trace file")
    t.add_argument("file")
    t.add_argument("-o", "--output", metavar="HTML", help="the page to write (default: FILE with .html)")
    t.set_defaults(fn=cmd_trace)
    s = sub.add_parser("stack", help="print the goroutine dump of a running gort process")
    s.add_argument("pid", type=int)
    s.add_argument("--signal", help="the dump signal (default: the process's GORT_DUMP_SIGNAL, else SIGQUIT)")
    s.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the dump (default 5)")
    s.set_defaults(fn=cmd_stack)
    sub.add_parser("explain", help="the seed's questions answered by live experiments (explain TOPIC)",
                   add_help=False)
    return ap


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "explain":              # its own argument parser
        from .explain import main as explain_main
        return explain_main(args[1:])
    ns = parser().parse_args(args)
    return int(ns.fn(ns))


if __name__ == "__main__":
    sys.exit(main())
