"""The dp release: OpenDP's own accounting, the contribution bounds, and the noise's statistics.

OpenDP draws noise from the OS's CSPRNG and cannot be seeded, so the noise is tested by its
distribution (many draws) and the counts before noise through ``DPRelease.true_counts``.
"""

from __future__ import annotations

import math

import h3
import numpy as np
import opendp.accuracy as accuracy
import pandas as pd
import pyarrow as pa
import pytest

from minimizer.aggregate.dp import (
    bound_contributions,
    dp_release,
    measure_mechanism,
    public_cells,
    public_hours,
)
from minimizer.policy import AggregateSpec, DifferentialPrivacy

BERLIN = (52.45, 13.30, 52.58, 13.50)
DAY = pd.Timestamp("2026-06-14", tz="UTC")


def _cfg(**kw: object) -> DifferentialPrivacy:
    base: dict[str, object] = {
        "epsilon": 1.0,
        "max_groups_per_day": 3,
        "max_events_per_group": 2,
        "grid": [BERLIN],
    }
    return DifferentialPrivacy.model_validate({**base, **kw})


def _spec(**kw: object) -> AggregateSpec:
    return AggregateSpec(
        by=("cell", "hour"), subject="visitor", min_distinct_subjects=1, dp=_cfg(**kw)
    )


