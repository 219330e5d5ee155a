# Blu's entry points. `make dev` runs Blu locally; `make test` runs every check. Both bootstrap themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export CDK_DISABLE_CLI_TELEMETRY := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: dev test lint synth cost deploy bench deps web web-test browser clean lock api

## Python virtualenv with the pinned requirements (re-installed when a requirements file changes)
$(VENV)/.installed: requirements.txt requirements-dev.txt container/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

## Node packages: the pinned CDK CLI and the front-end build
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The Lambda layer's locked wheels, so synth works offline afterwards
WHEELHOUSE := .cache/wheels
LAYER_LOCK := lambdas/layer/requirements.lock
$(WHEELHOUSE)/.filled: $(LAYER_LOCK) | $(VENV)/.installed
	$(PY) -m scripts.wheelhouse
	touch $@

deps: $(VENV)/.installed node_modules/.installed $(WHEELHOUSE)/.filled

## Re-resolve the layer's lock (hashes for every platform) after editing lambdas/layer/requirements.in
lock: $(VENV)/.installed
	$(PY) -m pip install -q --target .cache/uv uv==0.13.8
	cd lambdas/layer && ../../.cache/uv/bin/uv pip compile requirements.in --universal --python-version 3.11 \
	  --generate-hashes --quiet --custom-compile-command "make lock" -o requirements.lock

## The API's OpenAPI document (docs/openapi.json) and the UI's types generated from it (web/src/generated/api.ts)
api: $(VENV)/.installed node_modules/.installed
	$(PY) -m scripts.openapi

## The web UI's static assets, bundled from npm packages at build time
web: node_modules/.installed
	@if [ -f web/package.json ] || [ -d web/src ]; then npm run --silent build:web; fi

## The same UI with the LiveKit adapter replaced by the browser tests' double (web/dist-test)
web-test: node_modules/.installed
	npm run --silent build:web-test

## Debian's Chromium for the browser tests (Playwright launches it by path) and espeak-ng for spoken test audio
SYSTEM_TOOLS := chromium espeak-ng
browser:
	@missing="$$(for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || echo $$tool; done)"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Tests need Debian's $$missing: sudo apt-get install -y $$missing" >&2; fi; \
	fi

dev: deps web
	$(PY) -m runtime

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

test: deps web web-test browser lint
	npm run --silent test:web
	$(PY) -m pytest -q -n 2

synth: deps web
	npx cdk synth --quiet

## Monthly cost estimate (0, 1 and 3 hours of use a day) from the synthesized templates
cost: synth
	$(PY) -m stacks.cost cdk.out

## Guided first deploy (and safe re-deploy): prerequisites, deploy, password and token, URL and cost
deploy: deps web
	$(PY) -m scripts.deploy

bench: deps
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules cdk.out web/dist web/dist-test .mypy_cache .ruff_cache .pytest_cache
