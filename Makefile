# mqsim: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench install clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mqsim demo

# The browser test (tests/test_report_browser.py) drives Debian's chromium through its
# chromedriver: installed here when missing (as root, with apt-get), once; quiet when present.
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver

browser:
	@if [ -x "$(CHROMIUM)" ] && [ -x "$(CHROMEDRIVER)" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make browser: the browser test needs chromium and chromedriver (Debian: chromium," \
			"chromium-driver) and this machine has no apt-get; install them and set" \
			"CHROMIUM=... CHROMEDRIVER=..." >&2; \
		exit 1; \
	fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "make browser: installing chromium needs root:" \
			"sudo apt-get install chromium chromium-driver" >&2; \
		exit 1; \
	fi; \
	echo "make browser: installing chromium and chromium-driver with apt-get"; \
	apt-get update -qq >/dev/null && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium chromium-driver >/dev/null

# One pytest run over the tests and the notebooks (nbmake executes each notebook).
test: $(STAMP) lint browser
	CHROMIUM=$(CHROMIUM) CHROMEDRIVER=$(CHROMEDRIVER) \
		$(BIN)/python -m pytest -q -n 2 --nbmake tests $(wildcard notebooks/*.ipynb)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmarks (never part of `make test`): every goal of issue 17 beside its measured figure.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) results
