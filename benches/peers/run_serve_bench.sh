#!/usr/bin/env bash
# Load test of `hotspots serve` with wrk on loopback (server and client on
# one machine): single incident features, items pages of 100 incidents,
# pages of 100 ward polygons, a cached analysis layer, 304s; the first
# (uncached) Gi* layer; resident memory under load.
#
#   benches/peers/run_serve_bench.sh [DATASET_DIR]
#
# Without DATASET_DIR the Met burglary data (data/london-burglary.toml, all
# months) is ingested from HOTSPOTS_DATA (default ../shared/data).
# HOTSPOTS_BIN picks the binary (default: target/release/hotspots, built if
# missing). Environment: DURATION (seconds per run, default 10),
# CONNECTIONS (default 64), PORT (default 18080).
set -euo pipefail
cd "$(dirname "$0")/../.."
HOTSPOTS_DATA=${HOTSPOTS_DATA:-../shared/data}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-18080}
BIN=${HOTSPOTS_BIN:-target/release/hotspots}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release --quiet
TMP=$(mktemp -d)
DATASET=${1:-}
if [ -z "$DATASET" ]; then
  DATASET="$TMP/ds"
  "$BIN" ingest --quiet --config data/london-burglary.toml --data-root "$HOTSPOTS_DATA" --out "$DATASET"
fi
URL="http://127.0.0.1:$PORT"
RUST_LOG=${RUST_LOG:-info} "$BIN" serve --dataset "$DATASET" --bind "127.0.0.1:$PORT" >"$TMP/serve.out" 2>"$TMP/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 600); do curl -sf "$URL/conformance" >/dev/null && break; sleep 0.2; done
echo "server up: $(ps -o rss= -p $PID | awk '{printf "%.0f MB resident", $1/1024}')"

gistar="$URL/collections/gistar/items?cell=250&band=750&limit=100"
echo "first (uncached) Gi* layer request: $(curl -s -o /dev/null -w '%{time_total}' "$gistar") s"
echo "repeat (cached):                    $(curl -s -o /dev/null -w '%{time_total}' "$gistar") s"
grep -c '"computed"\|computed' "$TMP/serve.log" | sed 's/^/layer computations logged: /'
ETAG=$(curl -s -D - -o /dev/null "$gistar" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
echo "If-None-Match on the cached layer: HTTP $(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$gistar")"
ID=$(curl -s "$URL/collections/incidents/items?limit=1&offset=1000" | python3 -c 'import json,sys; print(json.load(sys.stdin)["features"][0]["id"])')

run() {
  local name=$1; shift
  echo "== $name"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" |
    grep -E 'Requests/sec|Transfer/sec|^ +99%|^ +50%|Non-2xx|Socket errors|requests in'
}
run "single incident feature" "$URL/collections/incidents/items/$ID"
run "items: 100 incidents" "$URL/collections/incidents/items?limit=100&offset=5000"
run "items: 100 wards (polygons)" "$URL/collections/wards/items?limit=100"
run "items: 100 wards, gzip" -H 'Accept-Encoding: gzip' "$URL/collections/wards/items?limit=100"
run "cached Gi* layer page (100 cells)" "$gistar"
run "304 on the cached Gi* page" -H "If-None-Match: $ETAG" "$gistar"
echo "resident memory after the runs: $(ps -o rss= -p $PID | awk '{printf "%.0f MB", $1/1024}')"
echo "ward page size: $(curl -s "$URL/collections/wards/items?limit=100" | wc -c) bytes"
echo "requests logged: $(grep -c served "$TMP/serve.log")"
