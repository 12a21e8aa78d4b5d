"""Resources every domain shares: the DuckDB warehouse (with the recovery of dead runs'
writer slots) and the dbt CLI."""
