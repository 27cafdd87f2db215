#!/usr/bin/env bash
# The performance story in one table: hotspots against the analyst's
# alternatives on the same real data, at 1x, 4x and 16x the Met burglary
# incident table.
#
#   benches/peers/run_all.sh
#
# For each scale k in PEERS_SCALES:
#   data    replicate.py makes $PEERS_WORK/data-x<k>: the 135 monthly police.uk
#           files with every row k times (Crime ID suffixed -r2.. so no copy
#           is a duplicate), boundaries/schools/stations symlinked from
#           HOTSPOTS_DATA. Both sides read these files. Kept between runs.
#   ingest  `hotspots ingest` (data/london-burglary.toml) against
#           geopandas_ingest.py (read, pyproj to_crs, sjoin to wards,
#           sjoin_nearest school and station, to_parquet).
#   Gi*     `hotspots gistar --cell 250 --band 750` against gistar_peer.py
#           (read the same incidents.parquet, count into the same cells,
#           libpysal DistanceBand + esda G_Local + BH q), z compared.
# Then, on the 1x dataset, serving pages of 100 ward polygons: `hotspots
# serve` against pygeoapi (run_pygeoapi_wards.sh), wrk, 64 connections.
#
# Every timed run is a fresh process under measure.py (GNU time -v: wall
# clock and peak RSS, process start and Python imports included), the tools
# alternating; best time of the runs, highest peak RSS. A run whose memory
# passes PEERS_MEM_LIMIT_MB (either tool) or that runs past PEERS_TIMEOUT is
# killed and reported as "did not finish". The table goes to stdout and
# $PEERS_WORK/peers_table.md; logs stay in $PEERS_WORK/logs.
#
# Environment (defaults in brackets):
#   HOTSPOTS_DATA       real data root [../shared/data]
#   HOTSPOTS_BIN        engine binary [cargo build --release; target/release/hotspots,
#                       or $CARGO_TARGET_DIR/release/hotspots]
#   PEERS_WORK          scratch directory, never inside the repo [/tmp/hotspots-peers]
#   PEERS_SCALES        replication factors ["1 4 16"]
#   PEERS_REPEAT        runs per tool and task [3]
#   PEERS_REPEAT_LARGE  runs per tool at scales >= PEERS_LARGE_SCALE [1]
#   PEERS_LARGE_SCALE   [16]
#   PEERS_MEM_LIMIT_MB  memory guard per run, both tools [14000]
#   PEERS_TIMEOUT       seconds per run before it is stopped [1200]
#   SKIP_INGEST=1 SKIP_GISTAR=1 SKIP_SERVE=1   leave a task out
#   SERVE_DURATION      seconds of wrk per server [10]; SERVE_PORT [18080]
#   PEERS_VENV          GeoPandas venv [/tmp/hotspots-peers-venv] (requirements.txt)
#   GISTAR_VENV         libpysal+esda venv [/tmp/hotspots-gistar-venv] (requirements-gistar.txt)
#   PYGEOAPI_VENV       pygeoapi venv [/tmp/pygeoapi-venv] (requirements-pygeoapi.txt)
#   PEERS_KEEP=1        keep the ingested datasets in PEERS_WORK afterwards
#   PEERS_TABLE_ONLY=1  measure nothing: re-print the table from the last
#                       run's results.jsonl and header.json
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
T_START=$(date +%s)

