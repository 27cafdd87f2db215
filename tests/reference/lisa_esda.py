#!/usr/bin/env python3
"""Reference local Moran's I pseudo p-values for hotspots' grid cells, from
PySAL esda's own conditional permutations.

Usage:
    python lisa_esda.py --cells cells.csv --band 750 --permutations 9999 \
        --seed 12345 --out lisa.csv --draws-out draws.u32 [--summary-out s.json]

Input:  `cell_id,x_m,y_m,count` (as gistar_esda.py; BNG metres).
Output: `cell_id,I,quadrant,p_esda,p_ties`, rows in input order, and the
        permutation draws esda used (`--draws-out`: little-endian uint32,
        `permutations` rows of `k_max` indices, row-major; k_max in the
        summary JSON printed on stderr and written to --summary-out).

Versions: as gistar_esda.py (esda 2.9.0, libpysal 4.14.1, numpy 2.4.6),
WITHOUT numba (not in requirements.txt): esda then runs its permutation
engine in plain numpy, and the two hooks below take effect. The script
refuses to run if numba is importable.

What it runs: `esda.Moran_Local(y, w, transformation='r',
permutations=R, seed=S, keep_simulations=False, n_jobs=1)` on
libpysal's binary DistanceBand (the same weights as gistar_esda.py), with
two hooks in `esda.crand`, which change nothing that esda computes:

* `vec_permutations` is wrapped to keep the draws esda made (the matrix of
  neighbour indices crand uses for every cell), written to --draws-out, so
  the engine can be run on exactly the same draws;
* `_permutation_significance` (called once per cell with the observed I_i
  and esda's R simulated I_i) is wrapped to record two pseudo p-values from
  the same simulated values:
    p_esda: esda's own value, alternative='directed' (what Moran_Local's
            p_sim is in esda 2.9.0): M = #{I_sim >= I_obs},
            M = min(M, R - M), p = (M + 1)/(R + 1);
    p_ties: the same with ties counted on both sides, the engine's rule
            (src/analysis/permutation.rs): p = (min(M>=, M<=) + 1)/(R + 1),
            where a simulated value within 1e-9 * max(|I_obs|, max|I_sim|)
            of the observed one counts as a tie (esda computes I_obs by a
            sparse product and I_sim by a dense one, so values that are
            equal in exact arithmetic can differ in the last bits).
  The wrapper returns p_ties to esda (so Moran_Local's p_sim is p_ties); both
  are written.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gistar_esda as ge  # noqa: E402

TIE = 1e-9


def p_ties(observed: float, sims: np.ndarray) -> float:
    """(min(M>=, M<=) + 1)/(R + 1) with a relative tie tolerance."""
    scale = max(abs(observed), float(np.max(np.abs(sims))) if sims.size else 0.0)
    tol = TIE * scale
    ge_ = int(np.sum(sims >= observed - tol))
    le_ = int(np.sum(sims <= observed + tol))
    return (min(ge_, le_) + 1.0) / (sims.size + 1.0)


def run(y: np.ndarray, w, permutations: int, seed: int):
    """esda Moran_Local with the hooks; returns (m, p_esda, p_ties, draws)."""
    if importlib.util.find_spec("numba") is not None:
        raise SystemExit("lisa_esda.py: numba is installed; the hooks need esda's pure-numpy path")
    import esda.crand as crand
    from esda import Moran_Local

    kept: dict[str, np.ndarray] = {}
    raw: list[float] = []
    ties: list[float] = []
    orig_perm = crand.vec_permutations
    orig_sig = crand._permutation_significance

    def perm_hook(max_card, n, k, s):
        out = orig_perm(max_card, n, k, s)
        kept["draws"] = out
        return out

    def sig_hook(test_stat, reference_distribution, alternative="two-sided"):
        p_raw = orig_sig(test_stat, reference_distribution, alternative=alternative)
        raw.append(float(np.asarray(p_raw).ravel()[0]))
        p = p_ties(float(test_stat), np.asarray(reference_distribution, dtype=np.float64).ravel())
        ties.append(p)
        return np.array([p])

    crand.vec_permutations = perm_hook
    crand._permutation_significance = sig_hook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = Moran_Local(y, w, transformation="r", permutations=permutations, seed=seed,
                            keep_simulations=False, n_jobs=1)
    finally:
        crand.vec_permutations = orig_perm
        crand._permutation_significance = orig_sig
    if len(raw) != len(y):
        raise SystemExit(f"lisa_esda.py: {len(raw)} p-values for {len(y)} cells (esda's crand changed?)")
    p_t = np.array(ties)
    # esda stores p_sim as float32: the value we returned, rounded.
    if not np.allclose(np.asarray(m.p_sim, dtype=np.float64), p_t, rtol=0, atol=1e-6):
        raise SystemExit("lisa_esda.py: Moran_Local.p_sim is not the hooked value")
    return m, np.array(raw), p_t, kept["draws"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", required=True)
    ap.add_argument("--band", required=True, type=float)
    ap.add_argument("--permutations", required=True, type=int)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--out", required=True)
    ap.add_argument("--draws-out", required=True)
    ap.add_argument("--summary-out")
    a = ap.parse_args(argv)
    if not (a.band > 0 and math.isfinite(a.band)) or a.permutations < 1:
        ap.error("--band must be positive and --permutations at least 1")
    ids, xy, y = ge.load_cells(a.cells)
    w = ge.esda_weights(xy, a.band)
    t0 = time.perf_counter()
    m, p_raw, p_t, draws = run(y, w, a.permutations, a.seed)
    seconds = time.perf_counter() - t0
    with open(a.out, "w", encoding="utf-8", newline="") as fh:
        fh.write("cell_id,I,quadrant,p_esda,p_ties\n")
        for cid, i_, q, pr, pt in zip(ids, m.Is.tolist(), m.q.tolist(), p_raw.tolist(), p_t.tolist(),
                                      strict=True):
            fh.write(f"{cid},{i_!r},{int(q)},{pr!r},{pt!r}\n")
    d = np.ascontiguousarray(draws, dtype="<u4")
    d.tofile(a.draws_out)
    summary = {
        "tool": "esda Moran_Local (transformation='r'), crand without numba",
        "n": len(y), "permutations": int(d.shape[0]), "k_max": int(d.shape[1]), "seed": a.seed,
        "seconds": seconds, "islands": len(w.islands),
        "cells_where_esda_and_ties_differ": int(np.sum(p_raw != p_t)),
    }
    text = json.dumps(summary)
    print(text, file=sys.stderr)
    if a.summary_out:
        with open(a.summary_out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
