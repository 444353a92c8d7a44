"""Sources: where the extract reads from. Deny by default starts here: only the columns the
policy names are ever selected, and a named column that is missing is a ``SourceError``."""

import typing as _typing

from minimizer._lazy import exports as _exports

if _typing.TYPE_CHECKING:
    from minimizer.io.sources.base import Source
    from minimizer.io.sources.parquet import EventSource
    from minimizer.io.sources.sql import TableSource

__all__ = ["EventSource", "Source", "TableSource"]

__getattr__, __dir__ = _exports(
    __name__,
    {
        "EventSource": "minimizer.io.sources.parquet",
        "Source": "minimizer.io.sources.base",
        "TableSource": "minimizer.io.sources.sql",
    },
)
