"""User-defined Context types shared by the ports of Go's context tests.

Go's tests embed a Context in a struct (`type otherContext struct{ Context }`):
every method is forwarded to the embedded one.  A Python program does the
same by subclassing gort.context.Context and forwarding the methods.
"""
from __future__ import annotations

from gort import context

HOUR = 3600.0
SHORT = 0.001                  # Go's shortDuration: 1 ms
VERY_LONG = 1000 * HOUR        # Go's veryLongDuration: "an arbitrary upper bound"
QUIESCENT = 30.0               # Go's quiescent(t): 5 s without a test deadline; generous here


class Embedding(context.Context):
    """A Context that embeds (forwards every method to) another one."""

    def __init__(self, inner):
        self.inner = inner

    def deadline(self):
        return self.inner.deadline()

    def done(self):
        return self.inner.done()

    def err(self):
        return self.inner.err()

    def value(self, key):
        return self.inner.value(key)


class OtherContext(Embedding):
    """Go's otherContext: a Context that is not one of the package's own types."""
