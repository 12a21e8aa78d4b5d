"""The audit trail (policies/audit_trail.py): what each step records, worked out by hand,
and what a failed dbt step leaves in it. The rows of a whole pipeline run are checked in
test_end_to_end.py."""

from types import SimpleNamespace

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    MaterializeResult,
    MetadataValue,
    Output,
    materialize,
)

from product_analytics.policies import audit_trail
from product_analytics.project import dbt_project
from product_analytics.resources.dbt import DBT_SHIM, DbtCli
from product_analytics.resources.warehouse import Warehouse
from product_analytics.transform.assets import SNAPSHOT_JOB_KEYS, dbt_outcomes, dbt_unpartitioned_models

RAW = AssetKey(["raw", "events"])
MART = AssetKey(["marts", "fct_sessions"])
VIEW = AssetKey(["staging", "stg_app__users"])
DIM = AssetKey(["marts", "dim_users"])
OUTPUTS = {"marts__fct_sessions": MART, "staging__stg_app__users": VIEW, "marts__dim_users": DIM}


def _context(selected, run_id="run-1", tags=None, op="step_a"):
    """What the audit reads of a step's context (an unpartitioned step unless tags say otherwise)."""
    return SimpleNamespace(
        assets_def=SimpleNamespace(
            keys_by_output_name={"marts__fct_sessions": MART, "staging__stg_app__users": VIEW, "marts__dim_users": DIM}
        ),
        asset_key=RAW,
        selected_asset_keys=set(selected),
        has_partition_key=False,
        has_partition_key_range=False,
        run=SimpleNamespace(run_id=run_id, job_name="daily_pipeline", tags=tags or {}),
        op_def=SimpleNamespace(name=op),
    )


def test_an_outcome_counts_rows_from_the_materialization_and_checks_by_severity():
    context = _context([RAW])
    events = [
        MaterializeResult(metadata={"dagster/row_count": 120, "rows_loaded": MetadataValue.int(120), "quarantined_rows": 3}),
        AssetMaterialization(asset_key=RAW, partition="2026-03-01", metadata={"dagster/row_count": 70}),  # a day's copy
        AssetCheckResult(check_name="a", passed=True),
        AssetCheckResult(check_name="b", passed=False, severity=AssetCheckSeverity.WARN),
        AssetCheckResult(check_name="c", passed=False),
        AssetCheckResult(check_name="d", passed=True),
    ]
    (found,) = audit_trail.outcomes_from_events(context, events).values()
    assert (found.asset_key, found.status, found.row_count, found.rows_loaded, found.rows_quarantined) == (
        "raw/events",
        "success",
        120,
        120,
        3,
    )
    assert (found.checks_passed, found.checks_failed, found.checks_warned) == (2, 1, 1)


def test_a_failed_step_records_the_assets_it_left_unmaterialized_with_its_error():
    context = _context([RAW, MART])
    outcomes = audit_trail.outcomes_from_events(context, [MaterializeResult(asset_key=RAW, metadata={})], ValueError("no such folder"))
    assert outcomes["raw/events"].status == "success"
    assert (outcomes["marts/fct_sessions"].status, outcomes["marts/fct_sessions"].message) == ("error", "ValueError: no such folder")


def _node(name, materialized, strategy=None, resource_type="model"):
    config = {"materialized": materialized, **({"incremental_strategy": strategy} if strategy else {})}
    return {"name": name, "resource_type": resource_type, "config": config}


