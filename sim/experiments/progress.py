"""A terminal progress bar for experiments: runs done of total, elapsed time and an ETA."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(label: str, total: int, show: bool | None = None) -> Iterator[Callable[[], None]]:
    """A callback to call once per finished run; it draws a bar on stderr.

    `show=None` draws it only when stderr is a terminal, so logs, pipes and notebooks stay clean.
    """
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield lambda: None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task(label, total=total)
    progress.start()
    try:
        yield lambda: progress.advance(task)
    finally:
        progress.stop()
