# mqsim: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench install clean browser ffmpeg

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mqsim demo

# What tests need from the system, installed here when missing (as root, with apt-get), once;
# quiet when present. $(call debian,WHAT,PACKAGES,PROGRAMS): WHAT names the need in messages.
define debian
	@missing=; for p in $(3); do [ -x "$$p" ] || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make: $(1) needs the Debian packages $(2) and this machine has no apt-get;" \
			"install them (and set CHROMIUM=... CHROMEDRIVER=... for a browser elsewhere)" >&2; \
		exit 1; \
	fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "make: $(1) needs root to install: sudo apt-get install $(2)" >&2; \
		exit 1; \
	fi; \
	echo "make: installing $(2) with apt-get for $(1)"; \
	apt-get update -qq >/dev/null && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null
endef

# The browser test (tests/test_report_browser.py) drives Debian's chromium through its
# chromedriver.
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver

browser:
	$(call debian,the browser test,chromium chromium-driver,$(CHROMIUM) $(CHROMEDRIVER))

# `mqsim animate --out FILE.mp4` writes through ffmpeg (tests/test_cli_playback.py).
ffmpeg:
	$(call debian,the MP4 test,ffmpeg,/usr/bin/ffmpeg /usr/bin/ffprobe)

# One pytest run over the tests and the notebooks (nbmake executes each notebook).
# --dist worksteal: each worker starts on one contiguous half of the tests and an idle one takes
# over the tail of the other's queue, so a module's tests (and the runs they share, cached per
# process) stay on one worker; the default (load) deals them out in turn and both workers
# would simulate the same cached runs. tests/conftest.py puts the long notebooks first.
test: $(STAMP) lint browser ffmpeg
	CHROMIUM=$(CHROMIUM) CHROMEDRIVER=$(CHROMEDRIVER) \
		$(BIN)/python -m pytest -q -n 2 --dist worksteal --nbmake tests $(wildcard notebooks/*.ipynb)

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
