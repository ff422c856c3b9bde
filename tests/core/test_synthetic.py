"""SYNTHETIC London usage from the real Dundee distributions."""

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core import paths, schema
from ev_chargepoints.core.sources import parsers, synthetic
from ev_chargepoints.core.sources.parsers.common import haversine_m

START, END = "2022-01-01", "2022-04-01"
PERIOD_S = (pd.Timestamp(END) - pd.Timestamp(START)).total_seconds()


@pytest.fixture(scope="module")
def dundee():
    return synthetic.dundee_sessions()


@pytest.fixture(scope="module")
def dist(dundee):
    return synthetic.session_distributions(dundee)


@pytest.fixture(scope="module")
def london():
    result = parsers.parse_file(
        paths.resource("data", "london", "ncr_chargepoints_london_2022-05.csv.gz"))
    return result.table("devices"), result.table("connectors")


@pytest.fixture(scope="module")
def sample(london):
    devices, connectors = london
    picked = devices.sample(1500, random_state=3).reset_index(drop=True)
    return picked, connectors[connectors["device_id"].isin(picked["device_id"])]


@pytest.fixture(scope="module")
def sessions(sample, dist):
    devices, connectors = sample
    return synthetic.synthetic_sessions(devices, connectors, dist, START, END, seed=11)


def test_reference_pools_from_dundee(dundee, dist):
    assert len(dundee) == 67078
    # closed sessions of 1 min-48 h and 0-150 kWh, split by device kind
    assert len(dist.standard.duration_h) == 26502
    assert len(dist.rapid.duration_h) == 38157
    assert dist.rapid.mean_duration_h < 1.0 < dist.standard.mean_duration_h
    assert dist.standard.hour_of_week.shape == (168,)
    assert dist.standard.hour_of_week.sum() == pytest.approx(1.0)


def test_table_is_canonical_and_labelled(sessions):
    assert list(sessions.columns) == list(schema.TABLES["sessions"])
    assert sessions.dtypes.astype(str).tolist() == list(schema.TABLES["sessions"].values())
    assert len(sessions) > 50_000
    assert (sessions["source"] == "synthetic").all()
    assert sessions["session_key"].str.startswith("synthetic:").all()
    assert sessions["session_key"].is_unique
    assert sessions["end_utc"].notna().all() and sessions["kwh"].notna().all()


def test_reproducible(sample, dist, sessions):
    devices, connectors = sample
    again = synthetic.synthetic_sessions(devices, connectors, dist, START, END, seed=11)
    pd.testing.assert_frame_equal(sessions, again)
    other = synthetic.synthetic_sessions(devices, connectors, dist, START, END, seed=12)
    first = sessions["start_utc"].head(1000)
    assert not other["start_utc"].head(1000).equals(first)


def test_reference_table_or_distributions_give_the_same(sample, dundee, sessions):
    devices, connectors = sample
    from_table = synthetic.synthetic_sessions(devices, connectors, dundee, START, END, seed=11)
    pd.testing.assert_frame_equal(sessions, from_table)


def test_starts_inside_period(sessions):
    assert sessions["start_utc"].min() >= pd.Timestamp(START, tz="UTC")
    assert sessions["start_utc"].max() < pd.Timestamp(END, tz="UTC")
    assert (sessions["end_utc"] > sessions["start_utc"]).all()
    assert (sessions["charging_end_utc"] <= sessions["end_utc"]).all()
    assert (sessions["charging_end_utc"] >= sessions["start_utc"]).all()


def test_no_overlap_on_a_connector(sessions):
    ordered = sessions.sort_values(["device_id", "connector_id", "start_utc"])
    previous_end = ordered.groupby(["device_id", "connector_id"])["end_utc"].shift()
    gaps = (ordered["start_utc"] - previous_end).dropna()
    assert len(gaps) > 50_000
    assert (gaps >= pd.Timedelta(minutes=5)).all()


def test_energy_never_above_rating(sessions, sample):
    _, connectors = sample
    rated = sessions.merge(connectors[["device_id", "connector_id", "power_kw"]],
                           on=["device_id", "connector_id"], how="left", validate="m:1")
    hours = (rated["end_utc"] - rated["start_utc"]).dt.total_seconds() / 3600
    cap = rated["power_kw"].fillna(7.0) * hours
    assert (rated["kwh"] <= cap + 1e-9).all()
    assert (rated["kwh"] >= 0).all()


