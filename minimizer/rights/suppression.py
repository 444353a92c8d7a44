"""Erased subjects stay erased: loads leave out the rows of subjects on the suppression list.

Contributed to every run through ``service.FEATURES`` as a ``Hooks(exclude=...)``. The list
(``minimizer_audit.suppressed_subjects``) holds keyed digests of subject ids per key version;
a chunk's key column is digested under each version on the list whose erasure secret the key
ring has (each distinct id once) and matching rows are dropped before minimising, so nothing of
them is staged or loaded. Retiring a key version keeps its erasure secret (``KeyRing.retained``),
so the list survives rotate → rekey → retire even for a subject no source held yet; a subject
listed only under versions the key ring cannot check fails the run closed. The pipeline counts
the rows left out (``excluded_erased`` in the audit record). Sources without a ``key`` name no
subject and cannot be filtered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from minimizer.errors import GuaranteeError, KeyMaterialError
from minimizer.io.warehouse import AUDIT_SCHEMA, DIALECTS, Warehouse, qualified
from minimizer.keys import KeyRing
from minimizer.pipeline import ChunkObserver, Hooks, RunReport, SourceReport
from minimizer.policy import Policy, SourceSpec
from minimizer.rights.digest import ERASURE_USE, subject_digests
from minimizer.rights.sql import SUPPRESSED

if TYPE_CHECKING:
    from minimizer.service import RunSetting

__all__ = ["erased_rows", "suppressed_digests", "suppression_hooks"]


def _listed(warehouse: Warehouse) -> pd.DataFrame:
    if (AUDIT_SCHEMA, SUPPRESSED) not in set(warehouse.tables()):
        return pd.DataFrame({"key_version": [], "digest": [], "erasure_id": []})
    table = qualified(AUDIT_SCHEMA, SUPPRESSED, DIALECTS[warehouse.kind])
    return warehouse.query(f"SELECT key_version, digest, erasure_id FROM {table}")


def suppressed_digests(warehouse: Warehouse, keyring: KeyRing) -> dict[int, pd.Index]:
    """Key version -> digests on the list, for every version whose erasure secret the key ring
    still has (live ones, and retired ones: retiring keeps that secret).

    Fails closed when an erased subject is listed only under versions this key ring cannot
    digest (a master replaced by hand, a key ring from before retirement kept the secret):
    loading then could bring that subject back."""
    frame = _listed(warehouse)
    usable = set(keyring.versions_for(ERASURE_USE))
    versions = frame["key_version"].astype("int64")
    checkable = versions.isin(sorted(usable))
    lost = frame.loc[~checkable, "erasure_id"].astype("str")
    blind = lost[~lost.isin(frame.loc[checkable, "erasure_id"].astype("str"))].nunique()
    if blind:
        missing = sorted(set(versions[~checkable].tolist()) - usable)
        raise KeyMaterialError(
            f"{blind} erased subject(s) are on the suppression list only under key version(s)"
            f" {missing}, which this key ring cannot check; nothing is loaded, so they cannot"
            " come back. Use the key ring that erased them (MINIMIZER_KEY_FILE), or erase the"
            " subjects again under the current key"
        )
    return {
        int(v): pd.Index(group["digest"].astype("str").unique())
        for v, group in frame.loc[checkable].groupby(versions[checkable])
    }


def erased_rows(keyring: KeyRing, ids: pd.Series, lists: dict[int, pd.Index]) -> np.ndarray:
    """True for rows whose subject id is on the list; nulls never are."""
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    hit = np.zeros(len(uniques) + 1, dtype=bool)  # the last slot is for nulls
    texts = [str(u) for u in uniques]
    for version, digests in lists.items():
        hit[:-1] |= pd.Index(subject_digests(keyring, texts, version)).isin(digests)
    return hit[np.where(codes < 0, len(uniques), codes)]


_SCRATCH = "suppression_listed"


@dataclass(frozen=True)
class _Listed:
    """Notes, in the source report, how many digests the list held when extraction ran: the
    check before the load compares, even when it runs in another Airflow task."""

    count: int

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None:
        return None

    def finish(self, report: SourceReport) -> None:
        report.scratch[_SCRATCH] = self.count


def suppression_hooks(setting: RunSetting) -> Hooks:
    """The feature: read the list once per run, filter every chunk of every keyed source, and
    fail the run (nothing loaded) if an erasure committed after extraction began.

    A DuckDB file has one writer, so there an erasure cannot overlap a run at all. On
    PostgreSQL it can: rows extracted before the erasure would otherwise be loaded after it.
    """
    warehouse, keyring = setting.warehouse, setting.keyring
    lists = suppressed_digests(warehouse, keyring)
    listed = sum(len(d) for d in lists.values())

    def exclude(name: str, spec: SourceSpec, chunk: pd.DataFrame) -> np.ndarray:
        if spec.key is None or spec.key not in chunk:
            return np.ones(len(chunk), dtype=bool)
        return ~erased_rows(keyring, chunk[spec.key], lists)

    def observers(name: str, spec: SourceSpec) -> list[ChunkObserver]:
        return [_Listed(listed)]

    def unchanged(policy: Policy, report: RunReport) -> None:
        counts = [r.scratch.get(_SCRATCH) for r in report.sources.values()]
        then = min((int(c) for c in counts if c is not None), default=listed)
        now = sum(len(d) for d in suppressed_digests(warehouse, keyring).values())
        if now > then:
            raise GuaranteeError(
                "subjects were erased while this run was extracting; nothing was loaded, and"
                " the next run leaves them out",
                check="suppression",
                reason="erased_during_run",
                count=now - then,
            )

    return Hooks(exclude=exclude if lists else None, observers=observers, checks=(unchanged,))
