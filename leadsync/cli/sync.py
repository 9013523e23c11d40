"""``leadsync sync``, ``plan``, ``apply`` and ``demo``: thin skins over leadsync.pipeline."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..apply import install_signal_handlers
from ..errors import UsageError
from ..pipeline import SyncRequest, expand_sources, run_job, run_sync
from ..report import RunReport, make_progress, print_summary
from .common import CliContext, command_config_option, pass_cli

F = TypeVar("F", bound=Callable[..., Any])


def sync_options(f: F) -> F:
    """The options ``sync`` and ``plan`` share (PRODUCT.md §6)."""
    decorators = [
        click.argument("sources", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--campaign", help="Campaign name or id (else the file's campaign column)."),
        click.option(
            "--mode",
            type=click.Choice(["add", "upsert", "mirror"]),
            help="add: only add · upsert: add + set statuses (default) · mirror: upsert + remove "
            "leads absent from the file.",
        ),
        click.option(
            "--job", "jobs", multiple=True, help="Run a configured [[jobs]] entry (repeatable)."
        ),
        click.option("--region", help="Default region for numbers without +country (default US)."),
        click.option("--sheet", help="Sheet to read (default the first; * for all)."),
        click.option(
            "--report-dir",
            type=click.Path(path_type=Path, file_okay=False),
            help="Write the report into this folder (default reports/<time>_<name>).",
        ),
        click.option(
            "--allow-mass-delete",
            is_flag=True,
            help="Lift the delete-fraction/count guard for this run (recorded).",
        ),
        command_config_option,
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def _overrides(mode: str | None, region: str | None, sheet: str | None) -> dict[str, Any]:
    return {"sync": {"mode": mode, "region": region, "sheet": sheet}}


def _run_with_signals(fn: Callable[[threading.Event], RunReport]) -> RunReport:
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        return fn(stop)
    finally:
        restore()


@click.command("sync")
@sync_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read live state and report what would change; send no write call.",
)
@pass_cli
def sync_command(
    cli: CliContext,
    sources: tuple[Path, ...],
    campaign: str | None,
    mode: str | None,
    jobs: tuple[str, ...],
    region: str | None,
    sheet: str | None,
    report_dir: Path | None,
    allow_mass_delete: bool,
    command_config: str | None,
    dry_run: bool,
) -> int:
    """Sync SOURCE files (CSV, TSV, TXT, XLSX, XLSM, XLS, ODS, or folders of them) into
    campaigns: add, set statuses, and in mirror mode remove, then verify and report."""
    settings = cli.settings(_overrides(mode, region, sheet))
    if jobs and (sources or campaign or report_dir):
        raise UsageError(
            "--job takes its files, campaign and report folder from the config; "
            "do not give SOURCE, --campaign or --report-dir with it"
        )
    if not jobs and not sources:
        raise UsageError("nothing to sync: give SOURCE files or --job NAME")
    worst = 0
    with make_progress(cli.err_console) as progress:
        if jobs:
            for name in jobs:
                report = _run_with_signals(
                    lambda stop, name=name: run_job(
                        settings,
                        name,
                        cwd=Path.cwd(),
                        dry_run=dry_run,
                        allow_mass_delete=allow_mass_delete,
                        progress=progress,
                        stop=stop,
                    )
                )
                progress.close()
                print_summary(report, cli.console)
                worst = max(worst, report.exit_code)
            return worst
        request = SyncRequest(
            expand_sources(sources),
            campaign=campaign,
            dry_run=dry_run,
            allow_mass_delete=allow_mass_delete,
            report_dir=report_dir,
        )
        report = _run_with_signals(
            lambda stop: run_sync(settings, request, progress=progress, stop=stop)
        )
    print_summary(report, cli.console)
    return report.exit_code


@click.command("demo")
@click.option(
    "--mode",
    type=click.Choice(["add", "upsert", "mirror"]),
    default="upsert",
    show_default=True,
    help="Sync mode for the demo run.",
)
@click.option("--dry-run", is_flag=True, help="Only show what would change.")
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Report folder (default reports/<time>_demo).",
)
@pass_cli
def demo_command(cli: CliContext, mode: str, dry_run: bool, report_dir: Path | None) -> int:
    """Start the embedded sandbox, show its campaigns, sync sample_data/ into it, print the
    summary and where the report is."""
    from ..demo import run_demo

    with make_progress(cli.err_console) as progress:
        report = run_demo(
            cli.console, mode=mode, dry_run=dry_run, report_dir=report_dir, progress=progress
        )
    print_summary(report, cli.console)
    if report.folder is not None:
        cli.console.print(f"open {report.folder / 'report.html'} to see every row")
    return report.exit_code


COMMANDS: list[click.Command] = [sync_command, demo_command]
