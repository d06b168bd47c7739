# One command per habit (see README): make demo, make test, make bench.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup services demo test lint bench bench-update clean

$(STAMP): pyproject.toml constraints.txt por/_native/fasthash.c por/_native/privfast.c \
  por/_native/hmac_sha256.h por/_native/sha256_blocks.h
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || { \
	  echo "python venv missing: installing Debian's python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PY) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip==25.3
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/por demo --out demo-output

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

services:
	./scripts/setup-services.sh

test: lint services
	$(BIN)/pytest -n 2 -q

# make bench changes no tracked file: figures go to bench/results/runs/ (ignored) and the
# generated data to .bench-data/ (ignored), removed at the end even when a run fails.
# make bench-update also stores the figures in bench/results/ and rewrites bench/README.md.
bench: setup
	$(BIN)/python bench/bench_build.py $(BENCH_ARGS); status=$$?; rm -rf .bench-data; exit $$status

bench-update: setup
	$(BIN)/python bench/bench_build.py --update $(BENCH_ARGS); status=$$?; rm -rf .bench-data; \
	  exit $$status

clean:
	rm -rf $(VENV) demo-output build *.egg-info .bench-data
