#!/usr/bin/env python3
"""The analyst's Gi* (libpysal + esda), end to end from an incidents table.

    python gistar_peer.py --incidents DATASET/incidents.parquet --cells cells.csv \
        --cell 250 --band 750 --out z.csv [--check hotspots_gistar.csv]

The peer for `hotspots gistar --cell 250 --band 750`, timed the same way (a
fresh process under GNU time, imports included):

  1. read    - easting_m, northing_m of every incident from the Parquet the
               engine wrote (pandas.read_parquet, pyarrow);
  2. count   - square cells of --cell metres on the grid the engine uses
               (aligned to BNG 0,0: cell (i, j) covers [i*cell, (i+1)*cell) x
               [j*cell, (j+1)*cell)), counted with numpy; only the cells listed
               in --cells (cell_id,x_m,y_m or cell_id,easting_m,northing_m:
               the engine's study-area cells, the empty ones included) are
               kept. Building that study-area grid from the ward polygons is
               work this peer is spared;
  3. weights - libpysal.weights.DistanceBand(threshold=band, binary=True);
  4. Gi*     - esda.G_Local(transform="B", star=True, permutations=0), z = Zs,
               two-sided normal p, Benjamini-Hochberg q (numpy: esda has no
               FDR);
  5. write   - cell_id,count,z,p,q as CSV.

Stage wall times go to stderr as one JSON line. With --check, the counts
and z are compared with the engine's CSV (`hotspots gistar ... --out x.csv`)
and the largest differences reported (the z must agree to ~1e-12: see
tests/reference/gistar_esda.py for why esda's Zs is the same statistic).
Versions: benches/peers/requirements-gistar.txt.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings

t_start = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from libpysal.weights import DistanceBand  # noqa: E402
from esda import G_Local  # noqa: E402
from scipy.stats import norm  # noqa: E402

EDGE_TOLERANCE = 1e-9  # as the engine and tests/reference/gistar_esda.py


def bh_q(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q)."""
    n = len(p)
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--incidents", required=True, help="Parquet with easting_m, northing_m (BNG metres)")
    ap.add_argument("--cells", required=True,
                    help="CSV cell_id,x_m,y_m (or easting_m,northing_m): cell centres of the study area")
    ap.add_argument("--cell", type=float, default=250.0)
    ap.add_argument("--band", type=float, default=750.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", help="the engine's gistar CSV (cell_id,count,gi_z,...) to compare with")
    args = ap.parse_args()
    t = {"import": time.perf_counter() - t_start}

    t0 = time.perf_counter()
    inc = pd.read_parquet(args.incidents, columns=["easting_m", "northing_m"])
    t["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cells = pd.read_csv(args.cells, dtype={"cell_id": str})
    if "x_m" not in cells:  # the engine's column names
        cells = cells.rename(columns={"easting_m": "x_m", "northing_m": "y_m"})
    xy = cells[["x_m", "y_m"]].to_numpy(dtype=np.float64)
    ci = np.floor(xy[:, 0] / args.cell).astype(np.int64)
    cj = np.floor(xy[:, 1] / args.cell).astype(np.int64)
    i = np.floor(inc["easting_m"].to_numpy() / args.cell).astype(np.int64)
    j = np.floor(inc["northing_m"].to_numpy() / args.cell).astype(np.int64)
    # One integer key per cell; the study-area cells sorted by key, each
    # incident's key looked up in them.
    span = 1 << 20
    ckey = ci * span + cj
    order = np.argsort(ckey)
    skey = ckey[order]
    key = i * span + j
    pos = np.searchsorted(skey, key)
    pos[pos == len(skey)] = 0
    hit = skey[pos] == key
    y = np.bincount(order[pos[hit]], minlength=len(cells)).astype(np.float64)
    outside = int((~hit).sum())
    t["count"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    w = DistanceBand(xy, threshold=args.band * (1 + EDGE_TOLERANCE), binary=True, silence_warnings=True)
    t["weights"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        g = G_Local(y, w, transform="B", star=True, permutations=0)
    z = np.asarray(g.Zs, dtype=np.float64)
    p = 2 * norm.sf(np.abs(z))
    q = bh_q(p)
    t["gistar"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    pd.DataFrame({"cell_id": cells["cell_id"], "count": y, "z": z, "p": p, "q": q}).to_csv(
        args.out, index=False, float_format="%.17g")
    t["write"] = time.perf_counter() - t0

    info = {"tool": "libpysal+esda", "incidents": len(inc), "cells": len(cells),
            "outside_cells": outside, "significant_q05": int((q < 0.05).sum()),
            "stages_s": {k: round(v, 4) for k, v in t.items()}}
    if args.check:
        eng = pd.read_csv(args.check, dtype={"cell_id": str}).set_index("cell_id")
        eng = eng.loc[cells["cell_id"]]
        info["max_count_diff"] = float(np.abs(eng["count"].to_numpy() - y).max())
        info["max_z_diff"] = float(np.nanmax(np.abs(eng["gi_z"].to_numpy() - z)))
    print(json.dumps(info), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
