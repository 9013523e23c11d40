"""Pure: the leads a campaign should hold vs the leads it holds → their differences.

:func:`diff_campaign` compares ONE campaign's desired leads (``models.DESIRED_COLUMNS``, one row
per E.164 ``number``) with its remote leads (``models.REMOTE_COLUMNS``, ``key`` already
normalized by the caller) and returns a :class:`CampaignDiff`: plain DataFrames saying what is
missing, what differs and what is extra. It decides nothing (that is ``plan.py``) and does no
I/O. Everything is vectorized: keys are turned into integer codes (an E.164 number *is* an
integer after its ``+``), so a million desired rows against a million remote leads is a few
hash-table passes over int64 arrays rather than a loop over Python strings.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from itertools import compress
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..models import DESIRED_COLUMNS, INT_FIELDS, LISTED_FIELDS, REMOTE_COLUMNS, SOURCE_COLUMNS

#: Digits after "+" that still fit in an int64 (E.164 numbers have at most 15).
_MAX_INT_DIGITS = 18
#: Where a remote lead's ``created`` is unknown it sorts as the newest, so it never survives
#: over a lead whose age is known.
_CREATED_UNKNOWN = np.iinfo(np.int64).max
#: The label counted for a remote lead that carries no status at all.
MISSING_STATUS = "(missing)"

# --- the documented columns of each table of a CampaignDiff --------------------------------
#: ``matched``: one row per desired row that has a remote lead (index = the desired row's label).
MATCHED_COLUMNS: tuple[str, ...] = (
    "key",  # the E.164 number
    "lead_id",  # the remote lead it matched (the survivor when the key is duplicated remotely)
    "remote_status",  # that lead's status
    "to_status",  # the status the file asks for (NA: not given)
    "status_differs",  # bool: the file gives a status and it is not the remote one
    "drift",  # bool: a listed field the file gives differs from the remote value
    "pos",  # the desired row's position in ``desired`` (int): file, sheet, row are there
)
#: ``drift``: one row per (lead, listed field) that differs; index = the desired row's label
#: (repeated when several fields of one lead differ). Values are text; NA = absent remotely.
DRIFT_COLUMNS: tuple[str, ...] = (
    "key",
    "lead_id",
    "remote_status",
    "field",
    "file_value",
    "remote_value",
    "file",
    "sheet",
    "row",
)
#: ``remote_duplicates``: every remote lead that is NOT the survivor of its duplicated key.
DUPLICATE_COLUMNS: tuple[str, ...] = (*REMOTE_COLUMNS, "survivor_id", "copies", "in_file")
#: ``to_remove``: remote leads (every copy) whose key the file does not list.
REMOVE_COLUMNS: tuple[str, ...] = REMOTE_COLUMNS


@dataclass(frozen=True, slots=True)
class CampaignDiff:
    """The differences between one campaign's desired leads and its remote leads.

    Frames derived from desired rows keep the desired frame's index labels; frames derived from
    remote leads keep the remote frame's labels. Columns are documented by the ``*_COLUMNS``
    constants of this module.

    - ``desired``: the desired input itself (for building add bodies; not copied).
    - ``to_add``: desired rows (``DESIRED_COLUMNS``) with no remote lead.
    - ``matched``: desired row → remote lead id (``MATCHED_COLUMNS``), for every matched row;
      its ``status_differs`` and ``drift`` flags say which rows change.
    - ``drift``: long format, one row per differing listed field (NA in the file is never drift).
    - ``to_remove``: ALL remote leads whose key is not in the file (the plan decides which go).
    - ``remote_duplicates``: remote leads sharing a key with an older lead (the survivor, the
      oldest by ``created`` then ``id``), each with ``survivor_id``, ``copies`` (how many leads
      hold the key) and ``in_file``. Desired rows are matched against the survivor.
    - ``remote_count``: how many remote leads the campaign held.
    - ``status_counts`` / ``unknown_statuses``: remote leads per status, and the subset whose
      status is not in ``statuses`` (kept and counted, never an error).
    """

    desired: pd.DataFrame
    to_add: pd.DataFrame
    matched: pd.DataFrame
    drift: pd.DataFrame
    to_remove: pd.DataFrame
    remote_duplicates: pd.DataFrame
    remote_count: int
    status_counts: dict[str, int]
    unknown_statuses: dict[str, int]

    def counts(self) -> dict[str, int]:
        """How many rows each table holds (``drift_leads`` counts leads, ``drift`` fields)."""
        changes = self.matched["status_differs"].to_numpy(dtype=bool)
        drifts = self.matched["drift"].to_numpy(dtype=bool)
        return {
            "desired": len(self.desired),
            "remote": self.remote_count,
            "to_add": len(self.to_add),
            "matched": len(self.matched),
            "status_changes": int(changes.sum()),
            "unchanged": int((~changes & ~drifts).sum()),
            "drift_leads": int(drifts.sum()),
            "drift": len(self.drift),
            "to_remove": len(self.to_remove),
            "remote_duplicates": len(self.remote_duplicates),
            "unknown_status": sum(self.unknown_statuses.values()),
        }


# --- the diff --------------------------------------------------------------------------------
def diff_campaign(
    desired: pd.DataFrame, remote: pd.DataFrame, *, statuses: Collection[str]
) -> CampaignDiff:
    """Compare one campaign's desired leads with its remote leads.

    ``desired`` has ``models.DESIRED_COLUMNS`` with unique, non-missing E.164 ``number``s (the
    reader guarantees it); ``remote`` has ``models.REMOTE_COLUMNS`` with ``key`` normalized like
    the file's numbers (NA keys never match anything). ``statuses`` are the tenant's known
    statuses; others are counted in ``unknown_statuses``.

    Returns a :class:`CampaignDiff`. Raises ValueError when a required column is missing or
    the desired numbers are missing or not unique (a caller bug, not bad user input).
    """
    require_columns(desired, DESIRED_COLUMNS, "desired")
    require_columns(remote, REMOTE_COLUMNS, "remote")
    n_desired, n_remote = len(desired), len(remote)

    d_keys = arrow_text(desired["number"])
    r_keys = arrow_text(remote["key"])
    if d_keys.null_count:
        raise ValueError("desired leads must all have a number (found missing numbers)")
    d_codes, r_codes, r_valid = _dense_key_codes(d_keys, r_keys)
    n_codes = int(max(d_codes.max(initial=-1), r_codes.max(initial=-1))) + 1

    d_seen = np.bincount(d_codes, minlength=n_codes)
    if n_desired and d_seen.max() > 1:
        first = desired["number"].iloc[int(np.flatnonzero(d_seen[d_codes] > 1)[0])]
        raise ValueError(f"desired numbers must be unique within a campaign ({first} repeats)")
    in_desired = d_seen > 0

    # Survivors: every remote lead of a unique key, plus the oldest of each duplicated key.
    r_copies = np.bincount(r_codes[r_valid], minlength=n_codes)
    r_dup = r_valid & (r_copies[r_codes] > 1)
    survivor_pos = np.full(n_codes, -1, dtype=np.int64)
    unique_rows = np.flatnonzero(r_valid & ~r_dup)
    survivor_pos[r_codes[unique_rows]] = unique_rows
    duplicates = _remote_duplicates(remote, r_codes, r_dup, r_copies, survivor_pos, in_desired)

    # Match every desired row against the survivor of its key.
    d_pos = survivor_pos[d_codes]
    is_matched = d_pos >= 0
    m_pos = d_pos[is_matched]
    to_add = desired.loc[~is_matched]
    matched, drift = _compare_matched(desired, remote, is_matched, m_pos)

    remove_mask = ~r_valid | ~in_desired[r_codes]
    to_remove = remote.loc[remove_mask, list(REMOVE_COLUMNS)]

    status_counts, unknown = _status_counts(remote["status"], statuses)
    return CampaignDiff(
        desired=desired,
        to_add=to_add,
        matched=matched,
        drift=drift,
        to_remove=to_remove,
        remote_duplicates=duplicates,
        remote_count=n_remote,
        status_counts=status_counts,
        unknown_statuses=unknown,
    )


# --- keys ------------------------------------------------------------------------------------
def require_columns(frame: pd.DataFrame, columns: Collection[str], what: str) -> None:
    """Raise ValueError naming the ``columns`` that ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} leads lack column(s) {', '.join(missing)}")


