"""Settings: ``[api]``, ``[sync]``, ``[columns]`` and ``[[jobs]]`` (docs/design.md, 'Configuration').

Precedence, highest first: command-line flags > ``LEADSYNC_*`` environment variables > the TOML
file (``--config FILE``, else ``$LEADSYNC_CONFIG``, else ``./leadsync.toml`` when present) >
defaults. Config enters the program once, in ``cli.py`` (and tests), through
:func:`load_settings`; nothing else reads the environment.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import ConfigError
from .models import DEFAULT_STATUSES, INPUT_FIELDS

#: Environment variables (docs/design.md, 'Configuration'): ``LEADSYNC_BASE_URL`` sets
#: ``[api] base_url``, and so on.
ENV_VARS: dict[str, str] = {
    f"LEADSYNC_{key.upper()}": key
    for key in ("base_url", "username", "password", "domain", "account_id", "api_key", "ca_bundle")
}
CONFIG_ENV = "LEADSYNC_CONFIG"
DEFAULT_CONFIG_NAME = "leadsync.toml"


class _Section(BaseModel):
    # hide_input_in_errors: a refused value may hold a secret (a password in a URL).
    # strict: `concurrency = true` or `verify_tls = "no"` is an error, not 1 or False;
    # no inf/nan: `backoff_max_s = inf` would wait forever. Paths and secrets take strings.
    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        strict=True,
        allow_inf_nan=False,
        hide_input_in_errors=True,
    )


class ApiSettings(_Section):
    """How to reach and talk to the Campaigns API."""

    base_url: str | None = Field(
        None, description="Portal address, e.g. https://portal.example.com:9443"
    )
    username: str | None = Field(None, description="Login user name")
    password: SecretStr | None = Field(
        strict=False, default=None, description="Login password (never logged)"
    )
    domain: str | None = Field(None, description="Tenant (the login's `domain`)")
    account_id: str | None = Field(
        None, description="Sent as X-Account-ID; else taken from the login answer's user"
    )
    api_key: SecretStr | None = Field(
        strict=False,
        default=None,
        description="X-API-Key, an alternative to username/password (never logged)",
    )
    ca_bundle: Path | None = Field(
        strict=False, default=None, description="PEM file of CAs for a private-CA portal"
    )
    verify_tls: bool = Field(True, description="Verify TLS certificates; false is loudly logged")
    timeout_s: float = Field(30.0, gt=0, description="Per-request timeout in seconds")
    page_size: int = Field(500, gt=0, le=100_000, description="Leads asked for per page")
    page_key_param: str = Field(
        "next_start_key", description="Query parameter carrying the page key (Kazoo: start_key)"
    )
    add_lead_method: Literal["auto", "PUT", "POST"] = Field(
        "auto", description="Verb for add lead; auto = PUT, one POST fallback on 404/405"
    )
    concurrency: int = Field(8, ge=1, le=256, description="Calls in flight when applying")
    max_rps: float | None = Field(
        None, gt=0, description="Client-side request rate cap; none = adaptive on 429 only"
    )
    retry_attempts: int = Field(6, ge=1, le=50, description="Attempts per call (first included)")
    backoff_max_s: float = Field(30.0, gt=0, description="Cap of one backoff wait in seconds")
    retry_budget: int = Field(
        500,
        ge=0,
        description="Retries allowed per run beyond 10% of requests; past it the run stops",
    )
    user_agent: str | None = Field(None, description="User-Agent header; default leadsync/<v>")

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, v: str | None) -> str | None:
        return check_base_url(v) if v else v

    @field_validator("user_agent", "account_id", "api_key")
    @classmethod
    def _one_header_line(cls, v: Any) -> Any:
        # Each is sent as a header: a line break would end it (or add headers of its own).
        text = v.get_secret_value() if isinstance(v, SecretStr) else v
        if text is not None and _CONTROL_CHARS.search(text):
            raise ValueError("must not contain control characters (line breaks, tabs, …)")
        return v


#: Characters no header value may carry (CR and LF would split it into more headers).
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def check_base_url(url: str) -> str:
    """``url`` when it can address the API: http(s), a host, a valid port, no query or
    fragment, and no user name or password (they would be copied into every report and log
    line that shows the URL). ValueError saying what is wrong otherwise (never quoting a
    password)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when out of range or not a number
    except ValueError as err:
        raise ValueError(f"is not a valid URL ({err})") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "must not carry a user name or password (user:pass@host): set [api] username "
            "and password (or LEADSYNC_USERNAME / LEADSYNC_PASSWORD), or an api_key, instead"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL with a host")
    if port == 0:
        raise ValueError(f"{url!r} has port 0")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r} must not carry a query or fragment")
    if _CONTROL_CHARS.search(url) or " " in parts.netloc:
        raise ValueError("must not contain spaces or control characters")
    return url


