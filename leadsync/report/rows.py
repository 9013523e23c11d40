"""From what the reader returned to the report's rows table and per-campaign read counts.

The rows table is built column by column with Arrow from the accepted leads' columns and the
issues' (:class:`~leadsync.sync.issuetable.IssueTable`), ordered with one Arrow sort and handed
to pandas without a Python object per row.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..models import NO_CAMPAIGN, Count, IssueKind, ReadResult, RowOutcome, zero_counts
from ..sync.outcomes import issue_counts, issue_rows
from .model import ROW_COLUMNS

_ISSUE_COUNT_KEY = {
    IssueKind.REJECTED: Count.ROWS_REJECTED,
    IssueKind.DUPLICATE: Count.ROWS_DUPLICATE,
}
TEXT = pa.large_string()


def arrow_text(values: pd.Series | list[str | None]) -> pa.ChunkedArray:
    """A text column as Arrow ``large_string`` (missing values null; a pandas Arrow-backed
    column is taken without a copy)."""
    if isinstance(values, pd.Series) and not (
        pd.api.types.is_string_dtype(values.dtype) or values.dtype == object
    ):
        values = values.astype("str")
    arr = pa.array(values, from_pandas=True)
    if arr.type != TEXT:
        arr = arr.cast(TEXT)
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def one_chunk(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``values`` as one contiguous array (copied only when it has several chunks)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _accepted_table(leads: pd.DataFrame, outcome: str) -> pa.Table:
    n = len(leads)
    warnings = arrow_text(leads["warnings"])
    return pa.table(
        {
            "file": arrow_text(leads["file"]),
            "sheet": arrow_text(leads["sheet"]),
            "row": pa.array(leads["row"].astype("Int64"), type=pa.int64(), from_pandas=True),
            "campaign": arrow_text(leads["campaign"]),
            "number": arrow_text(leads["number"]),
            "outcome": pa.repeat(pa.scalar(outcome, TEXT), n),
            "lead_id": pa.nulls(n, TEXT),
            "reasons": pc.if_else(pc.equal(warnings, ""), pa.scalar(None, TEXT), warnings),
            "message": pa.nulls(n, TEXT),
        }
    )


def _input_order(table: pa.Table, result: ReadResult) -> pa.Array:
    """Indices that order ``table`` by the files/sheets as the reader listed them (any others
    after, in order of appearance), then by row number (missing last)."""
    last = pa.scalar(2**63 - 1, pa.int64())  # a missing row number sorts last
    keys: dict[str, pa.Array | pa.ChunkedArray] = {"row": pc.fill_null(table["row"], last)}
    place = _place_ranks(table, result)
    if place is not None:
        keys = {"place": place, **keys}
    # Arrow's sort is stable: rows with equal keys keep accepted-before-issues order.
    return pc.sort_indices(pa.table(keys), sort_keys=[(k, "ascending") for k in keys])


def _place_ranks(table: pa.Table, result: ReadResult) -> pa.Array | None:
    """Each row's (file, sheet) as its rank in the reader's order, or None when all rows come
    from one place (the usual case: nothing to rank). Works on dictionary codes, so no text is
    built per row."""
    files = pc.dictionary_encode(pc.fill_null(table["file"], "")).combine_chunks()
    sheets = pc.dictionary_encode(pc.fill_null(table["sheet"], "")).combine_chunks()
    if len(files.dictionary) <= 1 and len(sheets.dictionary) <= 1:
        return None
    order: dict[tuple[str, str], None] = {}
    for s in result.sources:
        order.setdefault((str(s.path), str(s.sheet) if s.sheet is not None else ""))
    width = len(sheets.dictionary)
    pair = pc.add(
        pc.multiply(files.indices.cast(pa.int64()), width), sheets.indices.cast(pa.int64())
    )
    seen = pc.unique(pair).to_pylist()  # first-seen order; as many as files x sheets
    names = files.dictionary.to_pylist(), sheets.dictionary.to_pylist()
    for code in seen:
        order.setdefault((names[0][code // width], names[1][code % width]))
    rank = {key: i for i, key in enumerate(order)}
    by_code = [0] * (max(seen) + 1)  # codes of pairs that never occur stay 0 (never looked up)
    for code in seen:
        by_code[code] = rank[(names[0][code // width], names[1][code % width])]
    return pc.take(pa.array(by_code, pa.int64()), pair)


def read_rows(
    result: ReadResult, *, valid_outcome: str = RowOutcome.VALID, release: bool = False
) -> pd.DataFrame:
    """One row per input row (:data:`ROW_COLUMNS`; ``row`` is ``Int64``, the rest Arrow-backed
    ``str``), in the order of the files and sheets read and then by row number.

    Accepted rows get ``valid_outcome`` (the sync replaces it with what happened to them) and
    their warnings as reasons; rejected and duplicate rows get their kind, codes and message.
    ``release``: the caller needs ``result.leads`` no more, so it is emptied (``leads`` keeps
    no column), and each of its columns is let go of as soon as its rows are copied: the
    leads and the rows table are then not held whole at the same time.
    """
    accepted = _accepted_table(result.leads, valid_outcome)
    if release:
        result.leads = result.leads.iloc[:0, :0]
    table = pa.concat_tables([accepted, issue_rows(result.issues)])
    del accepted
    if table.num_rows:
        indices = _input_order(table, result)
        columns = []
        names = table.column_names
        for name in names:
            col = table[name]
            table = table.drop_columns([name])  # its buffers go once taken (when released)
            columns.append(
                pa.nulls(len(indices), col.type)
                if col.null_count == len(col)
                else col.take(indices)
            )
            del col
        table = pa.Table.from_arrays(columns, names=names)
        del columns
    return table.select(list(ROW_COLUMNS)).to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype()}.get, split_blocks=True, self_destruct=True
    )


def read_counts(result: ReadResult, *, campaign: str | None = None) -> dict[str, dict[str, int]]:
    """Per campaign value (``campaign`` when the file names none, else
    :data:`~leadsync.models.NO_CAMPAIGN`): ``rows_read``, ``rows_valid``,
    ``rows_rejected``, ``rows_duplicate``; every other count key is 0."""
    fallback = campaign or NO_CAMPAIGN
    counts: dict[str, dict[str, int]] = {}

    def bucket(name: object) -> dict[str, int]:
        key = fallback if name is None or pd.isna(name) or str(name) == "" else str(name)
        return counts.setdefault(key, zero_counts())

    valid = result.leads["campaign"].astype("str").fillna("").value_counts()
    for name, n in valid.items():
        bucket(name)[Count.ROWS_VALID] += int(n)
    for name, kind, n in issue_counts(result.issues):
        bucket(name)[_ISSUE_COUNT_KEY[kind]] += n
    for c in counts.values():
        c[Count.ROWS_READ] = c[Count.ROWS_VALID] + c[Count.ROWS_REJECTED] + c[Count.ROWS_DUPLICATE]
    return counts
