"""console/mapping: the user's column choices → [columns], checked by the reader's rules;
named mappings and the config file keep what was saved."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from leadsync.config import load_settings
from leadsync.console.mapping import (
    load_mapping,
    mapping_from_choices,
    mapping_names,
    save_mapping,
    save_to_config,
)
from leadsync.errors import ConfigError
from leadsync.reader import read_sources
from leadsync.run.inspect import inspect_file
from tests.console.support import write_csv

DATA = Path(__file__).resolve().parents[1] / "data"


def previews(*paths: Path, columns: dict[str, str] | None = None) -> list:
    s = load_settings(environ={}, overrides={"columns": columns or {}})
    return [p for path in paths for p in inspect_file(path, s)]


def test_detected_columns_need_no_mapping() -> None:
    ps = previews(DATA / "synonyms.csv", DATA / "basic.csv")
    columns, problems = mapping_from_choices(ps, {}, {})
    assert columns == {} and problems == []


def test_a_chosen_phone_column_becomes_an_explicit_mapping_the_reader_uses(
    tmp_path: Path,
) -> None:
    source = write_csv(tmp_path / "x.csv", ["Tel (direct)", "Name"], [["2125550123", "Ann"]])
    (p,) = previews(source)
    columns, problems = mapping_from_choices([p], {(0, 0): "number", (0, 1): "first_name"}, {})
    assert problems == [] and columns == {"number": "Tel (direct)", "first_name": "Name"}
    read = read_sources([source], load_settings(environ={}, overrides={"columns": columns}))
    assert read.leads["number"].tolist() == ["+12125550123"]
    assert read.leads["first_name"].tolist() == ["Ann"]


def test_no_phone_column_is_a_problem_in_the_readers_words(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "x.csv", ["Tel (direct)", "Name"], [["2125550123", "Ann"]])
    _, problems = mapping_from_choices(previews(source), {}, {})
    assert len(problems) == 1 and problems[0].startswith("no phone column")


def test_a_column_left_unused_that_the_reader_would_still_read_is_a_problem() -> None:
    (p,) = previews(DATA / "basic.csv")
    status = next(c.index for c in p.columns if c.field == "status")
    _, problems = mapping_from_choices([p], {(0, status): ""}, {})
    assert problems and "would be read as status, not not used" in problems[0]


def test_one_field_on_two_columns_is_a_problem(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "x.csv", ["A", "B"], [["2125550123", "2125550124"]])
    _, problems = mapping_from_choices(previews(source), {(0, 0): "number", (0, 1): "number"}, {})
    assert any("both mapped to number" in p for p in problems)


def test_one_mapping_must_fit_every_file_of_an_import(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", ["Tel A", "x"], [["2125550123", "1"]])
    b = write_csv(tmp_path / "b.csv", ["Tel B", "x"], [["2125550124", "1"]])
    _, problems = mapping_from_choices(previews(a, b), {(0, 0): "number", (1, 0): "number"}, {})
    assert any("one mapping applies to every file" in p for p in problems)


def test_named_mappings_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    assert mapping_names(folder) == []
    save_mapping(folder, "crm export", {"number": 'Tel "direct"', "note": "Notes"})
    assert mapping_names(folder) == ["crm export"]
    assert load_mapping(folder, "crm export") == {"number": 'Tel "direct"', "note": "Notes"}
    for bad in ("../x", "", ".hidden", "a/b"):
        with pytest.raises(ConfigError):
            save_mapping(folder, bad, {})
    with pytest.raises(ConfigError, match="no saved mapping"):
        load_mapping(folder, "missing")


def test_saving_into_the_config_file_keeps_everything_else(tmp_path: Path) -> None:
    config = tmp_path / "leadsync.toml"
    config.write_text(
        '# our settings\n[sync]\nmode = "add"  # keep this comment\n\n'
        '[columns]\nnumber = "Old"\n\n[[jobs]]\nname = "nightly"\nsource = "in/*.csv"\n'
    )
    save_to_config(config, {"number": "Tel (direct)", "first_name": "Given"})
    text = config.read_text()
    assert "# keep this comment" in text and "# our settings" in text
    s = load_settings(config, environ={})
    assert s.columns == {"number": "Tel (direct)", "first_name": "Given"}
    assert s.sync.mode == "add" and s.jobs[0].name == "nightly"


def test_saving_keeps_the_config_files_permissions(tmp_path: Path) -> None:
    # a config holding the API password is often readable by its owner only: it stays so
    config = tmp_path / "leadsync.toml"
    config.write_text('[columns]\nnumber = "Old"\n')
    config.chmod(0o600)
    save_to_config(config, {"number": "Tel"})
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert load_settings(config, environ={}).columns == {"number": "Tel"}
    assert [p.name for p in tmp_path.iterdir()] == ["leadsync.toml"]  # no temporary copy left
