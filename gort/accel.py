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


def accelerated() -> bool:
    """True when gort's C accelerator (gort._accel) runs the hot paths; False
    when the pure-Python modules do (GORT_PUREPY=1, or it was not built)."""
    return C is not None

