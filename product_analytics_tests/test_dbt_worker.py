"""The run's warm dbt worker: every invocation it serves behaves as dbt's command line does
(output, exit code, its own environment), without parsing the project again."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest
from dagster import build_init_resource_context

from product_analytics.project import dbt_project
from product_analytics.resources.dbt import DBT_SHIM, KEPT_PARTIAL_PARSE, DbtCli, dbt_executable, sweep_dead_workers

# Read while parsing; an invocation handed a parsed manifest logs none of them.
PARSE_EVENTS = {"StateCheckVarsHash", "UnableToPartialParse", "PartialParsingEnabled", "ParseCmdOut"}


@pytest.fixture(scope="module")
def dbt(tmp_path_factory):
    """One worker for the module, as one run has one."""
    database = tmp_path_factory.mktemp("worker") / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    resource = DbtCli(project_dir=dbt_project, dbt_executable=str(DBT_SHIM), warehouse_path=str(database), start_date="2026-03-01")
    resource.setup_for_execution(build_init_resource_context())
    yield resource
    resource.teardown_after_execution(build_init_resource_context())


def shim(dbt: DbtCli, args: list[str], tmp_path: Path, *, through_worker: bool = True, **extra: str) -> tuple[int, list[dict], set[str]]:
    """Run ``dbt ARGS`` as dagster-dbt does (the shim, JSON logs, a target of its own):
    its exit code, its JSON log lines, and the names of the events in its log file."""
    target = tmp_path / f"target-{time.monotonic_ns()}"
    env = {**os.environ, **dbt.dbt_environment(), "PA_DBT_EXECUTABLE": dbt_executable(), "DBT_LOG_FORMAT": "json"}
    env |= {"DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target), "DBT_PROFILES_DIR": str(dbt_project.profiles_dir), **extra}
    if through_worker:
        env |= dbt._worker.environment
    else:  # dbt itself starts from the kept partial parse, as dagster-dbt's invocations do
        target.mkdir()
        if KEPT_PARTIAL_PARSE.exists():
            shutil.copyfile(KEPT_PARTIAL_PARSE, target / "partial_parse.msgpack")
    done = subprocess.run([str(DBT_SHIM), *args], env=env, cwd=dbt_project.project_dir, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, lines, _logged(target)


def test_invocations_print_dbts_output_with_their_own_environment_and_parse_nothing(dbt, tmp_path):
    inline = ["compile", "--inline", "select '{{ env_var(\"PA_TEST_VALUE\") }}' as value"]
    for value in ("first", "second"):  # one parsed manifest, each invocation its own environment
        code, lines, logged = shim(dbt, inline, tmp_path, PA_TEST_VALUE=value)
        compiled = [line["data"]["compiled"] for line in lines if line["info"]["name"] == "CompiledNode"]
        assert code == 0 and compiled == [f"select '{value}' as value"]
        assert not PARSE_EVENTS & logged
    code, lines, logged = shim(dbt, inline, tmp_path, through_worker=False, PA_TEST_VALUE="direct")
    assert code == 0 and PARSE_EVENTS & logged  # dbt itself parses (the marker is real)


@pytest.mark.parametrize(
    "args",
    [
        ["ls", "--select", "fct_sessions", "--resource-type", "model", "--output", "name"],  # success
        ["run-operation", "no_such_macro"],  # an error around the nodes
        ["compile", "--inline", "select * from {{ ref('no_such_model') }}"],  # a compilation error
        ["build", "--no-such-flag"],  # a usage error
    ],
)
def test_exit_codes_and_messages_are_dbts_own(dbt, tmp_path, args):
    served_code, served, _ = shim(dbt, args, tmp_path)
    direct_code, direct, _ = shim(dbt, args, tmp_path, through_worker=False)
    assert served_code == direct_code

    def messages(lines, level):
        return [line["info"]["msg"] for line in lines if line["info"]["level"] == level and line["info"]["name"] != "MainReportArgs"]

    assert messages(served, "error") == messages(direct, "error")
    if args[0] == "ls":
        assert served_code == 0 and [line["info"]["msg"] for line in served if line["info"]["name"] == "PrintEvent"] == ["fct_sessions"]
    else:
        assert served_code != 0


def test_the_version_is_answered_without_dbt(dbt):
    env = {**os.environ, **dbt._worker.environment}
    done = subprocess.run([str(DBT_SHIM), "--version"], env=env, capture_output=True, text=True, check=True)
    real = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[:2] == real.stdout.splitlines()[:2]  # "Core:", "  - installed: X.Y.Z"


def test_the_worker_ends_with_the_process_that_started_it(tmp_path):
    """Regression guard: a run process killed with kill -9 must not leave a dbt worker behind."""
    script = (
        "import os, sys; from product_analytics.resources.dbt import DbtWorker; "
        f"w = DbtWorker({{'PA_DUCKDB_PATH': {str(tmp_path / 'warehouse.duckdb')!r}, 'PA_START_DATE': '2026-03-01'}}); "
        "print(w.process.pid, w.socket, flush=True); os._exit(0)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    pid, socket_path = int(out[0]), Path(out[1])
    deadline = time.monotonic() + 120
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(pid)
    assert not socket_path.exists()


LIST = ["ls", "--select", "fct_sessions", "--resource-type", "model", "--output", "name"]


def test_the_resource_routes_its_invocations_through_its_worker(dbt):
    invocation = dbt.cli(LIST, manifest=dbt_project.manifest_path).wait()
    assert invocation.is_successful() and not PARSE_EVENTS & _logged(invocation.target_path)


def test_without_a_worker_the_resource_runs_dbt_itself(tmp_path):
    """Outside a run (no setup_for_execution), the shim starts dbt as the command line would."""
    resource = DbtCli(
        project_dir=dbt_project, dbt_executable=str(DBT_SHIM), warehouse_path=str(tmp_path / "w.duckdb"), start_date="2026-03-01"
    )
    invocation = resource.cli(LIST, manifest=dbt_project.manifest_path).wait()
    assert invocation.is_successful() and PARSE_EVENTS & _logged(invocation.target_path)


def _logged(target: Path) -> set[str]:
    """The names of the events in an invocation's log file (none when dbt stopped at its
    arguments, before it opened one)."""
    log = Path(target) / "dbt.log"
    return {json.loads(line)["info"]["name"] for line in log.read_text().splitlines() if line.startswith("{")} if log.exists() else set()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


def test_a_new_worker_sweeps_the_folders_of_workers_whose_run_was_killed():
    """Regression guard: a run killed with kill -9 left its worker's socket folder in /tmp and
    its target folder in dbt/target, one pair per killed run."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead_pid, live_pid = int(dead.stdout), os.getpid()
    targets = dbt_project.project_dir / dbt_project.target_path
    made = {pid: [Path(tempfile.mkdtemp(prefix=f"pa-dbt-{pid}-")), targets / f"worker-{pid}-test{pid}"] for pid in (dead_pid, live_pid)}
    for folders in made.values():
        folders[1].mkdir()
        for folder in folders:
            (folder / "worker.sock").touch()
    sweep_dead_workers()
    assert not any(folder.exists() for folder in made[dead_pid])
    assert all(folder.exists() for folder in made[live_pid])  # a running process's worker is kept
    for folder in made[live_pid]:
        shutil.rmtree(folder)
