#!/usr/bin/env python3
"""Execute the notebooks headless with nbclient; exit non-zero if any cell fails.

    python notebooks/run_all.py              # run each into a temporary copy
    python notebooks/run_all.py --inplace    # run and save the outputs in place
    python notebooks/run_all.py 02_schools_and_stations.ipynb   # just some

Data: `HOTSPOTS_DATA` set -> real data, else the synthetic demo city.
Binary: `HOTSPOTS_BIN`, else target/release/hotspots, else target/debug/hotspots.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", help="notebook files (default: every notebooks/[0-9]*.ipynb)")
    ap.add_argument("--inplace", action="store_true", help="save the executed notebooks over the originals")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    args = ap.parse_args()

    # The kernels run in notebooks/: make path variables given relative to here absolute.
    for var in ("HOTSPOTS_DATA", "HOTSPOTS_BIN", "HOTSPOTS_NB_OUT"):
        v = os.environ.get(var)
        if v and not Path(v).is_absolute():
            os.environ[var] = str(Path(v).resolve())
    paths = [Path(p) if Path(p).exists() else HERE / p for p in args.notebooks] or sorted(HERE.glob("[0-9]*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 2
    failed = []
    with tempfile.TemporaryDirectory(prefix="hotspots-nb-") as tmp:
        for path in paths:
            path = path.resolve()
            nb = nbformat.read(path, as_version=4)
            t0 = time.time()
            print(f"== {path.name}", flush=True)
            client = NotebookClient(
                nb,
                timeout=args.timeout,
                kernel_name=args.kernel,
                # Run in notebooks/ so `import _setup` and relative paths work.
                resources={"metadata": {"path": str(HERE)}},
            )
            try:
                client.execute()
                status = "ok"
            except CellExecutionError as e:
                status = "FAILED"
                failed.append(path.name)
                print(str(e)[-4000:], file=sys.stderr)
            except Exception as e:  # kernel died, timeout, ...
                status = "FAILED"
                failed.append(path.name)
                print(f"{type(e).__name__}: {e}", file=sys.stderr)
            if args.inplace and status == "ok":
                nbformat.write(nb, path)
                dest = path
            else:
                dest = Path(tmp) / path.name
                nbformat.write(nb, dest)
                if status != "ok":
                    keep = Path(tempfile.gettempdir()) / f"failed-{path.name}"
                    shutil.copy(dest, keep)
                    print(f"   executed copy with the error kept at {keep}", file=sys.stderr)
            print(f"   {status} in {time.time() - t0:.0f} s -> {dest}", flush=True)
    n = len(paths)
    print(f"{n - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
