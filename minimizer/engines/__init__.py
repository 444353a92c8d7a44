"""Engines that run a policy's steps somewhere other than this one Python process.

- ``spark``: the same steps on Apache Spark (``minimizer run POLICY --engine spark``).
"""
