"""``leadsync sync``, ``plan``, ``apply`` and ``demo``: thin skins over leadsync.run.pipeline."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import LeadsyncError, UsageError
from .common import (
    CliContext,
    command_config_option,
    pass_cli,
    region_option,
    replace_report_option,
    report_dir_option,
    sheet_option,
)

if TYPE_CHECKING:
    from ..report import RunReport
    from ..run.state import SyncRequest


@dataclass(frozen=True)
class SyncArgs:
    """The arguments ``sync`` and ``plan`` share (:func:`sync_options` collects them)."""

    sources: tuple[Path, ...]
    campaign: str | None
    mode: str | None
    jobs: tuple[str, ...]
    region: str | None
    sheet: str | None
    report_dir: Path | None
    replace_report: bool
    allow_mass_delete: bool

    def settings(self, cli: CliContext) -> Any:
        return cli.settings(
            {"sync": {"mode": self.mode, "region": self.region, "sheet": self.sheet}}
        )

    def request(self, **more: Any) -> SyncRequest:
        """The request of these arguments (``more``: ``dry_run``, ``plan_out``)."""
        from ..run.pipeline import SyncRequest, expand_sources

        return SyncRequest(
            expand_sources(self.sources),
            campaign=self.campaign,
            allow_mass_delete=self.allow_mass_delete,
            report_dir=self.report_dir,
            replace_report=self.replace_report,
            **more,
        )


def sync_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``sync`` and ``plan`` share (docs/design.md, 'Configuration'), handed to
    the command as one :class:`SyncArgs` named ``args``."""

    @functools.wraps(f)
    def collect(*a: Any, **kw: Any) -> Any:
        args = SyncArgs(**{name: kw.pop(name) for name in SyncArgs.__dataclass_fields__})
        return f(*a, args=args, **kw)

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
        region_option,
        sheet_option,
        report_dir_option("reports/<time>_<name>"),
        replace_report_option,
        click.option(
            "--allow-mass-delete",
            is_flag=True,
            help="Lift the delete-fraction/count guard for this run (recorded).",
        ),
        command_config_option,
    ]
    command: Callable[..., Any] = collect
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _progress(cli: CliContext) -> Any:
    """A progress display on stderr, except with ``--log-format json`` (log shippers get JSON
    lines only) or ``-q``."""
    if cli.log_format == "json" or cli.quiet:
        return contextlib.nullcontext(None)
    from ..report import make_progress

    return make_progress(cli.err_console)


def _run_with_signals(run: Callable[..., RunReport], *args: Any, **kwargs: Any) -> RunReport:
    """``run(*args, **kwargs, stop=event)``, where SIGINT and SIGTERM set the event (the apply
    then stops starting calls and reports what it did)."""
    from ..apply import install_signal_handlers

    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        return run(*args, **kwargs, stop=stop)
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
def sync_command(cli: CliContext, args: SyncArgs, dry_run: bool) -> int:
    """Sync SOURCE files (CSV, TSV, TXT, XLSX, XLSM, XLS, ODS, or folders of them) into
    campaigns: add, set statuses, and in mirror mode remove, then verify and report."""
    from ..report import print_summary
    from ..run.pipeline import run_sync

    settings = args.settings(cli)
    if args.jobs and (args.sources or args.campaign or args.report_dir or args.replace_report):
        raise UsageError(
            "--job takes its files, campaign and report folder from the config; "
            "do not give SOURCE, --campaign or --report-dir with it"
        )
    if not args.jobs and not args.sources:
        raise UsageError("nothing to sync: give SOURCE files or --job NAME")
    with _progress(cli) as progress:
        if args.jobs:
            return _run_jobs(cli, settings, args, dry_run, progress)
        request = args.request(dry_run=dry_run)
        report = _run_with_signals(run_sync, settings, request, progress=progress)
    print_summary(report, cli.console)
    return report.exit_code


def _run_jobs(cli: CliContext, settings: Any, args: SyncArgs, dry_run: bool, progress: Any) -> int:
    """Run each of ``args.jobs`` in turn; one job's failure does not stop the others. Returns
    the highest exit code (the most serious outcome)."""
    from ..jobs.runner import run_job
    from ..report import print_summary

    worst = 0
    for name in args.jobs:
        try:
            report = _run_with_signals(
                run_job,
                settings,
                name,
                cwd=Path.cwd(),
                dry_run=dry_run,
                allow_mass_delete=args.allow_mass_delete,
                progress=progress,
            )
        except LeadsyncError as err:
            cli.err_console.print(f"job {name}: error: {err}", markup=False, highlight=False)
            worst = max(worst, int(err.exit_code))
            continue
        if progress is not None:
            progress.close()
        print_summary(report, cli.console)
        worst = max(worst, report.exit_code)
    return worst


