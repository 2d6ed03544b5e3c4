# gort: `make demo` runs the showcase, `make test` runs the tests on every supported Python.
# Each interpreter gets its own virtualenv with the package installed (editable) and its test extras.
SHELL := /bin/bash
PY311 ?= python3
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY313 ?= $(PYENV_ROOT)/versions/3.13.0/bin/python
PYTEST_ARGS ?= -q -p no:cacheprovider

.PHONY: test test-311 test-313 test-ft demo bench lint clean

test: test-311 test-313
	@ft=$$(GORT_FT_PREFIX=$${GORT_FT_PREFIX:-/opt/gort-python-ft}; ls $$GORT_FT_PREFIX/bin/python3.13t 2>/dev/null); \
	if [ -n "$$ft" ]; then $(MAKE) --no-print-directory test-ft; \
	else echo "make test: no free-threaded 3.13t built yet (make test-ft builds it), skipped"; fi

# venv NAME PYTHON: create .venv-ish dir if missing, install gort with test extras
define venv
	@if [ ! -x $(1)/bin/python ]; then echo "creating $(1) with $(2)"; $(2) -m venv $(1); fi
	@$(1)/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
endef

.venv/bin/python:
	$(call venv,.venv,$(PY311))

test-311:
	$(call venv,.venv,$(PY311))
	.venv/bin/python -m pytest $(PYTEST_ARGS)

test-313:
	@if [ ! -x "$(PY313)" ]; then echo "test-313: $(PY313) not found, skipped"; exit 0; fi
	$(call venv,.venv-3.13,$(PY313))
	.venv-3.13/bin/python -m pytest $(PYTEST_ARGS)

# Free-threaded CPython 3.13t: built once by tools/python-ft.sh and cached outside the repo.
test-ft:
	@ft=$$(bash tools/python-ft.sh | tail -n 1); \
	if [ ! -x .venv-ft/bin/python ]; then echo "creating .venv-ft with $$ft"; "$$ft" -m venv .venv-ft; fi; \
	.venv-ft/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' && \
	PYTHON_GIL=0 .venv-ft/bin/python -c 'import sys; assert not sys._is_gil_enabled(), "GIL is on"' && \
	PYTHON_GIL=0 .venv-ft/bin/python -m pytest $(PYTEST_ARGS)

demo: .venv/bin/python
	@.venv/bin/python -m pip install -q --disable-pip-version-check -e . 
	.venv/bin/python examples/demo.py

bench:
	@if [ ! -x .venv-bench/bin/python ]; then $(PY311) -m venv .venv-bench; fi
	@.venv-bench/bin/python -m pip install -q --disable-pip-version-check -e . -r bench/requirements.txt
	.venv-bench/bin/python bench/run.py $(BENCH_ARGS)

lint:
	$(call venv,.venv,$(PY311))
	@.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	.venv/bin/python -m ruff check gort tests
	.venv/bin/python -m mypy gort

clean:
	rm -rf .venv .venv-3.13 .venv-ft .venv-bench build *.egg-info
