"""Shared helper for the notebooks: find the `hotspots` binary, pick the data,
run commands and read their outputs.

Data choice:
* `HOTSPOTS_DATA` set and an existing folder -> the real London data under it,
  ingested with `data/london-burglary.toml` or `data/london.toml` into a cache
  folder (`$HOTSPOTS_NB_OUT`, default `notebooks/.out/`).
* otherwise -> the synthetic demo city written by `hotspots demo`.

Binary: `$HOTSPOTS_BIN`, else `target/release/hotspots`, else
`target/debug/hotspots` (build one with `cargo build --release`).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import shapely

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Figures: small enough to keep committed notebooks light.
try:
    import matplotlib

    matplotlib.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "figure.figsize": (8, 6)})
except ImportError:  # pragma: no cover
    pass

# Maps are drawn in the British National Grid (metres) so they keep their shape.
MAP_CRS = "EPSG:27700"


def binary() -> Path:
    """The `hotspots` executable to drive."""
    env = os.environ.get("HOTSPOTS_BIN")
    if env:
        p = Path(env)
        if not p.is_file():
            raise FileNotFoundError(f"HOTSPOTS_BIN={env} is not a file")
        return p
    for sub in ("release", "debug"):
        p = REPO / "target" / sub / "hotspots"
        if p.is_file():
            return p
    raise FileNotFoundError(
        "no hotspots binary: set HOTSPOTS_BIN or run `cargo build --release` in " + str(REPO)
    )


def out_root() -> Path:
    """Where the notebooks keep datasets and outputs (not committed)."""
    p = Path(os.environ.get("HOTSPOTS_NB_OUT") or (HERE / ".out"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def data_root() -> Path | None:
    """The real data root, if `HOTSPOTS_DATA` names an existing folder."""
    env = os.environ.get("HOTSPOTS_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    return None


def run(*args, echo: bool = True) -> str:
    """Runs `hotspots --quiet ARGS...`, shows the command and what it printed,
    and raises if it fails. Returns its standard output."""
    cmd = [str(binary()), "--quiet", *[str(a) for a in args]]
    shown = " ".join(_quote(_short(c)) for c in ["hotspots", *cmd[1:]])
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.time() - t0
    if echo or r.returncode != 0:
        print(f"$ {shown}   ({dt:.1f} s)")
        if r.stdout.strip():
            print(_short_text(r.stdout.rstrip()))
        if r.stderr.strip():
            print(_short_text(r.stderr.rstrip()), file=sys.stderr)
    if r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, cmd, r.stdout, r.stderr)
    return r.stdout


def _short(arg: str) -> str:
    """A path as the reader would type it: under the data root or the repo."""
    root = data_root()
    if root is not None and arg.startswith(str(root.resolve()) + os.sep):
        return "$HOTSPOTS_DATA/" + arg[len(str(root.resolve())) + 1 :]
    if root is not None and arg == str(root):
        return "$HOTSPOTS_DATA"
    if arg.startswith(str(REPO) + os.sep):
        return arg[len(str(REPO)) + 1 :]
    return arg


def _quote(arg: str) -> str:
    """Shell quoting that keeps $HOTSPOTS_DATA expandable."""
    if arg.startswith("$HOTSPOTS_DATA"):
        rest = arg[len("$HOTSPOTS_DATA"):]
        return '"$HOTSPOTS_DATA' + "".join("\\" + c if c in '"\\`$' else c for c in rest) + '"'
    return shlex.quote(arg)


def _short_text(text: str) -> str:
    """Shortens the repo and data-root paths inside a command's output."""
    root = data_root()
    if root is not None:
        text = text.replace(str(root.resolve()) + os.sep, "$HOTSPOTS_DATA/")
    return text.replace(str(REPO) + os.sep, "")


def _demo(demo: Path) -> None:
    """`hotspots demo`, made safe for a command that may also start a server:
    `--no-serve` when it has it; otherwise, if it mentions serving, stop it
    once the dataset is written."""
    text = help_of("demo")
    args = [str(binary()), "--quiet", "demo", "--dir", str(demo)]
    if "--no-serve" in text:
        args.append("--no-serve")
    elif "serve" in text.lower():
        manifest = demo / "dataset" / "manifest.json"
        if manifest.exists():
            manifest.unlink()
        print("$ " + " ".join(_short(a) for a in ["hotspots", *args[1:]]) + "   (stopped once the dataset is written)")
        p = subprocess.Popen(args)
        try:
            for _ in range(600):
                if p.poll() is not None or manifest.exists():
                    break
                time.sleep(1)
            time.sleep(1)
        finally:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        if not manifest.exists():
            raise RuntimeError("hotspots demo wrote no dataset")
        return
    run(*args[2:])


