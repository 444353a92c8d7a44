"""Processing records for auditors (GDPR Art. 30 style), derived from policies and runs.

- :mod:`~minimizer.audit.history`: the runs, from the warehouse and ``runs.jsonl``;
- :mod:`~minimizer.audit.record`: one purpose's record; :mod:`~minimizer.audit.categories`;
- :mod:`~minimizer.audit.html`, :mod:`~minimizer.audit.plots`: the page and its figures;
- :mod:`~minimizer.audit.report`: ``write_report``; :mod:`~minimizer.audit.cli`: the command.

See docs/audit.md.
"""

from minimizer.audit.record import ProcessingRecord, build_record
from minimizer.audit.report import ReportFiles, write_report

__all__ = ["ProcessingRecord", "ReportFiles", "build_record", "write_report"]
