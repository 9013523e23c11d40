"""The table every benchmark prints: metric | measured | target or baseline (shared by the
bench_*.py scripts; run them from the repository root or via bench/run_all.py)."""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass
class Row:
    """One line: ``ok=False`` marks a missed target (the script then exits 1)."""

    metric: str
    measured: str
    target: str
    ok: bool = True


def print_rows(rows: list[Row], *, load_note: bool = True) -> int:
    """Print ``rows`` aligned, flag missed targets, add the machine's load; returns the exit
    status (0 when every target was met)."""
    width = max(len(r.metric) for r in rows)
    mwidth = max(len(r.measured) for r in rows)
    print(f"{'metric':<{width}} | {'measured':<{mwidth}} | target or baseline")
    print(f"{'-' * width}-+-{'-' * mwidth}-+-{'-' * 20}")
    for r in rows:
        flag = "" if r.ok else "   << MISSED"
        print(f"{r.metric:<{width}} | {r.measured:<{mwidth}} | {r.target}{flag}")
    if load_note:
        print(
            f"(machine load average: {', '.join(f'{x:.1f}' for x in psutil.getloadavg())} "
            f"on {psutil.cpu_count()} CPUs; timings are noisy when it is high)"
        )
    return 0 if all(r.ok for r in rows) else 1