@click.command("plan")
@sync_options
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to save the reviewed plan (JSON).",
)
@pass_cli
def plan_command(cli: CliContext, args: SyncArgs, out: Path) -> int:
    """Make a reviewed plan: a dry run of `sync` that also saves the exact operations, the
    input files' hashes, the settings and each campaign's fingerprint to --out, for
    `leadsync apply` after review."""
    from ..report import print_summary
    from ..run.pipeline import run_sync

    if args.jobs:
        raise UsageError("plan takes SOURCE files, not --job")
    if not args.sources:
        raise UsageError("nothing to plan: give SOURCE files")
    settings = args.settings(cli)
    request = args.request(dry_run=True, plan_out=out)
    with _progress(cli) as progress:
        report = run_sync(settings, request, progress=progress)
    print_summary(report, cli.console)
    if report.exit_code == 0:
        cli.console.print(f"plan saved to {out}; apply it with: leadsync apply {out}")
    return report.exit_code


@click.command("apply")
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@report_dir_option("reports/<time>_apply-<plan>")
@replace_report_option
@click.option(
    "--replan",
    is_flag=True,
    help="Do not apply: make a fresh plan from the same "
    "files and the campaigns' current state, and show how it differs.",
)
@command_config_option
@pass_cli
def apply_command(
    cli: CliContext,
    plan_file: Path,
    report_dir: Path | None,
    replace_report: bool,
    replan: bool,
) -> int:
    """Apply a reviewed plan exactly as saved by `leadsync plan`. Refuses (exit 3, nothing
    written) when a campaign changed since the plan was made or the plan was already applied."""
    from ..report import print_summary
    from ..run.pipeline import run_apply

    settings = cli.settings()
    if replan:
        return _replan(cli, settings, plan_file, report_dir, replace_report)
    with _progress(cli) as progress:
        report = _run_with_signals(
            run_apply,
            settings,
            plan_file,
            report_dir=report_dir,
            replace_report=replace_report,
            progress=progress,
        )
    print_summary(report, cli.console)
    return report.exit_code


def _replan(
    cli: CliContext,
    settings: Any,
    plan_file: Path,
    report_dir: Path | None,
    replace_report: bool,
) -> int:
    from rich.table import Table

    from ..report import print_summary
    from ..run.pipeline import SyncRequest, expand_sources, run_sync
    from ..run.planfile import load_plan
    from ..run.reviewed import plan_difference

    saved = load_plan(plan_file)
    fresh = plan_file.with_name(f"{plan_file.stem}.replanned.json")
    request = SyncRequest(
        expand_sources([Path(s.path) for s in saved.sources]),
        dry_run=True,
        report_dir=report_dir,
        replace_report=replace_report,
        plan_out=fresh,
        campaign=saved.meta.get("campaign"),
    )
    with _progress(cli) as progress:
        report = run_sync(settings, request, progress=progress)
    print_summary(report, cli.console)
    if report.exit_code != 0:
        return report.exit_code
    table = Table(title="saved plan vs a fresh plan")
    for column in ("operation", str(plan_file.name), "fresh"):
        table.add_column(column, justify="right" if column != "operation" else "left")
    for what, old, new in plan_difference(saved.plan, load_plan(fresh).plan):
        table.add_row(what, str(old), str(new))
    cli.console.print(table)
    cli.console.print(f"fresh plan saved to {fresh}; review it, then: leadsync apply {fresh}")
    return 0


@click.command("demo")
@click.option(
    "--mode",
    type=click.Choice(["add", "upsert", "mirror"]),
    default="upsert",
    show_default=True,
    help="Sync mode for the demo run.",
)
@click.option("--dry-run", is_flag=True, help="Only show what would change.")
@report_dir_option("reports/<time>_demo", "Report folder")
@pass_cli
def demo_command(cli: CliContext, mode: str, dry_run: bool, report_dir: Path | None) -> int:
    """Start the embedded sandbox, show its campaigns, sync sample_data/ into it, print the
    summary and where the report is."""
    from ..report import print_summary
    from .demo import run_demo

    with _progress(cli) as progress:
        report = run_demo(
            cli.console, mode=mode, dry_run=dry_run, report_dir=report_dir, progress=progress
        )
    print_summary(report, cli.console)
    if report.folder is not None:
        cli.console.print(f"open {report.folder / 'report.html'} to see every row")
    return report.exit_code


COMMANDS: list[click.Command] = [sync_command, plan_command, apply_command, demo_command]
