"""Column mappings edited on the "map columns" page: from the user's choices to ``[columns]``,
and saving them (as a named mapping, or into the config file).

The console has no mapping logic of its own: the choices become a ``[columns]`` table (lead
field = header) and the reader's :func:`~leadsync.reader.columns.map_columns` (through
:func:`leadsync.run.inspect.check_mapping`) says what it will do with it. When that differs
from what the user chose (a column left "not used" that the reader would still take by its
name), the page says so instead of running something else than what was shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import tomlkit
import tomlkit.exceptions

from ..atomic import open_mode, write_atomic
from ..errors import ConfigError, InputError
from ..models import INPUT_FIELDS
from ..run.inspect import SheetPreview, check_mapping

#: Named mappings are files ``<name>.toml`` holding one ``[columns]`` table.
MAPPING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
MAPPING_SUFFIX = ".toml"
#: What the "not used" choice is called in forms.
NOT_USED = ""


def _where(p: SheetPreview) -> str:
    name = Path(p.path).name
    return f"{name} [sheet {p.sheet!r}]" if p.sheet else name


def mapping_from_choices(
    previews: Sequence[SheetPreview],
    choices: Mapping[tuple[int, int], str],
    base: Mapping[str, str],
) -> tuple[dict[str, str], list[str]]:
    """``([columns] table, problems)`` for the user's ``choices`` ((preview, column) → lead
    field, or :data:`NOT_USED`) on ``previews`` that were made with ``base`` as ``[columns]``.

    Only choices that differ from what was detected are written into the table (columns the
    synonyms find need no entry, so one mapping serves several files). ``problems`` are
    sentences for the page; the mapping may be used only when there are none."""
    problems: list[str] = []
    explicit: dict[str, tuple[str, str]] = {}  # field -> (header, where)
    dropped: set[str] = set()
    for k, p in enumerate(previews):
        chosen_here: dict[str, str] = {}
        for c in p.columns:
            chosen = choices.get((k, c.index), c.field or NOT_USED) or NOT_USED
            if chosen != NOT_USED and chosen not in INPUT_FIELDS:
                problems.append(f"{_where(p)}: {chosen!r} is not a lead field")
                continue
            if chosen != NOT_USED:
                if chosen in chosen_here:
                    problems.append(
                        f"{_where(p)}: columns {chosen_here[chosen]!r} and {c.header!r} are both "
                        f"mapped to {chosen}; choose one"
                    )
                chosen_here[chosen] = c.header
            if chosen == (c.field or NOT_USED):
                continue
            if chosen == NOT_USED:
                if c.field is not None and c.how == "mapping":
                    dropped.add(c.field)
                continue
            if not c.header:
                problems.append(
                    f"{_where(p)}: column {c.letter} has no header, so it cannot be mapped; "
                    "give it a header in the file"
                )
                continue
            if chosen in explicit and explicit[chosen][0] != c.header:
                problems.append(
                    f"{chosen} is mapped to {explicit[chosen][0]!r} in {explicit[chosen][1]} and "
                    f"to {c.header!r} in {_where(p)}; one mapping applies to every file of an "
                    "import: rename the column in one file, or import the files separately"
                )
            explicit.setdefault(chosen, (c.header, _where(p)))
    columns = {f: h for f, h in base.items() if f not in dropped}
    columns.update({f: h for f, (h, _) in explicit.items()})
    if problems:
        return columns, problems
    for k, p in enumerate(previews):
        try:
            fields = check_mapping(p, columns)
        except InputError as err:
            problems.append(str(err))
            continue
        got = {i: f for f, i in fields.items()}
        for c in p.columns:
            want = choices.get((k, c.index), c.field or NOT_USED) or NOT_USED
            have = got.get(c.index, NOT_USED)
            if have != want:
                problems.append(
                    f"{_where(p)}: column {c.letter} {c.header!r} would be read as "
                    f"{have or 'not used'}, not {want or 'not used'}"
                    + (
                        " (its header names that field; map the field to another column, or "
                        "rename the column in the file)"
                        if have and not want
                        else ""
                    )
                )
    return columns, problems


# --- named mappings and the config file --------------------------------------------------------
def check_name(name: str) -> str:
    """A mapping name as typed, checked; ConfigError saying what is allowed."""
    name = name.strip()
    if not MAPPING_NAME.fullmatch(name):
        raise ConfigError(
            "a mapping name is 1 to 64 letters, digits, spaces, '.', '_' or '-', starting with "
            "a letter or digit"
        )
    return name


def mapping_names(folder: Path) -> list[str]:
    """The named mappings saved in ``folder``, sorted."""
    try:
        return sorted(
            p.stem
            for p in folder.iterdir()
            if p.suffix == MAPPING_SUFFIX and p.is_file() and MAPPING_NAME.fullmatch(p.stem)
        )
    except FileNotFoundError:
        return []


def load_mapping(folder: Path, name: str) -> dict[str, str]:
    """The ``[columns]`` table of named mapping ``name``. ConfigError when it is missing or
    not a mapping."""
    path = folder / f"{check_name(name)}{MAPPING_SUFFIX}"
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no saved mapping named {name!r}") from None
    except (OSError, tomlkit.exceptions.TOMLKitError) as err:
        raise ConfigError(f"saved mapping {name!r} cannot be read: {err}") from None
    table = doc.get("columns", {})
    columns = {str(k): str(v) for k, v in table.items()} if isinstance(table, Mapping) else {}
    unknown = sorted(set(columns) - set(INPUT_FIELDS))
    if unknown:
        raise ConfigError(f"saved mapping {name!r} names unknown field(s) {', '.join(unknown)}")
    return columns


def _columns_table(columns: Mapping[str, str]) -> tomlkit.items.Table:
    table = tomlkit.table()
    for field_name in INPUT_FIELDS:  # a stable order: the fields' own
        if field_name in columns:
            table.add(field_name, columns[field_name])
    return table


def save_mapping(folder: Path, name: str, columns: Mapping[str, str]) -> Path:
    """Save ``columns`` as named mapping ``name`` (replacing one of that name)."""
    path = folder / f"{check_name(name)}{MAPPING_SUFFIX}"
    doc = tomlkit.document()
    doc.add(tomlkit.comment("leadsync column mapping, saved by the console"))
    doc.add("columns", _columns_table(columns))
    write_atomic(path, tomlkit.dumps(doc), mode=open_mode())
    return path


def save_to_config(config: Path, columns: Mapping[str, str]) -> None:
    """Write ``columns`` as the ``[columns]`` table of the config file ``config``, keeping
    every other table, key and comment as it was. ConfigError when the file cannot be read
    or written."""
    try:
        doc = tomlkit.parse(config.read_text(encoding="utf-8"))
    except (OSError, tomlkit.exceptions.TOMLKitError) as err:
        raise ConfigError(f"config file {config} cannot be read: {err}") from None
    doc["columns"] = _columns_table(columns)
    try:
        mode = config.stat().st_mode & 0o777
        write_atomic(config, tomlkit.dumps(doc), mode=mode)
    except OSError as err:
        raise ConfigError(f"config file {config} cannot be written: {err.strerror}") from None