HOTSPOTS_DATA=${HOTSPOTS_DATA:-../shared/data}
HOTSPOTS_DATA=$(cd "$HOTSPOTS_DATA" && pwd)
WORK=${PEERS_WORK:-/tmp/hotspots-peers}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
case "$WORK/" in "$REPO"/*) echo "PEERS_WORK must be outside the repository" >&2; exit 1 ;; esac
SCALES=${PEERS_SCALES:-1 4 16}
REPEAT=${PEERS_REPEAT:-3}
REPEAT_LARGE=${PEERS_REPEAT_LARGE:-1}
LARGE=${PEERS_LARGE_SCALE:-16}
export PEERS_MEM_LIMIT_MB=${PEERS_MEM_LIMIT_MB:-14000}
TIMEOUT=${PEERS_TIMEOUT:-1200}
SERVE_DURATION=${SERVE_DURATION:-10}
SERVE_PORT=${SERVE_PORT:-18080}
PEERS_VENV=${PEERS_VENV:-/tmp/hotspots-peers-venv}
GISTAR_VENV=${GISTAR_VENV:-/tmp/hotspots-gistar-venv}
PYGEOAPI_VENV=${PYGEOAPI_VENV:-/tmp/pygeoapi-venv}
CONFIG=data/london-burglary.toml
P=benches/peers
LOGS=$WORK/logs
RESULTS=$WORK/results.jsonl
TABLE_ONLY=${PEERS_TABLE_ONLY:-0}
if [ "$TABLE_ONLY" = 1 ]; then
    SCALES=  # re-make the table from the last run's results.jsonl
    [ -f "$RESULTS" ] || { echo "no $RESULTS to make a table from" >&2; exit 1; }
else
    rm -rf "$LOGS"; mkdir -p "$LOGS"
    : >"$RESULTS"
fi
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

say() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
[ -x /usr/bin/time ] || { echo "GNU time is missing: apt-get install -y time" >&2; exit 1; }

# ---- tools --------------------------------------------------------------
if [ -n "${HOTSPOTS_BIN:-}" ] || [ "$TABLE_ONLY" = 1 ]; then
    BIN=${HOTSPOTS_BIN:-${CARGO_TARGET_DIR:-target}/release/hotspots}
else
    say "cargo build --release"
    cargo build --release --quiet
    BIN=${CARGO_TARGET_DIR:-target}/release/hotspots
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ -x "$BIN" ] || { echo "no engine binary at $BIN" >&2; exit 1; }

venv() {  # venv DIR REQUIREMENTS
    [ -x "$1/bin/python" ] || { say "creating venv $1"; python3 -m venv "$1"; }
    "$1/bin/pip" install --quiet --disable-pip-version-check -r "$2"
}
[ "$TABLE_ONLY" = 1 ] && SKIP_INGEST=1 SKIP_GISTAR=1 SKIP_SERVE=1
[ "${SKIP_INGEST:-0}" = 1 ] || venv "$PEERS_VENV" $P/requirements.txt
[ "${SKIP_GISTAR:-0}" = 1 ] || venv "$GISTAR_VENV" $P/requirements-gistar.txt
if [ "${SKIP_SERVE:-0}" != 1 ]; then
    command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk (or SKIP_SERVE=1)" >&2; exit 1; }
    venv "$PYGEOAPI_VENV" $P/requirements-pygeoapi.txt
fi

# measure LOG CMD...: one guarded run; prints measure.py's JSON line.
measure() {
    local log=$1; shift
    python3 $P/measure.py --timeout "$TIMEOUT" --log "$log" -- "$@"
}
ok() { python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["ok"] else 1)' "$1"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"; }
show() {
    say "  $1: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.2f s, %.0f MB%s" % (d["wall_s"], d["peak_rss_mb"], "" if d["ok"] else "  did not finish: " + d["reason"]))' "$2")"
}
# emit TASK SCALE ROWS UNIT PEER_NAME NOTE HS_FILE PEER_FILE: one row of results.jsonl.
emit() {
    python3 - "$@" >>"$RESULTS" <<'PY'
import json, sys
task, scale, rows, unit, peer, note, hs_f, pe_f = sys.argv[1:9]
short = task.split(" (")[0]
def runs(f):
    try:
        return [json.loads(l) for l in open(f) if l.strip()]
    except OSError:
        return []
row = {"task": task, "short": short, "unit": unit, "peer_name": peer, "hotspots": runs(hs_f), "peer": runs(pe_f)}
try:
    row["scale"] = int(scale)
except ValueError:
    row["scale_label"] = scale
if rows:
    row["rows"] = int(rows)
if note:
    row["note"] = note
print(json.dumps(row))
PY
}
strip_ansi() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "work dir $WORK; engine $BIN; scales: $SCALES; load: $LOAD_START"

# ---- per scale ------------------------------------------------------------
for k in $SCALES; do
    root=$WORK/data-x$k
    say "== ${k}x: data root $root"
    python3 $P/replicate.py --src "$HOTSPOTS_DATA" --dst "$root" --k "$k" >&2
    n=$REPEAT
    [ "$k" -ge "$LARGE" ] && n=$REPEAT_LARGE
    ds=$WORK/ds-x$k
    rows=

    # -- ingest ----------------------------------------------------------
    if [ "${SKIP_INGEST:-0}" != 1 ]; then
        hs_f=$LOGS/ingest-x$k.hotspots.jsonl; pe_f=$LOGS/ingest-x$k.geopandas.jsonl
        : >"$hs_f"; : >"$pe_f"
        hs_dead=; pe_dead=
        for i in $(seq 1 "$n"); do
            if [ -z "$hs_dead" ]; then
                rm -rf "$WORK/run"; mkdir -p "$WORK/run"
                m=$(measure "$LOGS/ingest-x$k.hotspots.$i.log" "$BIN" ingest --quiet --force \
                        --config $CONFIG --data-root "$root" --out "$WORK/run/ds")
                echo "$m" >>"$hs_f"; show "hotspots ingest ${k}x run $i/$n" "$m"
                if ok "$m"; then rm -rf "$ds"; mv "$WORK/run/ds" "$ds"; else hs_dead=1; fi
                rm -rf "$WORK/run"
            fi
            if [ -z "$pe_dead" ]; then
                rm -f "$WORK/geopandas.parquet"
                m=$(measure "$LOGS/ingest-x$k.geopandas.$i.log" "$PEERS_VENV/bin/python" $P/geopandas_ingest.py \
                        --repeat 1 --data-root "$root" --out "$WORK/geopandas.parquet")
                echo "$m" >>"$pe_f"; show "geopandas ingest ${k}x run $i/$n" "$m"
                ok "$m" || pe_dead=1
                rm -f "$WORK/geopandas.parquet"
            fi
        done
        # Row counts and the in-process figure, for the notes.
        note=$(python3 - "$LOGS" "$k" "$n" 2>"$LOGS/rows-x$k" <<'PY'
import glob, json, re, sys
logs, k, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
hs = gp = None
for i in range(1, n + 1):
    try:
        t = re.sub(r"\x1b\[[0-9;]*m", "", open(f"{logs}/ingest-x{k}.hotspots.{i}.log").read())
        m = re.search(r"accepted=(\d+) rejected=(\d+).*seconds=\"?([0-9.]+)", t)
        if m:
            hs = (int(m[1]), int(m[2]), min(float(m[3]), hs[2]) if hs else float(m[3]))
    except OSError:
        pass
    try:
        last = open(f"{logs}/ingest-x{k}.geopandas.{i}.log").read().strip().splitlines()[-1]
        d = json.loads(last)
        gp = (d["rows"], d["accepted"], min(d["best_s"], gp[2]) if gp else d["best_s"], d["import_s"])
    except (OSError, ValueError, IndexError, KeyError):
        pass
parts = []
if hs:
    parts.append(f"hotspots read {hs[0] + hs[1]:,} rows, accepted {hs[0]:,} (rejects: blank coordinates, "
                 f"outside London, repeated Crime IDs), its manifest's build time {hs[2]:.1f} s "
                 f"(reading to assembling; writing the Parquet tables comes after)")
if gp:
    parts.append(f"GeoPandas read {gp[0]:,} rows, accepted {gp[1]:,} (repeated Crime IDs kept), "
                 f"in-process {gp[2]:.1f} s + {gp[3]:.1f} s imports")
print("; ".join(parts))
if hs:
    print(hs[0] + hs[1], file=sys.stderr)
PY
        )
        rows=$(cat "$LOGS/rows-x$k")
        emit "ingest (read gz CSVs, project, ward join, nearest school and station, write Parquet)" \
            "$k" "$rows" s "GeoPandas + shapely + pyproj" "$note" "$hs_f" "$pe_f"
    fi

    # -- Gi* ---------------------------------------------------------------
    if [ "${SKIP_GISTAR:-0}" != 1 ]; then
        hs_f=$LOGS/gistar-x$k.hotspots.jsonl; pe_f=$LOGS/gistar-x$k.esda.jsonl
        : >"$hs_f"; : >"$pe_f"
        note=
        if [ ! -f "$ds/incidents.parquet" ]; then
            if [ "${SKIP_INGEST:-0}" = 1 ]; then
                say "  (untimed) hotspots ingest ${k}x for Gi*"
                rm -rf "$ds"
                "$BIN" ingest --quiet --force --config $CONFIG --data-root "$root" --out "$ds" \
                    >"$LOGS/ingest-x$k.untimed.log" 2>&1 || rm -rf "$ds"
            fi
        fi
        if [ -f "$ds/incidents.parquet" ]; then
            gi=$WORK/gistar-x$k.csv; cells=$WORK/cells-x$k.csv; z=$WORK/esda-x$k.csv
            hs_dead=; pe_dead=
            for i in $(seq 1 "$n"); do
                if [ -z "$hs_dead" ]; then
                    m=$(measure "$LOGS/gistar-x$k.hotspots.$i.log" "$BIN" gistar --dataset "$ds" \
                            --cell 250 --band 750 --out "$gi")
                    echo "$m" >>"$hs_f"; show "hotspots gistar ${k}x run $i/$n" "$m"
                    ok "$m" || hs_dead=1
                fi
                [ -f "$gi" ] || break
                # The study-area cells: cell_id and centre from the engine's layer.
                [ -f "$cells" ] || cut -d, -f2-4 "$gi" >"$cells"
                if [ -z "$pe_dead" ]; then
                    m=$(measure "$LOGS/gistar-x$k.esda.$i.log" "$GISTAR_VENV/bin/python" $P/gistar_peer.py \
                            --incidents "$ds/incidents.parquet" --cells "$cells" --cell 250 --band 750 --out "$z")
                    echo "$m" >>"$pe_f"; show "esda gistar ${k}x run $i/$n" "$m"
                    ok "$m" || pe_dead=1
                fi
            done
            # Same statistic? Counts and z of the last runs, compared untimed.
            note=$(python3 - "$gi" "$z" "$LOGS/gistar-x$k.esda.1.log" <<'PY'
import csv, json, math, sys
try:
    ours = {r["cell_id"]: (float(r["count"]), float(r["gi_z"])) for r in csv.DictReader(open(sys.argv[1]))}
    theirs = {r["cell_id"]: (float(r["count"]), float(r["z"])) for r in csv.DictReader(open(sys.argv[2]))}
except OSError:
    sys.exit(0)
dc = max(abs(ours[c][0] - theirs[c][0]) for c in theirs)
dz = max((abs(ours[c][1] - theirs[c][1]) for c in theirs if not math.isnan(theirs[c][1])), default=float("nan"))
n_inc = int(sum(v[0] for v in ours.values()))
st = ""
try:
    d = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])
    s = d["stages_s"]
    st = (f"; esda in-process, first run: imports {s['import']:.1f} s, read {s['read']:.2f} s, count {s['count']:.2f} s, "
          f"DistanceBand {s['weights']:.2f} s, G_Local {s['gistar']:.2f} s")
except (OSError, ValueError, KeyError, IndexError):
    pass
print(f"{len(theirs):,} cells, {n_inc:,} incidents counted; counts differ by at most {dc:g}, "
      f"max |z_hotspots - z_esda| = {dz:.1e}{st}")
PY
            )
        else
            note="no ${k}x dataset (hotspots ingest did not finish), Gi* not run"
        fi
        emit "Gi* end to end (read incidents, 250 m cells, 750 m band, z, FDR, write CSV)" \
            "$k" "$rows" s "libpysal DistanceBand + esda G_Local" "$note" "$hs_f" "$pe_f"
    fi

    # -- serving (1x dataset) ----------------------------------------------------
    if [ "$k" = 1 ] && [ "${SKIP_SERVE:-0}" != 1 ]; then
        hs_f=$LOGS/serve.hotspots.jsonl; pe_f=$LOGS/serve.pygeoapi.jsonl
        : >"$hs_f"; : >"$pe_f"
        note=
        if [ ! -f "$ds/incidents.parquet" ]; then
            "$BIN" ingest --quiet --force --config $CONFIG --data-root "$root" --out "$ds" \
                >"$LOGS/ingest-x1.untimed.log" 2>&1
        fi
        URL=http://127.0.0.1:$SERVE_PORT
        "$BIN" serve --dataset "$ds" --bind "127.0.0.1:$SERVE_PORT" >"$LOGS/serve.out" 2>"$LOGS/serve.log" &
        SERVER_PID=$!
        for _ in $(seq 1 600); do curl -sf "$URL/conformance" >/dev/null && break; sleep 0.2; done
        page="$URL/collections/wards/items?limit=100"
        curl -sf -o /dev/null "$page"
        say "  hotspots serve: wrk ${SERVE_DURATION}s, 64 connections, $page"
        wrk -t2 -c64 -d"${SERVE_DURATION}s" --timeout 30s --latency "$page" >"$LOGS/serve.hotspots.wrk" 2>&1 || true
        hs_rate=$(awk '/^Requests\/sec:/ {print $2}' "$LOGS/serve.hotspots.wrk")
        hs_p99=$(awk '$1 == "99%" {print $2}' "$LOGS/serve.hotspots.wrk")
        hs_hwm=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER_PID/status")
        hs_bytes=$(curl -s "$page" | wc -c)
        [ -n "$hs_rate" ] && echo "{\"ok\": true, \"rate\": $hs_rate, \"peak_rss_mb\": $hs_hwm}" >>"$hs_f"
        say "  hotspots: $hs_rate req/s, p99 $hs_p99, peak RSS $hs_hwm MB"
        say "  pygeoapi (benches/peers/run_pygeoapi_wards.sh)"
        PYGEOAPI_VENV=$PYGEOAPI_VENV DURATION=$SERVE_DURATION \
            bash $P/run_pygeoapi_wards.sh "$URL" >"$LOGS/serve.pygeoapi.out" 2>&1 || true
        kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
        pe_rate=$(awk '/Requests\/sec:/ {print $2}' "$LOGS/serve.pygeoapi.out")
        pe_p99=$(awk '$1 == "99%" {print $2}' "$LOGS/serve.pygeoapi.out")
        pe_mb=$(sed -n 's/.*server peak RSS: \([0-9]*\) MB.*/\1/p' "$LOGS/serve.pygeoapi.out")
        if [ -n "$pe_rate" ]; then
            echo "{\"ok\": true, \"rate\": $pe_rate, \"peak_rss_mb\": ${pe_mb:-0}}" >>"$pe_f"
        else
            echo "{\"ok\": false, \"reason\": \"pygeoapi run failed (see logs/serve.pygeoapi.out)\"}" >>"$pe_f"
        fi
        say "  pygeoapi: ${pe_rate:-?} req/s, p99 ${pe_p99:-?}, peak RSS ${pe_mb:-?} MB"
        note="one wrk run of ${SERVE_DURATION} s each (2 threads, 64 connections, client on the same 2 cores); $hs_bytes bytes a page from hotspots; p99 latency hotspots $hs_p99, pygeoapi ${pe_p99:-?}; hotspots' peak RSS includes the loaded 1x dataset, pygeoapi's is the gunicorn master + 2 workers summed"
        emit "serve (pages of 100 ward polygons, OGC API Features items)" "1x dataset" "" "req/s" \
            "pygeoapi (GeoJSON provider, gunicorn -w 2)" "$note" "$hs_f" "$pe_f"
    fi
    [ "${PEERS_KEEP:-0}" = 1 ] || rm -rf "$ds"
