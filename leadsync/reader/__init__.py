"""Files → leads: the only part of leadsync that knows spreadsheets.

``read_sources(paths, settings, *, campaign=None, progress=None) -> ReadResult`` reads CSV/TSV/
TXT, XLSX/XLSM, XLS and ODS files into validated leads (``models.DESIRED_COLUMNS``) and one
``RowIssue`` per rejected or duplicate row. ``normalize_numbers`` and ``normalize_remote_keys``
give the same E.164 normalization to the rest of the pipeline (remote leads are keyed with it).

Modules: ``read`` (the orchestration); ``textfile`` (with ``textcodec``, encodings) and
``workbook`` turn bytes into text grids of Arrow columns (``grid``) — workbooks through
``container`` checks (with the walk of XLS records), the ``extent`` scan of XLSX sheets,
python-calamine blocks and streamed cells in ``cells``, the cell-by-cell readers ``xlsxsheet``
and ``odsfile`` (over ``xmlstream``, with ``xlsxparts``); ``columns`` (header row and
synonyms), ``phones`` (E.164 for whole columns: ``phoneref`` the per-value reference,
``phonecolumn`` the column path with ``phoneparse``, ``phoneprefix`` and ``phonemeta``),
``fields`` (the other fields), ``dedupe`` (duplicates), ``issues`` (bad rows as data and their
sentences), ``part`` and ``arrowtext`` (values and column helpers), ``limits`` (bounds against
hostile files).
"""

from __future__ import annotations

from .limits import DEFAULT_LIMITS, Limits
from .phoneref import normalize_one
from .phones import normalize_numbers, normalize_remote_keys
from .read import read_dnc, read_sources

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "normalize_numbers",
    "normalize_one",
    "normalize_remote_keys",
    "read_dnc",
    "read_sources",
]
