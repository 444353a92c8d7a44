"""ARX-format generalisation hierarchies: reading, validating, generalising."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import minimizer.hierarchy
from minimizer.errors import DataError, PolicyError
from minimizer.hierarchy import TOP, Hierarchy, HierarchyError

ADULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adult"
needs_adult = pytest.mark.skipif(not ADULT.exists(), reason="Adult data not present")

EDUCATION = [
    ["Bachelors", "Undergraduate", "Higher education", "*"],
    ["Masters", "Graduate", "Higher education", "*"],
    ["Doctorate", "Graduate", "Higher education", "*"],
    ["HS-grad", "High School", "Secondary education", "*"],
    ["11th", "High School", "Secondary education", "*"],
    ["Preschool", "Primary School", "Primary education", "*"],
]


def write(tmp_path: Path, text: str, name: str = "h.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_docstring_examples_run() -> None:
    assert doctest.testmod(minimizer.hierarchy).failed == 0


def test_reads_an_arx_file_with_one_line_per_value(tmp_path: Path) -> None:
    h = Hierarchy.from_csv(write(tmp_path, "a;x;*\nb;x;*\nc;y;*\n"))
    assert h.depth == 3
    assert h.leaves == ("a", "b", "c")
    assert h.generalise(pd.Series(["c", "a", "b"]), 1).tolist() == ["y", "x", "x"]


def test_reads_a_file_without_trailing_newline_and_with_a_bom(tmp_path: Path) -> None:
    h = Hierarchy.from_csv(write(tmp_path, "\ufeffa;x;*\r\nb;y;*"))
    assert h.leaves == ("a", "b")
    assert h.generalise(pd.Series(["b"]), 1).tolist() == ["y"]


@needs_adult
def test_reads_every_adult_hierarchy() -> None:
    depths = {
        p.stem.removeprefix("adult_hierarchy_"): Hierarchy.from_csv(p).depth
        for p in ADULT.glob("adult_hierarchy_*.csv")
    }
    assert depths["age"] == 5
    assert depths["education"] == 4
    assert depths["sex"] == 2


def test_level_zero_is_the_value_and_the_top_is_star() -> None:
    h = Hierarchy.from_rows(EDUCATION)
    values = pd.Series(["Masters", "11th"], index=[10, 20], name="education")
    assert h.generalise(values, 0).tolist() == ["Masters", "11th"]
    top = h.generalise(values, h.depth - 1)
    assert top.tolist() == [TOP, TOP]
    assert list(top.index) == [10, 20]
    assert top.name == "education"


def test_generalise_keeps_index_and_returns_strings() -> None:
    h = Hierarchy.from_rows(EDUCATION)
    out = h.generalise(pd.Series(["Doctorate", "Preschool"], index=["p", "q"]), 2)
    assert out.to_dict() == {"p": "Higher education", "q": "Primary education"}
    assert pd.api.types.is_string_dtype(out)


def test_numeric_columns_match_numeric_leaves() -> None:
    h = Hierarchy.numeric_bands(0, 99, [5, 10])
    ints = pd.Series([0, 39, 99])
    assert h.generalise(ints, 1).tolist() == ["0-4", "35-39", "95-99"]
    assert h.generalise(ints.astype(float), 2).tolist() == ["0-9", "30-39", "90-99"]
    assert h.generalise(ints.astype(str), 0).tolist() == ["0", "39", "99"]
    assert h.generalise(ints.astype(object), 1).tolist() == ["0-4", "35-39", "95-99"]


def test_null_stays_missing_below_the_top_and_becomes_star_at_the_top() -> None:
    h = Hierarchy.from_rows(EDUCATION)
    values = pd.Series(["Masters", None, np.nan])
    assert h.generalise(values, 1).isna().tolist() == [False, True, True]
    assert h.generalise(values, h.depth - 1).tolist() == [TOP, TOP, TOP]
    assert h.encode(values).tolist()[1:] == [h.null_code, h.null_code]


def test_an_empty_string_is_the_missing_class_not_an_unknown_value() -> None:
    # A CRM's city = '' is data: it must neither fail the run nor become a label of its own.
    h = Hierarchy.from_rows(EDUCATION)
    for values in (pd.Series(["Masters", ""]), pd.Series(["Masters", ""], dtype="str")):
        assert h.encode(values).tolist()[1] == h.null_code
        assert h.generalise(values, 1).isna().tolist() == [False, True]
        assert h.generalise(values, h.depth - 1).tolist() == [TOP, TOP]


def test_an_empty_string_still_cannot_be_a_label_of_a_hierarchy_file() -> None:
    with pytest.raises(PolicyError, match="empty field"):
        Hierarchy.from_rows([["a", "", "*"]])


def test_unknown_values_raise_with_a_count_and_never_the_value() -> None:
    h = Hierarchy.from_rows(EDUCATION)
    values = pd.Series(["Masters", "Secret-Degree", "Secret-Degree", "Other-Secret"], name="edu")
    with pytest.raises(HierarchyError) as caught:
        h.generalise(values, 1)
    error = caught.value
    assert isinstance(error, DataError)
    assert error.count == 3
    assert error.column == "edu"
    assert error.reason == "unknown_value"
    assert "Secret" not in str(error)


def test_float_that_is_not_a_leaf_is_unknown() -> None:
    h = Hierarchy.numeric_bands(0, 9, [5])
    with pytest.raises(HierarchyError) as caught:
        h.encode(pd.Series([1.5, 2.0]))
    assert caught.value.count == 1


def test_empty_series_generalises_to_empty() -> None:
    h = Hierarchy.from_rows(EDUCATION)
    assert h.generalise(pd.Series([], dtype=object), 1).tolist() == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a;x;*\nb;*\n", 2),  # ragged
        ("a;x;*\na;y;*\n", 2),  # repeated original value
        ("a;x;*\nb;;*\n", 2),  # empty field
    ],
)
def test_malformed_files_name_the_line(tmp_path: Path, text: str, line: int) -> None:
    with pytest.raises(PolicyError) as caught:
        Hierarchy.from_csv(write(tmp_path, text))
    assert [p.line for p in caught.value.problems] == [line]
    assert caught.value.problems[0].file.endswith("h.csv")


def test_a_hierarchy_must_be_a_tree(tmp_path: Path) -> None:
    text = "a;x;p;*\nb;x;q;*\n"  # x has two parents
    with pytest.raises(PolicyError, match="more than one parent"):
        Hierarchy.from_csv(write(tmp_path, text))


def test_the_top_level_must_be_one_value() -> None:
    with pytest.raises(PolicyError, match="last level"):
        Hierarchy.from_rows([["a", "x"], ["b", "y"]])


def test_a_hierarchy_needs_two_levels_and_some_rows() -> None:
    with pytest.raises(PolicyError):
        Hierarchy.from_rows([["a"], ["b"]])
    with pytest.raises(PolicyError):
        Hierarchy.from_rows([])


def test_hierarchies_are_immutable() -> None:
    h = Hierarchy.from_rows(EDUCATION)
    with pytest.raises(AttributeError):
        h.source = "elsewhere"  # type: ignore[misc]
    with pytest.raises(ValueError):
        h.level_codes(1)[0] = 3
    with pytest.raises(ValueError):
        h.order[0] = 3


def test_levels_out_of_range_are_refused() -> None:
    h = Hierarchy.from_rows(EDUCATION)
    with pytest.raises(ValueError):
        h.generalise(pd.Series(["Masters"]), h.depth)


def test_numeric_bands_need_dividing_widths() -> None:
    with pytest.raises(PolicyError):
        Hierarchy.numeric_bands(0, 99, [5, 12])
    h = Hierarchy.numeric_bands(17, 90, [5, 10, 20])
    assert h.depth == 5
    assert h.generalise(pd.Series([17, 90]), 3).tolist() == ["17-36", "77-90"]


def test_hierarchy_order_keeps_every_subtree_contiguous() -> None:
    h = Hierarchy.from_rows(EDUCATION)
    positions = h.order[: h.n_leaves]
    assert sorted(positions.tolist()) == list(range(h.n_leaves))
    assert h.order[h.null_code] == h.n_leaves  # null sorts last
    for level in range(1, h.depth):
        nodes = h.level_codes(level)[: h.n_leaves]
        for node in np.unique(nodes):
            spots = np.sort(positions[nodes == node])
            assert spots[-1] - spots[0] == len(spots) - 1


def test_numeric_hierarchies_order_by_value() -> None:
    rows = [["10", "10-19", "*"], ["2", "0-9", "*"], ["15", "10-19", "*"]]
    h = Hierarchy.from_rows(rows)
    assert h.is_numeric
    assert h.order[:3].tolist() == [1, 0, 2]
