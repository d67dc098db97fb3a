# Two commands do all the set-up: `make run` (demo on the embedded SQLite default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench eval lint browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/vigia demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.dashboard_queries
	$(BIN)/python -m bench.inbox_queue
	$(BIN)/python -m bench.workers

eval: $(STAMP)
	$(BIN)/python -m bench.eval_analysis
	$(BIN)/python -m bench.eval_detection

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy collectors analysis

# The dashboard's browser test drives Debian's Chromium; install it when we can (root), else the test skips.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "note: chromium not installed; the browser test will be skipped"; }
