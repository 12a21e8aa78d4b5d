"""dbt models as Dagster assets, one definition per partitioning scheme."""
