"""The Python worker daemon of the Spark engine (``spark.python.daemon.module``).

pyspark's daemon forks one worker per task; each fork would import pandas, pyarrow, h3 and the
transforms anew (seconds per worker). This daemon imports them once, before it forks, so every
worker starts with them loaded. Otherwise it is pyspark's own daemon.
"""

from __future__ import annotations

import importlib

from pyspark.daemon import manager

# The kernel and the transforms it runs: loaded once, here, before any worker is forked.
PRELOAD = (
    "minimizer.engines.spark.minimise",
    "minimizer.transforms.coarsen",
    "minimizer.transforms.pseudonymise",
    "minimizer.transforms.scrub",
)

if __name__ == "__main__":
    for module in PRELOAD:
        importlib.import_module(module)
    manager()
