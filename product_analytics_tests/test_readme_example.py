"""The README's worked example of the file source, run as written: its result table must hold."""

import os
import re
import subprocess
import sys
from datetime import datetime

import duckdb

from product_analytics.config import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def _block_after(marker: str) -> str:
    start = README.index("```bash\n", README.index(marker)) + len("```bash\n")
    return README[start : README.index("\n```", start)]


def _sessions_table() -> list[tuple]:
    """The markdown table the README shows after the sessions query."""
    text = README[README.index("from marts.fct_sessions order by 1, 2") :]
    rows = []
    for line in text.splitlines()[3:]:
        if line.startswith(("| visitor_id", "|---")):
            continue
        if not line.startswith("| "):
            break
        visitor, number, start, end, count, platform = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append(
            (
                visitor,
                int(number),
                datetime.fromisoformat(start),
                datetime.fromisoformat(end),
                int(count),
                None if platform == "null" else platform,
            )
        )
    return rows


def test_the_worked_example_gives_the_sessions_the_readme_shows(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PA_") and k != "DAGSTER_HOME"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    subprocess.run(["bash", "-euo", "pipefail", "-c", _block_after("<!-- worked-example -->")], cwd=tmp_path, env=env, check=True)
    run = _block_after("<!-- worked-example-run -->")
    assert run.splitlines()[-1] == "make demo"
    run = run.replace("make demo", f"{sys.executable} -m product_analytics.demo")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", run], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed: raw/events:quarantine_rate_within_threshold" in result.stdout
    passed, total = map(int, re.search(r"checks: (\d+) of (\d+) passed", result.stdout).groups())
    assert total - passed == 1 and total > 100
    # progress while it ran: each step, each dbt model as it finished; freshness at the end
    # (the files end in March: yesterday's partition is missing, the policies pass)
    assert re.search(r"s  dbt_daily_models: dbt (\d+)/\1 \w+\n", result.stdout)
    assert re.search(r"s  dbt_unpartitioned_models: dbt (\d+)/\1 \w+\n", result.stdout)  # every model reported
    assert "latest partition loaded on 0 of 2 assets (missing on intermediate/int_sessions_aggregated, raw/events)" in result.stdout
    assert re.search(r"; (\d+) of \1 freshness policies pass\n", result.stdout)

    expected = _sessions_table()
    assert len(expected) == 4
    query = re.search(r"'(select visitor_id.*?)'\)", README, re.S).group(1)
    with duckdb.connect(str(tmp_path / "data" / "my_export" / "readers.duckdb"), read_only=True) as conn:
        sessions = conn.execute(query).fetchall()  # the README's query, on the copy it names
    with duckdb.connect(str(tmp_path / "data" / "my_export" / "warehouse.duckdb"), read_only=True) as conn:
        quarantine = conn.execute("select partition_date::varchar, source_row, reason from raw.quarantine").fetchall()
        users = conn.execute("select user_id, plan from marts.dim_users_current order by 1").fetchall()
    assert sessions == expected
    assert quarantine == [("2026-03-10", 7, "malformed_json")]
    assert users == [("user-1", "free"), ("user-2", "pro")]


def test_the_command_line_backfill_runs_the_range_and_prints_a_summary_without_warnings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PA_") and k != "DAGSTER_HOME"}
    env.update(PA_DATA_DIR=str(tmp_path / "data"), PA_SIM_DAILY_USERS="20", PA_START_DATE="2026-11-01")
    command = _block_after("<!-- cli-backfill -->")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if "Dagster's warnings:" not in line]
    assert not [line for line in lines if re.search(r"warning|debug", line, re.I)], output
    assert "dbt_daily_models: done" in output and "retention_cohorts: done" in output
    passed, total = map(int, re.search(r"checks: (\d+) of (\d+) passed", output).groups())
    assert passed == total > 100
    summary = output[output.index("public tables") :]
    assert summary.index("marts.fct_sessions") < summary.index("raw.events")  # the public tables first
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as conn:
        days = conn.execute("select min(event_date)::varchar, max(event_date)::varchar from raw.event_loads").fetchone()
        sessions = conn.execute("select count(*) from marts.fct_sessions").fetchone()[0]
    assert days == ("2026-11-01", "2026-11-07")
    assert f"marts.fct_sessions {sessions:>12,}".split() == summary[summary.index("marts.fct_sessions") :].split()[:2]
