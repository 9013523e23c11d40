"""Lead files whose phone column holds one region's numbers in the forms real files hold them
(E.164, international and national formats, ``00`` and trunk prefixes, separators, padding,
extensions, NBSP and Unicode dashes, Excel float text, ~30 % wrong numbers): the forms are
made by ``tests/reader/phone_forms.py``, which the differential tests use too.

``write_phones_csv(path, region, n)`` writes ``n`` lead rows (the columns of ``gen_data``).

Run as a script: ``python bench/gen_phones.py REGION PATH ROWS [--seed N]``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from pathlib import Path

import gen_data

HERE = Path(__file__).resolve().parent
#: The forms live with the reader's tests; loaded from this checkout's file, so that a
#: PYTHONPATH pointing at another checkout (to measure its leadsync) changes nothing here.
_FORMS = HERE.parent / "tests" / "reader" / "phone_forms.py"


def _load_forms():
    spec = importlib.util.spec_from_file_location("leadsync_bench_phone_forms", _FORMS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


phone_values = _load_forms().phone_values


def write_phones_csv(path: Path, region: str, n: int, seed: int = 0) -> Path:
    """Lead rows (``gen_data.HEADER``) with ``region``'s phone texts; returns ``path``."""
    phones = phone_values(region, n, seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(gen_data.HEADER)
        for row, phone in zip(gen_data.rows(n, seed), phones, strict=True):
            row[2] = phone
            w.writerow(row)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("region")
    parser.add_argument("path", type=Path)
    parser.add_argument("rows", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_phones_csv(args.path, args.region.upper(), args.rows, args.seed)
    print(args.path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
