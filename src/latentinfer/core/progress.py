"""A Rich progress bar for training: steps, loss and throughput."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["TrainProgress"]


class TrainProgress:
    """Progress over optimiser steps; a no-op when disabled.

    Args:
        total: the number of steps planned (an upper bound when early stopping may end
            the run sooner).
        enabled: show the bar; ``None`` shows it when stderr is a terminal.
        description: the label on the left.
        completed: steps already done (when resuming).
    """

    def __init__(
        self,
        total: int,
        *,
        enabled: bool | None = None,
        description: str = "training",
        completed: int = 0,
    ) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress: Progress | None = None
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[rate]} rows/s"),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task(
                description, total=total, completed=completed, loss="-", rate="-", note=""
            )

    def __enter__(self) -> TrainProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(
        self, step: int, *, loss: float | None = None, rate: float | None = None, note: str = ""
    ) -> None:
        """Move the bar to ``step`` and show the latest loss, rows per second and a note."""
        if self._progress is None:
            return
        fields: dict[str, Any] = {"note": note}
        if loss is not None:
            fields["loss"] = f"{loss:.4g}"
        if rate is not None:
            fields["rate"] = f"{rate:,.0f}"
        self._progress.update(self._task, completed=step, **fields)

    def finish(self, step: int) -> None:
        """Mark the run finished at ``step`` (early stopping ends before the planned total)."""
        if self._progress is not None:
            self._progress.update(self._task, total=step, completed=step)
