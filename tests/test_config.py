"""Settings: precedence file < environment < flags, clear errors, secrets masked."""

from pathlib import Path

import pytest

from leadsync.config import load_settings
from leadsync.errors import ConfigError, ExitCode


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "leadsync.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings(environ={}, cwd=tmp_path)
    assert s.sync.mode == "upsert"
    assert s.sync.delete_statuses == ["new"]
    assert s.api.concurrency == 8
    assert s.config_path is None


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        '[api]\nbase_url = "https://file:9443"\nusername = "fileuser"\n'
        '[sync]\nmode = "add"\nregion = "gb"\n',
    )
    env = {"LEADSYNC_BASE_URL": "https://env:9443", "LEADSYNC_PASSWORD": "s3cret-pw"}
    s = load_settings(cfg, environ=env, overrides={"sync": {"mode": "mirror", "region": None}})
    assert s.api.base_url == "https://env:9443"  # env beats file
    assert s.api.username == "fileuser"
    assert s.sync.mode == "mirror"  # flag beats file
    assert s.sync.region == "GB"  # unset flag does not clobber; normalized
    assert "s3cret-pw" not in repr(s)
    assert "s3cret-pw" not in str(s.redacted())


def test_leadsync_toml_in_cwd_and_env_pointer(tmp_path: Path) -> None:
    write(tmp_path, '[sync]\nmode = "add"\n')
    assert load_settings(environ={}, cwd=tmp_path).sync.mode == "add"
    other = tmp_path / "other.toml"
    other.write_text('[sync]\nmode = "mirror"\n')
    assert load_settings(environ={"LEADSYNC_CONFIG": str(other)}, cwd=tmp_path).sync.mode == (
        "mirror"
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[sync]\nmax_delete_fraction = 2\n", "[sync] max_delete_fraction"),
        ('[sync]\nremove_action = "zap"\n', "remove_action"),
        ('[sync]\nmode = "nuke"\n', "[sync] mode"),
        ("[sync\n", "not valid TOML"),
        ('[columns]\nphone = "Phone"\n', "unknown lead field"),
        ("[api]\nbogus = 1\n", "[api] bogus"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ={})
    assert needle in str(info.value)
    assert str(tmp_path) in str(info.value)
    assert info.value.exit_code == ExitCode.BAD_INPUT


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_job_overrides(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        '[sync]\nmode = "upsert"\n[columns]\nnumber = "Phone"\n'
        '[[jobs]]\nname = "nightly"\nsource = "drop/*.csv"\ncampaign = "Spring"\n'
        'mode = "mirror"\ncolumns = { first_name = "Given" }\n',
    )
    s = load_settings(cfg, environ={})
    job = s.job("nightly")
    assert job.source == ["drop/*.csv"]
    js = s.for_job("nightly")
    assert js.sync.mode == "mirror"
    assert js.columns == {"number": "Phone", "first_name": "Given"}
    with pytest.raises(ConfigError, match="known jobs: nightly"):
        s.job("other")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[api]\nconcurrency = true\n", "[api] concurrency"),
        ("[api]\nbackoff_max_s = inf\n", "[api] backoff_max_s: Input should be a finite number"),
        ("[api]\ntimeout_s = nan\n", "[api] timeout_s: Input should be a finite number"),
        ('[api]\nverify_tls = "no"\n', "[api] verify_tls"),
        ('[sync]\nmax_delete_fraction = "0.5"\n', "[sync] max_delete_fraction"),
        ("[sync]\ndelete_guard_floor = 2.5\n", "[sync] delete_guard_floor"),
    ],
)
def test_loose_types_and_non_finite_numbers_are_refused(
    tmp_path: Path, text: str, needle: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert needle in str(info.value)
    assert info.value.exit_code == ExitCode.BAD_INPUT


def test_paths_and_secrets_still_take_strings(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[api]\npassword = "s3cret"\nca_bundle = "ca.pem"\n[sync]\nreport_dir = "r"\n')
    settings = load_settings(cfg)
    assert settings.api.password is not None
    assert settings.api.password.get_secret_value() == "s3cret"
    assert settings.sync.report_dir == Path("r")


@pytest.mark.parametrize(
    ("jobs", "needle"),
    [
        (
            '[[jobs]]\nname = "nightly"\nsource = "a.csv"\n'
            '[[jobs]]\nname = "nightly"\nsource = "b.csv"\n',
            "two jobs are named 'nightly'",
        ),
        ('[[jobs]]\nname = ""\nsource = "a.csv"\n', "[[jobs]] #0.name"),
        ('[[jobs]]\nname = "  "\nsource = "a.csv"\n', "a job needs a name"),
        ('[[jobs]]\nname = "n"\nsource = "a.csv"\nkeep_reports = true\n', "keep_reports"),
    ],
)
def test_bad_jobs_are_refused(tmp_path: Path, jobs: str, needle: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(jobs)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert needle in str(info.value)
