"""The modules of leadsync/sync/ (diff, plan, outcomes) are pure: no HTTP client, no sandbox, no API client, no file access.

Two independent checks: what importing them actually loads (in a fresh interpreter, so other
tests' imports do not hide anything), and what their source imports or calls (so a lazy import
inside a function is caught too).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import leadsync

PACKAGE = Path(leadsync.__file__).parent
PURE_DIR = PACKAGE / "sync"
PURE_MODULES = tuple(sorted(p.stem for p in PURE_DIR.glob("*.py") if p.stem != "__init__"))
#: Never loaded by importing the pure modules (nor the plan file module).
FORBIDDEN_LOADED = ("requests", "urllib3", "leadsync.sandbox", "leadsync.api")
#: Never imported by the pure modules' source, anywhere in the file.
FORBIDDEN_IMPORTS = (
    "requests",
    "urllib3",
    "http",
    "socket",
    "os",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "subprocess",
    "leadsync.sandbox",
    "leadsync.api",
    "leadsync.apply",
    "leadsync.reader",
    "leadsync.report",
)
#: Builtins that do I/O.
FORBIDDEN_CALLS = ("open", "print", "input")


def loaded_modules(*modules: str) -> tuple[set[str], set[str]]:
    """In a fresh interpreter: the modules loaded after importing ``modules``, and (to prove
    the probe can see a forbidden one) after importing requests as well."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
        "import requests\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    before, after = out.stdout.splitlines()
    return set(json.loads(before)), set(json.loads(after))


def is_forbidden(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def test_importing_the_pure_modules_loads_no_network_or_sandbox_code() -> None:
    loaded, with_requests = loaded_modules(
        "leadsync.sync.diff", "leadsync.sync.plan", "leadsync.run.planfile"
    )
    assert "leadsync.sync.plan" in loaded  # the probe really imported them
    assert "requests" in with_requests  # and it would see a forbidden module
    bad = sorted(m for m in loaded if is_forbidden(m, FORBIDDEN_LOADED))
    assert bad == []


def source_imports(path: Path, package: str = "leadsync") -> set[str]:
    """Every module ``path`` imports; relative imports resolved against ``package``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from ..x import y in leadsync.sync → leadsync.x
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = anchor + ("." + base if base else "")
                names.update(f"{base}.{alias.name}" for alias in node.names)
            names.add(base)
    return names


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_source_imports_nothing_that_does_io(module: str) -> None:
    imports = source_imports(PURE_DIR / f"{module}.py", "leadsync.sync")
    assert "__future__" in imports  # the parse found the imports (every module has it)
    assert sorted(i for i in imports if is_forbidden(i, FORBIDDEN_IMPORTS)) == []


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_source_calls_no_io_builtin(module: str) -> None:
    tree = ast.parse((PURE_DIR / f"{module}.py").read_text(encoding="utf-8"))
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert sorted(calls & set(FORBIDDEN_CALLS)) == []


def test_the_pure_core_is_found() -> None:
    assert {"diff", "plan", "outcomes"} <= set(PURE_MODULES)


def test_the_source_check_would_see_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import pandas\nfrom .api import client\nimport os.path\n", "utf-8")
    found = {i for i in source_imports(sample) if is_forbidden(i, FORBIDDEN_IMPORTS)}
    assert found == {"leadsync.api", "leadsync.api.client", "os.path"}


def test_relative_imports_resolve_from_the_pure_package(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from ..report import model\nfrom .diff import x\n", "utf-8")
    found = source_imports(sample, "leadsync.sync")
    assert {"leadsync.report.model", "leadsync.sync.diff"} <= found
