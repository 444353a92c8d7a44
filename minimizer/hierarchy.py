"""Generalisation hierarchies in the ARX format.

An ARX hierarchy file has one line per original value, ``;``-separated; each further field is
that value one level up, and the last level is ``*``::

    Bachelors;Undergraduate;Higher education;*
    Masters;Graduate;Higher education;*

Level 0 is the original value and ``depth - 1`` the top. A hierarchy must be a tree: two values
with the same label at one level share every label above it. That is what makes the
full-domain lattice monotone, and it is checked when the hierarchy is built.

Internally every original value is a *leaf code* ``0 .. n_leaves - 1``; a missing value (null,
or an empty string) gets the extra code ``n_leaves``. Null is treated as a value of its own: it stays missing at
every level below the top and becomes ``*`` at the top, so records with a missing
quasi-identifier form their own equivalence classes instead of hiding among known values.

>>> h = Hierarchy.from_rows([["a", "x", "*"], ["b", "x", "*"], ["c", "y", "*"]])
>>> h.depth
3
>>> h.generalise(pd.Series(["a", "c", None]), 1).tolist()
['x', 'y', nan]
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa

from minimizer.errors import DataError, PolicyError, PolicyProblem, Reason

__all__ = ["TOP", "Hierarchy", "HierarchyError", "string_series"]

TOP = "*"


class HierarchyError(DataError):
    """A value in the data is not a leaf of the hierarchy (the message gives a count, never the value)."""

    default_check = "hierarchy"
    default_reason = Reason.UNKNOWN_VALUE


class Hierarchy:
    """An immutable, validated generalisation hierarchy over one attribute."""

    __slots__ = (
        "_arrow_labels",
        "_labels",
        "_leaf_index",
        "_lut",
        "_numeric_index",
        "_order",
        "source",
    )
    # Declared for the type checker; set once in __init__ through object.__setattr__.
    source: str
    _leaf_index: pd.Index
    _numeric_index: pd.Index | None
    _lut: tuple[np.ndarray, ...]
    _labels: tuple[np.ndarray, ...]
    _arrow_labels: tuple[pa.Array, ...]
    _order: np.ndarray

    def __init__(self, rows: Sequence[Sequence[str]], *, source: str = "<rows>") -> None:
        table = _validated(rows, source)
        leaves = table[:, 0]
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_leaf_index", pd.Index(leaves, dtype=object))
        object.__setattr__(self, "_numeric_index", _numeric_index(leaves))
        luts: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        for level in range(table.shape[1]):
            codes, uniques = pd.factorize(table[:, level])
            # The null code (last slot) stays null below the top and joins '*' at the top.
            is_top = level == table.shape[1] - 1
            lut = np.append(codes, 0 if is_top else len(uniques)).astype(np.int64)
            names = np.asarray(list(uniques) if is_top else [*uniques, None], dtype=object)
            luts.append(_frozen(lut))
            labels.append(_frozen(names))
        object.__setattr__(self, "_lut", tuple(luts))
        object.__setattr__(self, "_labels", tuple(labels))
        arrow = tuple(pa.array(names.tolist(), type=pa.large_string()) for names in labels)
        object.__setattr__(self, "_arrow_labels", arrow)
        object.__setattr__(self, "_order", _frozen(_hierarchy_order(table, self._numeric_index)))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Hierarchy is immutable")

    def __repr__(self) -> str:
        return f"Hierarchy(source={self.source!r}, leaves={self.n_leaves}, depth={self.depth})"

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[str]], *, source: str = "<rows>") -> Hierarchy:
        return cls(rows, source=source)

    @classmethod
    def from_csv(cls, path: str | Path) -> Hierarchy:
        """Read an ARX hierarchy file (``;``-separated, one line per original value)."""
        path = Path(path)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle, delimiter=";") if row]
        return cls(rows, source=str(path))

    @classmethod
    def numeric_bands(cls, low: int, high: int, widths: Sequence[int]) -> Hierarchy:
        """Integers ``low..high`` banded by each width in turn (each width divides the next).

        >>> Hierarchy.numeric_bands(0, 9, [5]).generalise(pd.Series([3, 7]), 1).tolist()
        ['0-4', '5-9']
        """
        widths = list(widths)
        if high < low or any(w < 2 for w in widths):
            raise PolicyError.single("<numeric_bands>", "need low <= high and every width >= 2")
        if any(b % a for a, b in itertools.pairwise(widths)):
            raise PolicyError.single("<numeric_bands>", "each band width must divide the next")
        values = np.arange(low, high + 1)
        columns = [values.astype(str)]
        for width in widths:
            start = low + (values - low) // width * width
            end = np.minimum(start + width - 1, high)
            columns.append(np.char.add(np.char.add(start.astype(str), "-"), end.astype(str)))
        columns.append(np.full(len(values), TOP))
        return cls(np.stack(columns, axis=1).tolist(), source=f"<bands {low}..{high}>")

    # -- shape -------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Number of levels, counting level 0 (original) and the top ``*``."""
        return len(self._lut)

    @property
    def n_leaves(self) -> int:
        return len(self._leaf_index)

    @property
    def null_code(self) -> int:
        return self.n_leaves

    @property
    def is_numeric(self) -> bool:
        """True when every original value reads as a number (then order is numeric order)."""
        return self._numeric_index is not None

    @property
    def leaves(self) -> tuple[str, ...]:
        return tuple(self._leaf_index)

    def cardinality(self, level: int) -> int:
        """Number of distinct codes at ``level``, counting the null code below the top."""
        return len(self._labels[self._check_level(level)])

    def level_codes(self, level: int) -> np.ndarray:
        """Read-only map from leaf code (null code included) to the code at ``level``."""
        return self._lut[self._check_level(level)]

    def level_labels(self, level: int) -> np.ndarray:
        """Read-only labels of the codes at ``level`` (``None`` for the null code)."""
        return self._labels[self._check_level(level)]

    @property
    def order(self) -> np.ndarray:
        """Ordinal position of each leaf code (null last) such that every subtree is contiguous."""
        return self._order

    # -- data --------------------------------------------------------------------------------

    def encode(self, values: pd.Series) -> np.ndarray:
        """Leaf codes of ``values`` (null -> ``null_code``); unknown values raise HierarchyError.

        The column is factorised first, so only its distinct values are matched to leaves. An
        empty string is no value (a CRM's ``city = ''``): it joins the missing class, as null.
        """
        positions, uniques = pd.factorize(values, use_na_sentinel=True)
        index = pd.Index(uniques)
        leaf_of_unique = np.append(self._match(index), self.null_code)
        if index.dtype == object or pd.api.types.is_string_dtype(index.dtype):
            blank = np.flatnonzero(index.astype(str) == "")
            leaf_of_unique[blank] = self.null_code
        # position -1 (null) picks the appended null code
        codes: np.ndarray = leaf_of_unique[positions]
        unknown = int(np.count_nonzero(codes < 0))
        if unknown:
            column = None if values.name is None else str(values.name)
            raise HierarchyError(
                f"{unknown} value(s) are not in the hierarchy {Path(self.source).name}",
                column=column,
                count=unknown,
            )
        return codes.astype(np.int64, copy=False)

    def generalise(self, values: pd.Series, level: int) -> pd.Series:
        """The label of every value at ``level``; the index and name are kept."""
        return self.labels_of(self.encode(values), level, index=values.index, name=values.name)

    def labels_of(
        self,
        codes: np.ndarray,
        level: int,
        *,
        index: pd.Index | None = None,
        name: Hashable = None,
    ) -> pd.Series:
        """Labels at ``level`` for leaf codes, as a string Series (an Arrow take, no Python
        objects per row)."""
        return string_series(
            self._arrow_labels[self._check_level(level)],
            self._lut[level][codes],
            index=index,
            name=name,
        )

    def _match(self, uniques: pd.Index) -> np.ndarray:
        numeric = pd.api.types.is_numeric_dtype(uniques) and not pd.api.types.is_bool_dtype(uniques)
        found: np.ndarray
        if numeric and self._numeric_index is not None:
            found = self._numeric_index.get_indexer(uniques.astype(float))
        else:
            # Everything else is matched by its text: 39 matches the leaf '39'.
            found = self._leaf_index.get_indexer(uniques.astype(str).astype(object))
        return found

    def _check_level(self, level: int) -> int:
        if not 0 <= level < self.depth:
            raise ValueError(f"level must be in 0..{self.depth - 1}, got {level}")
        return level


