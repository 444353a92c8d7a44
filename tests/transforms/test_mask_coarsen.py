import numpy as np
import pandas as pd
import pytest

from minimizer.transforms.coarsen import Coarsen
from minimizer.transforms.geohash import encode_geohash
from minimizer.transforms.mask import Mask


def test_mask_keeps_the_last_characters(ctx):
    out = Mask(method="last", n=4).apply(
        pd.DataFrame({"p": ["+49301234567", "12", None]}), "p", ctx
    )
    assert out.values.tolist()[:2] == ["********4567", "12"]
    assert pd.isna(out.values[2])


def test_mask_with_fixed_width_hides_the_length(ctx):
    df = pd.DataFrame({"p": ["+49301234567", "5551234"]})
    out = Mask(method="first", n=2, width=6, char="#").apply(df, "p", ctx).values
    assert out.tolist() == ["+4####", "55####"]


def test_h3_cells_at_the_requested_resolution(ctx):
    import h3

    df = pd.DataFrame({"lat": [52.520008, 48.856613], "lon": [13.404954, 2.352222]})
    out = Coarsen(method="h3", lat="lat", lon="lon", resolution=8).apply(df, "cell", ctx)
    assert out.values.tolist() == [
        h3.latlng_to_cell(52.520008, 13.404954, 8),
        h3.latlng_to_cell(48.856613, 2.352222, 8),
    ]
    assert all(h3.get_resolution(c) == 8 for c in out.values)


def test_out_of_range_coordinates_are_invalid_never_clamped(ctx):
    df = pd.DataFrame({"lat": [91.0, -45.0, "x", None], "lon": [10.0, 181.0, 1.0, 2.0]})
    out = Coarsen(method="h3", lat="lat", lon="lon", resolution=7).apply(df, "cell", ctx)
    assert out.invalid.tolist() == [True, True, True, False]
    assert out.values.isna().all()


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [(57.64911, 10.40744, "u4pruydqqvj"), (42.6, -5.6, "ezs42"), (-33.8688, 151.2093, "r3gx2f")],
)
def test_geohash_known_values(lat, lon, expected):
    assert encode_geohash(np.array([lat]), np.array([lon]), len(expected))[0] == expected


def test_grid_snaps_to_decimals(ctx):
    df = pd.DataFrame({"lat": [52.520008, -33.8688], "lon": [13.404954, -151.2093]})
    out = Coarsen(method="grid", lat="lat", lon="lon", decimals=2).apply(df, "cell", ctx).values
    assert out.tolist() == ["52.52,13.40", "-33.87,-151.21"]


def test_coarsen_needs_its_size_parameter():
    with pytest.raises(ValueError, match="resolution"):
        Coarsen(method="h3", lat="a", lon="b")


def test_vectorised_h3_matches_the_reference_library_everywhere():
    import h3

    from minimizer.transforms.coarsen import h3_cells

    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-89.9, 89.9, 20_000), rng.uniform(-179.9, 179.9, 20_000)
    for res in (0, 5, 8, 12):
        expected = [
            h3.api.basic_int.latlng_to_cell(a, b, res) for a, b in zip(lat, lon, strict=True)
        ]
        assert (h3_cells(lat, lon, res) == np.array(expected, dtype=np.uint64)).all()
