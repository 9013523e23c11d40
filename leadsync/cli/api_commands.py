"""Commands that read (or mark) live API data: campaigns, queues, export, activity, voicemail.

Each one builds the settings, calls :class:`~leadsync.api.CampaignsClient` (or
:func:`~leadsync.api.export.export_leads`), and prints with rich. Errors travel up as
:mod:`leadsync.errors` types; ``cli.main`` turns them into exit codes.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from ..errors import BadRequestError, ExitCode, UsageError
from .common import CliContext, command_config_option, pass_cli

if TYPE_CHECKING:  # the HTTP stack, pandas and rich load when a command runs
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..api import CampaignsClient
    from ..models import Campaign

#: Default window of ``activity`` when --since / --until are not given.
DEFAULT_SINCE = "24h"
DEFAULT_UNTIL = "now"
#: Columns of ``activity --out FILE.csv`` (the event's fields; lead_history as JSON text).
ACTIVITY_COLUMNS: tuple[str, ...] = (
    "datetime",
    "timestamp",
    "campaign_name",
    "lead_name",
    "lead_number",
    "agent_name",
    "agent_extension",
    "cdr_id",
    "lead_history",
)
#: Queue fields shown by ``queues`` (header, field).
QUEUE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Queue", "name"),
    ("Ext.", "extension"),
    ("Strategy", "strategy"),
    ("Agents", "total_agents"),
    ("Logged in", "logged_in_agents"),
    ("Idle", "idle_agents"),
    ("On call", "agents_on_call"),
    ("Registered", "agents_registered"),
    ("Misconfigured", "misconfigured_agents"),
)
_SLUG = re.compile(r"[^A-Za-z0-9]+")


def _client(cli: CliContext) -> CampaignsClient:
    from ..api import CampaignsClient

    return CampaignsClient(cli.settings().api)


# --- campaigns ---------------------------------------------------------------------------------
def campaigns_table(
    campaigns: Sequence[Campaign],
    statuses: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> Table:
    """A table: name, id, status, total, then one column per lead status (``statuses``,
    default :data:`~leadsync.models.DEFAULT_STATUSES`, first in their order, then any other
    status the tenant reported, alphabetically)."""
    from rich.table import Table

    from ..models import DEFAULT_STATUSES

    statuses = DEFAULT_STATUSES if statuses is None else statuses
    seen = {s for c in campaigns for s in c.leads_by_status}
    columns = [s for s in statuses if s in seen] + sorted(seen - set(statuses))
    table = Table(title=title or f"{len(campaigns)} campaign(s)")
    table.add_column("Name")
    table.add_column("Id", style="dim")
    table.add_column("Status")
    table.add_column("Total", justify="right")
    for status in columns:
        table.add_column(status, justify="right")
    for c in sorted(campaigns, key=lambda c: c.name.casefold()):
        total = "" if c.total_leads is None else f"{c.total_leads:,}"
        counts = [f"{c.leads_by_status[s]:,}" if s in c.leads_by_status else "" for s in columns]
        table.add_row(*_cells(c.name, c.id, c.status or "", total, *counts))
    return table


@click.command("campaigns")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@command_config_option
@pass_cli
def campaigns_command(cli: CliContext, as_json: bool) -> None:
    """List the campaigns with their lead counts by status."""
    from ..api import CampaignsClient

    settings = cli.settings()
    with CampaignsClient(settings.api) as client:
        campaigns = client.campaigns()
    if as_json:  # the Campaign's fields, in their order
        data = [asdict(c) for c in campaigns]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    cli.console.print(campaigns_table(campaigns, settings.sync.statuses))


# --- queues ----------------------------------------------------------------------------------
def queues_table(queues: Sequence[dict[str, Any]]) -> Table:
    """A table of the call-center queues and their agent counters."""
    from rich.table import Table

    table = Table(title=f"{len(queues)} queue(s)")
    for header, field in QUEUE_COLUMNS:
        table.add_column(header, justify="right" if field.endswith("agents") else "left")
    for queue in queues:
        table.add_row(
            *("" if queue.get(f) is None else str(queue.get(f)) for _, f in QUEUE_COLUMNS)
        )
    return table


@click.command("queues")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of a table.")
@command_config_option
@pass_cli
def queues_command(cli: CliContext, as_json: bool) -> None:
    """Show the call-center queues: agents logged in, idle, on call."""
    with _client(cli) as client:
        queues = client.queues()
    if as_json:
        click.echo(json.dumps(queues, indent=2, ensure_ascii=False))
        return
    cli.console.print(queues_table(queues))


# --- export ----------------------------------------------------------------------------------
def default_export_path(campaign: Campaign, now: datetime | None = None) -> Path:
    """``leads-<campaign name>-<UTC time>.csv`` in the current folder."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    slug = _SLUG.sub("-", campaign.name).strip("-").lower() or campaign.id
    return Path(f"leads-{slug}-{stamp}.csv")


