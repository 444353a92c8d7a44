import operator
from functools import partial

import numpy as np
import pandas as pd

from minimizer.minimise import minimise_chunk
from minimizer.parallel import ordered_map
from minimizer.policy import SourceSpec

SPEC = SourceSpec.model_validate(
    {
        "kind": "events",
        "key": "customer_id",
        "time": "ts",
        "columns": {
            "customer_id": "pseudonymise",
            "hour": {"generalise": "hour", "source": "ts"},
            "cell": {"coarsen": "h3", "lat": "lat", "lon": "lon", "resolution": 8},
        },
    }
)


def test_order_is_kept_and_every_item_is_mapped_once():
    out = list(ordered_map(operator.neg, range(50), workers=2))
    assert out == [(i, -i) for i in range(50)]


def test_empty_and_single_inputs_need_no_pool():
    assert list(ordered_map(operator.neg, [], workers=2)) == []
    assert list(ordered_map(operator.neg, [3], workers=2)) == [(3, -3)]


def test_chunks_minimised_in_workers_equal_the_serial_result(ctx):
    rng = np.random.default_rng(0)
    chunks = [
        pd.DataFrame(
            {
                "customer_id": [f"C{i}" for i in rng.integers(0, 50, 200)],
                "ts": pd.Timestamp("2026-06-01", tz="UTC")
                + pd.to_timedelta(rng.integers(0, 86400, 200), "s"),
                "lat": rng.uniform(52.3, 52.6, 200),
                "lon": rng.uniform(13.2, 13.6, 200),
            }
        )
        for _ in range(4)
    ]
    fn = partial(minimise_chunk, spec=SPEC, ctx=ctx)
    parallel = [r.frame for _, r in ordered_map(fn, chunks, workers=2)]
    serial = [fn(c).frame for c in chunks]
    for a, b in zip(parallel, serial, strict=True):
        pd.testing.assert_frame_equal(a, b)
