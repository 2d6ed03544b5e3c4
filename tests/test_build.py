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


# 3.14 without its source: Debian sid's binary packages in a private sysroot (tools/python-build.sh,
# sysroot_install).  These check the cached prefix when this machine has one.
SYSROOT = Path(os.environ.get("GORT_PYTHON_ROOT", "/opt")) / "gort-python-3.14"
needs_sysroot = pytest.mark.skipif(not (SYSROOT / "GORT-SYSROOT").is_file(),
                                   reason=f"no sysroot-built 3.14 in {SYSROOT}")


@needs_sysroot
@pytest.mark.skipif(shutil.which("readelf") is None, reason="no readelf")
def test_sysroot_binary_points_at_its_own_loader_with_rpath():
    elf = subprocess.run(["readelf", "-lWd", str(SYSROOT / "usr" / "bin" / "python3.14")],
                         capture_output=True, text=True, check=True).stdout
    assert f"[Requesting program interpreter: {SYSROOT}/" in elf
    # RPATH, not RUNPATH: lib-dynload's modules (_ssl needs sid's libssl) find the sysroot too.
    rpath = re.search(r"\(RPATH\)\s+Library rpath: \[([^\]]*)\]", elf)
    assert rpath and all(d.startswith(f"{SYSROOT}/") for d in rpath[1].split(":")), elf
    assert "(RUNPATH)" not in elf
    assert (SYSROOT / "GORT-SYSROOT").read_text().splitlines()[-1].startswith("verified ")


@needs_sysroot
def test_sysroot_python_runs_itself_as_a_subprocess_on_sids_glibc():
    # sys.executable is what the tests spawn: it must start without any environment help,
    # load the sysroot's libc, and import the modules that link sid's libraries.
    code = (
        "import os, subprocess, sys, sysconfig\n"
        "libc = [l.split()[-1] for l in open('/proc/self/maps') if '/libc.so.6' in l][0]\n"
        "child = subprocess.run([sys.executable, '-c', 'import ssl, ctypes, sqlite3, decimal, lzma;"
        " print(ssl.OPENSSL_VERSION)'], capture_output=True, text=True)\n"
        "print(libc); print(child.returncode, child.stdout.strip(), child.stderr.strip())\n"
        "print(sysconfig.get_config_var('WHEEL_PKG_DIR'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    r = subprocess.run([str(SYSROOT / "bin" / "python3.14"), "-c", code], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    libc, child, wheels = r.stdout.splitlines()
    assert libc.startswith(f"{SYSROOT}/"), libc
    assert child.startswith("0 OpenSSL"), child
    # Debian's ensurepip takes pip from here: the sysroot's wheels, not the host's older ones.
    assert wheels.startswith(f"{SYSROOT}/") and list(Path(wheels).glob("pip-*.whl")), wheels


@needs_sysroot
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_sysroot_headers_compile_an_extension(tmp_path):
    # Debian's pyconfig.h only includes <TRIPLET/python3.14/pyconfig.h>; the sysroot's is the real one.
    (tmp_path / "m.c").write_text(
        "#include <Python.h>\n"
        "static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, \"m\", NULL, 0, NULL};\n"
        "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&d); }\n"
    )
    so = tmp_path / "m.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-I", str(SYSROOT / "usr" / "include" / "python3.14"),
                    "-o", str(so), str(tmp_path / "m.c")], check=True, capture_output=True, timeout=60)
    # Not the runner's PYTHON* variables: a free-threaded suite sets PYTHON_GIL=0, which this
    # GIL build refuses to start with.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    r = subprocess.run([str(SYSROOT / "bin" / "python3.14"), "-c", "import m; print(m.__name__)"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "m", r.stderr


def test_run_suite_skips_with_the_build_scripts_reason(tmp_path):
    # tools/python-build.sh exit 3 = the pieces cannot be had here, its last stdout line says why;
    # run-suite.sh turns that into one SKIPPED line (and exit 0) instead of a failure.
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(BUILD_SH.parent / "run-suite.sh", tools / "run-suite.sh")
    (tools / "python-build.sh").write_text(
        'echo "[python-build] UNAVAILABLE: no source, no binary" >&2\n'
        'echo "UNAVAILABLE: no source, no binary"\nexit 3\n')
    env = {k: v for k, v in os.environ.items() if k != "GORT_REQUIRE_ALL"}
    r = subprocess.run(["bash", str(tools / "run-suite.sh"), "3.14t"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == (
        "== 3.14t: SKIPPED: no source, no binary (tools/python-build.sh 3.14 --free-threaded)")
    r = subprocess.run(["bash", str(tools / "run-suite.sh"), "3.14t"], env=dict(env, GORT_REQUIRE_ALL="1"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, (r.stdout, r.stderr)
