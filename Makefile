# Every target creates the virtual environment on first use, so a fresh
# machine needs only Python 3.10+ and pip.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test lint typecheck pytest demo emulator bench bench-ray examples-data clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[all]" --group dev
	touch $(STAMP)

test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src

pytest: $(STAMP)
	$(PY) -m pytest

# Uses the real service when DASHSCOPE_API_KEY is set, the bundled emulator otherwise.
demo: $(STAMP)
	$(PY) examples/demo.py

emulator: $(STAMP)
	$(PY) -m dashscope_embeddings.emulator --port 8765

bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check --group bench
	$(PY) benchmarks/run.py

# A few minutes: 10,000 texts through the Ray Data stage with 1, 2 and 4 workers.
bench-ray: $(STAMP)
	$(PY) benchmarks/ray_bench.py

examples-data: $(STAMP)
	$(PY) examples/make_data.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
