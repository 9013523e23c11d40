"""A page of the leads listing, straight from its JSON bytes to Arrow columns.

A million remote leads as Python dicts cost more time (``json.loads``, then a column at a
time) and far more memory than the leads themselves. :func:`parse_lead_table` parses the page
with Arrow's JSON reader against the listing's documented fields (:data:`LEAD_SCHEMA`; other
fields are ignored), so no Python object is made per lead. A page that does not fit that
shape — no ``data`` envelope, a field of another type (a number sent as text, a priority
sent as ``"3"``), an entry that is not an object, a lead without an id — is parsed again the
lenient way (:func:`leads_table`), with the same result a dict page would give.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

from .wire import WireFormatError, loads, page_key_text, parse_leads_page

#: The listed lead fields leadsync reads, with their wire types.
LEAD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("campaign_id", pa.string()),
        ("number", pa.string()),
        ("status", pa.string()),
        ("retries", pa.int64()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("priority", pa.int64()),
        ("created", pa.int64()),
    ]
)
#: The envelope Arrow's reader is given: ``data`` typed; other fields (the page key: text, a
#: number or a JSON array; fields of a lead beyond these) are typed as they come.
_PAGE_SCHEMA = pa.schema([("data", pa.list_(pa.struct(list(LEAD_SCHEMA))))])
_PARSE = pa_json.ParseOptions(
    explicit_schema=_PAGE_SCHEMA, unexpected_field_behavior="infer", newlines_in_values=True
)
#: Bytes of slack in the reader's block beyond the page itself (one block holds the page).
_BLOCK_SLACK = 64


def parse_lead_table(content: bytes) -> tuple[pa.Table, str | None]:
    """``(leads, next_key)`` of one listing page: a :data:`LEAD_SCHEMA` table (absent fields
    null) and the page key to send for the next page (None on the last page).

    Raises WireFormatError when the page is not JSON or not a leads page."""
    fast = _arrow_page(content)
    if fast is not None:
        return fast
    leads, next_key = parse_leads_page(loads(content.decode("utf-8", errors="replace")))
    return leads_table(leads), next_key


def _arrow_page(content: bytes) -> tuple[pa.Table, str | None] | None:
    """The page parsed by Arrow, or None when it is not the usual shape (see the module)."""
    stripped = content.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        page = pa_json.read_json(
            io.BytesIO(content),
            read_options=pa_json.ReadOptions(
                use_threads=False, block_size=len(content) + _BLOCK_SLACK
            ),
            parse_options=_PARSE,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if page.num_rows != 1:  # more than one JSON value: not a single page
        return None
    data = page.column("data").combine_chunks()
    if data.null_count:  # "data": null, or no "data" at all: let the lenient path decide
        return None
    leads = data.flatten()
    if leads.null_count or leads.field("id").null_count:  # null entries, leads without ids
        return None
    table = pa.Table.from_arrays([leads.field(f) for f in LEAD_SCHEMA.names], schema=LEAD_SCHEMA)
    if "next_start_key" not in page.column_names:
        return table, None
    try:
        return table, page_key_text(page.column("next_start_key")[0].as_py())
    except WireFormatError:
        return None


def leads_table(leads: Sequence[dict[str, Any]]) -> pa.Table:
    """Lead dicts (as the API sent them) as a :data:`LEAD_SCHEMA` table, leniently: text
    fields take ``str()`` of any value, integer fields take what reads as an integer (else
    null)."""
    columns: list[pa.Array] = []
    for field in LEAD_SCHEMA:
        values = pd.Series([lead.get(field.name) for lead in leads], dtype=object)
        if pa.types.is_integer(field.type):
            number = pd.to_numeric(values, errors="coerce")
            whole = number.where(number.notna() & (number == number.round()))
            columns.append(pa.array(whole.astype("Int64").array, type=pa.int64()))
        else:
            text = values.where(values.isna(), values.astype(str))
            columns.append(pa.array(text.to_numpy(), type=pa.string(), from_pandas=True))
    return pa.Table.from_arrays(columns, schema=LEAD_SCHEMA)