@click.command("export")
@click.argument("campaign")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write, .csv or .xlsx (default: leads-<campaign>-<UTC time>.csv).",
)
@command_config_option
@pass_cli
def export_command(cli: CliContext, campaign: str, out: Path | None) -> None:
    """Write every current lead of CAMPAIGN (name or id) to a CSV or XLSX file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..api.export import export_leads

    with _client(cli) as client:
        target = client.resolve_campaign(campaign)
        path = out or default_export_path(target)
        with Progress(
            TextColumn("[bold]export"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=cli.err_console,
            disable=not cli.err_console.is_terminal,  # no bar in a log or a pipe
        ) as bar:
            task = bar.add_task("export", total=target.total_leads or None)
            count = export_leads(
                client, target, path, progress=lambda n: bar.update(task, completed=n)
            )
    _say(
        cli.console, f"exported {count:,} lead(s) of campaign {target.name} ({target.id}) to {path}"
    )


# --- activity --------------------------------------------------------------------------------
def _when(value: str, option: str, now: datetime) -> int:
    from ..api import to_epoch_seconds

    try:
        return to_epoch_seconds(value, now=now)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=option) from None


def activity_row(event: dict[str, Any]) -> list[Any]:
    """One CSV row for an activity event (formula-safe; the history as JSON text)."""
    from ..report.safe import safe_cell

    history = event.get("lead_history") or []
    cdr = history[-1].get("uuid") if history and isinstance(history[-1], dict) else None
    values = {**event, "cdr_id": cdr, "lead_history": json.dumps(history, ensure_ascii=False)}
    return [safe_cell("" if values.get(c) is None else values.get(c)) for c in ACTIVITY_COLUMNS]


def write_activity(events: Iterable[dict[str, Any]], out: Path) -> int:
    """Stream ``events`` to ``out`` (.csv, or .jsonl/.json for one JSON object a line);
    returns how many were written. UsageError for another suffix."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json"):
        raise UsageError(f"{out}: activity writes .csv, .jsonl or .json, not {suffix or 'none'!r}")
    count = 0
    fh: IO[str]
    with out.open("w", encoding="utf-8-sig" if suffix == ".csv" else "utf-8", newline="") as fh:
        if suffix == ".csv":
            writer = csv.writer(fh)
            writer.writerow(ACTIVITY_COLUMNS)
            for event in events:
                writer.writerow(activity_row(event))
                count += 1
        else:
            for event in events:
                fh.write(json.dumps(event, ensure_ascii=False) + "\n")
                count += 1
    return count


def activity_table(events: Sequence[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title=f"{len(events)} event(s)")
    for header in ("When (UTC)", "Campaign", "Lead", "Number", "Agent", "Ext.", "Call id"):
        table.add_column(header)
    for e in events:
        row = activity_row(e)
        table.add_row(*_cells(row[0], row[2], row[3], row[4], row[5], row[6], row[7]))
    return table


@click.command("activity")
@click.option(
    "--since",
    default=DEFAULT_SINCE,
    show_default=True,
    help="Start: epoch s or ms, ISO date, or a duration ago (24h, 7d).",
)
@click.option(
    "--until", "until", default=DEFAULT_UNTIL, show_default=True, help="End, same forms as --since."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the events to FILE (.csv, or .jsonl) instead of printing a table.",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 10_000),
    default=1000,
    show_default=True,
    help="Events asked for per page.",
)
@command_config_option
@pass_cli
def activity_command(
    cli: CliContext,
    since: str,
    until: str,
    out: Path | None,
    page_size: int,
) -> None:
    """Show the campaigns' lead activity (dial events) between --since and --until."""
    now = datetime.now(UTC)
    start, end = _when(since, "--since", now), _when(until, "--until", now)
    if end < start:
        raise click.BadParameter(
            f"--until ({until}) is before --since ({since})", param_hint="--until"
        )
    with _client(cli) as client:
        events = client.iter_activity(start, end, page_size=page_size)
        if out is not None:
            count = write_activity(events, out)
            _say(cli.console, f"wrote {count:,} event(s) to {out}")
            return
        cli.console.print(activity_table(list(events)))


# --- voicemail -------------------------------------------------------------------------------
@click.command("voicemail")
@click.argument("cdr_ids", nargs=-1, required=True, metavar="CDR_ID...")
@command_config_option
@pass_cli
def voicemail_command(cli: CliContext, cdr_ids: tuple[str, ...]) -> int:
    """Set the disposition of each call CDR_ID to voicemail.

    Exit 1 when the API refused any of them (each refusal is printed with the server's
    reason); the others are still set."""
    failed = 0
    with _client(cli) as client:
        for cdr in cdr_ids:
            try:
                client.set_voicemail(cdr)
            except BadRequestError as err:
                failed += 1
                _say(cli.err_console, f"{cdr}: refused: {err.server_message or err}")
            else:
                _say(cli.console, f"{cdr}: voicemail")
    if failed:
        _say(cli.err_console, f"{failed} of {len(cdr_ids)} call(s) not set")
        return int(ExitCode.FAILED)
    return int(ExitCode.OK)


def _cells(*values: Any) -> list[Text]:
    # Text, not str: names from the API must never be read as rich markup ("[bold]…").
    from rich.text import Text

    return [Text("" if v is None else str(v)) for v in values]


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False)


COMMANDS: list[click.Command] = [
    campaigns_command,
    queues_command,
    export_command,
    activity_command,
    voicemail_command,
]