done

# ---- header and table ----------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
pyv() { [ -x "$1/bin/python" ] && "$1/bin/python" -c "$2" 2>/dev/null || echo "n/a"; }
V_GPD=$(pyv "$PEERS_VENV" 'import platform,geopandas,shapely,pyproj,pandas,pyarrow; print(f"Python {platform.python_version()}; geopandas {geopandas.__version__}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), pyproj {pyproj.__version__} (PROJ {pyproj.proj_version_str}), pandas {pandas.__version__}, pyarrow {pyarrow.__version__}")')
V_PYSAL=$(pyv "$GISTAR_VENV" 'import libpysal,esda,scipy,numpy; print(f"libpysal {libpysal.__version__}, esda {esda.__version__}, scipy {scipy.__version__}, numpy {numpy.__version__}")')
V_PYGEOAPI=$(pyv "$PYGEOAPI_VENV" 'import importlib.metadata as m; print("pygeoapi " + m.version("pygeoapi") + ", gunicorn " + m.version("gunicorn"))')
REV=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo "-dirty")
RUSTC=$(rustc --version 2>/dev/null || echo "rustc n/a")
WRKV=$( (wrk --version 2>&1 || true) | head -1 | awk '{print $2}')
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
RAM=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
RUNTIME=$(( $(date +%s) - T_START ))
[ "$TABLE_ONLY" = 1 ] && [ -f "$WORK/header.json" ] || python3 - "$WORK/header.json" <<PY
import json, sys
lines = [
    "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($CPU), $RAM RAM; load average $LOAD_START at the start, $LOAD_END at the end (other builds shared the machine).",
    "hotspots checkout $REV (binary $BIN, release), $RUSTC; $V_GPD; $V_PYSAL; $V_PYGEOAPI; wrk $WRKV.",
    "Data: the Met burglary folder, 135 monthly police.uk CSVs (gzip); kx = every row k times, Crime ID suffixed per copy. Runner: benches/peers/run_all.sh, ${RUNTIME} s.",
    "Time: best of $REPEAT fresh processes ($REPEAT_LARGE at ${LARGE}x and above), tools alternating, wall clock from GNU time (process start and Python imports included); serving: requests per second. Peak MB: maximum resident set size (MiB), highest over the runs. Ratios: peer / hotspots (for req/s: hotspots / peer), so above 1x favours hotspots. Memory guard: a run past $PEERS_MEM_LIMIT_MB MB (either tool) is stopped.",
]
notes = [
    "- Gi*: the 25,521 cells (and their neighbours) are the same at every scale; only the counts grow with the replication. The esda peer is given the engine's study-area cells.",
]
json.dump({"lines": lines, "notes": notes}, open(sys.argv[1], "w"))
PY
python3 $P/table.py "$WORK/header.json" "$RESULTS" | tee "$WORK/peers_table.md"
say "table: $WORK/peers_table.md; logs: $LOGS; runner took ${RUNTIME} s"
