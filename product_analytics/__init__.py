"""product_analytics: a product-analytics warehouse as a Dagster code location.

Dagster marks as beta two of the APIs this project uses on purpose: code references (the
link from every asset to its SQL or Python file, built by dagster-dbt's translator and
``with_source_code_references``) and backfill policies (the single-run backfill). Each
definition then warns once at every load of the code location, about fifty lines in
`make ui`'s terminal and in every command's output. Those warnings, and only those, are
silenced here, before any definition is built; any other warning still shows.
"""

import warnings

_CHOSEN_BETA_APIS = (
    "Class `CodeReferencesMetadataValue`",
    "Class `LocalFileCodeReference`",
    "Function `with_source_code_references`",
    "Parameter `backfill_policy` of function `asset`",
)
for _api in _CHOSEN_BETA_APIS:
    warnings.filterwarnings("ignore", message=_api.replace("`", ".") + " is currently in beta")
