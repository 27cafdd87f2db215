-- Incidents per 250 m square cell of British National Grid, for
-- `hotspots gistar --cell 250 --counts cells.parquet`: the counting, a
-- GROUP BY over any number of rows, runs in DuckDB (or Sedona, BigQuery:
-- the SQL is plain); the statistics run on the per-cell table, which for
-- all of London at 250 m is about 25,000 rows.
--
-- Expects a view `incidents` over a hotspots dataset's incidents, e.g.
--   CREATE VIEW incidents AS SELECT * FROM 'out/london/incidents.parquet';
-- or over Hive-partitioned GeoParquet from `hotspots ingest --partition month`:
--   CREATE VIEW incidents AS
--     SELECT * FROM read_parquet('out/london/incidents/*/*.parquet', hive_partitioning = true);
-- then: .read data/duckdb/cell_counts.sql
--       COPY cell_counts TO 'cells.parquet' (FORMAT parquet);
--
-- The selection is `hotspots gistar`'s default: crimes (not stop and
-- search), every type but anti-social behaviour, every month. Add
-- `AND crime_type = 'Burglary'` or `AND month BETWEEN '2024-01' AND '2024-12'`
-- to count another selection. Cell ids are sq{cell}-{col}-{row} with
-- col = floor(easting_m / cell) and row = floor(northing_m / cell).
CREATE OR REPLACE TABLE cell_counts AS
WITH params AS (SELECT 250 AS cell)
SELECT
    'sq' || cell || '-' || CAST(floor(easting_m / cell) AS BIGINT) || '-' || CAST(floor(northing_m / cell) AS BIGINT)
        AS cell_id,
    count(*) AS count
FROM incidents, params
WHERE kind = 'crime' AND crime_type <> 'Anti-social behaviour'
GROUP BY cell_id
ORDER BY cell_id;
