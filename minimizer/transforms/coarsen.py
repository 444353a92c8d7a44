"""A latitude/longitude pair coarsened to an area: an H3 cell, a geohash, or a rounded grid.

``{coarsen: h3, lat: lat, lon: lon, resolution: 8}`` publishes the cell id instead of the point.
Points outside ±90/±180 are invalid, never clamped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Coarsen", "h3_cells"]

# Average cell edge lengths are in docs/policy.md; areas per resolution are H3's published figures.
H3_AREA_KM2 = {6: 36.1, 7: 5.16, 8: 0.737, 9: 0.105, 10: 0.015}


def h3_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell ids as uint64, computed over whole arrays by h3ronpy (h3o, a Rust port of H3
    that gives the same cells as the C library; tests/transforms compare the two). It releases
    the GIL, so slices run on every core."""
    import numpy as np
    import pyarrow as pa
    from h3ronpy.vector import coordinates_to_cells

    from minimizer.parallel import default_workers, ordered_map

    if len(lat) == 0:
        return np.empty(0, dtype=np.uint64)
    lat, lon = np.ascontiguousarray(lat), np.ascontiguousarray(lon)
    slices = np.array_split(
        np.arange(len(lat)), min(default_workers(), max(1, len(lat) // 100_000))
    )

    def one(rows: np.ndarray) -> np.ndarray:
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        return np.asarray(
            pa.array(coordinates_to_cells(lat[lo:hi], lon[lo:hi], resolution)), dtype=np.uint64
        )

    if len(slices) == 1:
        return one(slices[0])
    return np.concatenate([part for _, part in ordered_map(one, slices, len(slices))])


def _grid_labels(lat: np.ndarray, lon: np.ndarray, decimals: int) -> tuple[np.ndarray, list[str]]:
    # Snapped points repeat a lot: format each distinct one once.
    import numpy as np
    import pandas as pd

    scale = 10.0**decimals
    ilat = np.round(lat * scale).astype(np.int64)
    # Shift longitudes to be non-negative so that one int64 packs the pair reversibly.
    shift = int(180 * scale)
    ilon = np.round(lon * scale).astype(np.int64) + shift
    span = 2 * shift + 1
    codes, uniques = pd.factorize(ilat * span + ilon)
    ulat, ulon = np.divmod(uniques, span)
    ulon = ulon - shift
    fmt = f"{{:.{decimals}f}},{{:.{decimals}f}}"
    labels = [
        fmt.format(a / scale, b / scale) for a, b in zip(ulat.tolist(), ulon.tolist(), strict=True)
    ]
    return codes, labels


@register("coarsen", methods=("h3", "geohash", "grid"))
class Coarsen(Transform):
    category: ClassVar[str] = "coarsened"
    method: Literal["h3", "geohash", "grid"]
    lat: str
    lon: str
    resolution: int | None = Field(None, ge=0, le=15, description="H3 resolution")
    length: int | None = Field(None, ge=1, le=12, description="geohash length")
    decimals: int | None = Field(None, ge=0, le=5, description="grid: decimals kept")

    def model_post_init(self, _: object) -> None:
        needed = {"h3": "resolution", "geohash": "length", "grid": "decimals"}[self.method]
        if getattr(self, needed) is None:
            raise ValueError(f"coarsen: {self.method} needs '{needed}'")

    def inputs(self, output: str) -> tuple[str, ...]:
        return (self.lat, self.lon)

    def describe(self) -> str:
        if self.method == "h3":
            area = H3_AREA_KM2.get(self.resolution or 0)
            size = f" (about {area} km²)" if area else ""
            return f"({self.lat}, {self.lon}) coarsened to the H3 cell at resolution {self.resolution}{size}"
        if self.method == "geohash":
            return f"({self.lat}, {self.lon}) coarsened to a geohash of length {self.length}"
        return f"({self.lat}, {self.lon}) snapped to a grid of {self.decimals} decimal(s), as 'lat,lon'"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        import numpy as np
        import pandas as pd
        import pyarrow as pa
        import pyarrow.compute as pc
        from h3ronpy import cells_to_string

        from minimizer.transforms._parse import strings_from_codes, to_numeric
        from minimizer.transforms.geohash import encode_geohash

        lat, bad_lat = to_numeric(frame[self.lat])
        lon, bad_lon = to_numeric(frame[self.lon])
        out_of_range = (lat.abs() > 90) | (lon.abs() > 180)
        invalid = bad_lat | bad_lon | out_of_range
        ok = (lat.notna() & lon.notna() & ~out_of_range).to_numpy()
        la, lo = lat.to_numpy()[ok], lon.to_numpy()[ok]
        if self.method == "h3":
            # Arrow's hash kernel finds the distinct cells faster than pandas' factorize.
            encoded = pc.dictionary_encode(pa.array(h3_cells(la, lo, int(self.resolution or 0))))
            found = encoded.indices.to_numpy(zero_copy_only=False)
            labels = pa.array(cells_to_string(encoded.dictionary))
        elif self.method == "geohash":
            found, labels = pd.factorize(encode_geohash(la, lo, int(self.length or 1)))
        else:
            found, labels = _grid_labels(la, lo, int(self.decimals or 0))
        codes = np.full(len(lat), -1, dtype=np.int64)
        codes[ok] = found
        out = strings_from_codes(codes, labels, frame.index).rename(output)
        return Outcome(out, invalid)
