"""Database drivers under the one warehouse (:mod:`minimizer.io.warehouse`): a driver runs
statements, fetches Arrow, bulk-loads Parquet and says what its exceptions mean.

``duckdb`` and ``postgres`` are imported only by the warehouse factory that needs them, so a
DuckDB run never imports psycopg (and the reverse). ``sql`` holds the SQL text both share.
"""

from minimizer.io.drivers.base import Driver, Rows

__all__ = ["Driver", "Rows"]
