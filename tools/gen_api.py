"""Write docs/api.md from gort's docstrings: `python tools/gen_api.py`."""
from __future__ import annotations

import inspect
import os
import pydoc
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import gort  # noqa: E402


def main() -> None:
    out = ["# gort API reference", "",
           "Generated from the docstrings by `python tools/gen_api.py`; `help(gort.X)` shows the same.", ""]
    for name in gort.__all__:
        obj = getattr(gort, name)
        if inspect.ismodule(obj):
            continue
        out += [f"## gort.{name}", "", "```text", pydoc.plaintext.document(obj, name).rstrip(), "```", ""]
    for mod in ("context", "net", "io", "aio", "trace"):
        m = getattr(gort, mod, None)
        if m is None:
            continue
        out += [f"## gort.{mod}", "", (inspect.getdoc(m) or "").strip(), ""]
        for n in getattr(m, "__all__", None) or [x for x in dir(m) if not x.startswith("_")]:
            o = getattr(m, n)
            ours = getattr(o, "__module__", "").startswith("gort")
            if (inspect.isfunction(o) or inspect.isclass(o)) and ours:
                doc = pydoc.plaintext.document(o, n).rstrip()
                out += [f"### gort.{mod}.{n}", "", "```text", doc, "```", ""]
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "api.md")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(path)


if __name__ == "__main__":
    main()
