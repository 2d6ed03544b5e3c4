"""The interpreter builds gort is tested on.

On a free-threaded CPython, importing gort (and its compiled module, once there is one)
must leave the GIL off: an extension that does not declare free-threading support makes
CPython switch the GIL back on at import, and every goroutine would then share one core.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
BUILD_SH = Path(__file__).resolve().parent.parent / "tools" / "python-build.sh"


def gil_after(stmt: str) -> str:
    """Run stmt in a fresh interpreter and report sys._is_gil_enabled() afterwards.

    PYTHON_GIL is removed from the child's environment: the test runner sets PYTHON_GIL=0,
    which would keep the GIL off whatever the import does, and hide the regression.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = (
        "import sys\n"
        "try:\n"
        f"    {stmt}\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e); raise SystemExit(0)\n"
        "print(sys._is_gil_enabled())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.skipif(not FREE_THREADED, reason="GIL build")
def test_import_gort_keeps_gil_off():
    assert gil_after("import gort") == "False"


@pytest.mark.skipif(not FREE_THREADED, reason="GIL build")
def test_import_accel_keeps_gil_off():
    out = gil_after("import gort._accel")
    if out.startswith("ImportError"):
        pytest.skip(f"no compiled gort._accel ({out})")
    assert out == "False"


def test_build_script_names_no_mirror_host():
    # Mirrors come from the machine's own apt sources (issue #7, item 9).
    assert not re.search(r"\b[a-z]+://", BUILD_SH.read_text())


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="no apt")
def test_build_script_takes_mirrors_from_both_source_formats(tmp_path):
    # One-line sources.list for the archive and debian-security, a disabled deb822 entry
    # pointing elsewhere: the deb-src entries follow the enabled ones.
    codename = "bookworm"
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            codename = line.split("=", 1)[1].strip('"') or codename
    key = "/usr/share/keyrings/debian-archive-keyring.gpg"
    (tmp_path / "sources.list").write_text(
        "# comment\n"
        f"deb [signed-by={key}] http://mirror.test/debian {codename} main\n"
        f"deb http://mirror.test/debian-security {codename}-security main\n"
    )
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "other.sources").write_text(
        f"Types: deb\nURIs: http://other.test/debian\nSuites: {codename}\nComponents: main\nEnabled: no\n"
    )
    (tmp_path / "apt.conf").write_text(
        f'Dir::Etc::SourceList "{tmp_path}/sources.list";\nDir::Etc::SourceParts "{parts}";\n'
    )
    env = dict(os.environ, APT_CONFIG=str(tmp_path / "apt.conf"))

    def sources(*args: str) -> str:
        r = subprocess.run(["bash", str(BUILD_SH), *args, "--print-sources"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    s313 = sources("3.13", "--free-threaded")
    assert "URIs: http://mirror.test/debian/\nSuites: trixie\n" in s313
    assert "URIs: http://mirror.test/debian-security/\nSuites: trixie-security\n" in s313
    assert "other.test" not in s313
    s314 = sources("3.14")
    assert "URIs: http://mirror.test/debian/\nSuites: sid\n" in s314
    assert "security" not in s314  # sid has no security suite

    # deb822 only, as on this machine
    (tmp_path / "sources.list").write_text("")
    (parts / "debian.sources").write_text(
        f"Types: deb\nURIs: http://deb822.test/debian\nSuites: {codename} {codename}-updates\n"
        f"Components: main\nSigned-By: {key}\n"
    )
    assert "URIs: http://deb822.test/debian/\nSuites: sid\n" in sources("3.14")
