# `make run` and `make test` each work alone on a fresh machine: they create .venv
# when it is missing and (re)install whenever pyproject.toml is newer than the venv.
# `make run` installs only what serving needs; the dev extras come with `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
STAMP := $(VENV)/.installed

.PHONY: run test install clean bench

$(SERVE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(SERVE_STAMP)

$(STAMP): $(SERVE_STAMP)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# HOST / PORT: where to serve (WHISTLE_HOST / WHISTLE_PORT work too), e.g. `make run PORT=8080`.
run: $(SERVE_STAMP)
	$(BIN)/whistle serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Whistle next to the peers (../shared/peers) on the fixtures page; writes BENCHMARKS.md.
# BENCH_ARGS e.g. --variant on --variant gc-off:WHISTLE_GC_THRESHOLD=0,WHISTLE_GC_FREEZE=false
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) whistle.db whistle.db-* .pytest_cache

# --- federation (gateway/: Node 20 + npm) -----------------------------------------------
NODE_MODULES := gateway/node_modules/.package-lock.json

$(NODE_MODULES): gateway/package-lock.json
	cd gateway && npm ci --prefer-offline --no-audit --no-fund
	touch $(NODE_MODULES)

.PHONY: supergraph gateway test-federation

# The three subgraphs' SDL, printed offline, composed into gateway/supergraph.graphql.
supergraph: $(STAMP) $(NODE_MODULES)
	for s in directory fixtures assignments; do $(BIN)/whistle schema --subgraph $$s > gateway/subgraphs/$$s.graphql; done
	cd gateway && node compose.mjs
	cp gateway/supergraph.graphql gateway/gateway.config.mjs deploy/k8s/overlays/federated/gateway/  # kustomize reads only below an overlay

# Three subgraph processes + the gateway on http://127.0.0.1:4000/graphql (Ctrl+C stops all).
gateway: $(STAMP) $(NODE_MODULES)
	bash gateway/run-local.sh

# Only the federated tests (they are part of `make test` too).
test-federation: $(STAMP) $(NODE_MODULES)
	$(BIN)/python -m pytest -q -m federation tests/federation $(PYTEST_ARGS)

# --- chaos (chaos/: three instances behind HAProxy, faults, invariants; writes CHAOS.md) --
CHAOS_DURATION ?= 120
CHAOS_SEED ?= 20261204
CHAOS_SUBSCRIBERS ?= 50

.PHONY: chaos
chaos: $(STAMP)
	$(BIN)/python -m chaos.run --duration $(CHAOS_DURATION) --seed $(CHAOS_SEED) --subscribers $(CHAOS_SUBSCRIBERS) $(CHAOS_ARGS)
