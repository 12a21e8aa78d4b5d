"""`make ui` stops on Ctrl-C and on SIGTERM, also when the signal reaches make only, with no
process of Dagster left (product_analytics.ui.serve)."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from product_analytics.config import PROJECT_ROOT
from product_analytics.instance import ensure_dagster_home
from product_analytics.ui import free_port


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_until_served(port: int, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"the UI did not answer on port {port} within {timeout:.0f}s")


@pytest.mark.parametrize("signalled", ["Ctrl-C to the foreground group", "SIGTERM to make alone"])
def test_make_ui_stops_within_seconds_and_leaves_no_process(tmp_path, signalled):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(ensure_dagster_home(tmp_path / "home")), "PA_DATA_DIR": str(tmp_path / "data")}
    env.pop("PA_DUCKDB_PATH", None)
    # `sh` stands for make: the serving process is its child, as in the Makefile's recipe
    command = f"'{sys.executable}' -m product_analytics.ui -h 127.0.0.1 -p {port}; exit $?"
    terminal = tmp_path / "terminal.log"
    with terminal.open("wb") as out:
        shown = {"stdout": out, "stderr": subprocess.STDOUT}  # what the terminal would show
        make = subprocess.Popen(["sh", "-c", command], cwd=PROJECT_ROOT, env=env, start_new_session=True, **shown)
    dagster = None
    try:
        _wait_until_served(port)
        server = int(subprocess.run(["pgrep", "-P", str(make.pid)], capture_output=True, text=True).stdout.split()[0])
        dagster = int(subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True).stdout.split()[0])
        assert os.getpgid(dagster) == dagster  # dagster dev leads the group of everything it starts
        started = time.monotonic()
        if signalled.startswith("Ctrl-C"):
            os.killpg(make.pid, signal.SIGINT)  # what the terminal sends to the foreground job
        else:
            os.kill(make.pid, signal.SIGTERM)  # make dies without passing it on
        # Dagster's shutdown, then SIGKILL after STOP_GRACE_SECONDS (10 s) for what is left, then
        # the serving process's own exit (it outlives Dagster's group by a moment)
        while (_group_alive(dagster) or make.poll() is None or _group_alive(make.pid)) and time.monotonic() - started < 30:
            time.sleep(0.2)
        assert not _group_alive(dagster), "a process of Dagster is left 30 s after the signal"
        assert make.poll() is not None and not _group_alive(make.pid), "the command did not end"
        # no Python warning on the terminal (Dagster's beta APIs, `dagster dev`'s supersession)
        printed = terminal.read_text(errors="replace")
        assert "Serving dagster-webserver" in printed and re.findall(r"\w+Warning: .*", printed) == []
    finally:
        for group in (make.pid, dagster):
            if group is not None and _group_alive(group):
                os.killpg(group, signal.SIGKILL)
        make.wait()
