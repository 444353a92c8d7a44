"""I/O: sources the extract reads (SQL tables, day-partitioned Parquet events) and the
warehouses a run loads into (DuckDB, PostgreSQL), one module per format or target.

``open_warehouse`` picks the target from its address and imports only that backend.
"""

import typing as _typing

from minimizer._lazy import exports as _exports

if _typing.TYPE_CHECKING:
    from minimizer.io.sources import EventSource, TableSource
    from minimizer.io.warehouse import (
        ARROW_TYPES,
        AUDIT_COLUMNS,
        TableLoad,
        Warehouse,
        WarehouseError,
        WarehouseLockedError,
        open_warehouse,
    )

__all__ = [
    "ARROW_TYPES",
    "AUDIT_COLUMNS",
    "EventSource",
    "TableLoad",
    "TableSource",
    "Warehouse",
    "WarehouseError",
    "WarehouseLockedError",
    "open_warehouse",
]

__getattr__, __dir__ = _exports(
    __name__,
    {
        "EventSource": "minimizer.io.sources",
        "TableSource": "minimizer.io.sources",
        "ARROW_TYPES": "minimizer.io.warehouse",
        "AUDIT_COLUMNS": "minimizer.io.warehouse",
        "TableLoad": "minimizer.io.warehouse",
        "Warehouse": "minimizer.io.warehouse",
        "WarehouseError": "minimizer.io.warehouse",
        "WarehouseLockedError": "minimizer.io.warehouse",
        "open_warehouse": "minimizer.io.warehouse",
    },
)
