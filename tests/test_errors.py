"""The error tree: hashable, picklable whole, reasons from one enum, retries decided in one place."""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import pytest

from minimizer import errors
from minimizer.errors import (
    DataError,
    GateError,
    GuaranteeError,
    KeyMaterialError,
    MinimizerError,
    PolicyError,
    Reason,
    SourceError,
    WarehouseError,
    WarehouseLockedError,
    is_transient,
)
from minimizer.hierarchy import HierarchyError
from minimizer.io.warehouse import WarehouseError as ReexportedWarehouseError
from minimizer.pii.registry import UnknownDetectorError
from minimizer.rights.errors import (
    ErasureError,
    RekeyError,
    RequestFileError,
    RequestProblem,
    SubjectKeyError,
)

PACKAGE = Path(errors.__file__).parent


def _samples() -> list[MinimizerError]:
    return [
        PolicyError.single("p.yaml", "unknown key", line=3, path="sources.x"),
        KeyMaterialError("no key"),
        DataError("bad rows", table="t", column="c", check="x", count=2, positions=[1, 4]),
        SourceError("gone", table="contacts", reason="missing_source"),
        GuaranteeError("k not met", reason="k_unreachable", count=3),
        GateError("leak", failures=[{"table": "t", "expectation": "e"}], count=1),
        WarehouseError("no insert", schema="s", table="t", cause="IOException", detail="disk"),
        WarehouseLockedError("DuckDB file is locked"),
        HierarchyError("2 value(s) are not in the hierarchy h.csv", column="c", count=2),
        SubjectKeyError("tampered", reason="tampered", count=1, positions=[1]),
        ErasureError("nobody", reason="empty_request", count=0),
        RekeyError("old tokens", reason="unmapped_tokens", details={"t": 2}, count=2),
        RequestFileError([RequestProblem("r.csv", 2, "empty id")]),
        UnknownDetectorError("emial", ["email", "phone"]),
    ]


@pytest.mark.parametrize("exc", _samples(), ids=lambda e: type(e).__name__)
def test_every_error_is_hashable_and_equal_only_to_itself(exc):
    twin = pickle.loads(pickle.dumps(exc))
    assert {exc: 1}[exc] == 1 and len({exc, twin}) == 2
    assert exc == exc and exc != twin


@pytest.mark.parametrize("exc", _samples(), ids=lambda e: type(e).__name__)
def test_every_error_pickles_whole(exc):
    # Airflow and process pools ship exceptions between processes: nothing may be lost.
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc) and back.args == exc.args
    assert vars(back) == vars(exc)
    assert back.exit_code == exc.exit_code and back.transient == exc.transient


def test_gate_error_is_hashable_the_old_dataclass_was_not():
    # The reproducer: hash(GateError("x")) raised TypeError.
    assert isinstance(hash(GateError("x")), int)
    assert isinstance(hash(DataError("x")), int)
    assert isinstance(hash(GuaranteeError("x")), int)


def test_one_tree():
    for cls in (SourceError, GuaranteeError, GateError, WarehouseError, HierarchyError):
        assert issubclass(cls, DataError)
    for cls in (SubjectKeyError, ErasureError, RekeyError):
        assert issubclass(cls, DataError)
    assert issubclass(WarehouseLockedError, WarehouseError)
    assert ReexportedWarehouseError is WarehouseError
    for exc in _samples():
        assert isinstance(exc, MinimizerError)
        assert not hasattr(type(exc), "__dataclass_fields__")


def test_a_string_reason_becomes_the_enum_and_still_compares_as_text():
    exc = SourceError("gone", reason="missing_column", column="email")
    assert exc.reason is Reason.MISSING_COLUMN
    assert exc.reason == "missing_column"
    assert json.dumps({"reason": exc.reason}) == '{"reason": "missing_column"}'
    assert str(exc) == "gone [column=email, reason=missing_column]"


