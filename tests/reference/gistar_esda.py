#!/usr/bin/env python3
"""Reference Getis-Ord Gi* z-scores for hotspots' grid cells, from PySAL.

Usage:
    python gistar_esda.py --cells cells.csv --band 750 --out esda.csv \
        [--inverse-distance] [--timing]

Input  (written by the engine): header `cell_id,x_m,y_m,count`, one row per
       cell; x_m/y_m = cell centre in British National Grid metres.
Output: header `cell_id,z`, rows in input order, z written with repr() (full
        float64 precision; `nan` where Gi* is undefined, e.g. all counts equal).

Versions (pinned in requirements.txt beside this file, Python 3.11):
    libpysal 4.14.1, esda 2.9.0, numpy 2.4.6, scipy 1.17.1, pandas 3.1.1.

Two paths:

* Binary (default): libpysal.weights.DistanceBand(threshold=band, binary=True)
  and esda.G_Local(y, w, transform='B', star=True, permutations=0); z = Zs.
  star=True with binary weights makes esda put 1 on the diagonal (w_ii = 1).

* --inverse-distance: NOT esda. esda's analytical variance is written for
  binary weights only (see below), so with w_ij = 1/d_ij its Zs is not the
  general Gi*. Instead `general_gistar` computes Ord & Getis (1995), eq. for
  general weights, directly in numpy on pairs from scipy's cKDTree:
      w_ij = 1/d_ij for 0 < d_ij <= band, sums over all j incl. i,
      w_ii = max_j w_ij = 1/(distance to the nearest neighbour), 1 for an
             island (the engine's rule since issue 22: the self weight in the
             neighbours' own units, so the result does not depend on the
             distance unit; with w_ii = 1 and metres the cell itself carried
             94 % of the weight on a 250 m grid),
      W_i = sum_j w_ij, S1_i = sum_j w_ij^2,
      xbar = mean(x), S = sqrt(mean(x^2) - xbar^2),
      Gi* = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1))).

Why esda's Zs equals that general formula for binary weights:
  esda (getisord.py, G_Local.calc) with star=True uses N = n and, per row,
      G_i  = sum_j w_ij x_j / sum_j x_j
      E_i  = k_i / n                         (k_i = sum_j w_ij incl. w_ii = 1)
      V_i  = k_i (n - k_i) / (n - 1) / n^2 * s^2 / xbar^2,
             s^2 = mean(x^2) - xbar^2        (population variance, as S^2)
  With sum_j x_j = n xbar:
      z_i = (G_i - E_i) / sqrt(V_i)
          = (sum_j w_ij x_j - xbar k_i) / (S sqrt((n k_i - k_i^2) / (n - 1))).
  For 0/1 weights w_ij^2 = w_ij, so S1_i = W_i = k_i and this IS the general
  formula. For non-binary weights esda still uses k_i = row sum in place of
  S1_i (it never forms sum w_ij^2), which is why the inverse-distance check
  uses the general formula instead. (Both need xbar > 0: esda divides by it.)

Threshold: libpysal's DistanceBand gets its pairs from
scipy cKDTree.sparse_distance_matrix(max_distance=threshold), which keeps
d <= threshold (inclusive; checked with libpysal 4.14.1 / scipy 1.17.1: cells
exactly 750 m apart are neighbours at threshold=750). So no epsilon is needed
for exactness. We still pass band * (1 + 1e-9) to BOTH paths, to match the
engine (src/analysis/weights.rs, EDGE_TOLERANCE = 1e-9 relative), so that a
pair meant to be at exactly the band but computed as 750.0000000001 m is a
neighbour in the reference as in the engine. The general path uses the same
limit.

Coincident centres (d = 0 between two different cells) are rejected: binary
DistanceBand silently drops them (it sets "dmat > 0" to 1), 1/d is undefined,
and the engine treats them differently; grid cells never coincide.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

# Same relative tolerance as the engine's EDGE_TOLERANCE (see docstring).
EDGE_TOLERANCE = 1e-9


def band_limit(band: float) -> float:
    return band * (1.0 + EDGE_TOLERANCE)


def load_cells(path: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(cell_ids as strings, (n, 2) float64 centres, float64 counts)."""
    df = pd.read_csv(path, dtype={"cell_id": str}, keep_default_na=False)
    expected = ["cell_id", "x_m", "y_m", "count"]
    if list(df.columns) != expected:
        raise SystemExit(f"{path}: columns {list(df.columns)}, expected {expected}")
    if len(df) < 3:
        raise SystemExit(f"{path}: need at least 3 cells, got {len(df)}")
    xy = df[["x_m", "y_m"]].to_numpy(dtype=np.float64)
    y = df["count"].to_numpy(dtype=np.float64)
    if not (np.isfinite(xy).all() and np.isfinite(y).all()):
        raise SystemExit(f"{path}: non-finite coordinate or count")
    if len(np.unique(xy, axis=0)) != len(xy):
        raise SystemExit(f"{path}: two cells share a centre (see docstring)")
    return [str(c) for c in df["cell_id"]], xy, y


def esda_weights(xy: np.ndarray, band: float):
    """libpysal binary DistanceBand (w_ij = 1 for 0 < d_ij <= band)."""
    from libpysal.weights import DistanceBand

    # silence_warnings: libpysal otherwise prints every island id and the
    # number of connected components (twice); we report a count ourselves.
    return DistanceBand(xy, threshold=band_limit(band), binary=True, silence_warnings=True)