def string_series(
    labels: pa.Array, codes: np.ndarray, *, index: pd.Index | None = None, name: Hashable = None
) -> pd.Series:
    """``labels[codes]`` as a pandas string Series (a null label gives a missing value)."""
    taken = labels.take(pa.array(codes, type=pa.int64()))
    return pd.Series(pd.array(taken, dtype="str"), index=index, name=name)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _validated(rows: Sequence[Sequence[str]], source: str) -> np.ndarray:
    """The rows as a 2-D array of strings, or a PolicyError naming every bad line."""
    problems: list[tuple[int | None, str]] = []
    if not rows:
        raise PolicyError.single(source, "hierarchy has no rows")
    width = len(rows[0])
    for line, row in enumerate(rows, start=1):
        if len(row) != width:
            problems.append((line, f"has {len(row)} fields, the first line has {width}"))
        elif any(field == "" for field in row):
            problems.append((line, "has an empty field"))
    if width < 2:
        problems.append((1, "needs at least two levels (the value and the top '*')"))
    if problems:
        raise _policy_error(source, problems)
    table = np.asarray([list(map(str, row)) for row in rows], dtype=object)
    duplicated = pd.Index(table[:, 0]).duplicated()
    problems += [(int(i) + 1, "repeats an original value") for i in np.flatnonzero(duplicated)]
    if width > 1 and len(set(table[:, -1])) != 1:
        problems.append((None, "the last level must be one value for every line (ARX uses '*')"))
    for level in range(1, width - 1):
        # A tree: every label at `level` has exactly one parent label at `level + 1`.
        pairs = pd.DataFrame({"child": table[:, level], "parent": table[:, level + 1]})
        parents = pairs.drop_duplicates().groupby("child", sort=False)["parent"].size()
        if (parents > 1).any():
            problems.append((None, f"level {level} labels have more than one parent"))
    if problems:
        raise _policy_error(source, problems)
    return table


