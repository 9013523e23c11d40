"""Row issues as columns: a :class:`IssueTable` is a ``Sequence[RowIssue]`` kept as Arrow.

A large file can reject hundreds of thousands of rows; the report needs their fields as
columns (rows.csv, rejected.csv, counts), so they stay columns and a :class:`RowIssue` is
made only when one is asked for (by index or by iterating).

``values`` (each row's original cells by header) are kept as blocks: consecutive issues that
share the same header keys (the rows of one file or sheet) share one block of Arrow columns.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..models import IssueKind, RowIssue

TEXT = pa.large_string()
#: The fixed columns of an issue table, in order.
ISSUE_SCHEMA = pa.schema(
    [
        ("file", TEXT),
        ("sheet", TEXT),
        ("row", pa.int64()),
        ("kind", TEXT),
        ("codes", TEXT),  # ";"-joined
        ("message", TEXT),
        ("campaign", TEXT),
        ("number", TEXT),
        ("duplicate_of_row", pa.int64()),
    ]
)


@dataclass(frozen=True)
class ValueBlock:
    """The original cells of ``length`` consecutive issues from ``start``: one column per key
    (a row's ``values`` is ``dict(zip(keys, cells))``, as the reader builds it)."""

    start: int
    keys: tuple[str, ...]
    columns: tuple[pa.Array, ...]

    @property
    def length(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def column(self, key: str) -> pa.Array | None:
        """The cells of ``key`` (the last column of that key, as ``dict`` keeps it)."""
        return dict(zip(self.keys, self.columns, strict=True)).get(key)


class IssueTable(Sequence[RowIssue]):
    """Row issues as an Arrow table (:data:`ISSUE_SCHEMA`) plus their cells (``blocks``)."""

    __slots__ = ("_blocks", "table")

    def __init__(self, table: pa.Table, blocks: Sequence[ValueBlock] = ()) -> None:
        self.table = table.select(ISSUE_SCHEMA.names).cast(ISSUE_SCHEMA)
        self._blocks = [b for b in blocks if b.length]

    # --- building ------------------------------------------------------------------------
    @classmethod
    def from_issues(cls, issues: Iterable[RowIssue]) -> IssueTable:
        """A table of these RowIssue objects (few: a sync's late issues, tests)."""
        if isinstance(issues, IssueTable):
            return issues
        items = list(issues)
        table = pa.table(
            {
                "file": pa.array([i.file for i in items], TEXT),
                "sheet": pa.array([i.sheet for i in items], TEXT),
                "row": pa.array([i.row for i in items], pa.int64()),
                "kind": pa.array([IssueKind(i.kind).value for i in items], TEXT),
                "codes": pa.array([";".join(i.codes) for i in items], TEXT),
                "message": pa.array([i.message for i in items], TEXT),
                "campaign": pa.array([i.campaign for i in items], TEXT),
                "number": pa.array([i.number for i in items], TEXT),
                "duplicate_of_row": pa.array([i.duplicate_of_row for i in items], pa.int64()),
            },
            schema=ISSUE_SCHEMA,
        )
        blocks: list[ValueBlock] = []
        start = 0
        for keys, group in itertools.groupby(items, key=lambda i: tuple(i.values)):
            rows = list(group)
            columns = tuple(pa.array([i.values[key] for i in rows], TEXT) for key in keys)
            blocks.append(ValueBlock(start, keys, columns))
            start += len(rows)
        return cls(table, blocks)

    @classmethod
    def concat(cls, parts: Iterable[Iterable[RowIssue]]) -> IssueTable:
        """The issues of ``parts`` (IssueTables or lists of RowIssue) one after the other."""
        tables = [cls.from_issues(p) for p in parts]
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls(ISSUE_SCHEMA.empty_table())
        if len(tables) == 1:
            return tables[0]
        blocks: list[ValueBlock] = []
        offset = 0
        for t in tables:
            blocks += [ValueBlock(b.start + offset, b.keys, b.columns) for b in t._blocks]
            offset += len(t)
        return cls(pa.concat_tables([t.table for t in tables]), blocks)

    # --- Sequence ------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.table.num_rows

    @overload
    def __getitem__(self, index: int) -> RowIssue: ...

    @overload
    def __getitem__(self, index: slice) -> IssueTable: ...

    def __getitem__(self, index: int | slice) -> RowIssue | IssueTable:
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        n = len(self)
        if not -n <= index < n:
            raise IndexError("issue index out of range")
        return next(iter(self.take(np.array([index % n]))))

    def __iter__(self) -> Iterator[RowIssue]:
        records = self.table.to_pylist()
        values: list[dict[str, str]] = [{} for _ in records]
        for b in self._blocks:
            cells = [c.to_pylist() for c in b.columns]
            for m, row in enumerate(zip(*cells, strict=True)):
                values[b.start + m] = dict(zip(b.keys, row, strict=True))
        for record, vals in zip(records, values, strict=True):
            yield self._issue(record, vals)

    def __repr__(self) -> str:
        return f"IssueTable({len(self)} issues)"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @staticmethod
    def _issue(record: dict, values: dict[str, str]) -> RowIssue:
        codes = record["codes"]
        return RowIssue(
            file=record["file"],
            sheet=record["sheet"],
            row=record["row"],
            kind=IssueKind(record["kind"]),
            codes=tuple(codes.split(";")) if codes else (),
            message=record["message"],
            values=values,
            campaign=record["campaign"],
            number=record["number"],
            duplicate_of_row=record["duplicate_of_row"],
        )

    # --- columns -------------------------------------------------------------------------
    def take(self, indices: np.ndarray) -> IssueTable:
        """The issues at ``indices`` (increasing), as a new table."""
        idx = np.asarray(indices, dtype=np.int64)
        table = self.table.take(pa.array(idx, pa.int64()))
        blocks: list[ValueBlock] = []
        for b in self._blocks:
            lo, hi = np.searchsorted(idx, [b.start, b.start + b.length])
            if hi > lo:
                local = pa.array(idx[lo:hi] - b.start, pa.int64())
                blocks.append(ValueBlock(int(lo), b.keys, tuple(c.take(local) for c in b.columns)))
        return IssueTable(table, blocks)

    def kind_is(self, kind: IssueKind) -> np.ndarray:
        """Per issue: whether it is of ``kind``."""
        hit = pc.equal(self.table["kind"], pa.scalar(kind.value, TEXT))
        return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)

    def of_kind(self, kind: IssueKind) -> IssueTable:
        """The issues of ``kind``, in order."""
        hit = self.kind_is(kind)
        return self if hit.all() else self.take(np.flatnonzero(hit))

    def code_counts(self) -> dict[str, int]:
        """How many issues carry each code."""
        codes = pc.list_flatten(pc.split_pattern(self.table["codes"], ";"))
        counts = pc.value_counts(codes)
        return {
            v: int(n)
            for v, n in zip(
                counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
            )
            if v
        }

    def code_examples(self) -> dict[str, str]:
        """Each code with the message of the first issue that carries it."""
        split = pc.split_pattern(self.table["codes"].combine_chunks(), ";")
        parents = np.asarray(pc.list_parent_indices(split).to_numpy(zero_copy_only=False))
        flat = pc.list_flatten(split)
        encoded = pc.dictionary_encode(flat)
        names = encoded.dictionary.to_pylist()
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
        _, first = np.unique(codes, return_index=True)
        messages = self.table["message"]
        out: dict[str, str] = {}
        for at in sorted(first.tolist()):
            name = names[codes[at]]
            if name and name not in out:
                out[name] = messages[int(parents[at])].as_py()
        return out

    def value_keys(self) -> list[str]:
        """Every header of the cells, in the order first seen."""
        return list(dict.fromkeys(k for b in self._blocks for k in b.keys))

    def value_column(self, key: str) -> pa.ChunkedArray:
        """The cells under ``key`` for every issue (null where an issue has no such cell)."""
        chunks: list[pa.Array] = []
        at = 0
        for b in self._blocks:
            if b.start > at:
                chunks.append(pa.nulls(b.start - at, TEXT))
            col = b.column(key)
            chunks.append(col.cast(TEXT) if col is not None else pa.nulls(b.length, TEXT))
            at = b.start + b.length
        if len(self) > at:
            chunks.append(pa.nulls(len(self) - at, TEXT))
        return pa.chunked_array(chunks, type=TEXT)


__all__ = ["ISSUE_SCHEMA", "IssueTable", "ValueBlock"]
