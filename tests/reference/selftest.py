#!/usr/bin/env python3
"""Self-test of gistar_esda.py: the esda path and the numpy general-formula
path must agree for binary weights (w_ij = 1 within the band, w_ii = 1).

30 x 30 grid of 1 m cells at integer coordinates, random counts (seed 1),
band 1.5 (queen neighbours). Run: python selftest.py  (exit 0 on success).
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gistar_esda as ge  # noqa: E402

TOL = 1e-9
results: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, bool(ok), detail))
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def grid(side: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float), indexing="xy")
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    y = np.random.default_rng(seed).poisson(4.0, size=len(xy)).astype(np.float64)
    ids = [f"c{k}" for k in range(len(xy))]
    return ids, xy, y


def main() -> int:
    ids, xy, y = grid(30, seed=1)
    n = len(y)
    band = 1.5

    # 1. esda vs numpy general formula, binary weights.
    w = ge.esda_weights(xy, band)
    z_esda = ge.esda_gistar(y, w)
    pairs = ge.neighbour_pairs(xy, band)
    z_gen = ge.general_gistar(y, pairs, inverse=False)
    diff = float(np.max(np.abs(z_esda - z_gen)))
    check("esda Zs == general Gi* (binary, band 1.5)", np.isfinite(z_esda).all() and diff <= TOL,
          f"n={n}, max |diff| = {diff:.3e}, max |z| = {np.max(np.abs(z_esda)):.3f}")

    # Same neighbour sets in both paths (queen: 8 interior, 3 corner).
    card = np.asarray(w.sparse.sum(axis=1)).ravel()
    card_np = np.bincount(pairs[0], minlength=n)
    check("same neighbour counts in both paths", np.array_equal(card, card_np),
          f"min {card.min():.0f}, max {card.max():.0f}")
    check("band 1.5 = queen (8 interior, 3 corner)", card.max() == 8 and card.min() == 3)

    # 2. A pair at exactly the band is a neighbour (band 1.0 -> rook, 4 interior).
    w1 = ge.esda_weights(xy, 1.0)
    c1 = np.asarray(w1.sparse.sum(axis=1)).ravel()
    p1 = ge.neighbour_pairs(xy, 1.0)
    check("band exactly 1.0 includes d = 1 (rook)", c1.max() == 4 and c1.min() == 2
          and np.array_equal(c1, np.bincount(p1[0], minlength=n)))
    # ... also without our epsilon (libpysal itself is inclusive).
    from libpysal.weights import DistanceBand

    w1raw = DistanceBand(xy, threshold=1.0, binary=True, silence_warnings=True)
    check("libpysal DistanceBand(threshold=1.0) alone is inclusive",
          np.asarray(w1raw.sparse.sum(axis=1)).max() == 4)
    # ... and at BNG magnitudes with 750 m spacing.
    bng = np.array([[530125.0, 180125.0], [530875.0, 180125.0], [530125.0, 180875.0],
                    [530875.0, 180875.0]])
    wb = ge.esda_weights(bng, 750.0)
    check("BNG centres 750 m apart are neighbours at band 750",
          [len(wb.neighbors[k]) for k in range(4)] == [2, 2, 2, 2])

    # 3. Inverse-distance weights from our pairs match libpysal's
    #    DistanceBand(binary=False, alpha=-1) (weights only; the statistic is
    #    ours, because esda's variance is the binary one).
    with np.errstate(divide="ignore"):  # libpysal raises 0 (self-distance) to -1
        wi = DistanceBand(xy, threshold=ge.band_limit(band), binary=False, alpha=-1.0,
                          silence_warnings=True)
    i, j, d = pairs
    ours = np.zeros((n, n))
    ours[i, j] = 1.0 / d
    wdiff = float(np.max(np.abs(wi.sparse.toarray() - ours)))
    check("1/d weights match DistanceBand(binary=False, alpha=-1)", wdiff <= 1e-15,
          f"max |diff| = {wdiff:.3e}")
    z_inv = ge.general_gistar(y, pairs, inverse=True)
    z_inv_esda = ge.esda_gistar(y, wi)  # esda with non-binary weights, for contrast
    check("general Gi* (1/d) is finite", np.isfinite(z_inv).all())
    print(f"     (info) esda Zs with 1/d weights differs from the general formula by up to "
          f"{np.max(np.abs(z_inv_esda - z_inv)):.3e}: expected, see gistar_esda.py")

    # 4. Hand check of the general formula at one interior cell, dense, on
    #    cells 250 m apart (so that w_ii = 1 would not be the nearest
    #    neighbour's 1/250): w_ii = the largest neighbour weight.
    k = 15 * 30 + 15
    xy250 = xy * 250.0
    dk = np.hypot(*(xy250 - xy250[k]).T)
    wk = np.where((dk > 0) & (dk <= band * 250.0), 1.0 / np.where(dk > 0, dk, 1.0), 0.0)
    wk[k] = wk.max()
    xbar, s = y.mean(), np.sqrt((y ** 2).mean() - y.mean() ** 2)
    zk = (wk @ y - xbar * wk.sum()) / (s * np.sqrt((n * (wk ** 2).sum() - wk.sum() ** 2) / (n - 1)))
    z_inv250 = ge.general_gistar(y, ge.neighbour_pairs(xy250, band * 250.0), inverse=True)
    check("general Gi* (1/d, w_ii = nearest neighbour's) matches a dense hand computation",
          abs(zk - z_inv250[k]) <= TOL, f"|diff| = {abs(zk - z_inv250[k]):.3e}")
    check("general Gi* (1/d) does not depend on the distance unit (1 m vs 250 m cells)",
          float(np.max(np.abs(z_inv250 - z_inv))) <= TOL)

    # 5. CLI round trip: output order, ids, full precision.
    with tempfile.TemporaryDirectory() as tmp:
        cells = os.path.join(tmp, "cells.csv")
        with open(cells, "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(["cell_id", "x_m", "y_m", "count"])
            for cid, (x, yy), c in zip(ids, xy, y, strict=True):
                wr.writerow([cid, repr(float(x)), repr(float(yy)), int(c)])
        for flag, expect in (([], z_esda), (["--inverse-distance"], z_inv)):
            out = os.path.join(tmp, "z.csv")
            rc = ge.main(["--cells", cells, "--band", str(band), "--out", out, *flag])
            with open(out, newline="") as fh:
                rows = list(csv.DictReader(fh))
            got = np.array([float(r["z"]) for r in rows])
            check(f"CLI {' '.join(flag) or '(binary)'}: ids, order, exact z",
                  rc == 0 and [r["cell_id"] for r in rows] == ids and np.array_equal(got, expect))

    passed = sum(ok for _, ok, _ in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
