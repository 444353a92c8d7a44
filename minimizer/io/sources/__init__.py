"""Sources: where the extract reads from. Deny by default starts here: only the columns the
policy names are ever selected, and a named column that is missing is a ``SourceError``."""

from minimizer.io.sources.parquet import EventSource
from minimizer.io.sources.sql import TableSource

__all__ = ["EventSource", "TableSource"]
