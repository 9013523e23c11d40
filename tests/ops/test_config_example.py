"""config.example.toml stays true: it loads, shows every setting of config.py with its real
default, and every commented-out example value is valid when switched on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel

from leadsync.config import ApiSettings, JobSettings, SyncSettings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
SECTION = re.compile(r"^\[\[?([a-z_.]+)\]\]?\s*$")
COMMENTED_KEY = re.compile(r"^# ([a-z_]+) = ")
#: The file's sections and the settings model each one must cover completely.
MODELS: dict[str, type[BaseModel]] = {
    "api": ApiSettings,
    "sync": SyncSettings,
    "jobs": JobSettings,
}


def keys_by_section(text: str) -> dict[str, tuple[set[str], set[str]]]:
    """section -> (active keys, commented-out keys) of its FIRST occurrence."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    current: str | None = None
    for line in text.splitlines():
        if m := SECTION.match(line):
            name = m[1]
            parent, _, table = name.partition(".")
            if table:  # a sub-table such as [jobs.columns] is a key of its parent
                if current == parent:
                    found[parent][0].add(table)
                continue
            current = name if name not in found else None
            if current:
                found[current] = (set(), set())
        elif current and (m := COMMENTED_KEY.match(line)):
            found[current][1].add(m[1])
        elif current and (m := re.match(r"^([a-z_]+) = ", line)):
            found[current][0].add(m[1])
    return found


def test_example_loads_and_every_job_is_valid(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE, environ={}, cwd=tmp_path)
    assert [job.name for job in settings.jobs] == ["spring-nightly", "callbacks"]
    nightly = settings.for_job("spring-nightly")
    assert nightly.sync.mode == "mirror"
    assert nightly.columns == {"number": "Mobile"}
    assert settings.for_job("callbacks").sync.mode == "upsert"


def test_every_setting_is_shown() -> None:
    sections = keys_by_section(EXAMPLE.read_text(encoding="utf-8"))
    for section, model in MODELS.items():
        active, commented = sections[section]
        missing = set(model.model_fields) - active - commented
        assert not missing, f"[{section}] does not show {sorted(missing)}"
        if section != "jobs":  # a job may also override any [sync] key
            unknown = (active | commented) - set(model.model_fields)
            assert not unknown, f"[{section}] shows settings that no longer exist: {unknown}"


def test_shown_values_are_the_defaults() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section in ("api", "sync"):
        defaults = MODELS[section]().model_dump(mode="json")
        for key, value in data[section].items():
            assert value == defaults[key], (
                f"[{section}] {key} = {value!r}, default {defaults[key]!r}"
            )


def test_every_commented_example_is_valid_when_switched_on(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    switched_on = re.sub(r"(?m)^# ([a-z_]+ = )", r"\1", text)
    assert switched_on.count("\n# ") < text.count("\n# ")
    path = tmp_path / "all-on.toml"
    path.write_text(switched_on, encoding="utf-8")
    settings = load_settings(path, environ={}, cwd=tmp_path)
    assert settings.api.password is not None and settings.api.max_rps == 20.0
    assert settings.columns == {"number": "Phone Number", "ticket_id": "CRM Case"}
    assert settings.jobs[0].notify_url is not None
    for job in settings.jobs:
        settings.for_job(job.name)