def test_dbt_rows_take_status_and_time_from_run_results_and_rows_written_by_materialization():
    nodes = {
        "model.product_analytics.fct_sessions": _node("fct_sessions", "incremental", "replace_keys"),
        "model.product_analytics.stg_app__users": _node("stg_app__users", "view"),
        "model.product_analytics.dim_users": _node("dim_users", "table"),
        "test.product_analytics.not_null_x": {"name": "not_null_x", "resource_type": "test", "config": {}},
    }
    dim = DIM
    context = _context([MART, VIEW, dim])
    events = [
        Output(None, output_name="marts__fct_sessions", metadata={"dagster/row_count": 40}),
        Output(None, output_name="staging__stg_app__users", metadata={"dagster/row_count": 9}),
        AssetCheckResult(asset_key=MART, check_name="x", passed=True),
    ]
    run_results = {
        "results": [
            {"unique_id": "model.product_analytics.stg_app__users", "status": "success", "execution_time": 0.25, "message": "OK"},
            {"unique_id": "model.product_analytics.fct_sessions", "status": "success", "execution_time": 1.5, "message": "OK"},
            {"unique_id": "model.product_analytics.dim_users", "status": "skipped", "execution_time": 0, "message": None},
            {"unique_id": "test.product_analytics.not_null_x", "status": "pass", "execution_time": 0.1, "message": None},
        ]
    }
    error = RuntimeError("dbt failed")
    rows = {o.asset_key: o for o in dbt_outcomes(context, events, error, run_results, nodes)}
    assert set(rows) == {"marts/fct_sessions", "staging/stg_app__users", "marts/dim_users"}  # the test is a check, not a row
    sessions, users, dim_row = rows["marts/fct_sessions"], rows["staging/stg_app__users"], rows["marts/dim_users"]
    assert (sessions.status, sessions.seconds, sessions.row_count, sessions.rows_written, sessions.checks_passed) == (
        "success",
        1.5,
        40,
        None,
        1,
    )
    assert (users.status, users.rows_written, users.message, users.dbt_node) == (
        "success",
        0,
        None,
        "model.product_analytics.stg_app__users",
    )
    # skipped after the error: dbt's status, the step's error as the reason, nothing written
    assert (dim_row.status, dim_row.rows_written, dim_row.message) == ("skipped", None, "RuntimeError: dbt failed")
    # a table rebuilt whole writes all its rows
    built = dbt_outcomes(
        _context([dim]),
        [Output(None, output_name="marts__dim_users", metadata={"dagster/row_count": 12})],
        None,
        {"results": [{"unique_id": "model.product_analytics.dim_users", "status": "success", "execution_time": 0.5}]},
        nodes,
    )
    assert [(o.asset_key, o.status, o.rows_written, o.seconds) for o in built] == [("marts/dim_users", "success", 12, 0.5)]


def test_a_step_retried_in_the_same_run_replaces_its_rows(tmp_path):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    one = _context([RAW], tags={"dagster/asset_partition_range_start": "2026-03-01", "dagster/asset_partition_range_end": "2026-03-03"})
    audit_trail.record(conn, one, [audit_trail.Outcome("raw/events", status="error", message="locked")])
    audit_trail.record(conn, one, [audit_trail.Outcome("raw/events", rows_loaded=10, rows_written=10, row_count=10, checks_passed=3)])
    audit_trail.record(conn, _context([RAW], op="step_b"), [audit_trail.Outcome("marts/fct_sessions", rows_written=None)])
    rows = conn.execute(
        "select run_id, job_name, step, first_day::varchar, last_day::varchar, asset_key, status, rows_loaded, checks_passed"
        " from audit.audit_runs order by step"
    ).fetchall()
    assert rows == [
        ("run-1", "daily_pipeline", "step_a", "2026-03-01", "2026-03-03", "raw/events", "success", 10, 3),
        ("run-1", "daily_pipeline", "step_b", None, None, "marts/fct_sessions", "success", None, 0),
    ]
    assert [c[0] for c in conn.execute("describe audit.audit_runs").fetchall()] == list(audit_trail.COLUMNS)


def test_a_failed_dbt_step_records_each_node_error_or_skipped(tmp_path):
    """On an empty warehouse the models find no staging views: dbt fails the first nodes and
    skips what depends on them; every selected model still has its row, with dbt's status."""
    database = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    dbt = DbtCli(project_dir=dbt_project, dbt_executable=str(DBT_SHIM), warehouse_path=str(database), start_date="2026-03-01")
    models = AssetSelection.assets(dbt_unpartitioned_models) - AssetSelection.assets(*SNAPSHOT_JOB_KEYS)
    resources = {"dbt": dbt, "duckdb": Warehouse(database=str(database))}
    result = materialize([dbt_unpartitioned_models], selection=models, resources=resources, raise_on_error=False)
    assert not result.success
    selected = {key.to_user_string() for key in models.resolve([dbt_unpartitioned_models])}
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute("select asset_key, status, dbt_node, message, rows_written, run_id, step from audit.audit_runs").fetchall()
    assert {r[0] for r in rows} == selected
    statuses = {r[1] for r in rows}
    assert {"error", "skipped"} <= statuses <= {"error", "skipped", "success"}
    assert all(r[2].startswith(("model.", "snapshot.")) for r in rows)
    assert all(r[3] for r in rows if r[1] == "error")  # dbt's reason
    assert all(r[4] is None for r in rows if r[1] != "success")
    assert {(r[5], r[6]) for r in rows} == {(result.run_id, "dbt_unpartitioned_models")}