def test_occupancy_spans_every_band(sessions, sample):
    devices, _ = sample
    end = pd.Timestamp(END, tz="UTC")
    busy = (sessions["end_utc"].clip(upper=end) - sessions["start_utc"]).dt.total_seconds()
    per_device = busy.groupby(sessions["device_id"]).sum().reindex(devices["device_id"])
    occupancy = per_device.fillna(0).to_numpy() / (
        devices["connector_count"].to_numpy() * PERIOD_S)
    bands = pd.cut(occupancy, [-1, 0, 0.05, 0.15, 0.25, 1.0],
                   labels=["none", "<5%", "5-15%", "15-25%", ">25%"])
    counts = pd.Series(bands).value_counts()
    assert occupancy.max() <= 1.0
    for band in ["none", "<5%", "5-15%", "15-25%", ">25%"]:
        assert counts[band] >= 0.04 * len(devices), counts.to_dict()


def test_distributions_follow_dundee(sessions, sample, dist):
    _, connectors = sample
    power = sessions.merge(connectors[["device_id", "connector_id", "power_kw"]],
                           on=["device_id", "connector_id"])["power_kw"]
    hours = ((sessions["end_utc"] - sessions["start_utc"]).dt.total_seconds() / 3600).to_numpy()
    rapid = (power >= synthetic.RAPID_CONNECTOR_KW).to_numpy()
    assert np.median(hours[rapid]) == pytest.approx(np.median(dist.rapid.duration_h), rel=0.1)
    assert np.median(hours[~rapid]) == pytest.approx(np.median(dist.standard.duration_h),
                                                     rel=0.1)
    local = sessions["start_utc"].dt.tz_convert("Europe/London")
    how = np.bincount(local.dt.dayofweek * 24 + local.dt.hour, minlength=168)
    expected = dist.standard.hour_of_week
    assert np.corrcoef(how, expected)[0, 1] > 0.8


def test_idle_share_and_range_respected(sample, dist):
    devices, connectors = sample
    none_idle = synthetic.synthetic_sessions(devices, connectors, dist, START, END, seed=5,
                                             idle_share=0.0, occupancy_range=(0.1, 0.2))
    used = none_idle["device_id"].nunique()
    assert used == devices["device_id"].isin(connectors["device_id"]).sum()
    all_idle = synthetic.synthetic_sessions(devices, connectors, dist, START, END, seed=5,
                                            idle_share=1.0)
    assert all_idle.empty
    assert list(all_idle.columns) == list(schema.TABLES["sessions"])


def test_synthetic_devices(london):
    devices, connectors = london
    new_devices, new_connectors = synthetic.synthetic_devices(5000, devices, connectors,
                                                              seed=2, jitter_m=200)
    assert len(new_devices) == 5000
    assert new_devices["device_id"].is_unique
    assert new_devices["device_id"].str.startswith("synthetic-").all()
    assert (new_devices["source"] == "synthetic").all()
    assert set(new_connectors["device_id"]) == set(new_devices["device_id"])
    per_device = new_connectors.groupby("device_id").size()
    assert (per_device.reindex(new_devices["device_id"]).to_numpy()
            == new_devices["connector_count"].to_numpy()).all()
    # the real power mix, within sampling error
    real_share = (devices["power_class"] == "rapid").mean()
    assert (new_devices["power_class"] == "rapid").mean() == pytest.approx(real_share,
                                                                           abs=0.02)
    again = synthetic.synthetic_devices(5000, devices, connectors, seed=2, jitter_m=200)
    pd.testing.assert_frame_equal(new_devices, again[0])
    pd.testing.assert_frame_equal(new_connectors, again[1])


def test_synthetic_devices_jitter_in_metres(london):
    devices, connectors = london
    one = devices.iloc[[0]]
    copies, _ = synthetic.synthetic_devices(2000, one, connectors, seed=4, jitter_m=100)
    moved = haversine_m(copies["latitude"], copies["longitude"],
                        one["latitude"].iloc[0], one["longitude"].iloc[0])
    # 2-D normal with sigma 100 m per axis: median distance about 118 m
    assert np.median(moved) == pytest.approx(118, rel=0.1)