def _policy_error(source: str, problems: list[tuple[int | None, str]]) -> PolicyError:
    return PolicyError(
        [PolicyProblem(file=source, line=line, path="", message=msg) for line, msg in problems]
    )


def _numeric_index(leaves: np.ndarray) -> pd.Index | None:
    numbers = pd.to_numeric(pd.Series(leaves), errors="coerce")
    if numbers.isna().any() or numbers.duplicated().any():
        return None
    return pd.Index(numbers.to_numpy(dtype=float))


def _hierarchy_order(table: np.ndarray, numeric: pd.Index | None) -> np.ndarray:
    """Position of each leaf (and null, last) in an order where every subtree is contiguous.

    Numeric hierarchies sort by value; others sort by the first appearance of each ancestor in
    the file, top level first, so siblings stay next to each other.
    """
    if numeric is not None:
        keys: list[np.ndarray] = [numeric.to_numpy()]
    else:
        keys = [pd.factorize(table[:, level])[0] for level in range(table.shape[1] - 1, -1, -1)]
        keys.reverse()
    # np.lexsort sorts by the last key first: pass the leaf key first, the top key last.
    ranking = np.lexsort(keys)
    order = np.empty(len(table) + 1, dtype=np.int64)
    order[ranking] = np.arange(len(table))
    order[-1] = len(table)
    return order
