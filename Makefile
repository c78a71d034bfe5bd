# imcloud: two commands from a bare machine — `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
TS := sdk_clients/typescript
TS_DEPS := $(TS)/node_modules/.package-lock.json

.PHONY: run test lint format typecheck pytest migrate venv ts-deps clean proto sdk bench bench-push

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt sdk_clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

venv: $(VENV)/.dev

# The TypeScript SDK's toolchain (tsc, esbuild, protoc-gen-es): pinned by its package-lock.json.
$(TS_DEPS): $(TS)/package.json $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

ts-deps: $(TS_DEPS)

migrate: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput

## Start daphne on 127.0.0.1:8000 and a Celery worker (embedded defaults unless DATABASE_URL / REDIS_URL).
run: migrate
	$(PY) scripts/run.py

## Lint, type-check and run the whole suite (PostgreSQL and Redis when they answer).
test: $(VENV)/.dev $(TS_DEPS) lint typecheck pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.dev
	$(BIN)/mypy apps imcloud
	$(BIN)/mypy -p sdk_clients.generator
	$(BIN)/mypy --config-file sdk_clients/python/pyproject.toml sdk_clients/python/src

pytest: $(VENV)/.dev $(TS_DEPS)
	$(BIN)/pytest

## Benchmark: the real stack vs a bare websockets relay; JSON and PNG in bench/results/.
## `make bench BENCH_ARGS=--quick` for a smoke run (needs PostgreSQL and Redis; flushes Redis db 12).
bench: $(VENV)/.runtime
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(PY) bench/run.py $(BENCH_ARGS)

## Offline-push benchmark: notifications/s through Celery to a local APNs; JSON and PNG in bench/results/push-*.
## `make bench-push BENCH_ARGS=--quick` for a smoke run (needs PostgreSQL and Redis; flushes Redis db 11).
bench-push: $(VENV)/.dev
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(PY) bench/push.py $(BENCH_ARGS)

## Regenerate the protocol code from protocol/imcloud.proto (CI fails when it is stale).
proto: $(VENV)/.dev
	$(PY) -m grpc_tools.protoc -I protocol --python_out=apps/protocol --pyi_out=apps/protocol protocol/imcloud.proto

## Regenerate the SDKs' protocol code (sdk_clients/) from protocol/imcloud.proto and the browser bundle
## (static/sdk/imcloud-sdk.js); the suite fails when either is stale.
sdk: $(VENV)/.dev $(TS_DEPS)
	$(PY) -m sdk_clients.generator
	cd $(TS) && npm run --silent bundle

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache $(TS)/node_modules $(TS)/dist $(TS)/build
