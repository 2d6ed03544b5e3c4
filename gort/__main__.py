"""python -m gort: run a script as a gort program, view a trace, dump a running program.

    python -m gort run [--procs N] [--trace FILE] [--schedtrace MS] [--scheddetail] script.py [args...]
    python -m gort run --processes N [--grace S] [run options] script.py [args...]
    python -m gort trace FILE [-o HTML]
    python -m gort stack PID [--signal SIG] [--timeout S]

`run` imports script.py as a module (its `__name__` is the file's stem, not
"__main__", so an `if __name__ == "__main__":` block does not run), finds its
`main` coroutine function and runs it as the program's main goroutine with
`gort.run`; the script sees `sys.argv == [script.py, args...]`.  A deadlock
prints Go's "fatal error: all goroutines are asleep - deadlock!" with every
goroutine's stack and exits with status 2, as Go does.

`run --processes N` starts N worker processes, each `gort run script.py`
(its own gort program), restarts a crashed one with backoff and stops them
all on Ctrl-C / SIGTERM; the workers share a port by listening with
`gort.net.listen(address, reuse_port=True)` (Linux only; see gort.serve).

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
    path = ns.script
    if not os.path.isfile(path):
        print(f"gort run: {path}: no such file", file=sys.stderr)
        return 2
    if ns.processes is not None:
        return _supervise(ns)
    from gort import serve
    if serve.ENV_FD in os.environ:               # a worker of `run --processes`
        serve.worker_setup()
        try:
            return _run_script(ns)
        except serve.Stopped as e:
            return serve.die_by_signal(e.sig)
    return _run_script(ns)


def _supervise(ns: argparse.Namespace) -> int:
    """`run --processes N`: check what can be checked once, then supervise N workers."""
    from gort import serve
    why = serve.check_platform()
    if why is not None:
        print(f"gort run: {why}", file=sys.stderr)
        return 2
    try:
        with open(ns.script, "rb") as f:
            compile(f.read(), ns.script, "exec")   # a syntax error would only crash-loop the workers
    except (SyntaxError, ValueError) as e:
        print(f"gort run: {ns.script}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"gort run: {ns.script}: {e.strerror}", file=sys.stderr)
        return 2
    argv = [sys.executable, "-m", "gort", "run"]
    if ns.procs is not None:
        argv += ["--procs", str(ns.procs)]
    if ns.trace:
        argv += ["--trace", ns.trace]
    if ns.schedtrace is not None:
        argv += ["--schedtrace", str(ns.schedtrace)]
    if ns.scheddetail:
        argv.append("--scheddetail")
    argv += [ns.script] + list(ns.args)
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # this gort for the workers
    env["PYTHONPATH"] = os.pathsep.join(x for x in [here, env.get("PYTHONPATH", "")] if x)
    rc = serve.Supervisor(argv, ns.processes, grace=ns.grace, env=env).run()
    return serve.die_by_signal(-rc) if rc < 0 else rc


def _run_script(ns: argparse.Namespace) -> int:
    import gort
    from gort.proc import is_async
    path = ns.script
    w = gort.worker()
    trace = ns.trace or os.environ.get("GORT_TRACE")
    if w is not None and trace:                  # one trace file per worker: out.json -> out.1.json
        root, ext = os.path.splitext(trace)
        ns.trace = f"{root}.{w.index}{ext}"
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


def _processes(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _seconds(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not x >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return x


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m gort", description="gort: Go's runtime scheduler for Python")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run script.py's async main() as a gort program")
    r.add_argument("--procs", type=int, default=None, help="GOMAXPROCS (default: GORT_MAXPROCS or the CPUs)")
    r.add_argument("--trace", metavar="FILE", help="write an execution trace (Chrome trace-event JSON)")
    r.add_argument("--schedtrace", metavar="MS", type=int, help="print Go's schedtrace line every MS ms")
    r.add_argument("--scheddetail", action="store_true", help="with --schedtrace: per-P, M and G lines too")
    r.add_argument("--processes", metavar="N", type=_processes,
                   help="run N worker processes of the script, each its own gort program, restarted "
                        "with backoff if they crash, all stopped by Ctrl-C / SIGTERM; they share a port "
                        "by listening with gort.net.listen(addr, reuse_port=True); gort.worker() tells "
                        "each its index. Linux only (SO_REUSEPORT). With --trace each worker writes "
                        "FILE with its index before the extension")
    r.add_argument("--grace", metavar="S", type=_seconds, default=None,
                   help="with --processes: seconds the workers get to stop after SIGTERM before "
                        "SIGKILL (default 10)")
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
    ap = parser()
    ns = ap.parse_args(args)
    if ns.cmd == "run":
        if ns.grace is None:
            from gort.serve import GRACE
            ns.grace = GRACE
        elif ns.processes is None:
            ap.error("--grace goes with --processes")
    return int(ns.fn(ns))


if __name__ == "__main__":
    sys.exit(main())
