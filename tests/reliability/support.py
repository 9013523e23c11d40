"""Helpers of the reliability suites: lead files, the real CLI in a subprocess (with time and
memory bounds), settings for the sandbox, and a private CA for the HTTPS sandbox."""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadsync.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]
GIB = 1024**3
#: Address space a CLI subprocess may use (RLIMIT_AS): a hostile file must not get past it.
CLI_MEMORY_LIMIT = 2 * GIB
#: Wall-clock bound of one CLI run on the shared 2-core machine (startup alone takes seconds).
CLI_TIMEOUT_S = 120.0
#: Routes that change the sandbox's state.
WRITE_ROUTES = frozenset({"add", "status", "delete", "voicemail"})


def write_leads(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """A CSV with the columns Phone, First Name, Status (blank when a row has none)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Phone", "First Name", "Status"])
        for r in rows:
            w.writerow([r["number"], r.get("first_name", ""), r.get("status", "")])
    return path


def write_config(path: Path, api: Mapping[str, Any], sync: Mapping[str, Any] | None = None) -> Path:
    """A TOML config file with ``[api]`` (and ``[sync]``) tables of scalars."""

    def toml(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["[api]", *(f"{k} = {toml(v)}" for k, v in api.items() if v is not None)]
    if sync:
        lines += ["", "[sync]", *(f"{k} = {toml(v)}" for k, v in sync.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: ours without LEADSYNC_* and terminal hints."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LEADSYNC_") and k not in ("COLUMNS", "FORCE_COLOR")
    }
    env.update({"PYTHONUNBUFFERED": "1", "NO_COLOR": "1", **extra})
    return env


def limit_memory(limit: int = CLI_MEMORY_LIMIT) -> None:
    """preexec_fn: cap the child's address space (a MemoryError instead of a swapping box)."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def leadsync_command(*args: str | os.PathLike[str]) -> list[str]:
    """``python -m leadsync ARGS`` with this interpreter."""
    return [sys.executable, "-m", "leadsync", *(os.fspath(a) for a in args)]


@dataclass(frozen=True)
class CliRun:
    """How a CLI subprocess ended."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_kib: int  # of the child (from wait4), KiB

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = CLI_TIMEOUT_S,
    memory_limit: int | None = CLI_MEMORY_LIMIT,
) -> CliRun:
    """Run ``leadsync ARGS`` to the end under an address-space limit; returns exit code,
    output, wall time and the child's own peak RSS (from ``wait4``). Raises
    ``subprocess.TimeoutExpired`` when it is still running after ``timeout`` (it is killed)."""
    started = time.monotonic()
    child = subprocess.Popen(
        leadsync_command(*args),
        cwd=cwd,
        env=dict(env) if env is not None else cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=(lambda: limit_memory(memory_limit)) if memory_limit else None,
    )
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=(name, stream), daemon=True)
        for name, stream in (("out", child.stdout), ("err", child.stderr))
    ]
    for reader in readers:
        reader.start()
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    try:
        _pid, status, usage = os.wait4(child.pid, 0)  # reaps it: Popen must not wait again
    finally:
        timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    for stream in (child.stdout, child.stderr):
        assert stream is not None
        stream.close()
    seconds = time.monotonic() - started
    if seconds >= timeout:
        raise subprocess.TimeoutExpired(child.args, timeout)
    return CliRun(
        child.returncode,
        chunks["out"].decode("utf-8", "replace"),
        chunks["err"].decode("utf-8", "replace"),
        seconds,
        int(usage.ru_maxrss),
    )


@dataclass(frozen=True)
class InProcessRun:
    """Exit code and captured output of ``leadsync ARGS`` run by :func:`leadsync.cli.main`
    in the test's process (the ``run_leadsync`` fixture)."""

    code: int
    out: str
    err: str


RunCli = Callable[..., InProcessRun]


class LoginSpy:
    """The tokens every successful login answer of a sandbox carried (access and refresh):
    wraps ``SandboxApp.handle``, which the HTTP server calls for each request."""

    def __init__(self) -> None:
        self._access: list[str] = []
        self._refresh: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def attach(cls, sb: Sandbox) -> LoginSpy:
        spy = cls()
        handle = sb.app.handle

        def spying(request: Any) -> Any:
            response = handle(request)
            if response.route == "login" and response.status == 200:
                with spy._lock:
                    spy._access.append(response.payload["access_token"])
                    spy._refresh.append(response.payload["refresh_token"])
            return response

        sb.app.handle = spying  # type: ignore[method-assign]
        return spy

    def access_tokens(self) -> list[str]:
        with self._lock:
            return list(self._access)

    def tokens(self) -> list[str]:
        with self._lock:
            return [*self._access, *self._refresh]


def duplicates_and_missing(sb: Sandbox, campaign_id: str, expected: set[str]) -> tuple[int, int]:
    """(extra copies of any number, expected numbers absent) in the campaign now."""
    counts = Counter(lead["number"] for lead in sb.state.leads(campaign_id))
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    missing = len(expected - set(counts))
    return duplicates, missing


def writes(sb: Sandbox) -> int:
    """Write calls the sandbox received."""
    return sum(n for (_m, route), n in sb.stats.by_route.items() if route in WRITE_ROUTES)


# --- TLS: a private CA and a server certificate for 127.0.0.1 ------------------------------
@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path  # what a client trusts (api.ca_bundle)
    server_cert: Path  # what the sandbox presents
    server_key: Path


def make_private_ca(folder: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A self-signed CA and a certificate it signed for ``host`` (an IP SAN), as PEM files,
    the way a private-CA portal on port 9443 is set up."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leadsync test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files
