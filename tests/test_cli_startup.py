"""Start-up: ``leadsync --help``, ``--version`` and every ``COMMAND --help`` load no pandas,
pyarrow, pydantic or HTTP stack (judged by ``sys.modules`` in a fresh interpreter, not by
timing; bench/bench_scale.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from leadsync.cli import cli

#: Top-level packages a help or version screen must not import.
HEAVY = (
    "pandas",
    "pyarrow",
    "numpy",
    "pydantic",
    "pydantic_settings",
    "requests",
    "urllib3",
    "openpyxl",
    "jinja2",
    "rich",
    "phonenumbers",
)

PROBE = """
import json, sys
from leadsync.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
with open({out!r}, "w") as fh:
    json.dump(sorted({{name.split(".")[0] for name in sys.modules}}), fh)
"""


def loaded_after(argv: list[str], tmp_path: Path) -> set[str]:
    """Top-level modules imported by a fresh interpreter that ran ``leadsync *argv``."""
    out = tmp_path / "modules.json"
    code = PROBE.format(argv=argv, out=str(out))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.exists(), done.stderr[-2000:]
    return set(json.loads(out.read_text(encoding="utf-8")))


SCREENS = [["--version"], ["--help"], *([name, "--help"] for name in sorted(cli.commands))]


@pytest.mark.parametrize("argv", SCREENS, ids=" ".join)
def test_help_and_version_load_no_heavy_library(argv: list[str], tmp_path: Path) -> None:
    loaded = loaded_after(argv, tmp_path)
    assert "leadsync" in loaded and "click" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    # The same probe on a command that reads a file does load them: the check above can fail.
    empty = tmp_path / "empty.csv"
    empty.write_text("Phone\n", encoding="utf-8")
    argv = ["validate", str(empty), "--report-dir", str(tmp_path / "report")]
    loaded = loaded_after(argv, tmp_path)
    assert {"pandas", "pyarrow", "pydantic"} <= loaded


def test_validate_loads_no_http_stack(tmp_path: Path) -> None:
    """``leadsync validate`` reads and reports without the API client (no requests, urllib3,
    tenacity): it never talks to the API."""
    src = tmp_path / "leads.csv"
    src.write_text("Phone\n+12135550101\n", encoding="utf-8")
    out = tmp_path / "modules.json"
    argv = ["validate", str(src), "--report-dir", str(tmp_path / "report")]
    code = PROBE.format(argv=argv, out=str(out))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=120)
    loaded = set(json.loads(out.read_text(encoding="utf-8")))
    assert (tmp_path / "report" / "summary.json").exists()
    assert not loaded & {"requests", "urllib3", "tenacity"}, sorted(loaded)
