# The four targets users and CI rely on: demo, test, ui, bench.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# dbt must be on the PATH of every process that runs Dagster or prepares the dbt project.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup browser java demo test ui bench bench-quick lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

## setup: the virtualenv, the Dagster home, dbt's manifest, Chromium for the UI tests and Java for Spark
setup: $(STAMP) browser java
	@$(BIN)/python -m product_analytics.instance >/dev/null
	@# dbt parses with the warehouse path and start date the runs use: their partial parse starts warm.
	@PA_DUCKDB_PATH=$$($(BIN)/python -m product_analytics.config duckdb-path) \
	  PA_START_DATE=$$($(BIN)/python -m product_analytics.config start-date) \
	  $(BIN)/python -m product_analytics.project >/dev/null

## browser: Debian's chromium (headless, for the UI test), installed when missing
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "warning: chromium is missing and cannot be installed here (root and apt-get needed);"; \
	    echo "         the UI screenshot test needs it: sudo apt-get install chromium"; \
	  fi; }

## java: a Java runtime for Spark (Debian's OpenJDK 17, headless), installed when missing
java:
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Java 17 for Spark (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  else \
	    echo "warning: java is missing and cannot be installed here (root and apt-get needed);"; \
	    echo "         the Spark engine and its tests need it: sudo apt-get install openjdk-17-jre-headless"; \
	  fi; }

## demo: simulate the last 7 days and materialize every asset through Dagster
demo: setup
	$(BIN)/python -m product_analytics.demo

## test: the whole test suite (CI runs exactly this); two workers, one test file each at a time
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile

## ui: the Dagster UI on the demo's instance
ui: setup
	@DAGSTER_HOME=$$($(BIN)/python -m product_analytics.config dagster-home) $(BIN)/python -m product_analytics.ui

## bench: every benchmark figure (SPEC §8) at full scale: a table and benchmarks/results/latest.json
bench: setup
	$(BIN)/python benchmarks/run.py full

## bench-quick: the same figures at smaller scales (a few minutes)
bench-quick: setup
	$(BIN)/python benchmarks/run.py quick

## lint: ruff (Python) and SQLFluff (the dbt project, through dbt's compiler, in a scratch target)
lint: setup
	$(BIN)/ruff check product_analytics product_analytics_tests benchmarks
	$(BIN)/ruff format --check product_analytics product_analytics_tests benchmarks
	@scratch=$$(mktemp -d) && cd dbt && \
	  DBT_TARGET_PATH=$$scratch/target PA_DUCKDB_PATH=$$scratch/warehouse.duckdb $(CURDIR)/$(BIN)/sqlfluff lint models snapshots tests; \
	  status=$$?; rm -rf $$scratch; exit $$status

clean:
	rm -rf $(VENV) data dbt/target dbt/logs
