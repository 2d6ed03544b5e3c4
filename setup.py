"""Build configuration for gort's optional C accelerator (gort/_accel.c).

Everything else is in pyproject.toml.  The extension is optional: without a C
compiler (or Python headers) the build prints one line and gort installs as
pure Python; `gort.accelerated()` says which one runs.
"""
import hashlib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class optional_build_ext(build_ext):
    """build_ext that turns a failed build of the accelerator into one clear line."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # no compiler at all (setuptools raises before compiling)
            self._skip(e)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as e:  # the compiler failed
            self._skip(e)

    @staticmethod
    def _skip(e: BaseException) -> None:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        print(f"gort: C accelerator not built ({first}); installing pure Python "
              "(gort.accelerated() is False)", flush=True)



def source_hash(path: str) -> str:
    """The hash gort/accel.py compares with the module's SOURCE (a stale build is refused)."""
    return hashlib.sha256(Path(__file__).with_name("gort").joinpath(path).read_bytes()).hexdigest()[:16]


setup(
    ext_modules=[Extension("gort._accel", ["gort/_accel.c"], optional=True,
                           define_macros=[("GORT_ACCEL_SOURCE", f'"{source_hash("_accel.c")}"')])],
    cmdclass={"build_ext": optional_build_ext},
)
