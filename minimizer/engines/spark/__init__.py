"""The Spark engine: a policy's extract, minimise and guarantee steps on Apache Spark.

Nothing here imports pyspark at import time; the modules that need it import it when they run.
"""
