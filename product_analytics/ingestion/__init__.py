"""Raw ingestion: the event stream and the operational tables, one UTC day per partition."""
