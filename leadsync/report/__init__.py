"""The run report: :class:`RunReport` and the writers of its folder (docs/design.md, 'Reporting').

```python
from leadsync.report import RunReport, write_report, write_before_csv
paths = write_report(report, folder, progress=progress)
                                          # summary.json, rows.csv, rejected.csv,
                                          # operations.jsonl, report.xlsx, report.html
write_before_csv(remote_leads, folder)    # before any delete
print_summary(report, console, folder)    # the table a person sees
progress = make_progress(console)         # progress(stage, done, total)
```
CSV and XLSX cells are escaped against formula injection (see :mod:`leadsync.report.safe`);
report.html is a Jinja2 template with autoescaping (``templates/``). rows.csv holds every row;
report.xlsx holds the rows that need attention and a capped sample of the others
(:mod:`leadsync.report.xlsx`).
"""

from .console import make_progress, print_summary
from .files import rejected_frame, write_before_csv
from .model import ROW_COLUMNS, RunReport, iso_utc
from .rows import read_counts, read_rows
from .writer import write_report

__all__ = [
    "ROW_COLUMNS",
    "RunReport",
    "iso_utc",
    "make_progress",
    "print_summary",
    "read_counts",
    "read_rows",
    "rejected_frame",
    "write_before_csv",
    "write_report",
]
