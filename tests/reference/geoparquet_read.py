#!/usr/bin/env python3
"""Reads a hotspots dataset's tables as GeoParquet with two independent
readers, GeoPandas (read_parquet, pyarrow) and DuckDB's spatial extension
(the duckdb-extension-spatial wheel, loaded from disk: no download), and
prints what each saw as JSON for tests/geoparquet.rs to check.

Run: python geoparquet_read.py DATASET_DIR > seen.json
Versions: tests/reference/requirements.txt (geopandas 1.2.0, pyarrow 26.0.1,
duckdb 1.5.5 with duckdb-extension-spatial 1.5.5).
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import duckdb
import duckdb_extension_spatial
import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq

TABLES = ["wards", "boroughs", "schools", "stations", "incidents"]


def crs_id(crs) -> str | None:
    if crs is None:
        return None
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_string()


def geopandas_view(path: str) -> dict:
    gdf = gpd.read_parquet(path)
    out = {
        "rows": int(len(gdf)),
        "active_geometry": gdf.geometry.name,
        "geometry_columns": sorted(c for c in gdf.columns if isinstance(gdf[c], gpd.GeoSeries)),
        "crs": {c: crs_id(gdf[c].crs) for c in gdf.columns if isinstance(gdf[c], gpd.GeoSeries)},
        "types": sorted(set(gdf.geometry.geom_type)),
        "total_bounds": [float(v) for v in gdf.geometry.total_bounds],
    }
    if "geometry_bng_wkb" in gdf.columns:
        bng = gdf["geometry_bng_wkb"]
        out["bng_total_bounds"] = [float(v) for v in bng.total_bounds]
        # The BNG shapes are the WGS84 ones in the other CRS: each BNG
        # geometry's representative point, moved to lon/lat by PROJ (its
        # EPSG:27700 -> CRS84 without the OSTN15 grid: a Helmert shift good
        # to a few metres), lies in or within metres of its WGS84 geometry.
        rep = bng.representative_point().to_crs("OGC:CRS84")
        with warnings.catch_warnings():
            # A distance in degrees is what is wanted here.
            warnings.simplefilter("ignore", UserWarning)
            dist = rep.distance(gdf.geometry)
        out["bng_to_wgs84_max_distance_deg"] = float(np.max(dist)) if len(dist) else 0.0
        if "area_km2" in gdf.columns:
            out["bng_area_max_rel_err"] = float(
                np.max(np.abs(bng.area / 1e6 - gdf["area_km2"]) / gdf["area_km2"])
            )
    if "lon" in gdf.columns:
        out["max_abs_x_minus_lon"] = float(np.max(np.abs(gdf.geometry.x - gdf["lon"]))) if len(gdf) else 0.0
        out["max_abs_y_minus_lat"] = float(np.max(np.abs(gdf.geometry.y - gdf["lat"]))) if len(gdf) else 0.0
        bng = gdf["geometry_bng_wkb"]
        out["max_abs_x_minus_easting"] = float(np.max(np.abs(bng.x - gdf["easting_m"]))) if len(gdf) else 0.0
        out["max_abs_y_minus_northing"] = float(np.max(np.abs(bng.y - gdf["northing_m"]))) if len(gdf) else 0.0
    # The covering column lets GeoPandas filter row groups by a box: read
    # with a box around the first row and count.
    if len(gdf):
        x0, y0, x1, y1 = gdf.geometry.iloc[0].bounds
        box = (x0 - 0.002, y0 - 0.002, x1 + 0.002, y1 + 0.002)
        out["bbox_query"] = list(box)
        out["bbox_query_rows"] = int(len(gpd.read_parquet(path, bbox=box)))
        # read_parquet(bbox=) keeps the rows whose covering box meets it.
        b = gdf.geometry.bounds
        out["bbox_query_rows_by_bounds"] = int(((b.minx <= box[2]) & (b.maxx >= box[0])
                                                & (b.miny <= box[3]) & (b.maxy >= box[1])).sum())
    return out


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false",
                                 "autoload_known_extensions": "false"})
    ext = os.path.join(os.path.dirname(duckdb_extension_spatial.__file__), "extensions",
                       f"v{duckdb.__version__}", "spatial.duckdb_extension")
    con.execute(f"LOAD '{ext}'")
    return con


def duckdb_view(con: duckdb.DuckDBPyConnection, path: str) -> dict:
    rel = f"read_parquet('{path}')"
    cols = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
    types = {c[0]: c[1] for c in cols}
    out = {
        "rows": con.execute(f"SELECT count(*) FROM {rel}").fetchone()[0],
        "types": {k: v for k, v in types.items() if k in ("geometry", "geometry_bng_wkb", "bbox")},
    }
    if out["rows"]:
        xmin, ymin, xmax, ymax = con.execute(
            f"SELECT min(ST_XMin(geometry)), min(ST_YMin(geometry)), max(ST_XMax(geometry)), "
            f"max(ST_YMax(geometry)) FROM {rel}").fetchone()
        out["total_bounds"] = [xmin, ymin, xmax, ymax]
        xmin, ymin, xmax, ymax = con.execute(
            f"SELECT min(ST_XMin(geometry_bng_wkb)), min(ST_YMin(geometry_bng_wkb)), "
            f"max(ST_XMax(geometry_bng_wkb)), max(ST_YMax(geometry_bng_wkb)) FROM {rel}").fetchone()
        out["bng_total_bounds"] = [xmin, ymin, xmax, ymax]
        # The covering: each row's bbox struct equals its geometry's box.
        out["bbox_mismatches"] = con.execute(
            f"SELECT count(*) FROM {rel} WHERE bbox.xmin <> ST_XMin(geometry) OR bbox.ymin <> ST_YMin(geometry) "
            f"OR bbox.xmax <> ST_XMax(geometry) OR bbox.ymax <> ST_YMax(geometry)").fetchone()[0]
        if "area_km2" in types:
            out["bng_area_max_rel_err"] = con.execute(
                f"SELECT max(abs(ST_Area(geometry_bng_wkb) / 1e6 - area_km2) / area_km2) FROM {rel}").fetchone()[0]
    return out


def main() -> None:
    ds = sys.argv[1]
    con = duckdb_connection()
    seen = {}
    for t in TABLES:
        path = os.path.join(ds, f"{t}.parquet")
        if not os.path.exists(path):
            continue
        meta = pq.read_metadata(path).metadata or {}
        seen[t] = {
            "geo": json.loads(meta[b"geo"]) if b"geo" in meta else None,
            "geopandas": geopandas_view(path),
            "duckdb": duckdb_view(con, path),
        }
    seen["versions"] = {"geopandas": gpd.__version__, "duckdb": duckdb.__version__}
    json.dump(seen, sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    main()
