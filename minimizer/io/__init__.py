"""I/O: sources the extract reads (SQL tables, day-partitioned Parquet events) and the
warehouses a run loads into (DuckDB, PostgreSQL), one module per format or target.

``open_warehouse`` picks the target from its address and imports only that backend.
"""

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
