"""A sortable form for numeric buckets: ``<column>_from``, the bucket's lower bound as a number.

Bucket labels are text (``[25, 50)``), so ``ORDER BY amount_band`` puts ``[100, 125)`` before
``[25, 50)``. A bucket column with ``sortable: true`` is published with a DOUBLE column beside
it, in every warehouse and in Parquet alike: ``[25, 50)`` -> 25, the bottom code ``<0`` -> -inf,
the top code ``>=500`` -> 500, ``*`` and NULL -> NULL (sorted last by both engines).

It is derived at the load from the *published* label, after the guarantees and the gate, so it
carries nothing the label does not: never from the raw value. A bucket that is a k-anonymity
quasi-identifier or a sensitive attribute gets no such column (it is left out, with a warning
at the load), because generalising or suppressing the label later (an erasure's
re-enforcement turns a class to ``*``) would leave its bound behind.

The policy alone says which columns a loaded table has (:func:`loaded_columns`, completed by
``minimizer.gate.suite.table_columns``): the leak gate's column-set check and ``minimizer audit
verify`` expect the bounds too, and the gate's own check recomputes each bound from its label in
SQL (minimizer.gate.suite).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from minimizer.policy import Policy
from minimizer.transforms.numeric_bucket import NumericBucket

__all__ = ["SUFFIX", "loaded_columns", "lower_bounds", "sortable_buckets", "with_lower_bounds"]

SUFFIX = "_from"
_BATCH_ROWS = 250_000
log = logging.getLogger("minimizer.run")
_LABEL = r"^\[(?P<lo>[^,]+),|^>=(?P<ge>.+)$|^(?P<lt><).+$"


def _asked(policy: Policy, name: str) -> tuple[list[str], set[str]]:
    """The buckets the policy marks ``sortable``, and the k-anonymity columns of the source."""
    spec = policy.sources[name]
    if spec.aggregate is not None:
        return [], set()
    k = policy.guarantees.k_anonymity
    guarded = set(k.quasi_identifiers) | set(k.sensitive) if k and k.source == name else set()
    wanted = [
        out for out, t in spec.outputs().items() if isinstance(t, NumericBucket) and t.sortable
    ]
    return wanted, guarded


def sortable_buckets(policy: Policy, name: str) -> list[str]:
    """Output columns of the source published with a lower bound column. A quasi-identifier
    or sensitive bucket never is (see above)."""
    wanted, guarded = _asked(policy, name)
    return [c for c in wanted if c not in guarded]


def loaded_columns(policy: Policy, name: str) -> list[str]:
    """The columns of the source's table once loaded, in order: the policy's outputs, then
    ``<bucket>_from`` for each sortable bucket."""
    outputs = list(policy.sources[name].outputs())
    return outputs + [c + SUFFIX for c in sortable_buckets(policy, name)]


def lower_bounds(labels: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The lower bound of each bucket label, vectorised (no row loop).

    >>> lower_bounds(pa.array(["[100, 125)", "[25, 50)", "<0", ">=500", "*", None])).to_pylist()
    [100.0, 25.0, -inf, 500.0, None, None]
    """
    text = pc.cast(labels, pa.string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    parts = pc.extract_regex(text, _LABEL)
    lo, ge, lt = (parts.field(n) for n in ("lo", "ge", "lt"))
    number = pc.if_else(pc.not_equal(lo, ""), lo, ge)
    number = pc.if_else(pc.not_equal(lt, ""), pa.scalar("-inf"), number)
    number = pc.if_else(pc.equal(number, ""), pa.scalar(None, pa.string()), number)
    values = pc.cast(number, pa.float64())
    # Labels that do not parse (``*``) are invalid rows of the regex: NULL, not an error.
    return pc.if_else(parts.is_valid(), values, pa.scalar(None, pa.float64()))


def _batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS):
        arrays = list(batch.columns)
        names = list(batch.schema.names)
        for column in columns:
            arrays.append(lower_bounds(batch.column(column)))
            names.append(column + SUFFIX)
        yield pa.RecordBatch.from_arrays(arrays, names=names)


def with_lower_bounds(
    policy: Policy, name: str, staged: Path, schema: pa.Schema
) -> tuple[Path, pa.Schema, dict[str, str]]:
    """The file and schema to load (the staged ones when no column is sortable), and the
    comments of the added columns."""
    wanted, guarded = _asked(policy, name)
    for column in (c for c in wanted if c in guarded):
        log.warning("%s.%s: no %s column for a k-anonymity column", name, column, SUFFIX)
    columns = [c for c in sortable_buckets(policy, name) if c in schema.names]
    if not columns:
        return staged, schema, {}
    extended = schema
    for column in columns:
        extended = extended.append(pa.field(column + SUFFIX, pa.float64()))
    out = staged.with_suffix(".sortable.parquet")
    with pq.ParquetWriter(out, extended) as writer:
        for batch in _batches(staged, columns):
            writer.write_batch(batch)
    comments = {
        c + SUFFIX: (
            f"lower bound of the bucket in {c}, as a number: ORDER BY {c}{SUFFIX} sorts the "
            "buckets in numeric order (-inf for the bottom code, NULL for *)"
        )
        for c in columns
    }
    return out, extended, comments
