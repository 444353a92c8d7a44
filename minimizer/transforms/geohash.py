"""Vectorised geohash encoding (the public-domain algorithm, in numpy, not a per-point loop)."""

from __future__ import annotations

import numpy as np

__all__ = ["encode_geohash"]

_ALPHABET = np.array(list("0123456789bcdefghjkmnpqrstuvwxyz"))


def encode_geohash(lat: np.ndarray, lon: np.ndarray, length: int) -> np.ndarray:
    """Geohash strings of ``length`` characters for arrays of latitudes and longitudes."""
    bits = 5 * length
    lon_bits = (bits + 1) // 2
    lat_bits = bits // 2
    # Integer cell indices on each axis; bits are interleaved starting with longitude.
    xi = np.clip(((lon + 180.0) / 360.0 * (1 << lon_bits)).astype(np.int64), 0, (1 << lon_bits) - 1)
    yi = np.clip(((lat + 90.0) / 180.0 * (1 << lat_bits)).astype(np.int64), 0, (1 << lat_bits) - 1)
    code = np.zeros(len(lat), dtype=np.int64)
    for b in range(bits):
        from_lon = b % 2 == 0
        src, idx = (xi, lon_bits - 1 - b // 2) if from_lon else (yi, lat_bits - 1 - b // 2)
        code = (code << 1) | ((src >> idx) & 1)
    chars = np.stack(
        [_ALPHABET[(code >> (5 * (length - 1 - i))) & 31] for i in range(length)], axis=1
    )
    # Viewing n×length one-character cells as n strings of `length` joins them without a loop.
    return np.ascontiguousarray(chars).view(f"<U{length}").ravel().astype(object)
