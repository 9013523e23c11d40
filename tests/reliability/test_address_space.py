"""Under an address-space limit (``ulimit -v``) leadsync reserves less: two malloc arenas,
Arrow's system allocator, two Arrow I/O threads — so a sync with its apply threads and Arrow's
pools runs under a 2 GiB cap (tests/reliability/test_secrets.py runs whole syncs so), and
nothing changes without a limit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leadsync.run import memory
from tests.reliability.support import CLI_MEMORY_LIMIT, cli_env, limit_memory

#: What a child process reports of its own set-up: Arrow's pool and I/O threads.
REPORT = """
from leadsync.run.memory import fit_address_space
fitted = fit_address_space()
import pyarrow as pa
print(fitted, pa.default_memory_pool().backend_name, pa.io_thread_count())
"""


def child(limit: int | None) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", REPORT],
        env=cli_env(),
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=(lambda: limit_memory(limit)) if limit else None,
        timeout=120,
    )
    return out.stdout.split()


def test_under_a_limit_arrow_and_malloc_reserve_less() -> None:
    assert child(CLI_MEMORY_LIMIT) == ["True", "system", str(memory.ARROW_IO_THREADS)]


def test_without_a_limit_nothing_changes() -> None:
    fitted, backend, io_threads = child(None)
    assert fitted == "False"
    assert backend != "system" or io_threads != str(memory.ARROW_IO_THREADS)


def test_fit_keeps_what_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # This process's own allocator and Arrow stay as they are.
    monkeypatch.setattr(memory, "_fit_loaded_arrow", lambda: None)
    monkeypatch.setattr(memory, "_limit_arenas", lambda arenas: True)
    env = {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}
    assert memory.fit_address_space(limit=CLI_MEMORY_LIMIT, environ=env)
    assert env["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"
    assert env["ARROW_IO_THREADS"] == str(memory.ARROW_IO_THREADS)
    assert env["MALLOC_ARENA_MAX"] == str(memory.ARENAS)


def test_arenas_are_limited_through_mallopt() -> None:
    assert memory._limit_arenas(memory.ARENAS)  # glibc, as on every machine leadsync runs on
