"""Hostile files through the real CLI (``leadsync validate FILE`` in a subprocess with a 2 GiB
address-space limit and a timeout): each is refused with one clear line and exit 2 — or, for
mixed line endings and stray cells within the bounds, read correctly — in bounded time and
memory, never with a traceback.

The bounds enforced (leadsync/reader/limits.py): file 512 MiB; 5,000,000 rows; 1,000 columns;
32,767 characters a cell; workbooks: 2 GiB expanded in all, 200-fold expansion of one part
above 8 MiB, 10,000 parts, 32,000,000 cells in one sheet's grid (its rows × the columns holding
a cell); only regular files are read (a pipe or device is refused).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import leadsync.reader
from leadsync.config import load_settings
from leadsync.errors import ExitCode
from leadsync.reader import read_sources
from leadsync.reader.limits import DEFAULT_LIMITS
from tests.reliability import hostile
from tests.reliability.support import CliRun, RunCli, run_cli

#: Wall-clock bound of one refusal on this loaded machine (CLI startup included).
REFUSAL_BOUND_S = 90.0
#: Peak memory of the process that refused a file: far below what the file would take.
REFUSAL_RSS_BOUND_KIB = 700 * 1024
#: Peak memory of the process that read a workbook within the bounds (the operator's guide
#: suggests a 2 GiB container limit; python-calamine lays out an .xls sheet of 65,536 × 256
#: cells in about 1 GiB).
READ_RSS_BOUND_KIB = 1536 * 1024
#: CLI processes run at once (the machine has 2 cores, shared).
PARALLEL = 3

# name: (builder, exit code, what the error line says)
CASES: dict[str, tuple[Callable[[Path], Path], int, str]] = {
    "xlsx zip bomb (16 MiB sheet, 1000-fold)": (
        hostile.xlsx_zip_bomb,
        2,
        r"expands [\d,]+-fold, more than 200 \(a ZIP bomb\?\)",
    ),
    "xlsx declaring 3 GiB": (
        hostile.xlsx_declares_3_gib,
        2,
        r"expands to 3,\d{3} MiB, more than the limit of 2,048 MiB \(a ZIP bomb\?\)",
    ),
    "xlsx lying about its size": (
        hostile.xlsx_lies_about_size,
        2,
        r"workbook is encrypted or corrupt",
    ),
    "xlsx billion laughs in the sheet": (
        hostile.xlsx_billion_laughs_sheet,
        2,
        r"workbook is encrypted or corrupt",
    ),
    "xlsx billion laughs in shared strings": (
        hostile.xlsx_billion_laughs_shared_strings,
        2,
        r"workbook is encrypted or corrupt",
    ),
    "xlsx 10,000 columns": (
        hostile.xlsx_10000_columns,
        2,
        r"\[sheet 'Sheet1'\] has a cell at ALM1, beyond the limit of 1,000 columns",
    ),
    "csv 2 GiB one line (sparse)": (
        hostile.csv_2_gib_one_line,
        2,
        r"is 2,048 MiB, more than the limit of 512 MiB",
    ),
    "csv NUL bytes": (hostile.csv_nul_bytes, 2, r"contains NUL bytes \(first on line 2\)"),
    "csv 10,000 columns": (
        hostile.csv_10000_columns,
        2,
        r"has 10,000 columns, more than the limit of 1,000",
    ),
    "csv 10,000 columns after 64 KiB": (
        hostile.csv_10000_columns_late,
        2,
        r"has 10,000 columns, more than the limit of 1,000",
    ),
    "csv 1 MB cell": (
        hostile.csv_1_mb_cell,
        2,
        r"row 2, column B has more than 32,767 characters",
    ),
    "csv unbalanced quote": (
        hostile.csv_unbalanced_quote,
        2,
        r"(row 2.*unbalanced quote|more than 32,767 characters)",
    ),
    "csv 5,000,001 rows": (
        hostile.csv_too_many_rows,
        2,
        r"has more than 5,000,000 rows \(the limit\); split the file",
    ),
    "named pipe": (hostile.fifo, 2, r"is not a regular file \(a pipe, device or socket\)"),
    "/dev/zero": (hostile.dev_zero, 2, r"is not a regular file \(a pipe, device or socket\)"),
    "csv mixed line endings": (hostile.csv_mixed_line_endings, 0, ""),
    "csv old Mac line endings": (hostile.csv_old_mac_endings, 0, ""),
    "xlsx stray cell at XFD1048576 (was: abort, exit 134)": (
        hostile.xlsx_stray_cell_xfd1048576,
        2,
        r"\[sheet 'Leads'\] has a cell at XFD1048576, beyond the limit of 1,000 columns",
    ),
    "xlsx stray cell at ZZ200000 (was: 9 GB)": (hostile.xlsx_stray_cell_zz200000, 0, ""),
    "ods stray cell at XFD1048576": (
        hostile.ods_stray_cell_xfd1048576,
        2,
        r"\[sheet 'Leads'\] has a cell at XFD1048576, beyond the limit of 1,000 columns",
    ),
    "ods stray cell at ZZ200000 (was: 'Cannot detect file format')": (
        hostile.ods_stray_cell_zz200000,
        0,
        "",
    ),
    "xls stray cell at IV65536 (the format's last cell)": (hostile.xls_stray_cell_iv65536, 0, ""),
    "xls cell record at column 60,000 (was: abort, 125 GB)": (
        hostile.xls_cell_at_column_60000,
        2,
        r"\[sheet 'Leads'\] has a cell at CJSS65536, beyond the 65,536 rows × 256 columns of "
        r"the \.xls format",
    ),
}
#: What the files read with exit 0 hold: (number, outcome) per row of rows.csv.
READ_ROWS: dict[str, list[tuple[str, str]]] = {
    name: [(n, "valid") for n, _ in hostile.MIXED_ROWS[1:]]
    for name in ("csv mixed line endings", "csv old Mac line endings")
} | {
    name: [(n, "valid") for n in hostile.STRAY_LEADS] + [("", "rejected")]  # the stray row
    for name in CASES
    if "stray cell" in name and CASES[name][1] == 0
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, CliRun]]]:
    """Every case built, then validated by the CLI, a few processes at a time."""
    folder = tmp_path_factory.mktemp("hostile")
    files = {name: build(folder) for name, (build, _, _) in CASES.items()}

    def validate(name: str) -> tuple[Path, CliRun]:
        report = folder / f"report-{re.sub(r'[^a-z0-9]+', '-', name.lower())}"
        return report, run_cli(
            ["validate", files[name], "--report-dir", report], cwd=folder, timeout=REFUSAL_BOUND_S
        )

    with ThreadPoolExecutor(PARALLEL) as pool:
        yield dict(zip(files, pool.map(validate, files), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file(name: str, runs: dict[str, tuple[Path, CliRun]]) -> None:
    _, expected_exit, message = CASES[name]
    report, run = runs[name]
    assert run.returncode == expected_exit, run.output[-3000:]
    assert "Traceback" not in run.output, run.output[-3000:]
    assert "Warning" not in run.stderr, run.stderr[-3000:]
    assert run.seconds < REFUSAL_BOUND_S
    if expected_exit == 0:
        with (report / "rows.csv").open(encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        assert [(r["number"], r["outcome"]) for r in rows] == READ_ROWS[name]
        assert run.peak_rss_kib < READ_RSS_BOUND_KIB, f"{run.peak_rss_kib / 1024:.0f} MiB"
        return
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr[-3000:]
    assert re.search(message, errors[0]), errors[0]
    assert run.peak_rss_kib < REFUSAL_RSS_BOUND_KIB, f"{run.peak_rss_kib / 1024:.0f} MiB"


def test_the_2_gib_file_costs_no_disk(tmp_path: Path) -> None:
    path = hostile.csv_2_gib_one_line(tmp_path)
    assert path.stat().st_size == 2 * hostile.GIB
    assert path.stat().st_blocks * 512 < hostile.MIB  # sparse: refused by size, never read


@pytest.mark.parametrize("build", [hostile.csv_mixed_line_endings, hostile.csv_old_mac_endings])
def test_every_line_ending_splits_records_and_keeps_every_column(
    tmp_path: Path, build: Callable[[Path], Path]
) -> None:
    """Regression: a bare \\r (old Mac "CSV", or files pasted together) made the column sniffer
    see one column, so every column but the first was silently dropped."""
    result = read_sources([build(tmp_path)], load_settings(environ={}))
    leads = result.leads
    assert list(leads["number"]) == [n for n, _ in hostile.MIXED_ROWS[1:]]
    assert list(leads["first_name"]) == [f for _, f in hostile.MIXED_ROWS[1:]]
    assert result.issues == []


def test_the_limits_are_the_ones_this_suite_states() -> None:
    lim = DEFAULT_LIMITS
    assert (lim.max_file_bytes, lim.max_rows, lim.max_columns, lim.max_cell_chars) == (
        512 * hostile.MIB,
        5_000_000,
        1_000,
        32_767,
    )
    assert (lim.max_unzipped_bytes, lim.max_zip_ratio, lim.ratio_floor_bytes) == (
        2 * hostile.GIB,
        200.0,
        8 * hostile.MIB,
    )
    assert lim.max_zip_members == 10_000
    assert lim.max_grid_cells == 32_000_000


OUT_OF_MEMORY = "error: out of memory"


def test_running_out_of_memory_is_one_line_not_a_traceback(
    tmp_path: Path, run_leadsync: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: within the bounds a file can still need more memory than the machine gives
    (measured: a 436 MB CSV under a 2 GiB address-space limit); MemoryError — and pyarrow's
    and numpy's, which derive from it — ended the CLI with a traceback."""
    src = hostile.csv_mixed_line_endings(tmp_path)

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError  # what the allocator raises; the reader cannot be made to fail so

    monkeypatch.setattr(leadsync.reader, "read_sources", exhausted)
    run = run_leadsync("validate", str(src), "--report-dir", str(tmp_path / "report"))
    assert run.code == ExitCode.FAILED
    assert run.err.strip().splitlines()[-1].startswith(OUT_OF_MEMORY), run.err
    assert "Traceback" not in run.err


@pytest.mark.slow
def test_a_file_at_the_size_bound_is_read_or_refused_in_one_line(tmp_path: Path) -> None:
    """436 MB, 4.8 million rows (under both bounds) with the CLI held to 2 GiB of address
    space: either it fits, or it ends with the one-line out-of-memory error."""
    path = tmp_path / "big.csv"
    with path.open("w") as fh:
        fh.write("Phone,First Name,Note\n")
        pad = "y" * 72
        for i in range(4_800_000):
            fh.write(f"+1213{200 + (i // 10_000) % 800:03d}{i % 10_000:04d},N{i % 1000},{pad}\n")
    assert path.stat().st_size < DEFAULT_LIMITS.max_file_bytes
    run = run_cli(
        ["validate", path, "--report-dir", tmp_path / "report"], cwd=tmp_path, timeout=900
    )
    assert "Traceback" not in run.output, run.output[-3000:]
    if run.returncode != ExitCode.OK:
        assert run.returncode == ExitCode.FAILED
        assert run.stderr.strip().splitlines()[-1].startswith(OUT_OF_MEMORY), run.stderr[-2000:]
