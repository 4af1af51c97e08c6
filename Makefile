# The README's two commands: `make run` and `make test`. Both create or reuse .venv in the
# repository root; the stamp file makes the second call skip the install when nothing changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.neurodecorr-installed
# the tested versions (see docs/install.md)
CONSTRAINTS := constraints.txt

.PHONY: setup run test lint docs clean

$(STAMP): pyproject.toml Makefile $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, at the tested version. From PyPI on Linux x86-64 that is the CUDA build
	# (nvidia-* packages and triton, several GB); for the CPU-only build install torch from
	# PyTorch's CPU index before `make` (docs/install.md): an installed 2.13.0 is kept.
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) torch
	# editable: the import finder maps neurodecorr to ./neurodecorr, so a stale build/lib (from an
	# earlier wheel build) is never imported; tests/test_wheel.py builds wheels from a clean copy
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev,docs,lava]"
	# lava-nc 0.10.0 declares Python <3.11; on 3.11+ install it without its metadata checks
	# (its one incompatibility is fixed at import time by neurodecorr.lava, see docs/lava.md).
	if $(BIN)/python -c "import sys; sys.exit(sys.version_info < (3, 11))"; then \
	  $(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) --no-deps --ignore-requires-python \
	    lava-nc==0.10.0; fi
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/neurodecorr bench

lint: setup
	$(BIN)/ruff check .

docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

test: setup lint docs
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build site .pytest_cache .hypothesis .ruff_cache
