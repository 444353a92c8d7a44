"""Erased subjects stay erased: loads leave out the rows of subjects on the suppression list.

Used by the extract step of every run (:mod:`minimizer.flow`). The list
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

import numpy as np
import pandas as pd

from minimizer.errors import KeyMaterialError
from minimizer.io.warehouse import AUDIT_SCHEMA, Warehouse
from minimizer.keys import KeyRing
from minimizer.rights.digest import ERASURE_USE, subject_digests
from minimizer.rights.sql import SUPPRESSED

__all__ = ["erased_rows", "suppressed_digests"]


def _listed(warehouse: Warehouse) -> pd.DataFrame:
    if (AUDIT_SCHEMA, SUPPRESSED) not in set(warehouse.tables()):
        return pd.DataFrame({"key_version": [], "digest": [], "erasure_id": []})
    return warehouse.read(AUDIT_SCHEMA, SUPPRESSED)[["key_version", "digest", "erasure_id"]]


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
