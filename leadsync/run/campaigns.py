"""The API-facing stages of a sync: resolve campaigns, fetch their current leads.

``resolve_campaigns``: desired leads (with a ``campaign`` column holding names or ids) →
:class:`Targets`, the desired leads grouped by campaign id; rows naming an unknown campaign
become ``campaign-unknown`` issues. ``fetch_current``: targets → :class:`Current`, each
campaign's live leads as a REMOTE_COLUMNS table with the normalized ``key``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..api import resolve_campaign
from ..apply.pool import WorkerPool
from ..errors import ApiError, UnreachableError, UsageError
from ..models import NO_CAMPAIGN_GIVEN, REMOTE_COLUMNS, Campaign, IssueKind, RowIssue, empty_remote
from ..reader import normalize_remote_keys
from ..reader.issues import NO_CAMPAIGN_SENTENCE

log = logging.getLogger(__name__)

#: Arrow types of a listing page → the pandas dtypes of a REMOTE_COLUMNS table.
_PANDAS_TYPES = {
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),  # the keys, as normalization makes them
    pa.int64(): pd.Int64Dtype(),
}
#: Seconds the fetch waits for a campaign to finish before looking again (no deadline).
_COLLECT_WAIT_S = 0.5


class LeadSource(Protocol):
    """What the fetch stage needs from the API client."""

    def campaigns(self) -> list[Campaign]: ...

    def iter_lead_tables(
        self, campaign_id: str, page_size: int | None = None
    ) -> Iterable[pa.Table]: ...


@dataclass
class Targets:
    """Desired leads grouped by resolved campaign id."""

    campaigns: dict[str, Campaign]  # id -> campaign
    desired: dict[str, pd.DataFrame]  # id -> desired rows of that campaign
    issues: list[RowIssue] = field(default_factory=list)  # campaign-unknown rows
    all_campaigns: list[Campaign] = field(default_factory=list)


@dataclass
class Current:
    """Each target campaign's live leads, and whether every page loaded."""

    remote: dict[str, pd.DataFrame]
    complete: dict[str, bool]
    errors: dict[str, str] = field(default_factory=dict)
    account_keys: dict[str, str] | None = None  # key -> campaign name (dedupe_scope=account)
    released: dict[str, int] | None = None  # leads per campaign, once the tables are let go

    def remote_counts(self) -> dict[str, int]:
        """How many leads each campaign held when it was read."""
        if self.released is not None:
            return dict(self.released)
        return {cid: len(frame) for cid, frame in self.remote.items()}

    def release_remote(self) -> None:
        """Let go of the remote tables, keeping :meth:`remote_counts` (the report needs no
        more of them once the plan is applied)."""
        self.released = self.remote_counts()
        self.remote = {}


class CampaignLookup:
    """The account's campaigns, listed on first use and then kept for the run, and the
    check the reader applies to the campaign names in a file (:meth:`problem`)."""

    def __init__(self, client: LeadSource, chosen: str | None) -> None:
        self._client = client
        self._chosen = chosen
        self._known: list[Campaign] | None = None

    def campaigns(self) -> list[Campaign]:
        if self._known is None:
            self._known = self._client.campaigns()
        return self._known

    def find(self, ref: str) -> Campaign | None:
        """The campaign ``ref`` names (by id or name); None when it is unknown or ambiguous."""
        try:
            return resolve_campaign(ref, self.campaigns())
        except UsageError:
            return None

    def problem(self, ref: str) -> str | None:
        """Why ``ref`` names no campaign (None when it names one). ``--campaign`` itself is
        left to :func:`resolve_campaigns`, which refuses an unknown one outright (exit 2)."""
        if ref == self._chosen or self.find(ref) is not None:
            return None
        return _unknown_sentence(ref, _known_list(self.campaigns()))


def _known_list(known: list[Campaign]) -> str:
    return ", ".join(f"{c.name} ({c.id})" for c in known) or "none"


def _unknown_sentence(ref: str, known: str) -> str:
    return f"campaign {ref!r} does not exist; known: {known}"


