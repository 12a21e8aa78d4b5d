"""The Dagster concurrency pool of DuckDB writers."""

# Every asset and check that opens the warehouse runs in this pool; dagster.yaml gives it
# one slot, because DuckDB allows a single writing process per file.
DUCKDB_WRITER_POOL = "duckdb_writer"