def _events(n: int = 4000, subjects: int = 150, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    cells = public_cells([BERLIN], 7)
    hours = DAY + pd.to_timedelta(rng.integers(0, 24, n), unit="h")
    return pa.table(
        {
            "cell": pa.array(np.asarray(cells, dtype=object)[rng.integers(0, 6, n)], pa.string()),
            "hour": pa.array(hours),
            "visitor": pa.array(rng.integers(0, subjects, n).astype(str)),
        }
    )


@pytest.mark.parametrize("measure", ["events", "distinct_subjects"])
@pytest.mark.parametrize("epsilon", [0.1, 1.0, 2.5])
def test_laplace_scale_is_what_opendp_accounts_for_the_stated_epsilon(measure, epsilon):
    """OpenDP maps the sensitivity of one subject-day (G·E events, G distinct) to exactly the
    ε share of the measure; the scale the library calibrates for it is the one used."""
    cfg = _cfg(epsilon=epsilon)
    mech = measure_mechanism(measure, cfg, share=2)
    sensitivity = 3 * 2 if measure == "events" else 3
    assert mech.d_in == sensitivity
    assert mech.measurement.map(sensitivity) == pytest.approx(epsilon / 2, rel=1e-12)
    assert mech.measurement.map(sensitivity + 1) > epsilon / 2  # the bound binds
    # The scale is what OpenDP's own search finds for that (d_in, ε).
    import opendp.prelude as dp

    domain, metric = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    searched = dp.binary_search_param(
        lambda s: dp.m.make_laplace(domain, metric, scale=s), d_in=sensitivity, d_out=epsilon / 2
    )
    assert mech.scale == pytest.approx(searched, rel=1e-6)
    assert mech.error_95 == accuracy.discrete_laplacian_scale_to_accuracy(mech.scale, 0.05)


def test_gaussian_meets_epsilon_and_delta_by_opendps_own_map():
    cfg = _cfg(epsilon=1.0, delta=1e-6)
    for measure, l2 in (("events", 2 * math.sqrt(3)), ("distinct_subjects", math.sqrt(3))):
        mech = measure_mechanism(measure, cfg, share=2)
        assert mech.d_in == pytest.approx(l2)
        eps, delta = mech.measurement.map(l2)
        assert eps <= 0.5 + 1e-9 and delta == pytest.approx(0.5e-6)
        assert eps == pytest.approx(0.5, rel=1e-3)  # not wastefully loose either
        assert mech.error_95 == accuracy.discrete_gaussian_scale_to_accuracy(mech.scale, 0.05)


def test_contribution_bounds_hold_on_the_counts_before_noise():
    """No subject-day adds to more than G groups, or more than E events to one group."""
    rows = _events(n=3000, subjects=40)
    counts, dropped = bound_contributions(
        rows, cell="cell", hour="hour", subject="visitor", max_groups=3, max_events=2, seed="t"
    )
    frame = rows.to_pandas()
    per_unit_groups = frame.groupby("visitor")[["cell", "hour"]].apply(
        lambda g: len(g.drop_duplicates())
    )
    assert (
        counts.column("distinct_subjects").to_numpy().sum() == np.minimum(per_unit_groups, 3).sum()
    )
    bounded = counts.to_pandas()
    assert (bounded.events <= 2 * bounded.distinct_subjects).all()
    assert (
        dropped["unit_groups_dropped"]
        == per_unit_groups.sum() - np.minimum(per_unit_groups, 3).sum()
    )


def test_a_days_bound_is_per_day_not_per_release():
    two_days = pa.table(
        {
            "cell": ["x"] * 4,
            "hour": pa.array(
                [
                    DAY,
                    DAY + pd.Timedelta(hours=1),
                    DAY + pd.Timedelta(days=1),
                    DAY + pd.Timedelta(days=1, hours=1),
                ]
            ),
            "visitor": ["v"] * 4,
        }
    )
    counts, _ = bound_contributions(
        two_days, cell="cell", hour="hour", subject="visitor", max_groups=1, max_events=1
    )
    assert counts.num_rows == 2  # one group on each day


def test_every_public_partition_is_released_and_noise_is_centred_with_the_librarys_scale():
    """Zeros included, before the threshold: the noise over many zero partitions has mean 0
    and the variance of a discrete Laplace of the stated scale."""
    spec = _spec(epsilon=1.0)
    empty = _events(n=0)
    release = dp_release(
        empty,
        spec.model_copy(update={"min_distinct_subjects": 1}),
        cell="cell",
        hour="hour",
        resolution=7,
        days=[DAY.date()],
    )
    cells = public_cells([BERLIN], 7)
    assert (
        release.figures["partitions"]
        == len(cells) * 24
        == len(public_hours([DAY.date()])) * len(cells)
    )
    # Clamped at 0, so test the tail: P(noisy >= 1) for a zero count under discrete Laplace(s).
    scale = release.figures["measures"]["distinct_subjects"]["scale"]
    expected = math.exp(-1 / scale) / (1 + math.exp(-1 / scale))
    observed = release.figures["published_partitions"] / release.figures["partitions"]
    n = release.figures["partitions"]
    assert abs(observed - expected) < 5 * math.sqrt(expected * (1 - expected) / n)


def test_noisy_counts_scatter_around_the_true_counts_within_the_error_bound():
    spec = _spec(epsilon=2.0).model_copy(update={"min_distinct_subjects": 0})
    rows = _events(n=6000, subjects=400)
    release = dp_release(rows, spec, cell="cell", hour="hour", resolution=7, days=[DAY.date()])
    true = release.true_counts.to_pandas().set_index(["cell", "hour"])
    noisy = release.table.to_pandas().set_index(["cell", "hour"])
    both = true.merge(noisy, left_index=True, right_index=True, suffixes=("", "_noisy"))
    assert len(both) == len(true)  # every true group lies in the public grid
    diff = both.distinct_subjects_noisy - both.distinct_subjects
    bound = release.figures["measures"]["distinct_subjects"]["error_95"]
    assert (diff.abs() <= bound).mean() >= 0.9
    assert abs(diff.mean()) < 3 * diff.std() / math.sqrt(len(diff)) + 0.5


def test_events_outside_the_grid_or_the_days_are_counted_and_not_released():
    outside = pa.table(
        {
            "cell": [h3.latlng_to_cell(48.1, 11.6, 7)],  # Munich: not in the Berlin box
            "hour": pa.array([DAY]),
            "visitor": ["v"],
        }
    )
    release = dp_release(
        outside, _spec(), cell="cell", hour="hour", resolution=7, days=[DAY.date()]
    )
    assert release.figures["groups_outside_grid"] == 1


def test_the_threshold_applies_to_the_noisy_count():
    spec = _spec().model_copy(update={"min_distinct_subjects": 8})
    release = dp_release(_events(), spec, cell="cell", hour="hour", resolution=7, days=[DAY.date()])
    assert (release.table.column("distinct_subjects").to_numpy() >= 8).all()
    assert (release.table.column("events").to_numpy() >= 0).all()


def test_dp_refuses_a_remainder():
    with pytest.raises(ValueError, match="remainder"):
        AggregateSpec(
            by=("cell", "hour"),
            subject="v",
            min_distinct_subjects=2,
            small_groups="remainder",
            dp=_cfg(),
        )
