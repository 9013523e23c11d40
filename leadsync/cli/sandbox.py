"""``leadsync sandbox``: run the stand-in Campaigns API in the foreground until Ctrl-C."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import ConfigError, UsageError
from .common import CliContext, listen_options, pass_cli, signals_handled

if TYPE_CHECKING:
    from ..sandbox import Sandbox

#: How often the foreground loop wakes to notice a stop request.
WAIT_STEP_S = 0.5


def _banner(sb: Sandbox, seeded: dict[str, str]) -> str:
    cfg = sb.config
    lines = [
        f"leadsync sandbox listening on {sb.base_url}",
        "",
        "Demo credentials of this local stand-in (not secrets; they open nothing else):",
        f"  LEADSYNC_BASE_URL={sb.base_url}",
        f"  LEADSYNC_USERNAME={cfg.username}",
        f"  LEADSYNC_PASSWORD={cfg.password}",
        f"  LEADSYNC_DOMAIN={cfg.domain}",
        f"  LEADSYNC_ACCOUNT_ID={cfg.account_id}",
    ]
    if cfg.api_key:
        lines.append(f"  LEADSYNC_API_KEY={cfg.api_key}   (alternative to username/password)")
    knobs = [
        f"latency {cfg.latency_ms:g} ms",
        f"fail rate {cfg.fail_rate:g}",
        f"ambiguous rate {cfg.ambiguous_rate:g}",
        f"rate limit {cfg.rate_limit_rps:g}/s" if cfg.rate_limit_rps else "no rate limit",
        f"token ttl {cfg.token_ttl_s:g} s",
        f"page cap {cfg.page_cap}",
        f"seed {cfg.seed}",
    ]
    lines += ["", "Knobs: " + ", ".join(knobs)]
    lines.append(f"State: {cfg.state_file}" if cfg.state_file else "State: in memory only")
    if seeded:
        lines.append("Demo campaigns: " + ", ".join(f"{n} ({i})" for n, i in seeded.items()))
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


@click.command("sandbox")
@listen_options(port=9443)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON file the state is loaded from and saved to (else memory only).",
)
@click.option("--latency-ms", type=float, default=0.0, show_default=True, help="Added per request.")
@click.option(
    "--fail-rate", type=float, default=0.0, show_default=True, help="Share of requests → 503."
)
@click.option(
    "--ambiguous-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of writes committed, then answered 500.",
)
@click.option("--rate-limit", type=float, default=None, help="Requests/s allowed; beyond → 429.")
@click.option("--token-ttl", type=float, default=3600.0, show_default=True, help="Token life (s).")
@click.option("--page-cap", type=int, default=1000, show_default=True, help="Most leads a page.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of ids and faults.")
@click.option(
    "--demo-data",
    is_flag=True,
    help="Add the demo campaigns (done anyway when the state is empty).",
)
@pass_cli
def sandbox_command(
    cli: CliContext,
    host: str,
    port: int,
    state_file: Path | None,
    latency_ms: float,
    fail_rate: float,
    ambiguous_rate: float,
    rate_limit: float | None,
    token_ttl: float,
    page_cap: int,
    seed: int,
    demo_data: bool,
) -> None:
    """Run a local stand-in of the Campaigns API (for trying leadsync out and for tests).

    Serves the same paths, verbs and payloads as the real API on HOST:PORT until Ctrl-C,
    with optional faults (latency, 503s, ambiguous 500s, 429 rate limiting, token expiry).
    """
    from ..sandbox import Sandbox, SandboxConfig, seed_demo

    try:
        config = SandboxConfig(
            host=host,
            port=port,
            state_file=state_file,
            latency_ms=latency_ms,
            fail_rate=fail_rate,
            ambiguous_rate=ambiguous_rate,
            rate_limit_rps=rate_limit,
            token_ttl_s=token_ttl,
            page_cap=page_cap,
            seed=seed,
            verbose=cli.verbose > 0,
        )
        sb = Sandbox(config)
    except ValueError as err:  # an unreadable state file
        raise ConfigError(str(err)) from None
    seeded: dict[str, str] = {}
    if demo_data or not sb.state.campaigns():
        seeded = seed_demo(sb.state)
    stop = threading.Event()
    # Ctrl-C and SIGTERM both end the loop below; the state is then saved by stop().
    with signals_handled(lambda *_: stop.set()):
        try:
            sb.start()
        except OSError as err:
            raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        with sb:
            click.echo(_banner(sb, seeded))
            sys.stdout.flush()  # the banner must reach a pipe before we block
            while not stop.wait(WAIT_STEP_S):
                pass
    click.echo("sandbox stopped" + (f"; state saved to {state_file}" if state_file else ""))


COMMANDS: list[click.Command] = [sandbox_command]
