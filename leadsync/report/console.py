"""What a person sees in the terminal: the summary table and the per-stage progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..errors import ExitCode
from ..models import COUNT_KEYS, Count
from .model import RunReport
from .words import COUNT_LABELS, COUNT_SHORT, MAX_CAMPAIGN_COLUMNS, card_keys

#: Seconds between two plain progress lines of one stage (when not on a terminal).
PLAIN_PROGRESS_INTERVAL_S = 5.0


def summary_table(report: RunReport) -> Table:
    """A rich table of the counts that matter for this run, with the totals.

    With few campaigns, one line per count and a column per campaign (fits an 80-column
    terminal); with many, one line per campaign.
    """
    totals = report.totals()
    keys = card_keys(report)
    keys += [k for k in (Count.REMOTE_BEFORE, Count.REMOTE_AFTER) if totals[k]]
    ordered = [k for k in COUNT_KEYS if k in keys]
    counts = report.campaign_counts()
    columns = list(counts.items())
    if len(counts) != 1:
        columns.append(("total", totals))
    table = Table(title=f"leadsync {report.command}", title_justify="left")
    if len(counts) <= MAX_CAMPAIGN_COLUMNS:
        table.add_column("")
        for name, _ in columns:
            table.add_column(Text(name), justify="right", style="bold" if name == "total" else None)
        for key in ordered:
            table.add_row(COUNT_LABELS[key], *(f"{c[key]:,}" for _, c in columns))
        return table
    table.add_column("campaign", style="bold")
    for key in ordered:
        table.add_column(COUNT_SHORT[key], justify="right")
    for name, row in columns:
        table.add_row(
            name, *(f"{row[k]:,}" for k in ordered), style="bold" if name == "total" else None
        )
    return table


def print_summary(report: RunReport, console: Console, folder: Path | None = None) -> None:
    """Print the summary table, the outcome sentence and the report folder (``folder``, else
    ``report.folder`` when the report was written)."""
    folder = folder or report.folder
    console.print(summary_table(report))
    code = report.exit_code
    style = "green" if code == ExitCode.OK else "yellow" if code == ExitCode.FAILED else "red"
    console.print(Text(report.headline(), style=f"bold {style}"))
    for message in report.messages:
        console.print(Text(f"• {message}"))
    console.print(Text(f"exit code {report.exit_code}: {report.exit_meaning()}", style="dim"))
    if folder is not None:
        console.print(Text("report: ", style="dim") + Text(str(folder)))


class StageProgress:
    """``progress(stage, done, total)``: a rich bar per stage on a terminal, else a plain line
    per stage at most every :data:`PLAIN_PROGRESS_INTERVAL_S` seconds (and when it finishes;
    never for ``done == 0``).

    ``total`` may be None or 0 when unknown. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = PLAIN_PROGRESS_INTERVAL_S,
    ) -> None:
        self.console = console
        self.clock = clock
        self.interval_s = interval_s
        self._tasks: dict[str, TaskID] = {}
        self._last_line: dict[str, float] = {}
        self._finished: set[str] = set()
        self._progress: Progress | None = None
        if console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._progress.start()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self._progress is not None:
            task = self._tasks.get(stage)
            if task is None:
                task = self._progress.add_task(stage, total=total or None)
                self._tasks[stage] = task
            self._progress.update(task, completed=done, total=total or None)
            return
        finished = bool(total) and done >= (total or 0)
        if stage in self._finished or (done == 0 and not finished):
            return  # a start line says nothing a log reader needs
        now = self.clock()
        last = self._last_line.get(stage)
        if finished or last is None or now - last >= self.interval_s:
            self._last_line[stage] = now
            if finished:
                self._finished.add(stage)
            where = f"{done:,}/{total:,} ({100 * done / total:.0f}%)" if total else f"{done:,}"
            self.console.print(f"{stage}: {where}", markup=False, highlight=False)

    def close(self) -> None:
        """Stop the live display (a no-op for plain lines)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: A progress callable ``(stage, done, total)`` for a console.
make_progress = StageProgress
