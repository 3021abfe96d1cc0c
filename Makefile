# The two commands a newcomer needs: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test setup setup-dev browser system-packages screenshots check-flows bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

# Debian packages: Chromium for the browser tests (Playwright drives it; no browser download),
# Graphviz's dot, which draws the flow map, and valgrind, which counts a turn's instructions
# for the benchmarks (python -m bench instructions).
system-packages:
	@{ command -v chromium && command -v dot && command -v valgrind; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium graphviz valgrind >/dev/null; \
	  else echo "chromium, graphviz or valgrind is missing: sudo apt-get install chromium graphviz valgrind (browser, flow-map and instruction-count tests will skip)"; fi; }

browser: system-packages

## screenshots: the README's pictures of the simulator and the flow map, into docs/images/
screenshots: setup-dev system-packages
	$(BIN)/python docs/make_screenshots.py

## run: set up and start the help line on SQLite at http://127.0.0.1:$(PORT) (signatures off: development only)
run: setup
	$(BIN)/flask --app helpline flows check
	$(BIN)/flask --app helpline db upgrade
	@echo "Try the help line in your browser: http://127.0.0.1:$(PORT)/simulator/"
	HELPLINE_INSECURE_SKIP_SIGNATURES=$${HELPLINE_INSECURE_SKIP_SIGNATURES:-1} FLASK_DEBUG=0 \
	  $(BIN)/flask --app helpline run --host 127.0.0.1 --port $(PORT)

## test: set up and run the whole test suite (PostgreSQL too when HELPLINE_TEST_DATABASE_URL is set)
test: setup-dev system-packages
	$(BIN)/flask --app helpline flows check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-flows: setup
	$(BIN)/flask --app helpline flows check

## bench: benchmarks against a minimal baseline, ~25 min, writes docs/benchmarks.md (BENCH_ARGS=--smoke: seconds)
bench: setup-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
