"""Behavioural events: schema, partitions, ids, precision, and movement that identifies people."""

from __future__ import annotations

import ipaddress
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from minimizer.synth import SynthSummary, generate
from minimizer.synth.events import PURCHASE_PAGE
from minimizer.synth.schema import EVENTS

END = date(2024, 3, 13)  # Mon 11 to Wed 13 March: three working days


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("events")
    return out, generate(out, customers=200, days=3, seed=5, end=END)


@pytest.fixture(scope="module")
def events(run: tuple[Path, SynthSummary]) -> pd.DataFrame:
    """Events with each person's local hour and weekday, and their true anchors."""
    out, _ = run
    frame = ds.dataset(out / "events", partitioning="hive").to_table().to_pandas()
    truth = pd.read_parquet(out / "truth" / "people.parquet")
    frame = frame.merge(truth, on="customer_id", how="left", validate="many_to_one")
    local = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    for tz, rows in frame.groupby("tz").groups.items():
        local[rows] = frame.loc[rows, "ts"].dt.tz_convert(tz).dt.tz_localize(None)
    frame["local_hour"] = local.dt.hour
    frame["weekday"] = local.dt.day_of_week
    return frame


def metres(lat: pd.Series, lon: pd.Series, lat0: pd.Series, lon0: pd.Series) -> np.ndarray:
    dy = (lat - lat0) * 111_320
    dx = (lon - lon0) * 111_320 * np.cos(np.radians(lat0))
    return np.hypot(dx, dy)


def test_each_partition_holds_one_utc_day_sorted_with_the_exact_schema(
    run: tuple[Path, SynthSummary],
) -> None:
    _, summary = run
    for path in summary.partitions:
        table = pq.read_table(path)
        assert table.schema.equals(EVENTS)
        assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
        ts = table.column("ts").to_pandas()
        assert (ts.dt.date.astype(str) == path.parent.name.removeprefix("date=")).all()
        assert ts.is_monotonic_increasing and table.num_rows > 500


def test_every_event_belongs_to_a_crm_customer_after_signup(
    run: tuple[Path, SynthSummary], events: pd.DataFrame
) -> None:
    out, _ = run
    with sqlite3.connect(out / "crm.sqlite") as conn:
        customers = pd.read_sql("SELECT customer_id, signup_date FROM customers", conn)
    assert events["customer_id"].isin(customers["customer_id"]).all()
    assert events["customer_id"].nunique() > 150  # most customers are active
    signup = events["customer_id"].map(customers.set_index("customer_id")["signup_date"])
    assert (events["ts"].dt.strftime("%Y-%m-%d") >= signup).all()


def test_coordinates_carry_at_least_six_meaningful_decimals(events: pd.DataFrame) -> None:
    for col in ("lat", "lon"):
        values = events[col].to_numpy()
        assert (np.round(values, 5) != values).mean() > 0.99
        assert (np.round(values, 6) != np.round(values, 5)).mean() > 0.85
    assert events["lat"].between(40.5, 52.7).all() and events["lon"].between(-74.2, 13.6).all()


def test_ips_are_valid_and_mostly_ipv4_with_some_ipv6(events: pd.DataFrame) -> None:
    versions = pd.Series([ipaddress.ip_address(ip).version for ip in events["ip"]])
    assert 0.05 < (versions == 6).mean() < 0.5
    assert not any(ipaddress.ip_address(ip).is_private for ip in events["ip"].unique())


def test_amount_is_set_exactly_for_purchases(events: pd.DataFrame) -> None:
    purchase = events["page"] == PURCHASE_PAGE
    assert (events["amount"].notna() == purchase).all()
    assert (events.loc[purchase, "amount"] > 0).all() and purchase.sum() > 10


def test_sessions_stay_with_one_person_device_and_connection(events: pd.DataFrame) -> None:
    per_session = events.groupby("session_id")[["customer_id", "ip", "user_agent"]].nunique()
    assert (per_session == 1).all().all()
    assert events.groupby("session_id").size().mean() > 1.5


def test_night_points_cluster_tightly_around_home(events: pd.DataFrame) -> None:
    night = events[(events["local_hour"] >= 22) | (events["local_hour"] < 7)]
    near_home = metres(night["lat"], night["lon"], night["home_lat"], night["home_lon"]) < 150
    assert near_home.mean() > 0.85
    # Without the ground truth: a person's night points lie within a few hundred metres of
    # their own median night point.
    centre = night.groupby("customer_id")[["lat", "lon"]].transform("median")
    spread = pd.Series(metres(night["lat"], night["lon"], centre["lat"], centre["lon"]))
    per_person = spread.groupby(night["customer_id"].to_numpy()).median()
    assert len(per_person) > 50 and (per_person < 300).mean() > 0.9


def test_weekday_office_hours_cluster_around_work_for_the_employed(events: pd.DataFrame) -> None:
    office = events[
        events["work_lat"].notna() & (events["weekday"] < 5) & events["local_hour"].between(9, 16)
    ]
    near_work = metres(office["lat"], office["lon"], office["work_lat"], office["work_lon"]) < 200
    assert near_work.mean() > 0.75


def test_four_points_single_out_almost_everyone(events: pd.DataFrame) -> None:
    """Unicity at about 100 m and one hour: the movement traces must really identify."""
    points = events.assign(
        cell=events["lat"].round(3).astype(str) + "," + events["lon"].round(3).astype(str),
        hour=events["ts"].dt.floor("h"),
    )[["customer_id", "cell", "hour"]].drop_duplicates()
    rng = np.random.default_rng(0)
    unique = []
    for _, mine in points.groupby("customer_id"):
        if len(mine) < 4:
            continue
        sample = mine.iloc[rng.choice(len(mine), 4, replace=False)]
        matches = points.merge(sample[["cell", "hour"]], on=["cell", "hour"])
        hits = matches.groupby("customer_id").size()
        unique.append(int((hits == 4).sum()) == 1)
    assert len(unique) > 100 and np.mean(unique) > 0.9
