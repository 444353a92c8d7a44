"""The column-at-once AES-CMAC equals the cryptography library's own CMAC, value by value."""

from __future__ import annotations

import pyarrow as pa
import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from hypothesis import given, settings
from hypothesis import strategies as st

from minimizer.transforms._cmac import cmac_digests

KEY = bytes(range(32))


def library_cmac(key: bytes, value: bytes) -> bytes:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(value)
    return mac.finalize()


def split(digests: bytes) -> list[bytes]:
    return [digests[i : i + 16] for i in range(0, len(digests), 16)]


def test_rfc_4493_vectors():
    # RFC 4493 section 4 (AES-128): the empty message and the 16-, 40- and 64-byte examples.
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    message = bytes.fromhex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
    )
    expected = [
        "bb1d6929e95937287fa37d129b756746",
        "070a16b46b4d4144f79bdd9dd04a287c",
        "dfa66747de9ae63030ca32611497c827",
        "51f0bebf7e3b9d92fc49741779363cfe",
    ]
    values = pa.array([b"", message[:16], message[:40], message], pa.binary())
    assert [d.hex() for d in split(cmac_digests(key, values))] == expected


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 31, 32, 33, 48, 200])
def test_block_boundaries(length):
    # Complete last blocks take K1, padded ones K2: the lengths either side of 16n.
    values = [bytes([length % 251]) * length, b"x" * length]
    got = split(cmac_digests(KEY, pa.array(values, pa.binary())))
    assert got == [library_cmac(KEY, v) for v in values]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=90), max_size=60),
    st.integers(0, 5),
    st.binary(min_size=32, max_size=32),
)
def test_any_values_any_slice_any_key(values, skip, key):
    array = pa.array(values, pa.large_binary()).slice(min(skip, len(values)))
    got = split(cmac_digests(key, array))
    assert got == [library_cmac(key, v) for v in values[min(skip, len(values)) :]]


@given(st.lists(st.text(max_size=30), max_size=40))
def test_text_is_hashed_as_its_utf8_bytes(texts):
    got = split(cmac_digests(KEY, pa.array(texts, pa.string())))
    assert got == [library_cmac(KEY, t.encode()) for t in texts]


def test_more_values_than_one_pass_holds():
    values = [f"C{i:09d}".encode() for i in range(70_000)] + [b"long" * 9] * 3
    got = split(cmac_digests(KEY, pa.array(values, pa.binary())))
    assert got[::997] == [library_cmac(KEY, v) for v in values[::997]]
    assert got[-1] == library_cmac(KEY, values[-1])


def test_nulls_are_refused():
    with pytest.raises(ValueError, match="no nulls"):
        cmac_digests(KEY, pa.array([b"a", None], pa.binary()))
