"""dbt's command line, served by the run's warm dbt worker (``dbt_worker.py``).

Started as ``python -S dbt_worker_client.py ARGS...`` by the ``dbt`` shim of the dbt
resource, so it imports nothing but the standard library: it sends its arguments,
environment and working folder to the worker at ``PA_DBT_WORKER_SOCKET``, copies dbt's
output to its own, forwards Ctrl-C and SIGTERM to the invocation, and exits with dbt's
exit code. When no worker listens there any more, it becomes dbt itself
(``PA_DBT_EXECUTABLE``). ``--version`` is answered here (``PA_DBT_VERSION``), as dbt would answer it.
"""

import json
import os
import signal
import socket
import sys

MARK = b"\0"


def main(argv: list[str]) -> int:
    if argv == ["--version"]:
        print(f"Core:\n  - installed: {os.environ['PA_DBT_VERSION']}")
        return 0
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(os.environ["PA_DBT_WORKER_SOCKET"])
    except OSError:  # the worker is gone (it failed, or was stopped): dbt itself
        executable = os.environ.get("PA_DBT_EXECUTABLE", "dbt")
        os.execvp(executable, [executable, *argv])
    request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}
    connection.sendall(json.dumps(request).encode() + b"\n")
    invocation = None

    def forward(signum, _frame):
        if invocation is not None:
            os.kill(invocation, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    out = sys.stdout.buffer
    for line in connection.makefile("rb"):
        text, mark, tail = line.partition(MARK)
        if not mark:
            out.write(line)
            out.flush()
            continue
        if text:  # dbt's last output had no newline of its own
            out.write(text + b"\n")
            out.flush()
        word, _, value = tail.strip().partition(b" ")
        if word == b"pid":
            invocation = int(value)
        elif word == b"exit":
            return int(value)
    print("dbt worker: the connection closed before dbt's exit code", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