def test_each_class_has_its_default_reason_and_exit_code():
    assert DataError("x").reason is Reason.INVALID_DATA
    assert SourceError("x").reason is Reason.SOURCE
    assert GuaranteeError("x").reason is Reason.GUARANTEE_NOT_MET
    assert GateError("x").reason is Reason.GATE_FAILED
    assert WarehouseError("x").reason is Reason.WAREHOUSE
    assert WarehouseLockedError("x").reason is Reason.LOCKED
    assert ErasureError("x").reason is Reason.ERASURE
    assert RekeyError("x").reason is Reason.REKEY
    assert (HierarchyError("x").reason, HierarchyError("x").check) == (
        Reason.UNKNOWN_VALUE,
        "hierarchy",
    )
    assert GuaranteeError("x").exit_code == GateError("x").exit_code == 3
    assert DataError("x").exit_code == PolicyError([]).exit_code == 2


def test_an_unknown_reason_is_refused_where_the_error_is_built():
    with pytest.raises(ValueError, match=r"add it to minimizer\.errors\.Reason"):
        DataError("x", reason="no_such_reason")
    with pytest.raises(ValueError):
        SubjectKeyError("x", reason="typo")


def _reasons_used_in(root: Path) -> dict[str, str]:
    """Every literal ``reason=`` of a call and every class-level reason default, by where."""
    found: dict[str, str] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "reason" and isinstance(kw.value, ast.Constant):
                        found.setdefault(kw.value.value, f"{path}:{node.lineno}")
            targets = []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            value = getattr(node, "value", None)
            if {"reason", "default_reason"} & set(targets) and isinstance(value, ast.Constant):
                found.setdefault(value.value, f"{path}:{node.lineno}")
    return found


def test_every_reason_raised_in_the_package_is_in_the_enum():
    # A raise site on a path no test takes would otherwise meet its typo in production.
    used = _reasons_used_in(PACKAGE)
    # Policy "reason" fields (the why of a reasoned exception) are prose, not codes.
    unknown = {r: where for r, where in used.items() if isinstance(r, str) and " " not in r}
    unknown = {r: where for r, where in unknown.items() if r not in set(Reason)}
    assert not unknown, unknown
    assert len(used) > 40  # the scan does see the raise sites


def test_transient_errors_are_retried_everything_else_fails_at_once():
    retried = [
        WarehouseLockedError("locked"),
        WarehouseError("cannot reach", reason="unreachable"),
        WarehouseError("insert failed", reason="load_failed"),
        WarehouseError("audit insert failed", reason="audit_failed"),
        SourceError("not there yet", reason="missing_source"),
        SourceError("being written", reason="unreadable"),
        OSError("disk full"),
        TimeoutError(),
        MemoryError(),
    ]
    final = [
        GateError("leak"),
        GuaranteeError("k", reason="k_unreachable"),
        SourceError("no column", reason="missing_column"),
        WarehouseError("bad schema", reason="schema_mismatch"),
        PolicyError([]),
        KeyMaterialError("no key"),
        SubjectKeyError("tampered", reason="tampered"),
        ValueError("odd data"),
        ImportError("bug"),
    ]
    assert [is_transient(e) for e in retried] == [True] * len(retried)
    assert [is_transient(e) for e in final] == [False] * len(final)
    assert WarehouseLockedError.transient and not DataError.transient
    assert {r for r in Reason if r.transient} == {
        "unreadable",
        "missing_source",
        "locked",
        "unreachable",
        "load_failed",
        "audit_failed",
    }


def test_transience_survives_pickling():
    back = pickle.loads(pickle.dumps(SourceError("late", reason="missing_source")))
    assert is_transient(back)


def test_messages_keep_their_shape_and_carry_no_values():
    assert (
        str(DataError("bad", table="t", check="c", count=2))
        == "bad [table=t, check=c, reason=invalid_data, count=2]"
    )
    assert (
        str(
            WarehouseError(
                "no insert", schema="s", table="t", cause="IOException", detail="disk full"
            )
        )
        == "no insert: disk full [schema=s, table=t, reason=warehouse, cause=IOException]"
    )
    shown = str(SubjectKeyError("closed", reason="tampered", count=12, positions=range(12)))
    assert shown == "closed [reason=tampered, count=12, positions=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]"
    gate = GateError("leak", failures=[{"table": "t", "unexpected_count": 1}], count=1)
    assert "unexpected_count" not in str(gate) and gate.failures[0]["table"] == "t"
