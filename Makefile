# gort: `make demo` runs the showcase, `make test` runs the tests on every supported Python.
# tools/run-suite.sh TAG does one interpreter: finds or builds it (tools/python-build.sh,
# cached outside the repo), keeps its own venv (.venv for 3.11, .venv-TAG otherwise) with
# the package installed editable plus its test extras, and runs pytest once per mode.
SHELL := /bin/bash
PY311 ?= python3
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY313 ?= $(PYENV_ROOT)/versions/3.13.0/bin/python
PYTEST_ARGS ?= -q -p no:cacheprovider
# Every interpreter `make test` covers; 3.14t and 3.13t are free-threaded builds.
PYTHONS ?= 3.11 3.13 3.14 3.14t 3.13t
# The suite runs once per mode on each interpreter: default (the C accelerator, gort/_accel.c,
# when built) and purepy (GORT_PUREPY=1: the pure-Python modules).  Both modes on 3.11, 3.13 and
# 3.13t (3.14/3.14t skipped here): `time make test` 16m43s on 2026-11-28 with the machine's load
# average at 10-16 from other runs (per mode and interpreter 143-196 s).
MODES ?= default purepy
export PY311 PY313 PYTEST_ARGS MODES

.PHONY: test test-refcount test-311 test-313 test-314 test-314t test-313t test-ft demo bench lint clean

# One interpreter after another, not two at a time: the suites are concurrency tests and
# this machine has 2 cores.  Measured on 3.11, 3.13 and 3.13t (3 runs each way): in sequence
# 54-63 s, two at a time 39-56 s, while the free-threaded suite, which keeps both cores busy
# by itself, went from 17-34 s to 38-56 s (noisy: other test runs shared the machine, but
# every run went that way).  A few seconds are not worth running every timing-sensitive test
# starved of CPU.
# A failing interpreter does not stop the others; the summary says which failed.
# (tee -a: /dev/stderr reopens the log file when CI redirects to one; without O_APPEND
# the copy would write over the log from its start)
test:
	@set -o pipefail; rc=0; sum=(); \
	for t in $(PYTHONS); do \
	  out=$$(bash tools/run-suite.sh $$t | tee -a /dev/stderr | grep '^== ') || rc=1; \
	  sum+=("$${out:-== $$t: FAILED before pytest ran}"); \
	done; \
	echo; printf '%s\n' "$${sum[@]}"; exit $$rc

test-311:
	@bash tools/run-suite.sh 3.11
test-313:
	@bash tools/run-suite.sh 3.13
test-314:
	@bash tools/run-suite.sh 3.14
test-314t:
	@bash tools/run-suite.sh 3.14t
test-313t:
	@bash tools/run-suite.sh 3.13t
# The old name of test-313t, still used by scripts and docs.
test-ft: test-313t

# Reference counts of the C accelerator, on Debian's debug build of CPython (python3-dbg:
# sys.gettotalrefcount exists there only), which also runs the C module with the
# interpreter's assertions on; -X dev adds the debug allocator's checks.
PYDBG ?= python3-dbg
test-refcount:
	@if [ ! -x .venv-dbg/bin/python ]; then $(PYDBG) -m venv .venv-dbg; fi
	@.venv-dbg/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
	.venv-dbg/bin/python -X dev -m pytest $(PYTEST_ARGS) tests/test_accel.py tests/test_chan.py tests/test_select.py tests/test_time.py

# venv NAME PYTHON: create the venv if missing, install gort with test extras
define venv
	@if [ ! -x $(1)/bin/python ]; then echo "creating $(1) with $(2)"; $(2) -m venv $(1); fi
	@$(1)/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
endef

.venv/bin/python:
	$(call venv,.venv,$(PY311))

# The demo needs gort alone: no test extras (from a fresh clone, the venv is most of the
# wait).  It writes demo-trace.json and demo-trace.html here (see README, "The demo").
demo:
	@if [ ! -x .venv/bin/python ]; then $(PY311) -m venv .venv; fi
	@.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
	.venv/bin/python examples/demo.py

bench:
	@if [ ! -x .venv-bench/bin/python ]; then $(PY311) -m venv .venv-bench; fi
	@.venv-bench/bin/python -m pip install -q --disable-pip-version-check -e . -r bench/requirements.txt
	.venv-bench/bin/python bench/run.py $(BENCH_ARGS)

# ruff (config in pyproject.toml) on the package, the tests and the examples; mypy --strict
# on the package and the examples, with unused-awaitable on (pyproject's [tool.mypy]).
lint:
	$(call venv,.venv,$(PY311))
	@.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	.venv/bin/python -m ruff check gort tests examples
	.venv/bin/python -m mypy --strict gort examples

# The interpreters themselves stay cached under /opt (see README, "Supported Pythons").
clean:
	rm -rf .venv .venv-dbg .venv-3.13 .venv-3.14 .venv-3.14t .venv-3.13t .venv-ft .venv-bench build *.egg-info gort/*.so
	rm -f demo-trace.html demo-trace.json
