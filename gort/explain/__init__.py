"""explain: the seed's questions about Go's GMP, answered by live experiments.

    python -m gort explain            # list the topics
    python -m gort explain why-p      # run one: what it set up, what it measured, the answer

Each topic runs a small gort program, measures it, and states an answer drawn
from *those* numbers: every sentence that could be contradicted by a run is
chosen by a comparison in code, and a run that does not show the expected
effect says so and why.  `run_topic(name, scale)` returns the figures (the
tests check them for consistency); `scale` < 1 shrinks the experiments.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TextIO


@dataclass
class Report:
    """What a topic printed, and the figures behind it."""

    topic: str
    figures: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    out: Optional[TextIO] = None

    def say(self, text: str = "") -> None:
        self.lines.append(text)
        if self.out is not None:
            print(text, file=self.out, flush=True)

    def section(self, title: str) -> None:
        self.say("")
        self.say(f"{title}")
        self.say("-" * len(title))


@dataclass
class Topic:
    name: str
    question: str            # the seed's question (DIGEST.md), in short
    run: Callable[[Report, float], None]


TOPICS: dict[str, Topic] = {}


TopicFn = Callable[[Report, float], None]


def topic(name: str, question: str) -> Callable[[TopicFn], TopicFn]:
    def register(fn: TopicFn) -> TopicFn:
        TOPICS[name] = Topic(name, question, fn)
        return fn
    return register


def run_topic(name: str, scale: float = 1.0, out: Optional[TextIO] = sys.stdout) -> Report:
    """Run one topic's experiment; return its report (figures and lines)."""
    _load()
    if name not in TOPICS:
        raise KeyError(f"no explain topic {name!r}; topics: {', '.join(TOPICS)}")
    t = TOPICS[name]
    r = Report(name, out=out)
    r.say(f"== {name}: {t.question}")
    t.run(r, scale)
    return r


def _load() -> None:
    from . import sched, memory, threads  # noqa: F401  (they register their topics, in this order)
    import importlib
    try:
        importlib.import_module(".net", __name__)   # the topics that need gort.net
    except ImportError:      # pragma: no cover - gort.net not there yet
        pass


def main(argv: list[str]) -> int:
    """`python -m gort explain [TOPIC ...] [--scale F]`."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m gort explain",
                                 description="The seed's questions answered by running gort.")
    ap.add_argument("topics", nargs="*", help="topics to run (default: list them); 'all' runs every one")
    ap.add_argument("--scale", type=float, default=1.0, help="experiment size (smaller is faster)")
    a = ap.parse_args(argv)
    _load()
    if not a.topics:
        print("Topics (python -m gort explain TOPIC):")
        for t in TOPICS.values():
            print(f"  {t.name:13} {t.question}")
        return 0
    names = list(TOPICS) if a.topics == ["all"] else a.topics
    for n in names:
        if n not in TOPICS:
            print(f"unknown topic {n!r}; topics: {', '.join(TOPICS)}", file=sys.stderr)
            return 2
    for n in names:
        run_topic(n, a.scale)
        print()
    return 0
