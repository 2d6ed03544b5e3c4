#!/usr/bin/env bash
# Run the test suite on one interpreter:  tools/run-suite.sh 3.11|3.13|3.14|3.14t|3.13t
#
# Finds (or builds, with tools/python-build.sh) the interpreter, keeps a venv per
# interpreter (.venv for 3.11, .venv-TAG otherwise) with gort installed editable plus its
# test extras, then runs pytest once per mode in MODES (default: "default").  A mode is
# an environment for the whole suite; "purepy" sets GORT_PUREPY=1, for when an
# accelerated module exists and the pure-Python path must still be tested.
# Free-threaded interpreters run with PYTHON_GIL=0 and must report the GIL off first.
# Exit status: pytest's; 0 with a SKIPPED line, saying why, when the interpreter cannot be
# had here (tools/python-build.sh exits 3: neither its source nor a usable binary on the
# machine's Debian mirror), unless GORT_REQUIRE_ALL=1.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="${1:?usage: $0 3.11|3.13|3.14|3.14t|3.13t}"
MODES="${MODES:-default}"
read -r -a PYTEST_ARGS <<<"${PYTEST_ARGS:--q -p no:cacheprovider}"
log() { echo "[run-suite $TAG] $*" >&2; }

build() {
  local rc=0 py
  py=$(bash tools/python-build.sh "$@" | tail -n 1) || rc=$?
  # Exit 3: the pieces cannot be had here; the script's last line gives the reason.
  if [ "$rc" = 3 ] && [ "${GORT_REQUIRE_ALL:-0}" != 1 ]; then
    echo "== $TAG: SKIPPED: ${py#UNAVAILABLE: } (tools/python-build.sh $*)"
    exit 0
  fi
  [ "$rc" = 0 ] || { log "tools/python-build.sh $* failed ($rc)"; exit "$rc"; }
  echo "$py"
}

FT=0
case "$TAG" in
  3.11) PY="${PY311:-python3}"; VENV=.venv ;;
  3.13) PY="${PY313:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/3.13.0/bin/python}"
        [ -x "$PY" ] || PY=$(build 3.13) ;;
  3.14) PY=$(build 3.14) ;;
  3.14t) PY=$(build 3.14 --free-threaded); FT=1 ;;
  3.13t) PY=$(build 3.13 --free-threaded); FT=1 ;;
  *) log "unknown interpreter tag"; exit 2 ;;
esac
# build() printed a SKIPPED line instead of a path: pass it on.
case "$PY" in "== "*) echo "$PY"; exit 0 ;; esac
VENV="${VENV:-.venv-$TAG}"

# A venv made by another interpreter (PY311 changed, a rebuilt prefix) is remade.
want=$("$PY" -c 'import sys; print(sys.version)')
if [ ! -x "$VENV/bin/python" ] || [ "$("$VENV/bin/python" -c 'import sys; print(sys.version)' 2>/dev/null)" != "$want" ]; then
  log "creating $VENV with $PY"
  "$PY" -m venv --clear "$VENV"
fi
# pip only when pyproject.toml changed since the last install (saves seconds per run).
stamp="$VENV/.gort-installed"
# The test extras include mypy.  A free-threaded build where it cannot be installed
# (3.13t: its dependency ast-serialize has no free-threaded wheel, and its Rust build
# needs crates.io) gets test-core, the same extras without mypy: the mypy tests skip
# there, saying so.  Anywhere else a failed install is an error.
# (and when the C accelerator's source changed: an editable install builds it once)
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] || [ gort/_accel.c -nt "$stamp" ]; then
  piplog="$VENV/pip-test-extras.log"
  if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]' >"$piplog" 2>&1; then
    if [ "$FT" != 1 ]; then cat "$piplog" >&2; exit 1; fi
    log "the test extras (with mypy) do not install on this build (pip's output: $piplog);" \
        "installing test-core, the same without mypy: the mypy tests skip"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test-core]' >&2
  else
    cat "$piplog" >&2
  fi
  touch "$stamp"
fi

if [ "$FT" = 1 ]; then
  export PYTHON_GIL=0
  "$VENV/bin/python" -c 'import sys; assert not sys._is_gil_enabled(), "GIL is on"'
fi

rc=0
for mode in $MODES; do
  case "$mode" in
    default) envs=() ;;
    purepy) envs=(GORT_PUREPY=1) ;;
    *) log "unknown mode $mode"; exit 2 ;;
  esac
  log "pytest, mode $mode ($("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0], "free-threaded" if not getattr(sys, "_is_gil_enabled", lambda: True)() else "GIL")'))"
  start=$(date +%s)
  out=$(mktemp)
  r=0
  env "${envs[@]}" "$VENV/bin/python" -m pytest "${PYTEST_ARGS[@]}" 2>&1 | tee "$out" || r=$?
  # pytest's closing line ("267 passed, 2 skipped in 14.00s") without its decoration.
  counts=$(tail -n 1 "$out" | sed -E 's/^=+ //; s/ =+$//; s/ in [0-9.]+s.*$//')
  rm -f "$out"
  echo "== $TAG $mode: $([ "$r" = 0 ] && echo passed || echo "FAILED (pytest exit $r)"): $counts, $(( $(date +%s) - start ))s"
  [ "$r" = 0 ] || rc=$r
done
exit "$rc"