def help_of(command: str) -> str:
    return subprocess.run(
        [str(binary()), command, "--help"], capture_output=True, text=True, check=True
    ).stdout


@dataclass
class Dataset:
    """An ingested dataset and where a notebook may write its outputs."""

    path: Path
    out: Path
    real: bool
    label: str
    config: str | None = None
    months: list[str] = field(default_factory=list)

    def output(self, name: str) -> Path:
        return self.out / name

    @property
    def first_month(self) -> str:
        return self.months[0]

    @property
    def last_month(self) -> str:
        return self.months[-1]

    def last_months(self, n: int) -> list[str]:
        return self.months[-n:]

    def incidents(self, columns=("month", "kind", "crime_type")) -> pd.DataFrame:
        return pq.read_table(self.path / "incidents.parquet", columns=list(columns)).to_pandas()

    def wards(self) -> gpd.GeoDataFrame:
        return read_areas(self.path / "wards.parquet")

    def boroughs(self) -> gpd.GeoDataFrame:
        return read_areas(self.path / "boroughs.parquet")

    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())


def read_areas(parquet: Path) -> gpd.GeoDataFrame:
    """Ward or borough polygons from the dataset, in the map CRS."""
    df = pd.read_parquet(parquet)
    geom = shapely.from_wkb(df["geometry_bng_wkb"].to_numpy())
    df = df.drop(columns=[c for c in df.columns if c.endswith("_wkb")])
    return gpd.GeoDataFrame(df, geometry=geom, crs=MAP_CRS)


def read_layer(path: Path) -> tuple[gpd.GeoDataFrame, dict]:
    """A GeoJSON written by hotspots, in the map CRS, and its `metadata` block."""
    gdf = gpd.read_file(path, engine="pyogrio")
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    with open(path) as f:
        meta = json.load(f).get("metadata", {})
    return gdf.to_crs(MAP_CRS), meta


def _months(ds_path: Path) -> list[str]:
    t = pq.read_table(ds_path / "incidents.parquet", columns=["month"])
    return sorted(set(t.column("month").to_pylist()))


def dataset(which: str = "burglary") -> Dataset:
    """The dataset for a notebook: `which` is "burglary" (Met burglary, 135
    months) or "all" (every source of data/london.toml); on the demo city both
    are the same synthetic dataset."""
    if which not in ("burglary", "all"):
        raise ValueError(which)
    root = data_root()
    if root is not None:
        config = REPO / "data" / ("london-burglary.toml" if which == "burglary" else "london.toml")
        path = out_root() / "real" / which / "dataset"
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"Real data: $HOTSPOTS_DATA = {root} ingested with {config.relative_to(REPO)}")
        run("ingest", "--config", config, "--data-root", root, "--out", path)
        ds = Dataset(path, path.parent / "results", True, "London (police.uk open data)",
                     str(config.relative_to(REPO)))
    else:
        demo = out_root() / "demo"
        print("HOTSPOTS_DATA is not set (or not a folder): using the synthetic demo city.")
        _demo(demo)
        path = demo / "dataset"
        ds = Dataset(path, demo / "results", False, "the synthetic demo city")
    ds.out.mkdir(parents=True, exist_ok=True)
    ds.months = _months(ds.path)
    print(f"Dataset {_short(str(ds.path))}: {len(ds.months)} months, {ds.first_month} .. {ds.last_month}")
    return ds


def plot_areas(ax, ds: Dataset, wards: bool = True, boroughs: bool = True):
    """Ward (thin) and borough (thicker) outlines as a backdrop."""
    if wards:
        ds.wards().boundary.plot(ax=ax, color="#bbbbbb", linewidth=0.25, zorder=1)
    if boroughs:
        ds.boroughs().boundary.plot(ax=ax, color="#555555", linewidth=0.6, zorder=2)
    ax.set_axis_off()
    ax.set_aspect("equal")
    return ax


def fmt_list(items) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]
