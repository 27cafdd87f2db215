#!/usr/bin/env python3
"""Make a data root whose Met burglary incident table is replicated K times.

    python3 benches/peers/replicate.py --src DATA_ROOT --dst DIR --k K

DIR gets the same layout as DATA_ROOT, so `data/london-burglary.toml` and
`geopandas_ingest.py` read it unchanged:

  * DIR/police_uk/metropolitan_burglary/<month>.csv.gz: the same 135 monthly
    files, every data row written K times in a row (copy r = 1..K). Copy 1
    keeps its Crime ID; copy r >= 2 gets the suffix "-r<r>", so no copy is a
    duplicate of another (police.uk's own repeated Crime IDs stay repeated
    within each copy, as in the original). A blank Crime ID stays blank.
    gzip level 6 (the originals are level 9; decompression speed is about
    the same).
  * everything else (boundaries, schools, stations, the other police.uk
    folders) is a symlink into DATA_ROOT: nothing is copied.

K = 1 symlinks the burglary folder too. Standard library only. A stamp file
(DIR/.replicated.json: K and each source file's name, size and mtime) makes a
second call with the same inputs a no-op. Lines are split on their first two
commas only: police.uk lines start with the unnamed integer index and the
Crime ID (hex or blank), neither quoted; a line that does not is an error.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor

BURGLARY = os.path.join("police_uk", "metropolitan_burglary")
LEAD = re.compile(rb"^[0-9]*,[0-9A-Za-z]*,")


def replicate_file(src: str, dst: str, k: int) -> int:
    """Write src (gzipped police.uk CSV) to dst with each data row k times.
    Returns the number of data rows read."""
    rows = 0
    tmp = dst + ".part"
    with gzip.open(src, "rb") as fin, gzip.open(tmp, "wb", compresslevel=6) as fout:
        fout.write(fin.readline())  # header, once
        for lineno, line in enumerate(fin, start=2):
            if not line.strip():
                fout.write(line)
                continue
            if not LEAD.match(line):
                raise SystemExit(f"{src}:{lineno}: does not start with index,Crime ID,")
            idx, cid, rest = line.split(b",", 2)
            rows += 1
            fout.write(line)  # copy 1: as it was
            for r in range(2, k + 1):
                tag = cid + b"-r" + str(r).encode() if cid else cid
                fout.write(idx + b"," + tag + b"," + rest)
    os.replace(tmp, dst)
    return rows


def stamp_of(src_dir: str, files: list[str], k: int) -> dict:
    st = {}
    for f in files:
        s = os.stat(os.path.join(src_dir, f))
        st[f] = [s.st_size, int(s.st_mtime)]
    return {"k": k, "files": st}


def link_tree(src_root: str, dst_root: str, skip: str) -> None:
    """Symlink every top-level entry of src_root into dst_root, except that
    `skip` (a relative path such as police_uk/metropolitan_burglary) is left
    for the caller: its parent becomes a real directory of symlinks."""
    head, _, tail = skip.partition(os.sep)
    for name in sorted(os.listdir(src_root)):
        s, d = os.path.join(src_root, name), os.path.join(dst_root, name)
        if name == head and tail:
            os.makedirs(d, exist_ok=True)
            link_tree(s, d, tail)
        elif name == head:
            continue
        elif not os.path.lexists(d):
            os.symlink(s, d)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True, help="the real data root")
    ap.add_argument("--dst", required=True, help="the replicated data root to make")
    ap.add_argument("--k", required=True, type=int, help="copies of every incident row (>= 1)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if args.k < 1:
        ap.error("--k must be >= 1")
    src_root = os.path.abspath(args.src)
    dst_root = os.path.abspath(args.dst)
    src_dir = os.path.join(src_root, BURGLARY)
    files = sorted(f for f in os.listdir(src_dir) if f.endswith(".csv.gz"))
    if not files:
        raise SystemExit(f"no .csv.gz files in {src_dir}")
    stamp_path = os.path.join(dst_root, ".replicated.json")
    want = stamp_of(src_dir, files, args.k)
    try:
        with open(stamp_path) as fh:
            if json.load(fh) == want:
                print(f"replicate: {dst_root} is up to date (k={args.k}, {len(files)} files)")
                return 0
    except (OSError, ValueError):
        pass
    if os.path.lexists(dst_root):
        shutil.rmtree(dst_root)
    os.makedirs(dst_root)
    link_tree(src_root, dst_root, BURGLARY)
    dst_dir = os.path.join(dst_root, BURGLARY)
    if args.k == 1:
        os.symlink(src_dir, dst_dir)
        rows = None
    else:
        os.makedirs(dst_dir)
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            rows = sum(pool.map(replicate_file,
                                [os.path.join(src_dir, f) for f in files],
                                [os.path.join(dst_dir, f) for f in files],
                                [args.k] * len(files)))
    with open(stamp_path, "w") as fh:
        json.dump(want, fh)
    what = "symlinked" if rows is None else f"{rows} rows x {args.k} = {rows * args.k} rows"
    print(f"replicate: {dst_root}: {len(files)} files, {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
