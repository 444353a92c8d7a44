"""Processing records for auditors (GDPR Art. 30 style), derived from policies and runs.

- :mod:`~minimizer.audit.history`: the runs, from the warehouse and ``runs.jsonl``; erasures;
- :mod:`~minimizer.audit.explain`: the guarantees' figures in words, with warnings;
- :mod:`~minimizer.audit.retention`: pruning old run artefacts (``--keep-artifacts``);
- :mod:`~minimizer.audit.record`: one purpose's record; :mod:`~minimizer.audit.categories`;
- :mod:`~minimizer.audit.html`, :mod:`~minimizer.audit.plots`: the page and its figures;
- :mod:`~minimizer.audit.report`: ``write_report``; :mod:`~minimizer.audit.cli`: the command.

See docs/audit.md.
"""

import typing as _typing

from minimizer._lazy import exports as _exports

if _typing.TYPE_CHECKING:
    from minimizer.audit.record import ProcessingRecord, build_record
    from minimizer.audit.report import ReportFiles, write_report

__all__ = ["ProcessingRecord", "ReportFiles", "build_record", "write_report"]

__getattr__, __dir__ = _exports(
    __name__,
    {
        "ProcessingRecord": "minimizer.audit.record",
        "build_record": "minimizer.audit.record",
        "ReportFiles": "minimizer.audit.report",
        "write_report": "minimizer.audit.report",
    },
)
