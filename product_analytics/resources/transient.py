"""Which failures a step retries: only those that may pass by themselves.

A warehouse locked by a process outside Dagster, or an I/O error the operating system
calls temporary, is retried (``STEP_RETRIES`` times, after waiting as long as the lock
timeout). Anything else (a failed dbt test, bad SQL, bad configuration, a bug) fails the
step at once: retrying it would fail the same way and alert again. Whole runs are
retried only when their process died (``dagster.yaml``: ``retry_on_asset_or_op_failure:
false``).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import RetryRequested

from product_analytics.resources.warehouse import WarehouseLockedError

STEP_RETRIES = 2
TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.EIO, errno.ETIMEDOUT})


def is_transient(error: BaseException) -> bool:
    if isinstance(error, WarehouseLockedError):
        return True
    return isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS


@contextmanager
def retried_when_transient(seconds_to_wait: float) -> Iterator[None]:
    """Turn a transient failure of the enclosed work into a retry of the step."""
    try:
        yield
    except Exception as error:
        if is_transient(error):
            raise RetryRequested(max_retries=STEP_RETRIES, seconds_to_wait=seconds_to_wait) from error
        raise
