"""``leadsync jobs``: the configured jobs, how each last ran, and whether one is running now."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ExitCode
from .common import CliContext, command_config_option, pass_cli

if TYPE_CHECKING:
    from rich.table import Table

NO_VALUE = "-"
#: Short meanings for the table (``--json`` carries the full sentence of jobs.EXIT_MEANINGS).
EXIT_LABELS: dict[int, str] = {
    ExitCode.OK: "done",
    ExitCode.FAILED: "failed ops / residual",
    ExitCode.BAD_INPUT: "bad input/config",
    ExitCode.REFUSED: "refused by a guard",
    ExitCode.UNREACHABLE: "API unreachable",
    ExitCode.LOCKED: "locked",
}


def _last_run_cells(run: dict[str, Any] | None) -> tuple[str, str, str]:
    """(time, exit code with its meaning, totals) of a job's last run."""
    from ..jobs.folders import format_totals

    if run is None:
        return "never", NO_VALUE, NO_VALUE
    when = str(run["time"] or NO_VALUE)
    if run["unfinished_newer"]:
        when += f"\n(+{run['unfinished_newer']} newer without summary)"
    if run["dry_run"]:
        when += "\n(dry run)"
    code = run["exit_code"]
    totals = format_totals(run["totals"]).replace(", ", "\n")
    return when, f"{code} {EXIT_LABELS.get(code, 'unknown')}", totals or NO_VALUE


def _lock_cell(lock: dict[str, Any] | None) -> str:
    if lock is None:
        return NO_VALUE
    state = lock["state"] if lock["state"] in ("running", "stale") else "held"
    return f"{state}: pid {lock['pid']} on {lock['hostname']}\nsince {lock['started_at']}"


def jobs_table(rows: Sequence[dict[str, Any]]) -> Table:
    """One line per job: name, sources, campaign, mode, last run, exit code, totals, lock."""
    from rich.table import Table

    table = Table(title=f"{len(rows)} job(s)")
    for header in ("Job", "Sources", "Campaign", "Mode", "Last run", "Exit", "Totals", "Lock"):
        table.add_column(header, overflow="fold", no_wrap=header in ("Job", "Mode"))
    for row in rows:
        table.add_row(
            row["name"],
            "\n".join(row["sources"]),
            row["campaign"] or "(from file)",
            row["mode"],
            *_last_run_cells(row["last_run"]),
            _lock_cell(row["lock"]),
        )
    return table


@click.command("jobs")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as a JSON list.")
@command_config_option
@pass_cli
def jobs_command(cli: CliContext, as_json: bool) -> int:
    """List the configured [[jobs]]: sources, campaign, mode, and how each last ran
    (time, exit code and its meaning, totals) from its newest report's summary.json."""
    from ..jobs.folders import job_status

    settings = cli.settings()
    rows = [job_status(settings, job.name, cwd=Path.cwd()) for job in settings.jobs]
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
    elif not rows:
        where = settings.config_path or "no config file found"
        cli.console.print(
            f"No jobs configured ({where}). Add a [[jobs]] section to the config.", markup=False
        )
    else:
        cli.console.print(jobs_table(rows))
    return 0


COMMANDS: list[click.Command] = [jobs_command]
