#!/usr/bin/env python3
"""Reads a layer from a running hotspots server with GDAL's OGC API -
Features driver (OAPIF; GDAL >= 3.7 follows Part 2: it asks for items in
the collection's storageCrs), through pyogrio's bundled GDAL, and prints
what it saw as JSON for tests/ogc_crs.rs.

Run: python oapif_read.py http://127.0.0.1:PORT wards > seen.json
"""

from __future__ import annotations

import json
import sys

import pyogrio
import shapely


def main() -> None:
    base, layer = sys.argv[1], sys.argv[2]
    info = pyogrio.read_info(f"OAPIF:{base}", layer=layer)
    gdf = pyogrio.read_dataframe(f"OAPIF:{base}", layer=layer)
    id_col = "code" if "code" in gdf.columns else gdf.columns[0]
    out = {
        "gdal": pyogrio.__gdal_version_string__,
        "crs": info["crs"],
        "rows": int(len(gdf)),
        "features": {
            str(row[id_col]): shapely.get_coordinates(row.geometry).tolist()
            for _, row in gdf.iterrows()
        },
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
