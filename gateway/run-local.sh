#!/usr/bin/env bash
# `make gateway`: the federated stack on this machine. Three `whistle serve --subgraph`
# processes (ports 4001-4003) and the Hive Gateway on http://127.0.0.1:4000/graphql.
# Database and Redis come from WHISTLE_DATABASE_URL / WHISTLE_REDIS_URL (defaults: the
# embedded SQLite file whistle.db with the demo data, Redis on 127.0.0.1:6379 db 0).
# Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export WHISTLE_REDIS_URL=${WHISTLE_REDIS_URL:-redis://127.0.0.1:6379/0}
export WHISTLE_RATE_LIMIT_POINTS=${WHISTLE_RATE_LIMIT_POINTS:-0}  # behind a gateway every caller has its address
BIN=.venv/bin

$BIN/whistle migrate
$BIN/whistle seed                      # the demo data, once: the subgraphs start with seeding off
export WHISTLE_SEED_DEMO=0

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait || true; }
trap cleanup EXIT INT TERM

port=4001
for subgraph in directory fixtures assignments; do
  $BIN/whistle serve --subgraph "$subgraph" --port "$port" &
  pids+=($!)
  export "${subgraph^^}_URL=http://127.0.0.1:$port/graphql"
  port=$((port + 1))
done
for p in 4001 4002 4003; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.2; done
done
cd gateway
node_modules/.bin/hive-gateway supergraph supergraph.graphql --host 127.0.0.1 --port "${GATEWAY_PORT:-4000}" &
pids+=($!)
wait -n
