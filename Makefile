# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DB := demo.db
# The sample data ends on 2026-10-31; a fixed as-of keeps the demo's numbers the same every day.
DEMO_AS_OF := 2026-11-01
QUICK ?=

.PHONY: install demo test lint bench fmt migration translations clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/cpm --db $(DEMO_DB) init
	$(BIN)/cpm --db $(DEMO_DB) import customers sample_data/customers.xlsx
	$(BIN)/cpm --db $(DEMO_DB) import orders sample_data/orders.xlsx
	$(BIN)/cpm --db $(DEMO_DB) import orders sample_data/orders.csv --dayfirst
	@echo "--- the same file again changes nothing:"
	$(BIN)/cpm --db $(DEMO_DB) import orders sample_data/orders.xlsx
	$(BIN)/cpm --db $(DEMO_DB) imports
	$(BIN)/cpm --db $(DEMO_DB) award --as-of $(DEMO_AS_OF)
	$(BIN)/cpm --db $(DEMO_DB) points balance | head -n 15
	$(BIN)/cpm --db $(DEMO_DB) report --as-of $(DEMO_AS_OF) --xlsx demo-report.xlsx

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(INSTALLED)
	$(BIN)/python -m pip install --quiet pandas
	$(BIN)/python benchmarks/bench.py $(if $(QUICK),--quick --repeat 1,)

fmt: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# make migration m="add points ledger": autogenerate a revision against a database at head.
migration: $(INSTALLED)
	rm -f .migration.db
	$(BIN)/cpm --db .migration.db --quiet init
	$(BIN)/alembic -x db=sqlite:///.migration.db revision --autogenerate -m "$(m)"
	rm -f .migration.db .migration.db-wal .migration.db-shm
	$(BIN)/ruff format migrations

# After marking texts with _() / N_() / ngettext: add them to the Chinese catalog (translate the
# new entries in cpm/locale/zh/LC_MESSAGES/cpm.po), then run it again to compile cpm.mo.
translations: $(INSTALLED)
	$(BIN)/pybabel -q extract --no-location --sort-output -k _ -k N_ -k ngettext:1,2 \
		-o .messages.pot cpm
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete -i .messages.pot \
		-d cpm/locale -D cpm -l zh
	$(BIN)/pybabel -q compile -d cpm/locale -D cpm -l zh
	rm -f .messages.pot

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm demo-report.xlsx
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
