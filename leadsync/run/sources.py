"""SOURCE arguments → the files to read (no HTTP, no pandas: ``validate`` and the CLI use it
without loading the sync's machinery)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

#: File types a SOURCE folder is searched for.
SOURCE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")


def expand_sources(paths: tuple[Path, ...] | list[Path]) -> tuple[Path, ...]:
    """SOURCE arguments → files: a folder stands for its spreadsheets (sorted, not recursive).
    Raises InputError naming a path that does not exist or a folder with no spreadsheet."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and p.suffix.lower() in SOURCE_SUFFIXES
                and not p.name.startswith((".", "~$"))
            )
            if not found:
                raise InputError(
                    f"{path}: no spreadsheet files in this folder ({', '.join(SOURCE_SUFFIXES)})",
                    path=str(path),
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file", path=str(path))
    return tuple(dict.fromkeys(files))
