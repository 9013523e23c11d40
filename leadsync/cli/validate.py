"""``leadsync validate``: check files offline (no API call) and write the report folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from .common import (
    CliContext,
    command_config_option,
    pass_cli,
    region_option,
    replace_report_option,
    report_dir_option,
    sheet_option,
)


@click.command("validate")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@region_option
@sheet_option
@click.option("--campaign", help="Campaign for rows whose file names none (not checked: offline).")
@report_dir_option("reports/<time>_<first file>")
@replace_report_option
@command_config_option
@pass_cli
def validate_command(
    cli: CliContext,
    sources: tuple[Path, ...],
    region: str | None,
    sheet: str | None,
    campaign: str | None,
    report_dir: Path | None,
    replace_report: bool,
) -> int:
    """Read SOURCE files (CSV, TSV, TXT, XLSX, XLSM, XLS, ODS, or folders of them) and check every row as a sync
    would, without calling the API. Writes the report folder (rejected.csv lists the rows to
    fix, ready to load again) and prints a summary.

    Exit code 0 when the files can be used, 2 when a file cannot be read or more rows were
    rejected than sync.max_reject_fraction allows.
    """
    if not sources:
        raise UsageError("nothing to validate: give one or more SOURCE files")
    from ..report import make_progress, print_summary
    from ..run.sources import expand_sources
    from ..run.validate import run_validate

    settings = cli.settings({"sync": {"region": region, "sheet": sheet}})
    with make_progress(cli.err_console) as progress:
        report = run_validate(
            list(expand_sources(sources)),
            settings,
            report_dir=report_dir,
            replace_report=replace_report,
            campaign=campaign,
            progress=progress,
        )
    print_summary(report, cli.console)
    return report.exit_code


COMMANDS: list[click.Command] = [validate_command]
