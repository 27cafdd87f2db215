#!/usr/bin/env python3
"""Runs data/duckdb/cell_counts.sql in DuckDB over a hotspots dataset's
incidents (a single file, or a Hive-partitioned folder) and writes the
per-cell counts as Parquet, for tests/past_one_machine.rs.

Run: python duckdb_cell_counts.py INCIDENTS_GLOB SQL_FILE OUT.parquet [hive]
"""

from __future__ import annotations

import sys

import duckdb


def main() -> None:
    source, sql_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
    hive = len(sys.argv) > 4 and sys.argv[4] == "hive"
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW incidents AS SELECT * FROM read_parquet('{source}', hive_partitioning = {str(hive).lower()})"
    )
    con.execute(open(sql_file, encoding="utf-8").read())
    con.execute(f"COPY cell_counts TO '{out}' (FORMAT parquet)")
    rows, total = con.execute("SELECT count(*), sum(count) FROM cell_counts").fetchone()
    print(f"{rows} cells, {total} incidents")


if __name__ == "__main__":
    main()
