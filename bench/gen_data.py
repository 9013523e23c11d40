"""Generated lead files for benchmarks and load tests (deterministic for a seed).

``write_messy_csv(path, rows)``: a CSV the way real exports look: mixed phone formats (US
national with and without punctuation, +1, 1-prefixed, +44/0044 international), ~1% bad rows
(invalid, too short, scientific notation, bad priority), blank optional cells, quoted notes.
``write_xlsx(path, rows)``: the same rows as an XLSX workbook (text cells, numeric priority).

Run as a script: ``python bench/gen_data.py csv|xlsx PATH ROWS [--seed N]``.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HEADER = ["First Name", "Last Name", "Phone", "Status", "Priority", "Retries", "Campaign", "Notes"]
#: Area codes valid in phonenumbers' US metadata.
AREA_CODES = np.array(
    [213, 212, 415, 310, 312, 617, 646, 702, 305, 404, 206, 503, 602, 713, 214, 303, 615, 718]
)
FIRST = np.array(["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Fatima", "Gus", "Hana", "Íñigo", "Jo"])
LAST = np.array(["Lee", "Ray", "Day", "Ng", "O'Brien", "Müller", "Smith", "García", "Kim", "Wu"])
STATUSES = np.array(["new", "new", "new", "", "success", "failed", "New"])
CAMPAIGNS = np.array(["Spring Promo", "Renewals", "Win-back"])
BAD_SHARE = 0.01


def _phone(kind: int, npa: int, nxx: int, line: int, intl: int) -> str:
    if kind == 0:
        return f"+1 ({npa}) {nxx}-{line:04d}"
    if kind == 1:
        return f"{npa}.{nxx}.{line:04d}"
    if kind == 2:
        return f"{npa}{nxx}{line:04d}"
    if kind == 3:
        return f"1-{npa}-{nxx}-{line:04d}"
    if kind == 4:
        return f"({npa}) {nxx}-{line:04d}"
    if kind == 5:
        return f"+44 20 {7000 + nxx} {intl:04d}"
    return f"0044 20 {3000 + nxx} {intl:04d}"


def _bad(kind: int, npa: int, nxx: int, line: int) -> list[str]:
    """A bad phone or field: (phone, priority)."""
    if kind == 0:
        return [f"{npa}{nxx}", "1"]  # too short
    if kind == 1:
        return [f"{npa / 100:.5f}E+11".replace("0.0", "4.4"), "1"]  # scientific notation
    if kind == 2:
        return ["call me", "1"]
    if kind == 3:
        return [f"1{npa}{nxx}{line:04d}9", "1"]  # too long
    return [f"{npa}{nxx}{line:04d}", "high"]  # bad priority


def rows(n: int, seed: int = 0) -> Iterator[list[str]]:
    """``n`` data rows (lists of cell texts) in the order of :data:`HEADER`."""
    rng = np.random.default_rng(seed)
    npa = AREA_CODES[rng.integers(0, len(AREA_CODES), n)]
    nxx = rng.integers(200, 1000, n)
    line = rng.integers(0, 10000, n)
    kind = rng.choice(7, n, p=[0.25, 0.2, 0.2, 0.1, 0.15, 0.05, 0.05])
    intl = rng.integers(0, 10000, n)
    bad = rng.random(n) < BAD_SHARE
    bad_kind = rng.integers(0, 5, n)
    first = FIRST[rng.integers(0, len(FIRST), n)]
    last = LAST[rng.integers(0, len(LAST), n)]
    status = STATUSES[rng.integers(0, len(STATUSES), n)]
    prio = rng.integers(0, 6, n)
    retries = rng.integers(0, 6, n)
    campaign = CAMPAIGNS[rng.integers(0, len(CAMPAIGNS), n)]
    for i in range(n):
        if bad[i]:
            phone, priority = _bad(int(bad_kind[i]), int(npa[i]), int(nxx[i]), int(line[i]))
        else:
            phone = _phone(int(kind[i]), int(npa[i]), int(nxx[i]), int(line[i]), int(intl[i]))
            priority = "" if prio[i] == 0 else str(prio[i])
        note = f'Called {retries[i]} times, "{first[i]}" prefers mornings' if i % 7 == 0 else ""
        yield [
            str(first[i]),
            str(last[i]),
            phone,
            str(status[i]),
            priority,
            str(retries[i]) if retries[i] else "",
            str(campaign[i]),
            note,
        ]


def write_messy_csv(path: Path, n: int, seed: int = 0) -> Path:
    """Write ``n`` messy rows (plus the header) to ``path``; returns ``path``."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows(n, seed))
    return path


def write_xlsx(path: Path, n: int, seed: int = 0) -> Path:
    """Write ``n`` rows as an XLSX workbook (text cells; priority as a number cell)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Leads")
    ws.append(HEADER)
    for r in rows(n, seed):
        r[4] = int(r[4]) if r[4].isdigit() else r[4]  # type: ignore[call-overload]
        ws.append(r)
    wb.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["csv", "xlsx"])
    parser.add_argument("path", type=Path)
    parser.add_argument("rows", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    writer = write_messy_csv if args.kind == "csv" else write_xlsx
    writer(args.path, args.rows, args.seed)
    print(args.path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
