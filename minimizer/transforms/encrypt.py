"""Reversible pseudonyms: ``{encrypt: true, source: email, subject: customer_id}``.

Each value is sealed with AES-SIV under its subject's own data key (per purpose), kept in the
subject key store apart from the warehouse (see minimizer/rights/keystore.py and sealed.py for
the format ``mze1_<key id>_<ciphertext>``). An authorised role holding the key store and the
key file can reveal a value (``minimizer reveal``); erasing the subject destroys the data key,
so every copy of the value becomes unreadable (crypto-shredding).

Work is per subject, not per row: the chunk's distinct subjects get their keys in one key-store
query, and each distinct (subject, value) pair is sealed once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Encrypt"]


@register("encrypt")
class Encrypt(Transform):
    """Seal a value under its subject's data key: deterministic per subject, reversible."""

    category: ClassVar[str] = "encrypted"
    # The source column naming the data subject (normally the source's ``key``). A transform
    # does not see its source's spec, so the policy names it here, validated once at load.
    subject: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

    def inputs(self, output: str) -> tuple[str, ...]:
        return (self.source or output, self.subject)

    def describe(self) -> str:
        return (
            f"encrypted: AES-SIV under the data key of the subject in {self.subject!r} "
            "(mze1_<key id>_<ciphertext>); revealable by an authorised role until erasure"
        )

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        import numpy as np
        import pandas as pd
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV

        from minimizer.rights.keystore import SubjectKeyStore
        from minimizer.rights.sealed import seal
        from minimizer.transforms._parse import strings_from_codes

        if ctx.key is None:
            raise RuntimeError("encrypt needs a purpose key in the transform context")
        values, subjects = frame[self.source_of(output)], frame[self.subject]
        present = values.notna().to_numpy()
        todo = present & subjects.notna().to_numpy()
        s_codes, s_uniques = pd.factorize(subjects[todo].astype("str"))
        v_codes, v_uniques = pd.factorize(values[todo].astype("str"))
        # One code per distinct (subject, value) pair; each pair is sealed once.
        p_codes, pairs = pd.factorize(s_codes.astype(np.int64) * len(v_uniques) + v_codes)
        sealed: list[str] = []
        if len(pairs):
            with SubjectKeyStore.open_default() as store:
                kids, keys = store.data_keys(ctx.key, [str(s) for s in s_uniques])
            ciphers = [AESSIV(k) for k in keys]
            pair_s, pair_v = np.divmod(np.asarray(pairs, dtype=np.int64), len(v_uniques))
            sealed = [
                seal(ciphers[s], ctx.purpose, kids[s], str(v_uniques[v]))
                for s, v in zip(pair_s.tolist(), pair_v.tolist(), strict=True)
            ]
        codes = np.full(len(frame), -1, dtype=np.int64)
        codes[todo] = p_codes
        out = strings_from_codes(codes, sealed, frame.index).rename(output)
        # A value without a subject cannot get a subject key: unparseable for this purpose.
        return Outcome(out, pd.Series(present & ~todo, index=frame.index))