def resolve_campaigns(
    leads: pd.DataFrame,
    client: LeadSource,
    *,
    campaign: str | None,
    lookup: CampaignLookup | None = None,
) -> Targets:
    """Group ``leads`` by campaign, resolving names/ids with the API's campaign list.

    ``campaign`` (``--campaign`` or the job's) must exist: UsageError listing the known
    campaigns otherwise (exit 2). A name in the file's campaign column that matches nothing
    rejects those rows with ``campaign-unknown``; the rest proceeds. (A sync passes the
    reader ``lookup.problem``, so such rows are rejected there, with their original cells.)
    """
    lookup = lookup or CampaignLookup(client, campaign)
    known = lookup.campaigns()
    chosen = resolve_campaign(campaign, known) if campaign is not None else None  # UsageError
    known_list = _known_list(known)
    refs = leads["campaign"].astype("string")
    if chosen is not None:
        refs = refs.fillna(campaign)
    if len(refs) and refs.isna().all():
        raise UsageError(
            "no campaign given: pass --campaign NAME, add a campaign column to the file, "
            f"or set the job's campaign; known campaigns: {known_list}"
        )
    # an unknown or ambiguous name rejects its rows; the rest proceeds
    resolved = {ref: lookup.find(ref) for ref in refs.dropna().unique()}
    found = refs.map(lambda r: resolved.get(r) if isinstance(r, str) else None)
    bad = found.isna()
    issues = [
        _unknown_campaign_issue(row, known_list) for row in leads.loc[bad].itertuples(index=False)
    ]
    # Without bad rows or a second campaign, the read table is taken as it is (no copy of a
    # million rows: assign shares the other columns).
    good = leads.loc[~bad] if bad.any() else leads
    good = good.assign(campaign=found[~bad].map(lambda c: c.name))
    good_ids = found[~bad].map(lambda c: c.id)
    if good_ids.nunique() == 1:
        desired = {str(good_ids.iloc[0]): good}
    else:
        desired = {str(cid): frame for cid, frame in good.groupby(good_ids, sort=False)}
    campaigns = {c.id: c for c in known if c.id in desired}
    if chosen is not None and not desired:  # nothing valid: the campaign still gets a diff
        campaigns[chosen.id] = chosen
        desired[chosen.id] = good.iloc[0:0]
    return Targets(campaigns=campaigns, desired=desired, issues=issues, all_campaigns=known)


def _unknown_campaign_issue(row: object, known: str) -> RowIssue:
    values = {k: "" if pd.isna(v) else str(v) for k, v in row._asdict().items()}  # type: ignore[attr-defined]
    ref = values.get("campaign") or NO_CAMPAIGN_GIVEN
    if ref == NO_CAMPAIGN_GIVEN:
        codes, msg = ("campaign-missing",), NO_CAMPAIGN_SENTENCE
    else:
        codes, msg = ("campaign-unknown",), _unknown_sentence(ref, known)
    return RowIssue(
        file=values.get("file", ""),
        sheet=values.get("sheet") or None,
        row=int(values.get("row") or 0),
        kind=IssueKind.REJECTED,
        codes=codes,
        message=msg,
        values={k: v for k, v in values.items() if k not in ("file", "sheet", "row", "warnings")},
        campaign=None if ref == NO_CAMPAIGN_GIVEN else ref,
        number=values.get("number") or None,
    )


def fetch_remote(
    client: LeadSource,
    campaign_id: str,
    *,
    region: str,
    page_size: int | None = None,
    on_page: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """All leads of one campaign as a REMOTE_COLUMNS table, streamed page by page.

    Each page arrives as Arrow columns (no Python object per lead); every
    :data:`KEY_BATCH_ROWS` leads, their numbers are normalized to keys on a thread of their
    own while the next pages arrive (:class:`RemoteKeys`), and the batches are joined once at
    the end. Raises the client's ApiError when a page fails.
    """
    with RemoteKeys(region) as keyed:
        for page in client.iter_lead_tables(campaign_id, page_size=page_size):
            keyed.add(page)
            if on_page is not None:
                on_page(page.num_rows)
        batches = keyed.batches()
    return remote_frame(batches, campaign_id, region=region)


#: Remote leads whose numbers are normalized in one go: big enough that the per-call cost
#: vanishes, small enough that the keys of a batch are done long before the next one is due
#: (and that no million-row key array is built at once).
KEY_BATCH_ROWS = 50_000


class RemoteKeys:
    """Listing pages gathered into batches of :data:`KEY_BATCH_ROWS` leads, each batch's
    ``key`` column (the number normalized like the file's, see
    :func:`leadsync.reader.normalize_remote_keys`) computed on a thread of its own while the
    listing goes on. Use as a context manager; :meth:`batches` gives the keyed tables in the
    pages' order."""

    def __init__(self, region: str, batch_rows: int | None = None) -> None:
        self._region = region
        self._batch_rows = batch_rows or KEY_BATCH_ROWS
        self._pages: list[pa.Table] = []
        self._rows = 0
        self._done: list[Future[pa.Table]] = []
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> RemoteKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def add(self, page: pa.Table) -> None:
        """One more page (a :data:`leadsync.api.leadtable.LEAD_SCHEMA` table)."""
        if not page.num_rows:
            return
        self._pages.append(page)
        self._rows += page.num_rows
        if self._rows >= self._batch_rows:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadsync-keys")
            self._done.append(self._pool.submit(keyed_batch, self._take(), self._region))

    def _take(self) -> pa.Table:
        batch = pa.concat_tables(self._pages)
        self._pages, self._rows = [], 0
        return batch

    def batches(self) -> list[pa.Table]:
        """Every page added so far, keyed, in order (the last partial batch keyed here)."""
        out = [future.result() for future in self._done]
        if self._pages:
            out.append(keyed_batch(self._take(), self._region))
        self._done = []
        return out


def keyed_batch(batch: pa.Table, region: str) -> pa.Table:
    """``batch`` with its ``key`` column: each number normalized to a key."""
    numbers = pd.Series(pd.arrays.ArrowStringArray(pc.fill_null(batch["number"], "")))
    keys = normalize_remote_keys(numbers, region)
    return batch.append_column("key", pa.chunked_array(pa.array(keys.array)))


def remote_frame(batches: list[pa.Table], campaign_id: str, *, region: str) -> pd.DataFrame:
    """Listing pages (Arrow tables of the listed fields, keyed by :func:`keyed_batch` or not)
    as one REMOTE_COLUMNS table: text columns ``string``, integer columns ``Int64``,
    ``campaign_id`` filled in where a lead lacks it, ``key`` the number normalized like the
    file's. Empties ``batches``."""
    if not any(batch.num_rows for batch in batches):
        return empty_remote()
    keyed = [
        b if "key" in b.column_names else keyed_batch(b, region) for b in batches if b.num_rows
    ]
    batches.clear()
    table = pa.concat_tables(keyed)
    del keyed
    table = table.set_column(
        table.schema.get_field_index("campaign_id"),
        "campaign_id",
        pc.fill_null(table["campaign_id"], campaign_id),
    )
    # The keys in one piece, as the diff reads them (a join over chunks would copy them there).
    table = table.set_column(
        table.schema.get_field_index("key"), "key", table["key"].combine_chunks()
    )
    table = table.select(list(REMOTE_COLUMNS))
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get, split_blocks=True, self_destruct=True)


