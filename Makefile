# One venv in .venv, rebuilt when pyproject.toml or the lock changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-postgresql check lint format mutation bench screenshots clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/agent-tui

# Three pytest-xdist workers on a 2-core machine: most tests wait on real processes, so a
# third keeps both cores busy. Tests that share one resource keep to one worker (xdist_group).
# --store=both: the functional and end-to-end tests run on SQLite and on a throwaway PostgreSQL
# cluster (skipped where Debian's postgresql package is not installed; .ci/run installs it).
PYTEST_WORKERS ?= 3
XDIST := -n $(PYTEST_WORKERS) --dist loadgroup

test: setup
	$(BIN)/python -m pytest -q $(XDIST) --store=both

# The whole suite against a throwaway PostgreSQL cluster (Debian's postgresql package; the tests
# start it as the postgres user). Tests of the SQLite file itself are skipped there.
test-postgresql: setup
	$(BIN)/python -m pytest -q $(XDIST) --store=postgresql

lint: setup
	$(BIN)/ruff check agent_tui tests bench
	$(BIN)/ruff format --check agent_tui tests bench

format: setup
	$(BIN)/ruff format agent_tui tests bench
	$(BIN)/ruff check --fix agent_tui tests bench

# The tests under coverage (line and branch), the processes they start included; the data files
# go directly under /tmp, one name per checkout (see [tool.coverage.run] in pyproject.toml).
# Then the total of the package, then the core's report, which fails under the floor set in
# pyproject.toml. `make test` stays plain pytest.
COVERAGE_FILE := /tmp/agent-tui-coverage-$(shell id -u)-$(shell printf %s '$(CURDIR)' | cksum | cut -d' ' -f1)

check: export COVERAGE_FILE := $(COVERAGE_FILE)
check: lint
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest -q
	$(BIN)/python -m coverage combine -q
	@echo "agent_tui total coverage: $$($(BIN)/python -m coverage report --include='agent_tui/*' --fail-under=0 --format=total)%"
	$(BIN)/python -m coverage report
	$(MAKE) mutation

# Mutation testing of the policy, its matchers, the state machines and the checks no rule can
# waive ([tool.mutmut] in pyproject.toml), from scratch each time; then the score per module,
# which fails under the floors in [tool.mutation-floor]. Not part of `make test`.
mutation: setup
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 >/dev/null
	$(BIN)/python tests/mutation_score.py

bench: setup
	$(BIN)/python bench/dispatch_latency.py --json
	$(BIN)/python bench/throughput.py --json
	$(BIN)/python bench/policy.py --json
	$(BIN)/python bench/agent_overhead.py --json
	$(BIN)/python bench/ui_latency.py --json
	$(BIN)/python bench/sandbox.py --json
	$(BIN)/python bench/schedules.py --json
	$(BIN)/python bench/search.py --json
	$(BIN)/python bench/faults.py --json
	$(BIN)/python bench/tui_lock.py --json
	$(BIN)/python bench/scale.py --json

screenshots: setup
	$(BIN)/python screenshots/make.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov mutants