def esda_gistar(y: np.ndarray, w) -> np.ndarray:
    """esda Gi* z-scores (Zs), binary weights with w_ii = 1."""
    from esda import G_Local

    with warnings.catch_warnings():
        # Islands are fine for Gi*: w_ii = 1 keeps k_i >= 1.
        warnings.simplefilter("ignore", UserWarning)
        g = G_Local(y, w, transform="B", star=True, permutations=0)
    return np.asarray(g.Zs, dtype=np.float64)


def esda_lisa(y: np.ndarray, w) -> np.ndarray:
    """esda Local Moran's I (Is), row-standardised weights (esda's default)."""
    from esda import Moran_Local

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        m = Moran_Local(y, w, transformation="r", permutations=0)
    return np.asarray(m.Is, dtype=np.float64)


def neighbour_pairs(xy: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs (i, j), i != j, with 0 < d_ij <= band: (i, j, d)."""
    tree = cKDTree(xy)
    rec = tree.sparse_distance_matrix(tree, max_distance=band_limit(band), output_type="ndarray")
    i = rec["i"].astype(np.intp)
    j = rec["j"].astype(np.intp)
    d = rec["v"].astype(np.float64)
    keep = (i != j) & (d > 0)
    return i[keep], j[keep], d[keep]


def general_gistar(y: np.ndarray, pairs, inverse: bool) -> np.ndarray:
    """Ord & Getis (1995) general Gi*, w_ij = 1/d_ij or 1, w_ii as in the docstring."""
    i, j, d = pairs
    n = len(y)
    w = 1.0 / d if inverse else np.ones_like(d)
    # Self weight: 1 (binary); with 1/d, the largest weight in the row (the
    # nearest neighbour's), 1 for an island.
    if inverse:
        wii = np.zeros(n)
        np.maximum.at(wii, i, w)
        wii[wii == 0] = 1.0
    else:
        wii = np.ones(n)
    wsum = wii + np.bincount(i, weights=w, minlength=n)
    w2sum = wii * wii + np.bincount(i, weights=w * w, minlength=n)
    lag = wii * y + np.bincount(i, weights=w * y[j], minlength=n)
    xbar = y.mean()
    s = math.sqrt((y * y).mean() - xbar * xbar)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (lag - xbar * wsum) / (s * np.sqrt((n * w2sum - wsum * wsum) / (n - 1)))


def best_of(k: int, f):
    """(result of the last call, best wall time in seconds) over k calls."""
    best = math.inf
    out = None
    for _ in range(k):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return out, best


def write_z(path: str, ids: list[str], z: np.ndarray) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("cell_id,z\n")
        for cid, v in zip(ids, z.tolist(), strict=True):
            if "," in cid or '"' in cid:
                cid = '"' + cid.replace('"', '""') + '"'
            fh.write(f"{cid},{v!r}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", required=True, help="cell_id,x_m,y_m,count CSV")
    ap.add_argument("--band", required=True, type=float, help="distance band, metres (inclusive)")
    ap.add_argument("--out", required=True, help="output cell_id,z CSV")
    ap.add_argument("--inverse-distance", action="store_true",
                    help="w_ij = 1/d_ij, general Ord-Getis formula in numpy (not esda)")
    ap.add_argument("--lisa", action="store_true",
                    help="write esda Local Moran's I (Is, row-standardised) instead of Gi* z")
    ap.add_argument("--timing", action="store_true",
                    help="best-of-3 wall times as a JSON line on stderr")
    args = ap.parse_args(argv)
    if not (args.band > 0 and math.isfinite(args.band)):
        ap.error("--band must be a positive number")

    ids, xy, y = load_cells(args.cells)
    n = len(y)
    reps = 3 if args.timing else 1

    if args.lisa:
        tool = "libpysal+esda Moran_Local"
        w, weights_s = best_of(reps, lambda: esda_weights(xy, args.band))
        z, stat_s = best_of(reps, lambda: esda_lisa(y, w))
        islands = len(w.islands)
    elif args.inverse_distance:
        tool = "scipy+numpy general Gi*"
        pairs, weights_s = best_of(reps, lambda: neighbour_pairs(xy, args.band))
        z, stat_s = best_of(reps, lambda: general_gistar(y, pairs, inverse=True))
        islands = int(n - len(np.unique(pairs[0])))
    else:
        tool = "libpysal+esda"
        w, weights_s = best_of(reps, lambda: esda_weights(xy, args.band))
        z, stat_s = best_of(reps, lambda: esda_gistar(y, w))
        islands = len(w.islands)

    if islands:
        print(f"gistar_esda: {islands} of {n} cells have no neighbour within {args.band} m "
              "(Gi* uses only their own count)", file=sys.stderr)
    if np.isnan(z).any():
        print(f"gistar_esda: {int(np.isnan(z).sum())} z are NaN (counts constant or all zero?)",
              file=sys.stderr)
    write_z(args.out, ids, z)
    if args.timing:
        print(json.dumps({"tool": tool, "weights_s": weights_s, "g_local_s": stat_s, "n": n}),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