def arrow_text(series: pd.Series) -> pa.Array:
    """The series as one contiguous Arrow string array (zero-copy when already Arrow-backed;
    other dtypes are converted to ``string``)."""
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        series = series.astype(pd.StringDtype("pyarrow"))
    arr = pa.array(series.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr


def _int_codes(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(codes, is_int): the integer after "+" where the key is int-like, 0 elsewhere.

    Int-like = "+", then 1 to ``_MAX_INT_DIGITS`` ASCII digits, the first not 0 (so "+012"
    and "+12" never share a code). Checked with a few cheap Arrow kernels (a regular
    expression per key costs more than the rest of the key handling)."""
    digits = pc.utf8_slice_codeunits(keys, 1)
    checks = (
        pc.starts_with(keys, "+"),
        pc.ascii_is_decimal(digits),  # false for ""
        pc.invert(pc.starts_with(digits, "0")),
        pc.less_equal(pc.binary_length(digits), _MAX_INT_DIGITS),
    )
    is_int = pc.fill_null(functools.reduce(pc.and_, checks), False)
    is_int_np = is_int.to_numpy(zero_copy_only=False)
    if is_int_np.all():
        return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False), is_int_np
    codes = np.zeros(len(keys), dtype=np.int64)
    if is_int_np.any():
        subset = pc.filter(digits, is_int)
        codes[is_int_np] = pc.cast(subset, pa.int64()).to_numpy(zero_copy_only=False)
    return codes, is_int_np


def _dense_key_codes(
    d_keys: pa.Array, r_keys: pa.Array
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense codes 0..K-1 shared by both sides (equal keys ↔ equal codes), and the mask of
    remote keys that are present. Int-like keys are hashed as int64; the rare others (remote
    digits-only fallbacks) as text, in a disjoint range."""
    d_int, d_is_int = _int_codes(d_keys)
    r_int, r_is_int = _int_codes(r_keys)
    r_valid = ~r_keys.is_null().to_numpy(zero_copy_only=False)
    d_other = ~d_is_int
    r_other = ~r_is_int & r_valid
    if d_other.any() or r_other.any():
        # Text keys get negative codes (int-like keys are >= 1, missing keys stay 0).
        texts = pa.concat_arrays(
            [pc.filter(d_keys, pa.array(d_other)), pc.filter(r_keys, pa.array(r_other))]
        )
        text_codes = -1 - np.asarray(pd.factorize(texts.to_numpy(zero_copy_only=False))[0])
        n_d_other = int(d_other.sum())
        d_int, r_int = d_int.copy(), r_int.copy()  # Arrow hands out read-only views
        d_int[d_other] = text_codes[:n_d_other]
        r_int[r_other] = text_codes[n_d_other:]
    dense, _ = pd.factorize(np.concatenate([d_int, r_int]))
    dense = np.asarray(dense, dtype=np.int64)
    return dense[: len(d_int)], dense[len(d_int) :], r_valid


# --- remote duplicates -----------------------------------------------------------------------
def _remote_duplicates(
    remote: pd.DataFrame,
    r_codes: np.ndarray,
    r_dup: np.ndarray,
    r_copies: np.ndarray,
    survivor_pos: np.ndarray,
    in_desired: np.ndarray,
) -> pd.DataFrame:
    """Pick the survivor of each duplicated key (oldest ``created``, then smallest ``id``),
    record it in ``survivor_pos``, and return the other copies (``DUPLICATE_COLUMNS``)."""
    rows = np.flatnonzero(r_dup)
    if not len(rows):
        return remote.iloc[:0][list(REMOTE_COLUMNS)].assign(
            survivor_id=pd.Series(dtype="string"),
            copies=pd.Series(dtype="int64"),
            in_file=pd.Series(dtype="bool"),
        )
    codes = r_codes[rows]
    created = as_int64(remote["created"].iloc[rows])
    created_np = created.to_numpy(dtype="int64", na_value=_CREATED_UNKNOWN)
    ids = remote["id"].iloc[rows].astype("string").fillna("").to_numpy(dtype=object)
    id_rank = np.unique(ids.astype(str), return_inverse=True)[1]
    order = np.lexsort((id_rank, created_np, codes))  # by key, then created, then id
    sorted_codes = codes[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    survivor_pos[sorted_codes[first]] = rows[order[first]]
    o_pos = rows[order[~first]]
    o_codes = sorted_codes[~first]
    out = remote.iloc[o_pos][list(REMOTE_COLUMNS)]
    survivor_ids = remote["id"].iloc[survivor_pos[o_codes]].astype("string").to_numpy()
    return out.assign(
        survivor_id=pd.array(survivor_ids, dtype="string"),
        copies=r_copies[o_codes].astype(np.int64),
        in_file=in_desired[o_codes],
    )


# --- matched leads: status and drift ---------------------------------------------------------
def _compare_matched(
    desired: pd.DataFrame, remote: pd.DataFrame, is_matched: np.ndarray, m_pos: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``matched`` table and the long ``drift`` table for the matched desired rows."""
    m_index = desired.index[is_matched]
    m_mask = pa.array(is_matched)
    take = pa.array(m_pos)
    to_status = pc.filter(arrow_text(desired["status"]), m_mask)
    remote_status, status_differs = _compare_status(to_status, arrow_text(remote["status"]), m_pos)

    any_drift = np.zeros(len(m_pos), dtype=bool)
    pieces: list[pd.DataFrame] = []
    for field in LISTED_FIELDS:
        if not desired[field].notna().any():
            continue  # the file gives this field nowhere: nothing can drift
        if field in INT_FIELDS:
            at, file_vals, remote_vals = _int_drift(
                desired[field], remote[field], is_matched, m_pos
            )
        else:
            at, file_vals, remote_vals = _text_drift(desired[field], remote[field], m_mask, take)
        if len(at):
            any_drift[at] = True
            pieces.append(
                pd.DataFrame(
                    {
                        "field": pd.array([field] * len(at), dtype="string"),
                        "file_value": pd.array(file_vals, dtype="string"),
                        "remote_value": pd.array(remote_vals, dtype="string"),
                        "_at": at,
                    }
                )
            )

    columns: dict[str, Any] = {
        "key": _string_array(pc.filter(arrow_text(desired["number"]), m_mask)),
        "lead_id": _string_array(pc.take(arrow_text(remote["id"]), take)),
        "remote_status": _string_array(remote_status),
        "to_status": _string_array(to_status),
        "status_differs": status_differs,
        "drift": any_drift,
        "pos": np.flatnonzero(is_matched),  # positional: the desired index need not be unique
    }
    matched = pd.DataFrame(columns, index=m_index)
    return matched, _drift_table(matched, pieces, desired)


def _compare_status(
    to_status: pa.Array, remote_status: pa.Array, m_pos: np.ndarray
) -> tuple[pa.Array, np.ndarray]:
    """(remote status of each matched row, file gives a status and it differs).

    Statuses are few, so both sides are dictionary-encoded together and compared as integer
    codes: this avoids gathering a million strings at random positions, the slowest step
    otherwise."""
    both = pa.concat_arrays(
        [to_status.cast(pa.large_string()), remote_status.cast(pa.large_string())]
    )
    encoded = pc.dictionary_encode(both)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    file_codes = codes[: len(to_status)]
    remote_codes = codes[len(to_status) :][m_pos]
    differs = (file_codes >= 0) & (file_codes != remote_codes)
    gathered = pa.DictionaryArray.from_arrays(
        pa.array(remote_codes, mask=remote_codes < 0), encoded.dictionary
    )
    return gathered.dictionary_decode(), differs


def _drift_table(
    matched: pd.DataFrame, pieces: list[pd.DataFrame], desired: pd.DataFrame
) -> pd.DataFrame:
    """Long drift table: per lead (in matched order), its fields in LISTED_FIELDS order."""
    if not pieces:
        empty = {c: pd.Series(dtype="string") for c in DRIFT_COLUMNS}
        empty["row"] = pd.Series(dtype=desired["row"].dtype)
        return pd.DataFrame(empty, index=matched.index[:0])
    long = pd.concat(pieces, ignore_index=True).sort_values("_at", kind="stable")
    base = matched.iloc[long["_at"].to_numpy()]
    columns: dict[str, Any] = {c: base[c].array for c in ("key", "lead_id", "remote_status")}
    columns |= {c: long[c].array for c in ("field", "file_value", "remote_value")}
    sources = desired.iloc[base["pos"].to_numpy()]
    columns |= {c: sources[c].array for c in SOURCE_COLUMNS}
    return pd.DataFrame(columns, index=base.index)


def _given_and_differs(file_vals: pa.Array, remote_vals: pa.Array) -> np.ndarray:
    """File value given (not null) and the remote one missing or different."""
    given = file_vals.is_valid().to_numpy(zero_copy_only=False)
    differs = pc.fill_null(pc.not_equal(file_vals, remote_vals), True)
    return given & differs.to_numpy(zero_copy_only=False)


def _text_drift(
    file_col: pd.Series, remote_col: pd.Series, m_mask: pa.Array, take: pa.Array
) -> tuple[np.ndarray, list[str | None], list[str | None]]:
    """(positions among matched rows, file values, remote values) where a text field drifts."""
    file_vals = pc.filter(arrow_text(file_col), m_mask)
    remote_vals = pc.take(arrow_text(remote_col), take)
    at = np.flatnonzero(_given_and_differs(file_vals, remote_vals))
    f_list = pc.take(file_vals, pa.array(at)).to_pylist()
    r_list = pc.take(remote_vals, pa.array(at)).to_pylist()
    # The reader trims and NFC-normalizes the file; give the remote value the same treatment
    # before calling it drift, so " Ann" vs "Ann" does not churn (only raw mismatches, a few,
    # are normalized).
    keep = [
        r is None or unicodedata.normalize("NFC", r.strip()) != f
        for f, r in zip(f_list, r_list, strict=True)
    ]
    if all(keep):
        return at, f_list, r_list
    return (
        at[np.asarray(keep, dtype=bool)],
        list(compress(f_list, keep)),
        list(compress(r_list, keep)),
    )


def _int_drift(
    file_col: pd.Series, remote_col: pd.Series, is_matched: np.ndarray, m_pos: np.ndarray
) -> tuple[np.ndarray, list[str | None], list[str | None]]:
    """(positions among matched rows, file values, remote values) where an int field drifts."""
    f = as_int64(file_col)
    r = as_int64(remote_col)
    f_na = f.isna().to_numpy()[is_matched]
    r_na = r.isna().to_numpy()[m_pos]
    f_v = f.to_numpy(dtype="int64", na_value=0)[is_matched]
    r_v = r.to_numpy(dtype="int64", na_value=0)[m_pos]
    at = np.flatnonzero(~f_na & (r_na | (f_v != r_v)))
    f_list: list[str | None] = [str(v) for v in f_v[at].tolist()]
    r_list = [None if na else str(v) for v, na in zip(r_v[at].tolist(), r_na[at], strict=True)]
    return at, f_list, r_list


def as_int64(col: pd.Series) -> pd.Series:
    """The column as ``Int64`` (values that are not integers become NA)."""
    if isinstance(col.dtype, pd.Int64Dtype):
        return col
    return pd.to_numeric(col, errors="coerce").astype("Int64")


def _string_array(arr: pa.Array) -> pd.api.extensions.ExtensionArray:
    return pd.array(arr, dtype=pd.StringDtype("pyarrow"))


def _status_counts(
    status: pd.Series, statuses: Collection[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Remote leads per status (missing ones as ``MISSING_STATUS``), and the unknown subset."""
    counts = status.astype("string").fillna(MISSING_STATUS).value_counts(sort=False)
    known = set(statuses)
    all_counts = {str(k): int(v) for k, v in sorted(counts.items())}
    unknown = {k: v for k, v in all_counts.items() if k not in known}
    return all_counts, unknown
