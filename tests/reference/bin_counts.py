#!/usr/bin/env python3
"""Bin incidents into square cells the GeoPandas/pyproj way and compare with
hotspots' own binning (which projects with OSTN15).

Usage:
    python bin_counts.py --points points.csv --cell 250 --x0 503500 --y0 155750 --out result.json

Input: header `lon,lat,easting_m,northing_m` (WGS84 degrees as published by
police.uk; BNG metres as hotspots projected them). The script projects
lon/lat with pyproj (EPSG:4326 -> EPSG:27700, always_xy; PROJ's default here
is a Helmert approximation good to ~2 m, because the OSTN15 grid file is not
installed), bins both projections on the same lattice (origin x0, y0) and
writes JSON: points, points binned differently, cells whose counts differ,
the largest shift between the two projections overall and among the points
that changed cell, and the transformation PROJ used.
"""
import argparse
import json
import sys

import numpy as np
import pandas as pd
from pyproj import Transformer


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", required=True)
    ap.add_argument("--cell", type=float, required=True)
    ap.add_argument("--x0", type=float, required=True)
    ap.add_argument("--y0", type=float, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    df = pd.read_csv(a.points)
    t = Transformer.from_crs(4326, 27700, always_xy=True)
    e, n = t.transform(df["lon"].to_numpy(), df["lat"].to_numpy())
    ours = np.floor((df["easting_m"].to_numpy() - a.x0) / a.cell).astype(np.int64), np.floor((df["northing_m"].to_numpy() - a.y0) / a.cell).astype(np.int64)
    theirs = np.floor((e - a.x0) / a.cell).astype(np.int64), np.floor((n - a.y0) / a.cell).astype(np.int64)
    moved = (ours[0] != theirs[0]) | (ours[1] != theirs[1])
    shift = np.hypot(e - df["easting_m"].to_numpy(), n - df["northing_m"].to_numpy())
    key = lambda c, r: c * 1_000_003 + r
    count_ours = pd.Series(key(*ours)).value_counts()
    count_theirs = pd.Series(key(*theirs)).value_counts()
    both = pd.concat([count_ours, count_theirs], axis=1).fillna(0)
    differ = int((both.iloc[:, 0] != both.iloc[:, 1]).sum())
    result = {
        "points": int(len(df)),
        "points_binned_differently": int(moved.sum()),
        "cells": int(len(both)),
        "cells_with_different_counts": differ,
        "max_shift_m": float(shift.max()),
        "median_shift_m": float(np.median(shift)),
        "max_shift_of_moved_points_m": float(shift[moved].max()) if moved.any() else 0.0,
        "proj_transformer": str(t.name),
    }
    with open(a.out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
