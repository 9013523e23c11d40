"""The Dockerfile, read carefully since no Docker engine runs here: what it copies exists and
survives .dockerignore, it installs without dev extras, runs as a numeric non-root user, and
its entry point, volumes, config variable and health check are the documented ones."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, args = pending.partition(" ")
        out.append((word.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def only(name: str) -> str:
    found = [args for word, args in instructions() if word == name]
    assert len(found) == 1, f"expected one {name}, found {found}"
    return found[0]


def ignore_patterns() -> list[tuple[bool, str]]:
    """(negated, pattern) lines of .dockerignore."""
    patterns = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            patterns.append((negated, line.lstrip("!").strip("/")))
    return patterns


def _matches(pattern: str, path: str) -> bool:
    if pattern.startswith("**/"):
        tail = pattern[3:]
        parts = path.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[i:]), tail) for i in range(len(parts)))
    return fnmatch.fnmatchcase(path, pattern)


def in_context(path: str) -> bool:
    """Whether Docker sends ``path`` (relative to the repo) with the build context: the last
    .dockerignore pattern matching the path or one of its parent folders decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negated, pattern in ignore_patterns():
        if any(_matches(pattern, c) for c in candidates):
            included = negated
    return included


def test_the_ignore_matcher_can_tell_in_from_out() -> None:
    assert in_context("leadsync/cli/jobs.py")
    assert not in_context("leadsync/__pycache__/lock.cpython-311.pyc")
    for outside in (".git/HEAD", ".venv/bin/python", "tests/ops/test_lock.py", "leadsync.toml"):
        assert not in_context(outside), outside


def test_copied_paths_exist_and_are_in_the_build_context() -> None:
    copies = [args for word, args in instructions() if word == "COPY"]
    assert copies
    for args in copies:
        assert "--from" not in args
        *sources, _dest = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
            assert in_context(source), f"COPY {source}: excluded by .dockerignore"


def test_every_package_file_reaches_the_image() -> None:
    package = [p.relative_to(ROOT).as_posix() for p in (ROOT / "leadsync").rglob("*")]
    shipped = [p for p in package if "__pycache__" not in p]
    assert shipped and all(in_context(p) for p in shipped)


def test_install_is_the_runtime_package_only() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    # what the build needs besides the package: the readme pyproject names
    readme = pyproject["project"]["readme"]
    assert any(readme in args.split() for word, args in instructions() if word == "COPY")
    installs = [args for word, args in instructions() if word == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert re.search(r"pip install \.(\s|$)", installs[0]), installs[0]
    assert "[dev]" not in installs[0] and " -e " not in installs[0]
    assert "leadsync" in pyproject["project"]["scripts"]


def test_base_image_user_and_entry_point() -> None:
    assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?", only("FROM"))
    user = only("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric, non-root user (runAsNonRoot checks it)"
    words = [word for word, _ in instructions()]
    assert words.index("USER") < words.index("ENTRYPOINT")
    assert json.loads(only("ENTRYPOINT")) == ["leadsync"]
    assert json.loads(only("CMD")) == ["--help"]


def test_volumes_config_variable_and_health_check() -> None:
    assert set(json.loads(only("VOLUME"))) == {"/config", "/data", "/reports"}
    env = " ".join(args for word, args in instructions() if word == "ENV")
    assert "LEADSYNC_CONFIG=/config/leadsync.toml" in env.split()
    health = only("HEALTHCHECK")
    command = json.loads(health.split(" CMD ", 1)[1])
    assert command == ["leadsync", "--version"]


@pytest.mark.parametrize("secret", ["LEADSYNC_PASSWORD=", "LEADSYNC_API_KEY="])
def test_no_secret_is_baked_into_the_image(secret: str) -> None:
    for word, args in instructions():
        assert not (word in ("ENV", "ARG") and secret in args), f"{word} {args}"
