"""A warm dbt for the length of a run: dbt imported and the project parsed once, then each
invocation a fork of that process.

A dbt process spends about 3.5 s importing dbt and 1 to 2 s parsing the project before it
touches a model, and a run starts several (the daily models, the rest, one per older
snapshot image). The worker pays that once, when the run's dbt resource starts (in the
background, while ingestion works), and serves every invocation of the run by forking:
each invocation is still a process of its own, with its own environment, working folder,
DuckDB connection and exit code, exactly as the command line gives them, but it starts in
milliseconds.

    python -m product_analytics.resources.dbt_worker FD KEEP

FD is a listening Unix socket, bound by the resource before it starts the worker. The
environment of this process is that of the parse (profile, ``PA_START_DATE``,
``DBT_TARGET_PATH`` with a warm ``partial_parse.msgpack``); the parse's own
``partial_parse.msgpack`` is then kept at KEEP, where the next run starts from. Its
standard input is the lifeline: when it closes (the run's process ended, or died), the
worker exits.

The protocol, one connection per invocation (``dbt_worker_client.py`` is the other end):
the client sends one JSON line ``{"argv": [...], "env": {...}, "cwd": "..."}``; the worker
answers with the line ``\\0pid N``, then dbt's own output, then the line ``\\0exit CODE``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import traceback
from pathlib import Path

# What dbt reads from the environment when it parses (dbt_project.yml's start_date, and the
# warehouse file whose stem is the database name in the manifest): an invocation whose
# values differ is not served the parsed manifest, and parses for itself.
PARSE_ENVIRONMENT = ("PA_START_DATE", "PA_DUCKDB_PATH")
MARK = "\0"


def parse_project(project_dir: str, profiles_dir: str, keep: Path):
    """The project's manifest, parsed once; None when parsing fails (each invocation then
    parses for itself and reports the error as dbt does)."""
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke(["parse", "--project-dir", project_dir, "--profiles-dir", profiles_dir, "--quiet"])
    if not parsed.success:
        return None
    produced = Path(os.environ["DBT_TARGET_PATH"]) / "partial_parse.msgpack"
    if produced.exists():
        staging = keep.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(produced, staging)
        os.replace(staging, keep)
    return parsed.result


def exit_code(result) -> int:
    """The dbt command line's exit code for a dbtRunner result (0 success, 1 a failed node,
    2 an error before or around the nodes)."""
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def invoke(connection: socket.socket, request: dict, manifest) -> None:
    """In the forked child: become the requested dbt process and exit with its code."""
    from dbt.cli.main import dbtRunner

    connection.sendall(f"{MARK}pid {os.getpid()}\n".encode())
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(connection.fileno(), 1)
    os.dup2(connection.fileno(), 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    code = 2
    try:
        result = dbtRunner(manifest=manifest).invoke(list(request["argv"]))
        code = exit_code(result)
    except BaseException:  # noqa: BLE001 - the child reports every failure as dbt's exit code 2
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(listener: socket.socket, manifest, parse_environment: dict[str, str | None]) -> None:
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1024):
            return  # the lifeline closed
        if listener not in ready:
            continue
        connection, _ = listener.accept()
        with connection:
            request = json.loads(connection.makefile("rb").readline())
            same_parse = all(request["env"].get(name) == value for name, value in parse_environment.items())
            pid = os.fork()
            if pid == 0:
                listener.close()
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                invoke(connection, request, manifest if same_parse else None)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            connection.sendall(f"{MARK}exit {code if code >= 0 else 128 - code}\n".encode())


def main(listening_fd: int, keep: str) -> int:
    listener = socket.socket(fileno=listening_fd)
    # A signal meant for the run (Ctrl-C) reaches the invocation through its client; the
    # worker itself ends with its lifeline.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    manifest = parse_project(os.environ["DBT_PROJECT_DIR"], os.environ["DBT_PROFILES_DIR"], Path(keep))
    serve(listener, manifest, {name: os.environ.get(name) for name in PARSE_ENVIRONMENT})
    path = listener.getsockname()
    listener.close()
    with contextlib.suppress(OSError):  # the socket, and its folder when nothing else is in it
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2]))