def fetch_current(
    targets: Targets,
    client: LeadSource,
    *,
    region: str,
    page_size: int | None = None,
    account_scope: bool = False,
    concurrency: int = 1,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> Current:
    """Fetch every target campaign's leads; a failed campaign is marked incomplete.

    Up to ``concurrency`` campaigns are read at once (each one's pages in order). A campaign
    whose pages did not all load gets an empty table and ``complete=False``: the guard then
    forbids deleting anything from it. UnreachableError is raised (exit 4). With
    ``account_scope`` every campaign of the account is read for its keys.
    """
    others = [c for c in targets.all_campaigns if c.id not in targets.campaigns]
    wanted = [*targets.campaigns.values(), *(others if account_scope else [])]
    expected = sum(c.total_leads or 0 for c in wanted) or None
    fetched = 0
    lock = threading.Lock()

    def on_page(n: int) -> None:
        nonlocal fetched
        with lock:  # pages of several campaigns arrive on several threads
            fetched += n
            if progress is not None:
                progress("fetch", fetched, max(expected or 0, fetched) or None)

    def fetch(cid: str) -> pd.DataFrame:
        return fetch_remote(client, cid, region=region, page_size=page_size, on_page=on_page)

    results = _fetch_all([c.id for c in wanted], fetch, concurrency)
    remote: dict[str, pd.DataFrame] = {}
    complete: dict[str, bool] = {}
    errors: dict[str, str] = {}
    for cid, camp in targets.campaigns.items():
        result = results[cid]
        if isinstance(result, pd.DataFrame):
            remote[cid], complete[cid] = result, True
        elif isinstance(result, UnreachableError) or not isinstance(result, ApiError):
            raise result
        else:  # TransientError is an ApiError
            log.error("could not read all leads of campaign %s: %s", camp.name, result)
            remote[cid], complete[cid], errors[cid] = empty_remote(), False, str(result)
    account_keys: dict[str, str] | None = None
    if account_scope:
        account_keys = {}
        for camp in targets.all_campaigns:
            frame = remote.get(camp.id)
            if frame is None:
                result = results[camp.id]
                if not isinstance(result, pd.DataFrame):
                    raise result
                frame = result
            for key in frame["key"].dropna().unique():
                account_keys.setdefault(str(key), camp.name)
    return Current(remote=remote, complete=complete, errors=errors, account_keys=account_keys)


def _fetch_all(
    ids: list[str], fetch: Callable[[str], pd.DataFrame], concurrency: int
) -> dict[str, pd.DataFrame | BaseException]:
    """``fetch(cid)`` of every campaign, up to ``concurrency`` at once (one campaign: in this
    thread); each campaign's table, or the exception that stopped it."""
    results: dict[str, pd.DataFrame | BaseException] = {}
    ids = list(dict.fromkeys(ids))
    if len(ids) <= 1 or concurrency <= 1:
        for cid in ids:
            try:
                results[cid] = fetch(cid)
            except Exception as err:  # handed to the caller, which decides
                results[cid] = err
        return results
    with WorkerPool(min(concurrency, len(ids)), name="leadsync-fetch") as pool:
        for cid in ids:
            pool.submit(cid, functools.partial(fetch, cid))
        while pool.in_flight:
            for done in pool.collect(timeout=_COLLECT_WAIT_S):
                results[done.tag] = done.value if done.error is None else done.error
    return results
