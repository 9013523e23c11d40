"""``leadsync serve``: the ops console, a local web app (leadsync.console) served by uvicorn.

Config enters here, once: the settings from --config / env / file, and the console's access
token from ``LEADSYNC_CONSOLE_TOKEN`` (else a random one, printed in the URL as Jupyter does).
The console refuses to listen on anything but a loopback address without a configured token.
``--sandbox`` starts the embedded sandbox with the demo campaigns and points the console at it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import UsageError
from .common import CliContext, command_config_option, listen_options, pass_cli, signals_handled

if TYPE_CHECKING:
    from ..config import Settings

TOKEN_ENV = "LEADSYNC_CONSOLE_TOKEN"
LOOPBACK_NAMES = frozenset({"localhost"})
#: Shortest configured token accepted (a guessable token on a network is no protection).
MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def console_token(environ: Mapping[str, str], host: str) -> tuple[str, bool]:
    """``(token, configured)``: the configured token, or a random one for a loopback host.
    Raises UsageError when ``host`` is not loopback and no token is configured."""
    configured = environ.get(TOKEN_ENV, "").strip()
    if configured and len(configured) < MIN_TOKEN_CHARS:
        raise UsageError(f"{TOKEN_ENV} is too short: use at least {MIN_TOKEN_CHARS} characters")
    if not configured and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without an access token: set {TOKEN_ENV} "
            "(or keep the default --host 127.0.0.1)"
        )
    from ..console import new_token

    return (configured, True) if configured else (new_token(), False)


@contextlib.contextmanager
def _sandbox_settings(settings: Settings) -> Iterator[tuple[Settings, str]]:
    """The embedded sandbox with the demo campaigns; ``settings`` pointed at it."""
    from ..config import ApiSettings
    from ..sandbox import Sandbox, SandboxConfig
    from .demo import sandbox_api, seed_demo_state

    with Sandbox(SandboxConfig()) as sandbox:
        seed_demo_state(sandbox)
        settings.api = ApiSettings.model_validate(sandbox_api(sandbox))
        yield settings, sandbox.base_url


def _listen(host: str, port: int) -> socket.socket:
    v6 = ":" in host  # an IPv6 wildcard also takes IPv4, as the system's default does
    try:
        return socket.create_server(
            (host.strip("[]"), port),
            family=socket.AF_INET6 if v6 else socket.AF_INET,
            backlog=128,
            dualstack_ipv6=v6 and socket.has_dualstack_ipv6(),
        )
    except OSError as err:
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


@click.command("serve")
@listen_options(port=8080)
@click.option(
    "--sandbox",
    "with_sandbox",
    is_flag=True,
    help="Also start the embedded sandbox with the demo campaigns and use it as the API.",
)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Private folder for uploads and plans (default: a temporary one, removed on exit).",
)
@command_config_option
@pass_cli
def serve_command(
    cli: CliContext,
    host: str,
    port: int,
    with_sandbox: bool,
    work_dir: Path | None,
) -> None:
    """Start the ops console: a local web app to upload files, map their columns, review the
    plan per lead and approve it, with live progress, results and the run history.

    Listens on 127.0.0.1 with a random access token in the printed URL; another address needs
    LEADSYNC_CONSOLE_TOKEN set (put a TLS reverse proxy in front, see docs/operations.md)."""
    import uvicorn

    from ..console import ConsoleOptions, create_app
    from .demo import SAMPLE_DIR

    token, configured = console_token(cli.environ, host)
    settings = cli.settings()
    with contextlib.ExitStack() as stack:
        note = None
        if with_sandbox:
            settings, base_url = stack.enter_context(_sandbox_settings(settings))
            note = f"sandbox API at {base_url} (demo data)"
            click.echo(f"sandbox API at {base_url}; sample files to upload: {SAMPLE_DIR}")
        app = create_app(
            settings,
            ConsoleOptions(token=token, cwd=Path.cwd(), work_dir=work_dir, sandbox_note=note),
        )
        sock = stack.enter_context(contextlib.closing(_listen(host, port)))
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        shown_token = f"<{TOKEN_ENV}>" if configured else token
        click.echo(f"leadsync console: http://{shown}:{bound}/?token={shown_token}")
        click.echo("Press Ctrl-C to stop.")
        config = uvicorn.Config(
            app, access_log=False, log_level="warning", lifespan="on", proxy_headers=True
        )
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for
        # the handler it found: ours takes it, so the sandbox and the work folder are
        # cleaned up and the command ends normally.
        stack.enter_context(signals_handled(lambda *_: None))
        uvicorn.Server(config).run(sockets=[sock])
    click.echo("console stopped")


COMMANDS: list[click.Command] = [serve_command]