#: ``remove_action`` prefix of a soft removal (the status it sets follows).
SOFT_REMOVE_PREFIX = "status:"


class PlanSettings(_Section):
    """The ``[sync]`` settings a plan is built and guarded with (``sync.plan.PlanPolicy``)."""

    mode: Literal["add", "upsert", "mirror"] = Field("upsert", description="add | upsert | mirror")
    # Not strict: a caller may give any collection of statuses (TOML gives a list).
    delete_statuses: list[str] = Field(
        ["new"],
        strict=False,
        description="Statuses a mirror run may remove (dialed leads are kept)",
    )
    remove_action: str = Field("delete", description='"delete" or "status:<status>"')
    on_drift: Literal["report", "ignore", "replace"] = Field(
        "report", description="What to do when an existing lead's other fields differ"
    )
    dedupe_remote: bool = Field(False, description="Mirror: delete all but the oldest duplicate")
    dedupe_scope: Literal["campaign", "account"] = Field(
        "campaign", description="account: skip numbers present in any campaign"
    )
    max_delete_fraction: float = Field(
        0.10, ge=0, le=1, description="Refuse plans deleting more of a campaign than this"
    )
    delete_guard_floor: int = Field(
        10, ge=0, description="The fraction guard counts only above this many deletes"
    )
    max_delete_count: int | None = Field(None, ge=0, description="Refuse more deletes than this")
    max_reject_fraction: float = Field(
        0.20, ge=0, le=1, description="Refuse input whose rejected share exceeds this"
    )
    reject_guard_floor: int = Field(
        10, ge=0, description="The reject guard counts only above this many rejected rows"
    )

    @field_validator("remove_action")
    @classmethod
    def _check_remove_action(cls, v: str) -> str:
        if v == "delete" or (v.startswith(SOFT_REMOVE_PREFIX) and len(v) > len(SOFT_REMOVE_PREFIX)):
            return v
        raise ValueError('must be "delete" or "status:<status>"')

    @property
    def soft_remove_status(self) -> str | None:
        """The status a soft removal sets, or None when removals delete."""
        return (
            self.remove_action.removeprefix(SOFT_REMOVE_PREFIX)
            if self.remove_action != "delete"
            else None
        )


class SyncSettings(PlanSettings):
    """What a sync does and the guards around it."""

    region: str = Field("US", description="Default region for numbers without a country code")
    phone_validation: Literal["valid", "possible", "none"] = Field(
        "valid", description="How strictly numbers are checked"
    )
    statuses: list[str] = Field(
        list(DEFAULT_STATUSES), description="Lead statuses this tenant knows"
    )
    duplicate_policy: Literal["first", "last", "reject"] = Field(
        "first", description="Which of several input rows with one key wins"
    )
    dnc_files: list[Path] = Field(
        strict=False, default=[], description="Do-not-call lists; listed numbers are rejected"
    )
    report_dir: Path = Field(
        strict=False, default=Path("reports"), description="Where report folders are written"
    )
    lock_dir: Path | None = Field(
        None,
        strict=False,
        description="Where the campaign locks live (one writer per campaign); <report_dir>/.locks",
    )
    sheet: str | None = Field(None, description="Sheet to read; default the first; * for all")
    header_row: int | None = Field(None, ge=1, description="Header row as Excel shows it; auto")
    encoding: str | None = Field(None, description="Text encoding of CSV files; auto-detected")

    @field_validator("region")
    @classmethod
    def _upper_region(cls, v: str) -> str:
        return v.strip().upper()


