"""A long import's progress on the terminal: one bar per phase (reading, checking, writing)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bars

from bot.core.i18n import N_, Translator
from bot.services.importer import Phase, Progress

PHASE_LABELS = {
    Phase.READ: N_("Reading the file"),
    Phase.CHECK: N_("Checking every row"),
    Phase.WRITE: N_("Writing to the database"),
}


@contextmanager
def import_progress(t: Translator, stream: TextIO | None = None) -> Iterator[Progress | None]:
    """Yields a listener drawing the bars on `stream` (stderr) when it is a terminal, else None.

    Piped output, scripts, tests and CI see no bars, only the report.
    """
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        yield None
        return
    bars = Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
    )
    tasks: dict[Phase, TaskID] = {}

    def listen(phase: Phase, done: int, total: int | None) -> None:
        """Moves the phase's bar (a phase not seen yet gets its bar)."""
        task = tasks.get(phase)
        if task is None:
            task = tasks[phase] = bars.add_task(t(PHASE_LABELS[phase]), total=total)
        bars.update(task, completed=done, total=total)

    with bars:
        yield listen
