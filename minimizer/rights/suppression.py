"""Erased subjects stay erased: loads leave out the rows of subjects on the suppression list.

Contributed to every run through ``service.FEATURES`` as a ``Hooks(exclude=...)``. The list
(``minimizer_audit.suppressed_subjects``) holds keyed digests of subject ids per key version;
a chunk's key column is digested under each live version on the list (each distinct id once)
and matching rows are dropped before minimising, so nothing of them is staged or loaded. The
pipeline counts them (``excluded_erased`` in the audit record). Sources without a ``key``
name no subject and cannot be filtered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from minimizer.io.warehouse import AUDIT_SCHEMA, DIALECTS, Warehouse, qualified
from minimizer.keys import KeyRing
from minimizer.pipeline import Hooks
from minimizer.policy import SourceSpec
from minimizer.rights.digest import subject_digests
from minimizer.rights.sql import SUPPRESSED

if TYPE_CHECKING:
    from minimizer.service import RunSetting

__all__ = ["erased_rows", "suppressed_digests", "suppression_hooks"]


def suppressed_digests(warehouse: Warehouse, keyring: KeyRing) -> dict[int, pd.Index]:
    """Live key version -> digests on the list (versions the key ring has retired are useless)."""
    if (AUDIT_SCHEMA, SUPPRESSED) not in set(warehouse.tables()):
        return {}
    table = qualified(AUDIT_SCHEMA, SUPPRESSED, DIALECTS[warehouse.kind])
    frame = warehouse.query(f"SELECT key_version, digest FROM {table}")
    live = set(keyring.live_versions)
    return {
        int(v): pd.Index(group["digest"].astype("str").unique())
        for v, group in frame.groupby("key_version")
        if int(v) in live
    }


def erased_rows(keyring: KeyRing, ids: pd.Series, lists: dict[int, pd.Index]) -> np.ndarray:
    """True for rows whose subject id is on the list; nulls never are."""
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    hit = np.zeros(len(uniques) + 1, dtype=bool)  # the last slot is for nulls
    texts = [str(u) for u in uniques]
    for version, digests in lists.items():
        hit[:-1] |= pd.Index(subject_digests(keyring, texts, version)).isin(digests)
    return hit[np.where(codes < 0, len(uniques), codes)]


def suppression_hooks(setting: RunSetting) -> Hooks:
    """The feature: read the list once per run, filter every chunk of every keyed source."""
    lists = suppressed_digests(setting.warehouse, setting.keyring)
    if not lists:
        return Hooks()
    keyring = setting.keyring

    def exclude(name: str, spec: SourceSpec, chunk: pd.DataFrame) -> np.ndarray:
        if spec.key is None or spec.key not in chunk:
            return np.ones(len(chunk), dtype=bool)
        return ~erased_rows(keyring, chunk[spec.key], lists)

    return Hooks(exclude=exclude)
