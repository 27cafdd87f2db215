#!/usr/bin/env bash
# The peer for the ward-page figure: pygeoapi (GeoJSON provider, gunicorn,
# 2 workers) serving the same ward polygons hotspots serves, measured with
# the same wrk run (64 connections, pages of 100 wards).
#
#   benches/peers/run_pygeoapi_wards.sh HOTSPOTS_URL
#
# HOTSPOTS_URL is a running `hotspots serve` (its /collections/wards/items
# gives the layer, so both serve identical features). Environment:
# PYGEOAPI_VENV (default /tmp/pygeoapi-venv), DURATION (default 10), PORT (default 18090).
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${1:?usage: run_pygeoapi_wards.sh HOTSPOTS_URL}
VENV=${PYGEOAPI_VENV:-/tmp/pygeoapi-venv}
DURATION=${DURATION:-10}
PORT=${PORT:-18090}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet -r benches/peers/requirements-pygeoapi.txt
TMP=$(mktemp -d)
curl -sf "$SRC/collections/wards/items?limit=10000" |
  "$VENV/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"type":"FeatureCollection","features":[{k:f[k] for k in ("type","id","geometry","properties")} for f in d["features"]]}))' \
  >"$TMP/wards.geojson"
cat >"$TMP/config.yml" <<YML
server:
  bind: {host: 127.0.0.1, port: $PORT}
  url: http://127.0.0.1:$PORT
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {default_items: 100, max_items: 10000}
  map: {url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png", attribution: OSM}
logging: {level: ERROR}
metadata:
  identification: {title: wards, description: wards, keywords: [wards], keywords_type: theme, terms_of_service: none, url: http://localhost}
  license: {name: none, url: http://localhost}
  provider: {name: none, url: http://localhost}
  contact: {name: none}
resources:
  wards:
    type: collection
    title: wards
    description: wards
    keywords: [wards]
    extents:
      spatial: {bbox: [-0.6, 51.2, 0.4, 51.8], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}
    providers:
      - type: feature
        name: GeoJSON
        data: $TMP/wards.geojson
        id_field: code
YML
PYGEOAPI_CONFIG="$TMP/config.yml" "$VENV/bin/pygeoapi" openapi generate "$TMP/config.yml" --output-file "$TMP/openapi.yml"
PYGEOAPI_CONFIG="$TMP/config.yml" PYGEOAPI_OPENAPI="$TMP/openapi.yml" \
  "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$PORT" pygeoapi.flask_app:APP >"$TMP/gunicorn.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/conformance?f=json" >/dev/null && break; sleep 0.2; done
URL="http://127.0.0.1:$PORT/collections/wards/items?limit=100&f=json"
echo "pygeoapi page: $(curl -s "$URL" | wc -c) bytes, $(curl -s "$URL" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberReturned"])') features"
echo "== pygeoapi: items, 100 wards"
wrk -t2 -c64 -d"${DURATION}s" --timeout 30s --latency "$URL" |
  grep -E 'Requests/sec|Transfer/sec|^ +99%|^ +50%|Non-2xx|Socket errors|requests in'
hwm_kb=0; n=0
for p in $PID $(pgrep -P "$PID"); do
  k=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
  [ -n "$k" ] && { hwm_kb=$((hwm_kb + k)); n=$((n + 1)); }
done
echo "pygeoapi server peak RSS: $((hwm_kb / 1024)) MB (VmHWM summed over $n gunicorn processes)"