def _check_columns(v: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(v) - set(INPUT_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown lead field(s) {', '.join(unknown)}; known: {', '.join(INPUT_FIELDS)}"
        )
    return v


class JobSettings(BaseModel):
    """A configured nightly job; any ``[sync]`` key may be overridden for the job."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    name: str = Field(
        min_length=1, description="Job name (used by --job, the lock and the report folder)"
    )
    source: list[str] = Field(description="Paths or globs; every match is read and combined")
    campaign: str | None = Field(None, description="Campaign name or id; else a campaign column")
    archive_dir: Path | None = Field(
        strict=False, default=None, description="Processed files move here after exit 0"
    )
    report_dir: Path | None = Field(
        strict=False, default=None, description="Report folder root for this job"
    )
    keep_reports: int | None = Field(None, ge=1, description="Keep the last N report folders")
    notify_url: str | None = Field(None, description="POST the summary here when done")
    columns: dict[str, str] = Field({}, description="Column mapping for this job")

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    _check_cols = field_validator("columns")(classmethod(lambda cls, v: _check_columns(v)))

    @field_validator("name")
    @classmethod
    def _named(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a job needs a name (it names its lock and report folders)")
        return v

    def sync_overrides(self) -> dict[str, Any]:
        """The ``[sync]`` keys this job overrides (validated against SyncSettings)."""
        extra = dict(self.model_extra or {})
        unknown = sorted(set(extra) - set(SyncSettings.model_fields))
        if unknown:
            raise ConfigError(f"job {self.name!r}: unknown key(s) {', '.join(unknown)}")
        if "lock_dir" in extra:  # one folder for every run of the configuration
            raise ConfigError(f"job {self.name!r}: lock_dir can be set only in [sync]")
        return extra


class Settings(BaseSettings):
    """All of leadsync's settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(extra="forbid", validate_assignment=True)

    api: ApiSettings = Field(default_factory=ApiSettings)  # type: ignore[arg-type]
    sync: SyncSettings = Field(default_factory=SyncSettings)  # type: ignore[arg-type]
    columns: dict[str, str] = Field({}, description="lead field = header in the file")
    jobs: list[JobSettings] = Field([], description="Configured jobs")
    config_path: Path | None = Field(
        strict=False, default=None, description="The file these settings came from"
    )

    _check_cols = field_validator("columns")(classmethod(lambda cls, v: _check_columns(v)))

    @field_validator("jobs")
    @classmethod
    def _unique_job_names(cls, v: list[JobSettings]) -> list[JobSettings]:
        seen: set[str] = set()
        for job in v:
            if job.name in seen:
                raise ValueError(f"two jobs are named {job.name!r}; job names must be unique")
            seen.add(job.name)
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings passes in: the environment is read once, explicitly, there.
        return (init_settings,)

    def job(self, name: str) -> JobSettings:
        """The job called ``name``; ConfigError listing the known jobs otherwise."""
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(j.name for j in self.jobs) or "none configured"
        raise ConfigError(f"unknown job {name!r}; known jobs: {known}")

    def for_job(self, name: str) -> Settings:
        """These settings with the job's ``[sync]`` overrides and column mapping applied."""
        job = self.job(name)
        sync = self.sync.model_dump() | job.sync_overrides()
        if job.report_dir is not None:
            sync["report_dir"] = job.report_dir
        data = self.model_dump()
        data["sync"] = sync
        data["columns"] = {**self.columns, **job.columns}
        return _validate(data, self.config_path)

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret masked (for reports)."""
        data = self.model_dump(mode="json")
        for key in ("password", "api_key"):
            if data["api"].get(key):
                data["api"][key] = "***"
        return data


def _lay_over(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``top`` laid over it, mappings merged key by key; a None in ``top`` is no
    value (an unset flag does not clobber the file)."""
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping):
            below = out.get(k)
            out[k] = _lay_over(below if isinstance(below, Mapping) else {}, v)
        elif v is not None:
            out[k] = v
    return out


def _format_validation(err: ValidationError, where: str) -> str:
    lines = []
    for e in err.errors():
        loc = e["loc"]
        if loc and loc[0] in ("api", "sync") and len(loc) > 1:
            name = f"[{loc[0]}] {'.'.join(str(p) for p in loc[1:])}"
        elif loc and loc[0] == "jobs":
            name = "[[jobs]] #" + ".".join(str(p) for p in loc[1:])
        else:
            name = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"{name}: {e['msg'].removeprefix('Value error, ')}")
    return f"invalid settings in {where}: " + "; ".join(lines)


def _validate(data: dict[str, Any], path: Path | None) -> Settings:
    try:
        return Settings(**data)
    except ValidationError as err:
        raise ConfigError(_format_validation(err, str(path) if path else "settings")) from None


def find_config(explicit: Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file to read: ``explicit``, ``$LEADSYNC_CONFIG``, or ``./leadsync.toml``."""
    if explicit is not None:
        return explicit
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    default = cwd / DEFAULT_CONFIG_NAME
    return default if default.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML config file; ConfigError naming the file and line on any problem."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror}") from None


def load_settings(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from the file, the environment and command-line ``overrides``.

    ``overrides`` is nested like the file (``{"sync": {"mode": "mirror"}}``); ``None`` values
    are ignored so that unset flags do not clobber the file. Raises ConfigError.
    """
    environ = environ if environ is not None else {}
    path = find_config(config_file, environ, cwd or Path.cwd())
    data: dict[str, Any] = read_toml(path) if path else {}
    env_api = {key: environ[var] for var, key in ENV_VARS.items() if environ.get(var)}
    if env_api:
        data = _lay_over(data, {"api": env_api})
    data = _lay_over(data, overrides or {})
    data["config_path"] = path
    return _validate(data, path)
