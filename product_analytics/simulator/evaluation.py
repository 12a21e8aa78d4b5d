"""How well the warehouse recovers what the simulator knows happened (its ground truth)."""

from pathlib import Path

import duckdb


def _precision_recall(conn: duckdb.DuckDBPyConnection, predicted: str, expected: str) -> dict[str, float]:
    correct, n_predicted, n_expected = conn.sql(
        f"""select (select count(*) from (select * from ({predicted}) intersect select * from ({expected}))),
                   (select count(*) from ({predicted})), (select count(*) from ({expected}))"""
    ).fetchall()[0]
    return {
        "precision": correct / n_predicted if n_predicted else 1.0,
        "recall": correct / n_expected if n_expected else 1.0,
        "expected": n_expected,
    }


def social_accuracy(
    conn: duckdb.DuckDBPyConnection, truth_dir: Path, joins: str, instances: str, events: str
) -> dict[str, dict[str, float]]:
    """Precision and recall of inferred social instances and of their joins.

    ``joins`` (instance_id, join_event_id, matched_by), ``instances`` (instance_id) and
    ``events`` (event_id: every loaded message) name the warehouse relations to measure.
    The truth is restricted to what the loaded events can show: instances created, and
    joins made, in them.
    """
    conn.execute(f"create or replace temp view truth_instances as select * from read_parquet('{truth_dir}/instances/*.parquet')")
    conn.execute(f"create or replace temp view truth_members as select * from read_parquet('{truth_dir}/members/*.parquet')")
    loaded = f"select event_id from {events}"
    found_instances = _precision_recall(
        conn,
        f"select instance_id from {instances}",
        f"select instance_id from truth_instances where message_id in ({loaded})",
    )
    participants = _precision_recall(
        conn,
        f"select instance_id, join_event_id from {joins}",
        f"""select m.instance_id, m.message_id from truth_members m join truth_instances i using (instance_id)
            where m.message_id in ({loaded}) and i.message_id in ({loaded})""",
    )
    inferred = _precision_recall(
        conn,
        f"select instance_id, join_event_id from {joins} where matched_by = 'inferred'",
        f"""select instance_id, message_id from truth_members
            where message_id in (select join_event_id from {joins} where matched_by = 'inferred')""",
    )
    return {"instances": found_instances, "participants": participants, "inferred_joins": inferred}
