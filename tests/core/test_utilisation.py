"""Utilisation engine on hand-built cases whose answers are worked out in the test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.analysis import quality
from ev_chargepoints.core.analysis.uptime import status_occupancy
from ev_chargepoints.core.analysis.usage_sums import add_trends, summarise
from ev_chargepoints.core.analysis.utilisation import definitions, utilisation
from ev_chargepoints.core.calendar import period_bounds
from ev_chargepoints.core.schema import conform

LONDON = "Europe/London"


def loc(text):
    """A UK local wall-clock time as a UTC timestamp."""
    return pd.Timestamp(text).tz_localize(LONDON).tz_convert("UTC")


def sessions(rows):
    frame = pd.DataFrame(rows)
    frame["session_key"] = [f"k{i}" for i in range(len(frame))]
    if "connector_id" not in frame:
        frame["connector_id"] = "1"
    return conform(frame, "sessions")


def s(device, start, end, kwh=1.0, connector="1", **extra):
    return {"device_id": device, "connector_id": connector, "start_utc": loc(start),
            "end_utc": loc(end) if end else pd.NaT, "kwh": kwh, **extra}


def devices(rows):
    return conform(pd.DataFrame(rows), "devices")


def row(frame, device, period, connector=None):
    hit = frame[(frame["device_id"] == device) & (frame["period"] == period)]
    if connector is not None:
        hit = hit[hit["connector_id"] == connector]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_a_session_across_midnight_and_a_quarter_end_is_split():
    data = sessions([s("A", "2018-03-31 22:00", "2018-04-01 02:00", kwh=12.0),
                     s("A", "2018-02-10 10:00", "2018-02-10 11:30", kwh=3.0)])
    out = utilisation(data, devices(
        [{"device_id": "A", "connector_count": 1, "max_power_kw": 7.0}]))
    q1, q2 = row(out, "A", "2018-Q1"), row(out, "A", "2018-Q2")
    assert (q1["sessions"], q1["kwh"]) == (2, 15.0)
    assert (q2["sessions"], q2["kwh"]) == (0, 0.0)
    assert q1["plugged_hours"] == pytest.approx(3.5)
    assert q2["plugged_hours"] == pytest.approx(2.0)
    assert (q1["in_use_days"], q2["in_use_days"]) == (2, 1)
    # Q1 2018 has 90 days and loses an hour to the clock change on 25 March.
    assert q1["available_hours"] == pytest.approx(90 * 24 - 1)
    assert q2["available_hours"] == pytest.approx(91 * 24)
    assert q1["occupancy_pct"] == pytest.approx(3.5 / 2159 * 100)
    assert q1["capacity_factor_pct"] == pytest.approx(15.0 / (7.0 * 2159) * 100)
    assert q1["sessions_per_day"] == pytest.approx(2 / (2159 / 24))
    assert (str(q1["period_start"]), str(q1["period_end"])) == ("2018-01-01", "2018-03-31")


def test_clock_change_nights_count_real_elapsed_time():
    data = sessions([
        # 23:00 GMT to 03:00 BST on 25 March 2018: three real hours over two days.
        s("A", "2018-03-24 23:00", "2018-03-25 03:00"),
        # 00:30 BST to 01:30 GMT on 28 October 2018 (first 01:30 is BST): the
        # local clock shows one hour, two real hours pass.
        {"device_id": "B", "connector_id": "1", "kwh": 1.0,
         "start_utc": pd.Timestamp("2018-10-27 23:30", tz="UTC"),
         "end_utc": pd.Timestamp("2018-10-28 01:30", tz="UTC")},
    ])
    out = utilisation(data, period="month")
    march, october = row(out, "A", "2018-03"), row(out, "B", "2018-10")
    assert march["plugged_hours"] == pytest.approx(3.0)
    assert march["in_use_days"] == 2
    assert march["available_hours"] == pytest.approx(31 * 24 - 1)
    assert october["plugged_hours"] == pytest.approx(2.0)
    assert october["in_use_days"] == 1
    assert october["available_hours"] == pytest.approx(31 * 24 + 1)


def random_year() -> pd.DataFrame:
    """A year of back-to-back random sessions on two devices' two connectors, and device C
    plugged in without a break for a whole quarter and beyond."""
    rng = np.random.default_rng(3)
    rows = []
    for device in ("A", "B"):
        for connector in ("1", "2"):
            t = loc("2018-01-01 00:00")
            while t < loc("2018-12-31 00:00"):
                length = pd.Timedelta(minutes=int(rng.integers(5, 60 * 50)))
                rows.append({"device_id": device, "connector_id": connector, "kwh": 1.0,
                             "start_utc": t, "end_utc": t + length})
                t = t + length + pd.Timedelta(minutes=int(rng.integers(0, 600)))
    rows.append({"device_id": "C", "connector_id": "1", "kwh": 1.0,
                 "start_utc": loc("2018-03-20 00:00"), "end_utc": loc("2018-07-02 00:00")})
    return conform(pd.DataFrame(rows).assign(session_key=lambda f: f.index.astype(str)),
                   "sessions")


def test_occupancy_never_exceeds_100_percent():
    data = random_year()
    for period in ("month", "quarter", "year"):
        out = utilisation(data, devices([{"device_id": "C", "connector_count": 1}]),
                          period=period)
        assert (out["occupancy_pct"] <= 100 + 1e-9).all()
    quarters = utilisation(data, devices([{"device_id": "C", "connector_count": 1}]))
    assert row(quarters, "C", "2018-Q2")["occupancy_pct"] == pytest.approx(100.0)
    assert row(quarters, "C", "2018-Q2")["in_use_days"] == 91


def test_capacity_factor_uses_the_connector_ratings():
    data = sessions([s("A", "2018-01-05 10:00", "2018-01-05 12:00", kwh=10.0, connector="1"),
                     s("A", "2018-01-06 10:00", "2018-01-06 11:00", kwh=20.0, connector="2")])
    devs = devices([{"device_id": "A", "connector_count": 2, "max_power_kw": 22.0}])
    conns = conform(pd.DataFrame({"device_id": ["A", "A"], "connector_id": ["1", "2"],
                                  "power_kw": [7.0, 22.0]}), "connectors")
    out = utilisation(data, devs, conns, period="month")
    jan = row(out, "A", "2018-01")
    assert jan["rated_kw"] == 29.0
    assert jan["available_hours"] == pytest.approx(2 * 744)
    assert jan["capacity_factor_pct"] == pytest.approx(30.0 / (29.0 * 744) * 100)
    per_connector = utilisation(data, devs, conns, period="month", by="connector")
    c1 = row(per_connector, "A", "2018-01", "1")
    c2 = row(per_connector, "A", "2018-01", "2")
    assert c1["capacity_factor_pct"] == pytest.approx(10.0 / (7.0 * 744) * 100)
    assert c2["capacity_factor_pct"] == pytest.approx(20.0 / (22.0 * 744) * 100)
    assert c1["occupancy_pct"] == pytest.approx(2 / 744 * 100)
    # Without connector ratings: the highest rating for every connector.
    fallback = row(utilisation(data, devs, period="month"), "A", "2018-01")
    assert fallback["rated_kw"] == 44.0


def test_open_and_backwards_sessions_count_nowhere_but_are_flagged():
    data = sessions([s("A", "2018-01-05 10:00", "2018-01-05 12:00", kwh=5.0),
                     s("A", "2018-01-07 10:00", None, kwh=np.nan),
                     s("A", "2018-01-08 10:00", "2018-01-08 09:00", kwh=2.0)])
    jan = row(utilisation(data, period="month"), "A", "2018-01")
    assert (jan["sessions"], jan["kwh"], jan["plugged_hours"]) == (1, 5.0, 2.0)
    assert (jan["flag_open"], jan["flag_end_before_start"]) == (1, 1)
    assert jan["in_use_days"] == 1


def test_quality_flags():
    data = sessions([
        s("A", "2018-01-01 10:00", "2018-01-01 11:00", kwh=20.0),   # 7 kW: impossible
        s("A", "2018-01-01 10:30", "2018-01-01 10:45", kwh=1.0),    # overlaps the first
        s("A", "2018-01-02 10:00", "2018-01-06 10:00", kwh=10.0),   # 96 h
        s("A", "2018-01-03 10:00", "2018-01-03 11:00", kwh=1.0, connector="2"),  # other plug
        s("A", "2018-01-08 10:00", "2018-01-08 11:00", kwh=np.nan),
        s("B", "2018-01-01 10:00", "2018-01-01 11:00", kwh=500.0),  # rating unknown
    ])
    devs = devices([{"device_id": "A", "connector_count": 2, "max_power_kw": 7.0}])
    flags = quality.flag_sessions(data, devs)
    assert list(flags.loc[flags["impossible_energy"], "session_key"]) == ["k0"]
    assert list(flags.loc[flags["overlapping"], "session_key"]) == ["k1"]
    assert list(flags.loc[flags["over_72h"], "session_key"]) == ["k2"]
    assert list(flags.loc[flags["missing_kwh"], "session_key"]) == ["k4"]
    counts = quality.flag_counts(data, flags).set_index("device_id")
    assert counts.loc["A", "sessions"] == 5 and counts.loc["A", "overlapping"] == 1
    jan = row(utilisation(data, devs, period="month"), "A", "2018-01")
    assert (jan["flag_impossible_energy"], jan["flag_overlapping"], jan["flag_over_72h"],
            jan["flag_missing_kwh"]) == (1, 1, 1, 1)


def test_overlap_is_found_behind_a_short_session():
    data = sessions([s("A", "2018-01-01 10:00", "2018-01-01 20:00"),
                     s("A", "2018-01-01 11:00", "2018-01-01 11:30"),
                     s("A", "2018-01-01 12:00", "2018-01-01 12:30"),
                     s("A", "2018-01-01 20:00", "2018-01-01 21:00")])
    flags = quality.flag_sessions(data)
    assert list(flags["overlapping"]) == [False, True, True, False]


def test_available_time_is_clipped_to_the_device_validity():
    data = sessions([s("A", "2018-03-01 10:00", "2018-03-01 11:00"),
                     s("B", "2018-01-10 10:00", "2018-01-10 11:00")])
    devs = devices([
        {"device_id": "A", "connector_count": 2, "created_utc": loc("2018-02-15 00:00")},
        # B was first listed in February, but its January session proves it existed.
        {"device_id": "B", "connector_count": 1},
    ])
    devs["valid_from_utc"] = [pd.NaT, loc("2018-02-01 00:00")]
    devs["valid_to_utc"] = [loc("2018-05-01 00:00"), pd.NaT]
    out = utilisation(data, devs, end=loc("2018-07-01"))
    a1, a2 = row(out, "A", "2018-Q1"), row(out, "A", "2018-Q2")
    hours_q1 = (loc("2018-04-01") - loc("2018-02-15")).total_seconds() / 3600
    assert a1["available_hours"] == pytest.approx(2 * hours_q1)
    assert a2["available_hours"] == pytest.approx(2 * 30 * 24)
    assert a1["available_days"] == pytest.approx(hours_q1 / 24)
    b1 = row(out, "B", "2018-Q1")
    assert b1["available_hours"] == pytest.approx(
        (loc("2018-04-01") - loc("2018-01-10 10:00")).total_seconds() / 3600)
    assert row(out, "B", "2018-Q2")["available_hours"] == pytest.approx(91 * 24)


def test_devices_without_sessions_are_listed_with_zero_use():
    data = sessions([s("A", "2018-01-05 10:00", "2018-01-05 12:00")])
    out = utilisation(data, devices([{"device_id": "A", "connector_count": 1},
                                     {"device_id": "Z", "connector_count": 2}]))
    z = row(out, "Z", "2018-Q1")
    assert (z["sessions"], z["occupancy_pct"], z["available_hours"]) == (0, 0.0, 2 * 2159)


def test_trends_against_previous_period_and_last_year():
    data = sessions([s("A", "2018-01-05 10:00", "2018-01-05 12:00"),
                     s("A", "2018-01-06 10:00", "2018-01-06 12:00"),
                     s("A", "2018-04-05 10:00", "2018-04-05 12:00"),
                     s("A", "2018-04-06 10:00", "2018-04-06 12:00"),
                     s("A", "2018-04-07 10:00", "2018-04-07 12:00"),
                     s("A", "2019-01-05 10:00", "2019-01-05 11:00")])
    out = add_trends(utilisation(data, devices([{"device_id": "A", "connector_count": 1}])))
    q2, q1_next = row(out, "A", "2018-Q2"), row(out, "A", "2019-Q1")
    assert (q2["sessions_change"], q2["sessions_change_pct"]) == (1, 50.0)
    assert np.isnan(q2["sessions_yoy_change"])
    assert (q1_next["sessions_yoy_change"], q1_next["sessions_yoy_change_pct"]) == (-1, -50.0)
    assert q1_next["plugged_hours_yoy_change"] == pytest.approx(-3.0)
    assert row(out, "A", "2018-Q3")["sessions_change_pct"] == -100.0
    assert np.isnan(row(out, "A", "2019-Q1")["sessions_change_pct"])  # from zero
    assert np.isnan(row(out, "A", "2018-Q1")["sessions_change"])


def test_aggregates_are_recomputed_from_sums():
    data = sessions([s("A", "2018-01-01 00:00", "2018-01-04 02:24"),      # 74.4 h
                     s("B", "2018-01-01 00:00", "2018-01-08 10:48", connector="1"),
                     s("B", "2018-01-01 00:00", "2018-01-08 10:48", connector="2")])
    devs = devices([{"device_id": "A", "connector_count": 1},
                    {"device_id": "B", "connector_count": 2}])
    out = utilisation(data, devs, period="month")
    total = summarise(out, "period").iloc[0]
    plugged = 74.4 + 2 * 178.8
    assert total["occupancy_pct"] == pytest.approx(plugged / (3 * 744) * 100)
    assert total["occupancy_pct"] != pytest.approx(out["occupancy_pct"].mean())
    assert (total["devices"], total["sessions"]) == (2, 3)


def test_status_uptime_matches_a_hand_computation():
    t0 = pd.Timestamp("2024-01-10 00:00", tz="UTC")
    minutes = [0, 30, 60, 80, 100, 300]
    states = ["AVAILABLE", "CHARGING", "OUTOFORDER", "UNKNOWN", "AVAILABLE", "CHARGING"]
    status = conform(pd.DataFrame({
        "observed_utc": [t0 + pd.Timedelta(minutes=m) for m in minutes],
        "device_id": "L1", "evse_uid": "E1", "status": states}), "status_snapshots")
    out = status_occupancy(status, period="month", max_gap_hours=1.0)
    jan = out.iloc[0]
    # AVAILABLE 0:00-0:30, CHARGING 0:30-1:00, OUTOFORDER 1:00-1:20, UNKNOWN 1:20-1:40,
    # AVAILABLE 1:40-2:40 (capped at the 1 h gap), CHARGING 5:00-6:00 (last, capped).
    working, down, observed = 0.5 + 0.5 + 1.0 + 1.0, 20 / 60, 0.5 + 0.5 + 1 / 3 + 1 / 3 + 2
    assert jan["working_hours"] == pytest.approx(working)
    assert jan["down_hours"] == pytest.approx(down)
    assert jan["uptime_pct"] == pytest.approx(working / (working + down) * 100)
    assert jan["observed_coverage_pct"] == pytest.approx(observed / 744 * 100)
    assert jan["charging_pct"] == pytest.approx(1.5 / observed * 100)
    assert jan["available_pct"] == pytest.approx(1.5 / observed * 100)
    data = sessions([s("L1", "2024-01-10 00:30", "2024-01-10 01:00")])
    merged = row(utilisation(data, status=status, period="month"), "L1", "2024-01")
    assert merged["uptime_pct"] == pytest.approx(jan["uptime_pct"])
    assert merged["observed_coverage_pct"] == pytest.approx(jan["observed_coverage_pct"])


def test_status_split_at_period_end_and_per_device():
    status = conform(pd.DataFrame({
        "observed_utc": [loc("2024-03-31 23:30"), loc("2024-03-31 23:30")],
        "device_id": ["L1", "L1"], "evse_uid": ["E1", "E2"],
        "status": ["CHARGING", "INOPERATIVE"]}), "status_snapshots")
    out = status_occupancy(status, period="quarter", by="device")
    q1 = out[out["period"] == "2024-Q1"].iloc[0]
    q2 = out[out["period"] == "2024-Q2"].iloc[0]
    assert q1["status_observed_hours"] == pytest.approx(1.0)
    assert q2["status_observed_hours"] == pytest.approx(1.0)
    assert q1["uptime_pct"] == pytest.approx(50.0)
    assert q1["status_period_hours"] == pytest.approx(2 * (91 * 24 - 1))


def test_categorical_ids_give_the_same_answer():
    rng = np.random.default_rng(5)
    n = 2000
    start = loc("2018-01-01") + pd.to_timedelta(rng.integers(0, 400 * 86400, n), unit="s")
    frame = conform(pd.DataFrame({
        "session_key": np.arange(n).astype(str),
        "device_id": rng.choice(["A", "B", "C"], n), "connector_id": rng.choice(["1", "2"], n),
        "start_utc": start, "end_utc": start + pd.to_timedelta(rng.integers(0, 90000, n),
                                                               unit="s"),
        "kwh": rng.random(n) * 30}), "sessions")
    plain = utilisation(frame)
    fast = frame.copy()
    fast["device_id"] = fast["device_id"].astype("category")
    fast["connector_id"] = fast["connector_id"].astype("category")
    pd.testing.assert_frame_equal(utilisation(fast), plain)
    assert plain["sessions"].sum() == n
    assert plain["plugged_hours"].sum() == pytest.approx(
        (frame["end_utc"] - frame["start_utc"]).dt.total_seconds().sum() / 3600)


def test_period_labels_and_definitions():
    labels, starts = period_bounds(loc("2018-11-15"), loc("2019-02-01"), "month")
    assert labels == ["2018-11", "2018-12", "2019-01", "2019-02"]
    assert starts[0] == loc("2018-11-01") and starts[-1] == loc("2019-03-01")
    assert period_bounds(loc("2018-05-01"), loc("2019-01-01"), "year")[0] == ["2018", "2019"]
    with pytest.raises(ValueError):
        period_bounds(loc("2018-05-01"), loc("2019-01-01"), "week")
    text = definitions()
    data = sessions([s("A", "2018-01-05 10:00", "2018-01-05 12:00")])
    metrics = [c for c in utilisation(data).columns if c.endswith("_pct") or c.startswith(
        "flag_") or c in ("sessions", "kwh", "plugged_hours", "available_hours",
                          "sessions_per_day", "kwh_per_day", "in_use_days", "rated_kw")]
    assert all(m in text and text[m] for m in metrics)
    assert "%" in text["occupancy_pct"] and "kWh" in text["kwh"]


def test_no_sessions_gives_an_empty_table():
    out = utilisation(conform(pd.DataFrame(), "sessions"))
    assert out.empty and "occupancy_pct" in out.columns


@pytest.mark.parametrize("time_bits", [None, 10, 14])
def test_overlap_flags_match_a_brute_force_check(time_bits):
    rng = np.random.default_rng(11)
    n = 3000
    start = (pd.Timestamp("2018-01-01", tz="UTC").value
             + rng.integers(0, 40 * 86400, n) * 1_000_000_000)
    start[:200] = start[200:400] + rng.integers(0, 30, 200) * 1_000_000_000  # near-ties
    end = start + rng.integers(0, 6 * 3600, n) * 1_000_000_000
    group = rng.integers(0, 25, n)
    group[:200] = group[200:400]
    valid = rng.random(n) > 0.05
    flags = quality.overlap_flags(start, end, group, valid, time_bits=time_bits)
    expected = np.zeros(n, dtype=bool)
    secs_s, secs_e = start // 10**9, end // 10**9
    for i in np.flatnonzero(valid):
        same = valid & (group == group[i])
        earlier = same & ((secs_s < secs_s[i]) | ((secs_s == secs_s[i]) & (np.arange(n) < i)))
        expected[i] = bool((secs_e[earlier] > secs_s[i]).any())
    # Sessions with an identical start are ordered arbitrarily: compare per tie group.
    exact_ties = pd.Series(list(zip(group, secs_s))).duplicated(keep=False).to_numpy()
    assert (flags[~exact_ties] == expected[~exact_ties]).all()
    assert flags.sum() > 100


@pytest.mark.parametrize("values", [
    [f"id-{i:04d}" for i in np.random.default_rng(1).permutation(500)],  # texts, shuffled
    [f"id-{i:04d}" for i in range(500)],  # already in order (the fast path)
    ["b", "a", "c", "a", "b"],  # repeats share a rank
    ["b", None, "a", np.nan, "a"],  # missing values last
    [3, 1, 2, 1], ["x"], [],
])
def test_sort_rank_is_the_order_sort_values_gives(values):
    """The rows' order key (:func:`.utilisation.sort_rank`) on its fast paths equals the
    ranks of a sorted factorize: equal values equal ranks, missing values last."""
    from ev_chargepoints.core.analysis.utilisation import sort_rank

    array = np.array(values, dtype=object)
    codes, uniques = pd.factorize(array, sort=True)
    np.testing.assert_array_equal(sort_rank(array), np.where(codes < 0, len(uniques), codes))
