"""Remote leads are keyed in batches while the listing goes on: the table is the one keying
every number at once would give (same rows, order, keys, dtypes), whatever the batch size."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pytest

from leadsync.api.leadtable import leads_table
from leadsync.models import REMOTE_COLUMNS
from leadsync.reader import normalize_remote_keys
from leadsync.run import campaigns
from leadsync.run.campaigns import RemoteKeys, fetch_remote

NUMBERS = [
    "+12135550100",
    "(213) 555-0101",
    "213.555.0102",
    "+44 20 7946 0958",
    "not a number",
    "",
    None,
    "12",
    "+1 (800) FLOWERS",
    "001 213 555 0103",
]


def lead_pages(n_pages: int, per_page: int) -> list[pa.Table]:
    pages = []
    for p in range(n_pages):
        leads = [
            {
                "id": f"{p}-{i}",
                "campaign_id": None if i % 3 == 0 else "c1",
                "number": NUMBERS[(p * per_page + i) % len(NUMBERS)],
                "status": "new",
                "priority": i % 4 or None,
                "created": 1_700_000_000 + i,
            }
            for i in range(per_page)
        ]
        pages.append(leads_table(leads))
    return pages


class Listing:
    def __init__(self, pages: list[pa.Table]) -> None:
        self.pages = pages

    def iter_lead_tables(
        self, campaign_id: str, page_size: int | None = None
    ) -> Iterator[pa.Table]:
        yield from self.pages


def keyed_at_once(pages: list[pa.Table]) -> pd.DataFrame:
    """What the fetch gave when it keyed every number in one pass at the end."""
    table = pa.concat_tables(pages)
    out = table.to_pandas(
        types_mapper={pa.string(): pd.StringDtype(), pa.int64(): pd.Int64Dtype()}.get
    )
    out["campaign_id"] = out["campaign_id"].fillna("c1")
    out["key"] = normalize_remote_keys(out["number"].fillna(""), "US").astype("string")
    return out[list(REMOTE_COLUMNS)]


@pytest.mark.parametrize("batch_rows", [1, 7, 25, 1_000])
def test_batched_keys_equal_keys_made_at_once(
    monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    pages = [*lead_pages(9, 5), lead_pages(1, 0)[0], *lead_pages(2, 4)]
    monkeypatch.setattr(campaigns, "KEY_BATCH_ROWS", batch_rows)
    got = fetch_remote(Listing(pages), "c1", region="US")
    want = keyed_at_once(pages)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    assert got["key"].tolist()[:4] == [
        "+12135550100",
        "+12135550101",
        "+12135550102",
        "+442079460958",
    ]


def test_batches_are_keyed_on_their_own_thread_as_they_fill() -> None:
    pages = lead_pages(6, 5)
    with RemoteKeys("US", batch_rows=10) as keyed:
        for page in pages:
            keyed.add(page)
        batches = keyed.batches()
    assert [b.num_rows for b in batches] == [10, 10, 10]
    assert all(b.column_names[-1] == "key" for b in batches)


def test_an_empty_campaign_gives_an_empty_table() -> None:
    got = fetch_remote(Listing([lead_pages(1, 0)[0]]), "c1", region="US")
    assert list(got.columns) == list(REMOTE_COLUMNS)
    assert got.empty
