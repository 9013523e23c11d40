"""What every command shares: the context object, reusable options, output helpers.

Start-up time: the command modules import only click and the light ground floor at module
level, so ``leadsync --help`` and ``--version`` load no pandas, pyarrow, pydantic or HTTP
stack; each command imports what it needs when it runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..logs import setup_logging

if TYPE_CHECKING:
    from rich.console import Console

    from ..config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def _remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    # --config is accepted before or after the command name.
    if value is not None:
        ctx.meta["leadsync.config"] = value
    return value


_CONFIG_PATH = click.Path(dir_okay=False)
config_option = click.option(
    "--config",
    "config",
    type=_CONFIG_PATH,
    default=None,
    callback=_remember_config,
    help="TOML config file (else $LEADSYNC_CONFIG, else ./leadsync.toml).",
)
#: --config on a subcommand (so `leadsync sync --config f.toml` works too).
command_config_option = click.option(
    "--config",
    "command_config",
    type=_CONFIG_PATH,
    default=None,
    expose_value=False,
    callback=_remember_config,
    help="TOML config file (same as the global --config).",
)


def _set_global(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A subcommand's copy of a global option: set it on the CliContext, re-apply logging."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        cli = ctx.find_object(CliContext)
        if cli is None or value in (None, 0, False):
            return value
        setattr(cli, name, value)
        setup_logging(cli.log_format, verbosity=cli.verbose, quiet=cli.quiet)
        return value

    return callback


_AS_BEFORE = "same as before the command"
#: The global options a subcommand accepts too: (declarations, CliContext field, settings,
#: help).
_GLOBAL_OPTIONS: tuple[tuple[list[str], str, dict[str, Any], str], ...] = (
    (
        ["-v", "--verbose"],
        "verbose",
        {"count": True},
        f"More log output (repeatable; {_AS_BEFORE}).",
    ),
    (["-q", "--quiet"], "quiet", {"is_flag": True}, f"Only warnings and errors ({_AS_BEFORE})."),
    (
        ["--log-format"],
        "log_format",
        {"type": click.Choice(["text", "json"])},
        f"text or json log lines ({_AS_BEFORE}).",
    ),
)


def add_global_options(command: click.Command) -> click.Command:
    """Accept -v, -q and --log-format after the command name too (``leadsync sync --job
    nightly --log-format json``), as --config is."""
    for decls, name, settings, what in _GLOBAL_OPTIONS:
        command.params.append(
            click.Option(
                [*decls, f"_{name}"],
                expose_value=False,
                callback=_set_global(name),
                help=what,
                **settings,
            )
        )
    return command


#: --replace-report: let --report-dir name a folder that holds a previous report.
replace_report_option = click.option(
    "--replace-report",
    is_flag=True,
    help="With --report-dir: replace the previous leadsync report in that folder "
    "(without it a non-empty folder is refused).",
)


def report_dir_option(default: str, what: str = "Write the report into this folder") -> Any:
    """--report-dir, whose help names the folder written when it is not given."""
    return click.option(
        "--report-dir",
        type=click.Path(path_type=Path, file_okay=False),
        help=f"{what} (default {default}).",
    )


#: --region and --sheet: how ``sync``, ``plan`` and ``validate`` read the files.
region_option = click.option(
    "--region", help="Default region for numbers without +country (default US)."
)
sheet_option = click.option("--sheet", help="Sheet to read (default the first; * for all).")


def listen_options(port: int) -> Callable[[F], F]:
    """--host and --port of a command that listens (``port`` is the default)."""

    host_option = click.option(
        "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
    )
    port_option = click.option(
        "--port", type=int, default=port, show_default=True, help="Port; 0 picks a free one."
    )
    return lambda f: host_option(port_option(f))


@contextlib.contextmanager
def signals_handled(handler: Callable[..., Any]) -> Iterator[None]:
    """Meanwhile SIGINT and SIGTERM go to ``handler``; the previous handlers come back after."""
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass
class CliContext:
    """Built once per invocation; holds what commands need to build Settings."""

    config: str | None
    verbose: int
    quiet: bool
    log_format: str
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @cached_property
    def console(self) -> Console:
        """The console for results (stdout); made on first use (rich loads then)."""
        from rich.console import Console

        return Console(stderr=False)

    @cached_property
    def err_console(self) -> Console:
        """The console for progress and messages (stderr); made on first use."""
        from rich.console import Console

        return Console(stderr=True)

    def settings(self, overrides: Mapping[str, Any] | None = None) -> Settings:
        """Settings from --config / env / file plus this command's flag ``overrides``."""
        from ..config import load_settings

        ctx = click.get_current_context()
        config = ctx.meta.get("leadsync.config", self.config)
        return load_settings(
            Path(config) if config else None,
            environ=self.environ,
            cwd=Path.cwd(),
            overrides=overrides,
        )


pass_cli = click.make_pass_decorator(CliContext)
