"""Command line: parse arguments, build Settings, call the library, print, exit.

One small module per command family (sqlite-utils/csvkit style); this module builds the group
and is the only place that calls ``sys.exit`` (through :func:`main`).
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import ExitCode, LeadsyncError
from ..logs import setup_logging
from ..run.memory import fit_address_space
from . import api_commands, console, jobs, sandbox, sync, validate
from .common import CliContext, add_global_options, config_option


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="leadsync")
@config_option
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line, for log shippers.",
)
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int, quiet: bool, log_format: str) -> None:
    """Keep dialer campaigns in step with CSV and Excel files."""
    ctx.obj = CliContext(config, verbose, quiet, log_format)
    setup_logging(log_format, verbosity=verbose, quiet=quiet)


for module in (sync, validate, api_commands, sandbox, jobs, console):
    for command in module.COMMANDS:
        cli.add_command(add_global_options(command))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and turn errors into exit codes."""
    fit_address_space()  # before any thread starts and Arrow is loaded
    try:
        rc = cli.main(args=argv, prog_name="leadsync", standalone_mode=False)
    except LeadsyncError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(int(err.exit_code))
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(int(ExitCode.FAILED))
    except MemoryError:
        # Within the reader's size bounds, yet more than this machine (or container) gives:
        # one line that says so, not a traceback.
        click.echo(
            "error: out of memory: the input (or a campaign) is too large for the memory "
            "available to leadsync; split the file or give the process more memory",
            err=True,
        )
        sys.exit(int(ExitCode.FAILED))
    except click.ClickException as err:
        err.show()
        sys.exit(int(ExitCode.BAD_INPUT))
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    sys.exit(int(rc) if isinstance(rc, int) else 0)
