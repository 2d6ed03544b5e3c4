"""accel: which implementation of the hot paths runs (issue #11).

gort's scheduler fast path, run queues, channels and timer heap have two
twins: the pure-Python modules (the readable reference, and the fallback) and
`gort._accel`, a hand-written C extension with the same names and structure.
Each Python module picks the C twin at import time unless `GORT_PUREPY=1` is
set or the extension was not built (no C compiler at install time).

    C            the gort._accel module, or None when the pure-Python twins run
    accelerated()  True when C is in use
"""
from __future__ import annotations

import os
from typing import Any, Optional

PUREPY = os.environ.get("GORT_PUREPY", "") not in ("", "0")

C: Optional[Any] = None
if not PUREPY:
    try:
        from . import _accel as C     # type: ignore[attr-defined,no-redef]
    except ImportError:
        C = None


def _stale(mod: Any) -> Optional[str]:
    """In a source checkout (gort/_accel.c next to this file): why a module
    built from another version of it cannot be used, or None.  setup.py
    compiles the source's hash into the module (SOURCE); an editable install
    keeps one build per interpreter in gort/, and one not rebuilt since the
    source changed would not match the Python modules that call it."""
    import hashlib
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_accel.c")
    try:
        with open(src, "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()[:16]
    except OSError:
        return None                   # an installed copy: no source to compare with
    if getattr(mod, "SOURCE", "") == want:
        return None
    return (f"gort: {os.path.basename(mod.__file__)} was built from another gort/_accel.c; "
            "using pure Python (rebuild: pip install -e .)")


if C is not None and (_why := _stale(C)) is not None:
    import sys
    print(_why, file=sys.stderr)
    C = None


def accelerated() -> bool:
    """True when gort's C accelerator (gort._accel) runs the hot paths; False
    when the pure-Python modules do (GORT_PUREPY=1, or it was not built)."""
    return C is not None

