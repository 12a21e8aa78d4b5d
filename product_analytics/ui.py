"""The Dagster UI as a program drives it: `dagster dev` in a subprocess and its GraphQL API.

The demo launches its backfill through this API exactly as the UI's *Materialize →
backfill* does; the UI tests use it to check the asset graph and launch runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from product_analytics.config import PROJECT_ROOT


class UIError(RuntimeError):
    """The server did not start, or a GraphQL call returned an error."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


LOCATION_STATUS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on RepositoryLocation { repositories { name } } ... on PythonError { message } }
} } } }
"""

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
  }
}
"""

BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status error { message } runs(limit: 100) { runId status } }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
  }
}
"""

RUN_STATUS = """
query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } ... on PythonError { message } } }
"""

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


class DagsterUI:
    """`dagster dev -w workspace.yaml` on 127.0.0.1, for the Dagster home ``home``.

    Use as a context manager: the server (webserver and daemon) is started, the code
    location waited for, and everything stopped on exit. Its output goes to ``log_file``.
    """

    def __init__(self, home: Path, log_file: Path, port: int | None = None, env: dict[str, str] | None = None):
        self.home = home
        self.log_file = log_file
        self.port = port or free_port()
        self.env = {**(env or os.environ), "DAGSTER_HOME": str(home)}
        bin_dir = str(Path(sys.prefix) / "bin")  # dbt and dagster of this environment, for every subprocess
        self.env["PATH"] = bin_dir + os.pathsep + self.env.get("PATH", "")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DagsterUI:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 240.0) -> None:
        dagster = Path(sys.prefix) / "bin" / "dagster"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=PROJECT_ROOT,
            env=dagster_dev_environment(self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the webserver, the daemon and code servers
            preexec_fn=_default_signals,
        )
        log.close()
        try:
            self.wait_for_location(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60.0) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise UIError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def wait_for_location(self, timeout: float) -> dict:
        """Wait until the code location has loaded; returns its entry."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise UIError(f"dagster dev exited with {self.process.returncode}; see {self.log_file}")
            try:
                entries = self.graphql(LOCATION_STATUS, timeout=10)["workspaceOrError"].get("locationEntries") or []
            except (urllib.error.URLError, ConnectionError, TimeoutError, UIError) as exc:
                last = str(exc)
            else:
                loaded = [e for e in entries if e["loadStatus"] == "LOADED"]
                if loaded:
                    error = loaded[0]["locationOrLoadError"]
                    if error["__typename"] == "PythonError":
                        raise UIError(f"the code location failed to load: {error['message']}")
                    return loaded[0]
                last = f"location status {[e['loadStatus'] for e in entries]}"
            time.sleep(1)
        raise UIError(f"the code location did not load within {timeout:.0f}s ({last}); see {self.log_file}")

    def location(self) -> tuple[str, str]:
        """(location name, repository name) of the single code location."""
        entry = self.wait_for_location(10)
        return entry["name"], entry["locationOrLoadError"]["repositories"][0]["name"]

    def launch_job_backfill(self, job: str, partitions: list[str], title: str) -> str:
        """A backfill of a partitioned job, as *Jobs → job → Materialize → backfill* launches it.
        The job's assets have a single-run backfill policy, so a range is one run."""
        location, repository = self.location()
        params = {
            "selector": {
                "partitionSetName": f"{job}_partition_set",
                "repositorySelector": {"repositoryLocationName": location, "repositoryName": repository},
            },
            "partitionNames": partitions,
            "title": title,
        }
        result = self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise UIError(f"the backfill was not launched: {result}")
        return result["backfillId"]

    def launch_backfill(self, asset_keys: list[list[str]], partitions: list[str], title: str, tags: dict[str, str] | None = None) -> str:
        params = {
            "assetSelection": [{"path": key} for key in asset_keys],
            "partitionNames": partitions,
            "title": title,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        result = self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise UIError(f"the backfill was not launched: {result}")
        return result["backfillId"]

    def wait_for_backfill(self, backfill_id: str, timeout: float, on_wait=None) -> dict:
        """Wait until the backfill and all its runs are finished; returns the backfill."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            backfill = self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            if backfill["__typename"] != "PartitionBackfill":
                raise UIError(f"backfill {backfill_id}: {backfill}")
            runs_done = all(run["status"] in FINISHED for run in backfill["runs"])
            if backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED") and runs_done:
                return backfill
            if on_wait:
                on_wait(backfill)
            time.sleep(2)
        raise UIError(f"backfill {backfill_id} did not finish within {timeout:.0f}s")

    def launch_run(self, job: str, asset_keys: list[list[str]] | None = None, tags: dict[str, str] | None = None) -> str:
        location, repository = self.location()
        selector = {"repositoryLocationName": location, "repositoryName": repository, "jobName": job}
        if asset_keys is not None:
            selector["assetSelection"] = [{"path": key} for key in asset_keys]
        params = {"selector": selector, "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}}
        result = self.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise UIError(f"the run was not launched: {result}")
        return result["run"]["runId"]

    def wait_for_run(self, run_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
            if status in FINISHED:
                return status
            time.sleep(1)
        raise UIError(f"run {run_id} did not finish within {timeout:.0f}s")


# How long `make ui` waits for Dagster's own shutdown before it kills what is left.
STOP_GRACE_SECONDS = 10.0


def _default_signals() -> None:
    """In the child, before exec: Ctrl-C and SIGTERM stop it, whatever the launching shell
    ignored (a shell without job control ignores SIGINT in background commands, and Dagster
    maps SIGTERM to whatever SIGINT does)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# `dagster dev` warns on every start that the `dg` command line supersedes it; `dg` is
# another package (dagster-dg-cli) and `dagster dev` is Dagster 1.13's supported way to run
# the webserver and the daemon together. That one warning, by its text, is not shown.
DEV_SUPERSESSION_WARNING = "ignore:Function `dev_command` is superseded"


def dagster_dev_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for `dagster dev`, with its supersession warning silenced (and any warning
    filter already set kept)."""
    filters = [f for f in (env.get("PYTHONWARNINGS", ""), DEV_SUPERSESSION_WARNING) if f]
    return {**env, "PYTHONWARNINGS": ",".join(filters)}


def serve(args: list[str]) -> int:
    """`make ui`: `dagster dev -w workspace.yaml` (with ``args``) until Ctrl-C, SIGTERM or the
    end of the process that started this one (make); then the webserver, the daemon, the
    code servers and the runs they started are stopped, and after ``STOP_GRACE_SECONDS``
    killed: no process is left."""
    stop_requested: list[int] = []
    signal.signal(signal.SIGINT, lambda number, frame: stop_requested.append(number))
    signal.signal(signal.SIGTERM, lambda number, frame: stop_requested.append(number))
    parent = os.getppid()
    dagster = Path(sys.prefix) / "bin" / "dagster"
    env = {**os.environ, "PATH": str(Path(sys.prefix) / "bin") + os.pathsep + os.environ.get("PATH", "")}
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), *args],
        cwd=PROJECT_ROOT,
        env=dagster_dev_environment(env),
        start_new_session=True,  # one process group holding everything Dagster starts
        preexec_fn=_default_signals,
    )
    while process.poll() is None and not stop_requested and os.getppid() == parent:
        time.sleep(0.2)
    if process.poll() is not None:
        return process.returncode
    print("\nstopping Dagster: webserver, daemon, code servers and their runs", flush=True)
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    try:  # whatever did not stop in time, and the children of processes that did
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    print("Dagster stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
