# gridplan: two commands do everything on a fresh machine (Python >= 3.11 on PATH).
#   make demo   - create .venv if missing, install gridplan, plan the bundled sample town
#   make test   - the same set-up with the test extras, then the whole test suite
#   make notebooks - run the notebooks and store them with their outputs
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= demo-plan
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: demo test bench lint clean venv notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip

# One stamp per extra set, redone when pyproject.toml changes.
$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[excel,charts]"
	touch $@

$(VENV)/.stamp-test: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[test,lint]"
	touch $@

$(VENV)/.stamp-bench: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[test,bench]"
	touch $@

venv: $(VENV)/.stamp-run

demo: $(VENV)/.stamp-run
	$(BIN)/gridplan demo --out $(OUT) --overwrite
	@echo "Open $(OUT)/map.html in a browser; the plan is $(OUT)/plan.gpkg, the report $(OUT)/report.md, the month of residents' requests $(OUT)/requests.gpkg (gridplan requests ... --ledger $(OUT)/requests.gpkg)"

test: $(VENV)/.stamp-test
	$(BIN)/python -m pytest -q

bench: $(VENV)/.stamp-bench
	cd benchmarks && for f in bench_*.py; do echo "== $$f"; ../$(BIN)/python $$f || exit 1; done
	cd benchmarks && ../$(BIN)/python bench_siting.py --set-cover
	cd benchmarks && ../$(BIN)/python run_all.py

notebooks: $(VENV)/.stamp-test
	$(BIN)/python notebooks/refresh.py

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check gridplan tests benchmarks
	$(BIN)/ruff format --check gridplan tests benchmarks
	$(BIN)/mypy gridplan
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_layers.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache test-artifacts
