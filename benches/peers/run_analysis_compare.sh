#!/usr/bin/env bash
# Compare hotspots' Gi* with PySAL (libpysal DistanceBand + esda G_Local) on
# the real Met burglary grid: 250 m cells, 750 m band, all 135 months.
#
#   benches/peers/run_analysis_compare.sh
#
# Environment: HOTSPOTS_DATA (default ../shared/data), REF_VENV (default
# /tmp/hotspots-ref-venv, built from tests/reference/requirements.txt).
# hotspots' own timings come from `cargo bench --bench analysis`; this script
# times the Python side on the engine's own per-cell counts and checks the
# z-scores agree.
set -euo pipefail
cd "$(dirname "$0")/../.."
HOTSPOTS_DATA=${HOTSPOTS_DATA:-../shared/data}
REF_VENV=${REF_VENV:-/tmp/hotspots-ref-venv}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$REF_VENV/bin/python" ] || python3 -m venv "$REF_VENV"
"$REF_VENV/bin/pip" install --quiet -r tests/reference/requirements.txt
cargo build --release --quiet
target/release/hotspots ingest --quiet --config data/london-burglary.toml --data-root "$HOTSPOTS_DATA" --out "$TMP/ds"
target/release/hotspots gistar --dataset "$TMP/ds" --cell 250 --band 750 --out "$TMP/gi.csv"
"$REF_VENV/bin/python" - "$TMP/gi.csv" "$TMP/cells.csv" <<'PY'
import csv, sys
rows = csv.DictReader(open(sys.argv[1]))
with open(sys.argv[2], "w") as out:
    out.write("cell_id,x_m,y_m,count\n")
    for r in rows:
        out.write(f"{r['cell_id']},{r['easting_m']},{r['northing_m']},{r['count']}\n")
PY
"$REF_VENV/bin/python" tests/reference/gistar_esda.py --cells "$TMP/cells.csv" --band 750 --out "$TMP/esda.csv" --timing
"$REF_VENV/bin/python" - "$TMP/gi.csv" "$TMP/esda.csv" <<'PY'
import csv, sys
ours = {r["cell_id"]: float(r["gi_z"]) for r in csv.DictReader(open(sys.argv[1]))}
theirs = {r["cell_id"]: float(r["z"]) for r in csv.DictReader(open(sys.argv[2]))}
worst = max(abs(ours[k] - theirs[k]) for k in ours)
print(f"{len(ours)} cells; max |z_hotspots - z_esda| = {worst:.2e}")
PY
echo "hotspots: see 'cargo bench --bench analysis' (Gi*, weights + z only)"
