"""Pictures on asset pages: a chart a materialization carries, visible without a click.

Dagster's asset page renders a short markdown metadata entry in place, but its markdown
keeps only images served over http(s) or from the webserver's own paths (no ``data:``
URIs). So a picture is written as a PNG file into the instance's compute-log storage,
which the webserver serves under ``/logs/<key...>/<extension>``, and the entry is a
markdown image of that path: ``![title](/logs/pictures/<run id>/<name>/png)``. Each
run's pictures have a folder of their own, so an older materialization keeps showing
the picture it was made with.

An instance whose compute logs are not on local disk cannot serve the file: the picture
is then kept in the data folder and the entry gives its path.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterInstance, MetadataValue
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from product_analytics.config import settings

PICTURES = "pictures"  # the first part of a picture's key in the compute-log storage


def picture_path(instance: DagsterInstance, run_id: str, name: str) -> Path | None:
    """Where the webserver finds the picture ``name`` of run ``run_id``, if it can serve one."""
    manager = instance.compute_log_manager
    if not isinstance(manager, LocalComputeLogManager):
        return None
    return Path(manager.get_captured_local_path([PICTURES, run_id, name], "png"))


def picture(instance: DagsterInstance, run_id: str, name: str, png: bytes, title: str) -> MetadataValue:
    """Keep ``png`` as run ``run_id``'s picture ``name``; the metadata entry that shows it."""
    if not name.isidentifier():
        raise ValueError(f"a picture's name is a plain identifier, not {name!r}")
    served = picture_path(instance, run_id, name)
    path = served or settings().data_dir / PICTURES / run_id / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".png.partial")
    partial.write_bytes(png)
    os.replace(partial, path)  # whole or absent: the page never shows half a file
    if served is None:
        return MetadataValue.path(str(path))
    return MetadataValue.md(f"![{title}](/logs/{PICTURES}/{run_id}/{name}/png)")
