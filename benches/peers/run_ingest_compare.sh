#!/usr/bin/env bash
# Compare `hotspots ingest` with the analyst's alternative (GeoPandas) on the
# Met burglary folder: best wall time and peak RSS of each, and the ratio.
#
#   benches/peers/run_ingest_compare.sh [extra geopandas_ingest.py args, e.g. --dedupe]
#
# Environment:
#   HOTSPOTS_DATA    data folder (default: ../shared/data beside the repo)
#   PEERS_VENV       venv for the Python peer (default: /tmp/hotspots-peers-venv)
#   PEERS_REPEAT     runs of each tool; the best counts (default: 3)
#   PEERS_REPLICATE  --replicate for the Python peer only (default: 1; the
#                    engine has no such switch, so >1 is not like for like)
#   ENGINE_DIRECT=1  time target/release/hotspots directly instead of
#                    `cargo run --release` (drops cargo's up-to-date check)
#   SKIP_PYTHON=1 / SKIP_ENGINE=1   run only one side
#
# Python's figure is timed inside the process (imports excluded, the runs
# repeated in one interpreter); its peak RSS is the process's high-water mark
# over all runs. The engine's figures come from /usr/bin/time -v, one fresh
# process per run (process start included). Both RSS figures are MiB.
set -euo pipefail

cd "$(dirname "$0")/../.."
REPO_ROOT=$(pwd)
HOTSPOTS_DATA=${HOTSPOTS_DATA:-../shared/data}
HOTSPOTS_DATA=$(cd "$HOTSPOTS_DATA" && pwd)   # absolute, and fails if missing
export HOTSPOTS_DATA
PEERS_VENV=${PEERS_VENV:-/tmp/hotspots-peers-venv}
REPEAT=${PEERS_REPEAT:-3}
REPLICATE=${PEERS_REPLICATE:-1}
TMP=${TMPDIR:-/tmp}
OUT_DS="$TMP/hs-bench-ds"
LOGDIR=$(mktemp -d "$TMP/hs-peers.XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT

py_best=; py_rss=; py_json=
hs_best=; hs_rss=; hs_note=

# ---- (a) + (b): the GeoPandas peer ----------------------------------------
if [[ "${SKIP_PYTHON:-0}" != 1 ]]; then
    if [[ ! -x "$PEERS_VENV/bin/python" ]]; then
        echo "creating venv $PEERS_VENV"
        python3 -m venv "$PEERS_VENV"
    fi
    "$PEERS_VENV/bin/pip" install --quiet --disable-pip-version-check \
        -r benches/peers/requirements.txt
    echo "== geopandas (repeat $REPEAT, replicate $REPLICATE)"
    "$PEERS_VENV/bin/python" benches/peers/geopandas_ingest.py \
        --repeat "$REPEAT" --replicate "$REPLICATE" "$@" | tee "$LOGDIR/py.out"
    py_json=$(tail -n 1 "$LOGDIR/py.out")
    read -r py_best py_rss < <("$PEERS_VENV/bin/python" -c \
        'import json,sys; d=json.loads(sys.argv[1]); print(d["best_s"], d["peak_rss_mb"])' "$py_json")
fi

# ---- (c): our engine -----------------------------------------------------
# "h:mm:ss" or "m:ss.ss" from /usr/bin/time -v -> seconds.
to_seconds() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.3f", s }' <<<"$1"; }

if [[ "${SKIP_ENGINE:-0}" != 1 ]]; then
    if [[ ! -x /usr/bin/time ]]; then
        # Debian's `time` package provides GNU time (/usr/bin/time -v).
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            echo "installing GNU time (apt-get install -y time)"
            apt-get install -y -qq time >/dev/null 2>&1 \
                || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
        else
            echo "error: /usr/bin/time is missing; install it with: apt-get install -y time" >&2
            exit 1
        fi
    fi
    if [[ ! -f data/london-burglary.toml ]]; then
        hs_note="data/london-burglary.toml not found: engine not run"
    elif ! cargo build --release --quiet; then   # build outside the timing
        hs_note="cargo build --release failed: engine not run"
    else
        if [[ "${ENGINE_DIRECT:-0}" == 1 ]]; then
            engine=(target/release/hotspots)
        else
            engine=(cargo run --release --quiet --)
        fi
        echo "== hotspots (best of $REPEAT): ${engine[*]} ingest ..."
        for i in $(seq 1 "$REPEAT"); do
            rm -rf "$OUT_DS"
            if ! /usr/bin/time -v -o "$LOGDIR/time.$i" "${engine[@]}" ingest \
                    --config data/london-burglary.toml --data-root "$HOTSPOTS_DATA" \
                    --out "$OUT_DS" --quiet >"$LOGDIR/hs.$i.out" 2>&1; then
                cat "$LOGDIR/hs.$i.out" >&2
                echo "error: hotspots ingest failed (run $i)" >&2
                exit 1
            fi
            wall=$(to_seconds "$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$LOGDIR/time.$i")")
            rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$LOGDIR/time.$i")
            rss=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')
            echo "run $i/$REPEAT: $wall s  peak RSS $rss MiB"
            if [[ -z "$hs_best" ]] || awk -v a="$wall" -v b="$hs_best" 'BEGIN { exit !(a < b) }'; then
                hs_best=$wall
            fi
            if [[ -z "$hs_rss" ]] || awk -v a="$rss" -v b="$hs_rss" 'BEGIN { exit !(a > b) }'; then
                hs_rss=$rss
            fi
        done
        rm -rf "$OUT_DS"
    fi
fi

# ---- table -----------------------------------------------------------------
ratio() { [[ -n "$1" && -n "$2" ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo "n/a"; }
echo
printf '%-12s %12s %14s\n' tool "best wall s" "peak RSS MiB"
printf '%-12s %12s %14s\n' geopandas "${py_best:-n/a}" "${py_rss:-n/a}"
printf '%-12s %12s %14s\n' hotspots "${hs_best:-n/a}" "${hs_rss:-n/a}"
printf '%-12s %12s %14s\n' "gpd/hs" "$(ratio "$py_best" "$hs_best")" "$(ratio "$py_rss" "$hs_rss")"
[[ -n "$hs_note" ]] && echo "note: $hs_note"
[[ "$REPLICATE" != 1 ]] && echo "note: geopandas ran with --replicate $REPLICATE, the engine on the data as is"
exit 0
