#!/usr/bin/env python3
"""GeoPandas peer benchmark for `hotspots ingest` (the "analyst's alternative").

Does the same work as our engine's ingest of the Met burglary folder, written
the way a competent analyst would write it with pandas + GeoPandas:

  1. read   - all gzipped monthly police.uk CSVs in
              $HOTSPOTS_DATA/police_uk/metropolitan_burglary/*.csv.gz
              (13 columns: an unnamed leading pandas index, then the 12
              standard police.uk columns), the London ward shapefile
              (EPSG:27700), the schools CSV (EASTING/NORTHING, EPSG:27700) and
              the stations CSV (`OS X`/`OS Y`, EPSG:27700);
  2. project - drop (and count) rows with a blank Longitude/Latitude, build
              points from the WGS84 lon/lat (EPSG:4326, degrees, x = lon) and
              project them to British National Grid (EPSG:27700, metres) with
              GeoDataFrame.to_crs (pyproj/PROJ underneath);
  3. join   - point-in-polygon join of incidents to wards with
              gpd.sjoin(predicate="within"); incidents in no ward are counted
              and dropped, the rest are "accepted";
  4. nearest - nearest school and nearest station to every accepted incident,
              with the distance in metres (gpd.sjoin_nearest, distance_col).
              sjoin_nearest returns one row per tied neighbour, so only the
              first row per incident is kept;
  5. write  - with --out, the accepted incidents as GeoParquet
              (GeoDataFrame.to_parquet: pyarrow, geometry as WKB), as our
              engine writes its dataset.

police.uk repeats some Crime IDs; they are counted (untimed) and kept, or
dropped (first row kept) before projecting with --dedupe.

The pipeline runs --repeat times in one process; each run's wall time and
per-stage times are reported, the first run as "cold" and the minimum as
"best". Peak RSS is the process's high-water mark (ru_maxrss) over all runs,
imports included. The last line printed is a single JSON object for runners.

Usage:
    HOTSPOTS_DATA=/path/to/shared/data python geopandas_ingest.py [--repeat 3] [--replicate 1] [--dedupe] [--out incidents.parquet]
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import os
import platform
import resource
import sys
import time
import warnings

_t_import = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import geopandas as gpd  # noqa: E402
import pyogrio  # noqa: E402
import pyproj  # noqa: E402
import shapely  # noqa: E402
import psutil  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import

# Paths relative to $HOTSPOTS_DATA (see shared/data/SOURCES.md).
INCIDENT_GLOB = "police_uk/metropolitan_burglary/*.csv.gz"
WARDS_SHP = "london_boundaries/statistical-gis-boundaries-london/ESRI/London_Ward.shp"
SCHOOLS_CSV = "schools/all_schools_xy_2016.csv"
STATIONS_CSV = "stations/london_stations.csv"

WGS84 = "EPSG:4326"  # police.uk coordinates: lon/lat in degrees
BNG = "EPSG:27700"  # British National Grid: easting/northing in metres


def mib(n_bytes: float) -> float:
    return n_bytes / (1024 * 1024)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux ru_maxrss is in KiB (on macOS in bytes)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else mib(r)


def read_incidents(data_root: str) -> tuple[pd.DataFrame, int]:
    """Read and concatenate every monthly burglary CSV (gzip is inferred from
    the extension). The unnamed first column is the row number in the original
    Met file: use it as the index, not as data. Coordinates are parsed as
    floats; a blank cell becomes NaN."""
    files = sorted(glob.glob(os.path.join(data_root, INCIDENT_GLOB)))
    if not files:
        sys.exit(f"no files match {os.path.join(data_root, INCIDENT_GLOB)}")
    frames = [
        pd.read_csv(f, index_col=0, dtype={"Longitude": "float64", "Latitude": "float64"})
        for f in files
    ]
    return pd.concat(frames, ignore_index=True), len(files)


def read_points_27700(path: str, x_col: str, y_col: str, keep: list[str]) -> gpd.GeoDataFrame:
    """Read a CSV of points given in British National Grid metres."""
    df = pd.read_csv(path)
    df = df.dropna(subset=[x_col, y_col])
    return gpd.GeoDataFrame(
        df[keep], geometry=gpd.points_from_xy(df[x_col], df[y_col]), crs=BNG
    )


def nearest(points: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, dist_col: str) -> gpd.GeoDataFrame:
    """Nearest target for each point, distance in metres (both are EPSG:27700).

    sjoin_nearest emits one row per equidistant neighbour (ties), so keep the
    first row per incident to get exactly one answer each."""
    j = gpd.sjoin_nearest(points, targets, how="left", distance_col=dist_col)
    return j[~j.index.duplicated(keep="first")]


def run_pipeline(data_root: str, replicate: int, dedupe: bool, out: str | None) -> tuple[dict, dict, float]:
    """One full ingest. Returns (counts, stage wall times in seconds, seconds
    spent on bookkeeping that is not part of the ingest and must be
    subtracted from the run's wall time)."""
    t = {}

    # --- read ------------------------------------------------------------
    t0 = time.perf_counter()
    df, n_files = read_incidents(data_root)
    t["read_incidents"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    wards = gpd.read_file(os.path.join(data_root, WARDS_SHP))  # pyogrio engine
    # The .prj is ESRI WKT for British National Grid; name it EPSG:27700 so
    # the join does not warn about (formally) different CRSs.
    if wards.crs is None or wards.crs.to_epsg() == 27700:
        wards = wards.set_crs(BNG, allow_override=True)
    else:
        wards = wards.to_crs(BNG)
    wards = wards[["GSS_CODE", "NAME", "LB_GSS_CD", "BOROUGH", "geometry"]]
    schools = read_points_27700(
        os.path.join(data_root, SCHOOLS_CSV), "EASTING", "NORTHING", ["URN", "SCHOOL_NAM"]
    )
    stations = read_points_27700(
        os.path.join(data_root, STATIONS_CSV), "OS X", "OS Y", ["Station"]
    )
    t["read_layers"] = time.perf_counter() - t1
    t["read"] = time.perf_counter() - t0

    if replicate > 1:  # scaling runs: K copies of the whole incident table
        df = pd.concat([df] * replicate, ignore_index=True)
    rows = len(df)

    # Informational, untimed: police.uk repeats some Crime IDs (same month,
    # same point, sometimes a different outcome), useful when comparing with
    # an ingest that de-duplicates.
    t_untimed = time.perf_counter()
    dup_ids = df["Crime ID"].duplicated()
    n_dup_ids = int(dup_ids.sum())
    t_untimed = time.perf_counter() - t_untimed
    if dedupe:  # --dedupe: keep the first row of each Crime ID
        t0 = time.perf_counter()
        df = df.loc[~dup_ids]
        t["dedupe"] = time.perf_counter() - t0
    del dup_ids

    # --- project ---------------------------------------------------------
    t0 = time.perf_counter()
    blank = df["Longitude"].isna() | df["Latitude"].isna()
    n_blank = int(blank.sum())  # among the rows kept by --dedupe, if given
    df = df.loc[~blank]
    pts = gpd.GeoDataFrame(
        df,
        geometry=gpd.points_from_xy(df["Longitude"], df["Latitude"]),  # x = lon, y = lat
        crs=WGS84,
    ).to_crs(BNG)  # -> easting/northing in metres
    t["project"] = time.perf_counter() - t0

    # --- join: point in ward ----------------------------------------------
    t0 = time.perf_counter()
    joined = gpd.sjoin(pts, wards, how="left", predicate="within")
    # Wards do not overlap, but guard anyway: one ward per incident.
    n_multi = int(joined.index.duplicated().sum())
    joined = joined[~joined.index.duplicated(keep="first")]
    outside = joined["index_right"].isna()
    n_outside = int(outside.sum())
    accepted = joined.loc[~outside].drop(columns="index_right")
    t["join"] = time.perf_counter() - t0

    # --- nearest school / station ------------------------------------------
    t0 = time.perf_counter()
    geom = accepted[["geometry"]]
    near_school = nearest(geom, schools, "school_dist_m")
    near_station = nearest(geom, stations, "station_dist_m")
    accepted = accepted.assign(
        school_urn=near_school["URN"],
        school_dist_m=near_school["school_dist_m"],
        station=near_station["Station"],
        station_dist_m=near_station["station_dist_m"],
    )
    t["nearest"] = time.perf_counter() - t0

    # --- write -------------------------------------------------------------
    if out:
        t0 = time.perf_counter()
        accepted.to_parquet(out, index=False)
        t["write"] = time.perf_counter() - t0

    counts = {
        "files": n_files,
        "rows": rows,
        "dup_crime_ids": n_dup_ids,
        "deduped": dedupe,
        "blank_coords": n_blank,
        "located": rows - (n_dup_ids if dedupe else 0) - n_blank,
        "outside_wards": n_outside,
        "multi_ward": n_multi,
        "accepted": len(accepted),
        "wards": len(wards),
        "schools": len(schools),
        "stations": len(stations),
        "wards_hit": int(accepted["GSS_CODE"].nunique()),
        "school_dist_median_m": float(accepted["school_dist_m"].median()),
        "school_dist_max_m": float(accepted["school_dist_m"].max()),
        "station_dist_median_m": float(accepted["station_dist_m"].median()),
        "station_dist_max_m": float(accepted["station_dist_m"].max()),
    }
    return counts, t, t_untimed


def transform_info() -> dict:
    """Which operation PROJ picks for EPSG:4326 -> 27700 (the one to_crs uses).

    Without the OSTN15 grid PROJ falls back to a Helmert approximation
    (~2 m accuracy); our engine uses OSTN15. The description is only known
    after a first transform, hence the sample point (Charing Cross)."""
    tr = pyproj.Transformer.from_crs(4326, 27700, always_xy=True)
    tr.transform(-0.1276, 51.5072)
    op = tr.get_last_used_operation()
    with warnings.catch_warnings():
        # TransformerGroup warns when the best operation's grid is missing:
        # that fact is recorded below instead.
        warnings.simplefilter("ignore")
        group = pyproj.transformer.TransformerGroup(4326, 27700, always_xy=True)
    missing = sorted({g.short_name for o in group.unavailable_operations for g in o.grids if not g.available})
    return {
        "description": op.description,
        "accuracy_m": op.accuracy,
        "best_available": bool(group.best_available),
        "missing_grids": missing,
    }


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "geopandas": gpd.__version__,
        "shapely": shapely.__version__,
        "pyproj": pyproj.__version__,
        "pyogrio": pyogrio.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "psutil": psutil.__version__,
        "pyarrow": _version("pyarrow"),
        "geos": shapely.geos_version_string,
        "gdal": pyogrio.__gdal_version_string__,
        "proj": pyproj.proj_version_str,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="full pipeline runs in this process (default 3)")
    ap.add_argument("--replicate", type=int, default=1,
                    help="concatenate the incident table K times before projecting/joining (default 1)")
    ap.add_argument("--dedupe", action="store_true",
                    help="drop repeated Crime IDs (keep the first) before projecting (default: keep all rows)")
    ap.add_argument("--out", help="write the accepted incidents to this GeoParquet file (needs pyarrow)")
    ap.add_argument("--data-root", default=os.environ.get("HOTSPOTS_DATA"),
                    help="data folder (default: $HOTSPOTS_DATA)")
    args = ap.parse_args()
    if not args.data_root:
        sys.exit("set HOTSPOTS_DATA or pass --data-root")
    if args.repeat < 1 or args.replicate < 1:
        sys.exit("--repeat and --replicate must be >= 1")
    if args.dedupe and args.replicate > 1:
        sys.exit("--dedupe would drop the replicated rows: use it with --replicate 1")

    tinfo = transform_info()
    vers = versions()
    print(f"geopandas ingest peer: data={args.data_root} repeat={args.repeat} "
          f"replicate={args.replicate} dedupe={args.dedupe}")
    print("versions: " + " ".join(f"{k}={v}" for k, v in vers.items()))
    print(f"EPSG:4326->27700 via: {tinfo['description']} (accuracy {tinfo['accuracy_m']} m, "
          f"best available: {tinfo['best_available']})")
    print(f"import time: {IMPORT_S:.2f} s")

    walls, stages, counts = [], [], None
    for i in range(args.repeat):
        t0 = time.perf_counter()
        counts, st, untimed = run_pipeline(args.data_root, args.replicate, args.dedupe, args.out)
        wall = time.perf_counter() - t0 - untimed
        walls.append(wall)
        stages.append(st)
        print(f"run {i + 1}/{args.repeat}: {wall:.2f} s  (read {st['read']:.2f}, project {st['project']:.2f}, "
              f"join {st['join']:.2f}, nearest {st['nearest']:.2f}, write {st.get('write', 0):.2f})  rss now "
              f"{mib(psutil.Process().memory_info().rss):.0f} MiB")
        gc.collect()

    best_i = min(range(len(walls)), key=walls.__getitem__)
    c = counts
    print(f"files read:        {c['files']}")
    print(f"rows read:         {c['rows']}")
    print(f"dup Crime IDs:     {c['dup_crime_ids']}  ({'dropped' if c['deduped'] else 'kept'})")
    print(f"blank coords:      {c['blank_coords']}")
    print(f"outside wards:     {c['outside_wards']}")
    print(f"accepted:          {c['accepted']}  (in {c['wards_hit']} of {c['wards']} wards)")
    print(f"nearest school:    median {c['school_dist_median_m']:.1f} m, max {c['school_dist_max_m']:.1f} m "
          f"({c['schools']} school rows)")
    print(f"nearest station:   median {c['station_dist_median_m']:.1f} m, max {c['station_dist_max_m']:.1f} m "
          f"({c['stations']} stations)")
    print(f"best: {walls[best_i]:.2f} s  cold: {walls[0]:.2f} s  peak RSS: {peak_rss_mb():.0f} MiB")

    out = {
        "tool": "geopandas",
        "best_s": round(walls[best_i], 4),
        "cold_s": round(walls[0], 4),
        "runs_s": [round(w, 4) for w in walls],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "import_s": round(IMPORT_S, 4),
        "repeat": args.repeat,
        "replicate": args.replicate,
        **c,
        "stages_best_s": {k: round(v, 4) for k, v in stages[best_i].items()},
        "stages_cold_s": {k: round(v, 4) for k, v in stages[0].items()},
        "transform": tinfo,
        "versions": vers,
    }
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
