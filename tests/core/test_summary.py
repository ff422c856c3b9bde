"""Borough and ward summaries on the real snapshot, and utilisation figures from sums."""

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.analysis import area_table, areas, summary
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file


@pytest.fixture(scope="module")
def snapshot():
    result = parse_file(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz")
    devices, connectors = result.table("devices"), result.table("connectors")
    assignment = areas.assign_devices(devices, areas.load_wards(2018), areas.load_boroughs())
    return assignment, devices, connectors


def test_borough_summary_has_every_borough_and_the_device_counts(snapshot):
    assignment, devices, connectors = snapshot
    table = summary.summarise(assignment, devices, connectors, level="borough")
    assert len(table) == 33 and table["area_code"].is_unique
    assert table["devices"].sum() == 8538
    by_name = table.set_index("area_name")
    assert by_name["devices"].idxmax() == "Westminster"
    assert by_name.loc["Westminster", "devices"] == 1214
    assert by_name["devices"].idxmin() == "Havering"
    assert by_name.loc["Havering", "devices"] == 34
    classes = table[["slow_devices", "fast_devices", "rapid_devices", "ultra_devices",
                     "unknown_power_devices"]].sum(axis=1)
    assert (classes == table["devices"]).all()
    assert table.attrs["devices_unassigned"] == 402
    assert table.attrs["boundary_version"] == assignment.boroughs.boundary_version


def test_connector_and_class_counts_match_pandas(snapshot):
    assignment, devices, connectors = snapshot
    table = summary.summarise(assignment, devices, connectors, level="borough")
    joined = assignment.table.merge(devices, on="device_id")
    joined = joined[joined["borough_code"].notna()]
    n_conn = connectors.groupby("device_id").size()
    joined["n_conn"] = joined["device_id"].map(n_conn).fillna(0)
    expected = joined.groupby("borough_code").agg(
        devices=("device_id", "size"), connectors=("n_conn", "sum"),
        rapid=("power_class", lambda s: (s == "rapid").sum()),
        ultra=("power_class", lambda s: (s == "ultra").sum()))
    got = table.set_index("area_code")
    assert got["devices"].to_dict() == expected["devices"].to_dict()
    assert got["connectors"].to_dict() == expected["connectors"].astype(int).to_dict()
    assert got["rapid_devices"].to_dict() == expected["rapid"].to_dict()
    assert got["ultra_devices"].sum() == expected["ultra"].sum()
    westminster = got.loc["E09000033"]
    assert westminster["devices_per_10k"] == pytest.approx(
        westminster["devices"] / westminster["population"] * 10_000)
    assert westminster["connectors_per_10k"] == pytest.approx(
        westminster["connectors"] / westminster["population"] * 10_000)
    assert westminster["rapid_share_pct"] == pytest.approx(
        (westminster["rapid_devices"] + westminster["ultra_devices"])
        / westminster["devices"] * 100)


def test_ward_summary_rows_and_sums_to_boroughs(snapshot):
    assignment, devices, connectors = snapshot
    wards = summary.summarise(assignment, devices, connectors, level="ward")
    boroughs = summary.summarise(assignment, devices, connectors, level="borough")
    assert len(wards) == 633
    assert wards["parent_code"].str.startswith("E09").all()
    assert wards["parent_name"].notna().all()
    rolled = wards.groupby("parent_code")[["devices", "connectors", "rapid_devices"]].sum()
    by_borough = boroughs.set_index("area_code")[["devices", "connectors", "rapid_devices"]]
    assert rolled.sort_index().to_dict() == by_borough.sort_index().to_dict()
    assert (wards["devices"] == 0).sum() > 0  # wards without devices still have a row
    assert wards["population"].notna().all()


def test_filters_give_every_area_and_match_a_direct_count(snapshot):
    assignment, devices, connectors = snapshot
    fast = summary.summarise(assignment, devices, connectors, level="borough",
                             filters={"power_class": ["rapid", "ultra"]})
    joined = assignment.table.merge(devices, on="device_id")
    expected = joined[joined["power_class"].isin(["rapid", "ultra"])
                      & joined["borough_code"].notna()].groupby("borough_code").size()
    got = fast.set_index("area_code")["devices"]
    assert len(got) == 33
    assert got[got > 0].to_dict() == expected.to_dict()
    assert (fast["slow_devices"] == 0).all()

    operator = devices["operator"].value_counts().index[0]
    on_street = summary.summarise(assignment, devices, connectors, level="ward",
                                  filters={"operator": operator.upper(),
                                           "location_type": ["On-street"]})
    expected = ((joined["operator"] == operator) & (joined["location_type"] == "On-street")
                & joined["ward_code"].notna()).sum()
    assert on_street["devices"].sum() == expected > 0
    assert on_street.attrs["filters"] == {"operator": operator.upper(),
                                          "location_type": ["On-street"]}
    nobody = summary.summarise(assignment, devices, connectors,
                               filters={"operator": "no such operator"})
    assert len(nobody) == 33 and nobody["devices"].sum() == 0
    assert nobody["devices_per_10k"].eq(0).all() and nobody["rapid_share_pct"].isna().all()
    with pytest.raises(ValueError, match="unknown filter"):
        summary.summarise(assignment, devices, connectors, filters={"colour": "red"})


def test_summariser_state_is_reused_only_for_the_same_frames(snapshot):
    assignment, devices, connectors = snapshot
    summary.summarise(assignment, devices, connectors)
    first = assignment._cache["summariser"][1]
    summary.summarise(assignment, devices, connectors, filters={"power_class": "fast"})
    assert assignment._cache["summariser"][1] is first
    fewer = devices.iloc[:100]
    table = summary.summarise(assignment, fewer, connectors)
    assert assignment._cache["summariser"][1] is not first
    assert table["devices"].sum() == assignment.table.iloc[:100]["borough_code"].notna().sum()


# --- utilisation --------------------------------------------------------------

def _usage_fixture():
    """Three devices in Westminster, one in Havering, one outside London."""
    table = pd.DataFrame({
        "device_id": ["w1", "w2", "w3", "h1", "out"],
        "ward_code": ["E05000644", "E05000644", "E05000649", "E05000323", None],
        "borough_code": ["E09000033"] * 3 + ["E09000016", None],
    })
    devices = pd.DataFrame({
        "device_id": ["w1", "w2", "w3", "h1", "out"],
        "operator": ["A", "A", "B", "A", "A"],
        "location_type": ["On-street"] * 5,
        "power_class": ["slow", "rapid", "slow", "fast", "slow"],
        "connector_count": [2, 1, 2, 2, 1],
    })
    usage = pd.DataFrame({
        "device_id": ["w1", "w2", "h1", "out", "w1", "w2", "w3", "h1"],
        "period": ["2022-Q1"] * 4 + ["2022-Q2"] * 4,
        "period_index": [8088] * 4 + [8089] * 4,
        "sessions": [10, 50, 4, 9, 20, 70, 5, 0],
        "kwh": [100.0, 1500.0, 30.0, 9.0, 200.0, 2000.0, 40.0, 0.0],
        "plugged_hours": [100.0, 200.0, 10.0, 1.0, 300.0, 250.0, 50.0, 0.0],
        "available_hours": [4000.0, 2000.0, 4000.0, 2000.0, 4000.0, 2000.0, 4000.0, 4000.0],
        "capacity_kwh": [28000.0, 100000.0, 44000.0, 7000.0, 28000.0, 100000.0, 28000.0,
                         44000.0],
    })
    return table, devices, usage


def test_utilisation_figures_are_recomputed_from_sums():
    table, devices, usage = _usage_fixture()
    boroughs = areas.load_boroughs()
    wards = areas.load_wards(2018)
    out = summary.summarise(table, devices, utilisation=usage, level="borough",
                            wards=wards, boroughs=boroughs)
    assert out.attrs["period"] == "2022-Q2" and out.attrs["previous_period"] == "2022-Q1"
    west = out.set_index("area_code").loc["E09000033"]
    assert west["devices"] == 3 and west["connectors"] == 5
    assert west["sessions"] == 95 and west["kwh"] == 2240
    # Σ plugged ÷ Σ available, not the mean of the devices' occupancies
    assert west["occupancy_pct"] == pytest.approx(600 / 10000 * 100)
    assert west["capacity_factor_pct"] == pytest.approx(2240 / 156000 * 100)
    assert west["share_no_usage_pct"] == 0
    assert west["prev_sessions"] == 60 and west["sessions_change"] == 35
    assert west["sessions_change_pct"] == pytest.approx(35 / 60 * 100)
    assert west["prev_occupancy_pct"] == pytest.approx(300 / 6000 * 100)
    assert west["occupancy_pct_change"] == pytest.approx(6.0 - 5.0)
    assert west["sessions_per_device"] == pytest.approx(95 / 3)
    havering = out.set_index("area_code").loc["E09000016"]
    assert havering["sessions"] == 0 and havering["occupancy_pct"] == 0
    assert havering["sessions_change_pct"] == -100
    camden = out.set_index("area_code").loc["E09000007"]
    assert camden["devices"] == 0 and np.isnan(camden["occupancy_pct"])
    assert np.isnan(camden["sessions"]) and np.isnan(camden["sessions_change"])

    q1 = summary.summarise(table, devices, utilisation=usage, level="borough",
                           period="2022-Q1", wards=wards, boroughs=boroughs)
    west = q1.set_index("area_code").loc["E09000033"]
    assert west["share_no_usage_pct"] == pytest.approx(100 / 3)  # w3 has no Q1 record
    assert west["devices_with_usage"] == 2
    assert q1.attrs["previous_period"] is None and np.isnan(west["prev_sessions"])

    rapid = summary.summarise(table, devices, utilisation=usage, level="ward",
                              filters={"power_class": "rapid"}, wards=wards,
                              boroughs=boroughs)
    assert rapid["sessions"].sum() == 70
    assert rapid.set_index("area_code").loc["E05000644", "occupancy_pct"] == \
        pytest.approx(12.5)
    with pytest.raises(ValueError, match="no utilisation for period"):
        summary.summarise(table, devices, utilisation=usage, period="1999-Q1",
                          wards=wards, boroughs=boroughs)


def test_capacity_from_rated_kw_when_capacity_kwh_is_absent():
    table, devices, usage = _usage_fixture()
    usage = usage.drop(columns="capacity_kwh").assign(
        rated_kw=7.0, available_days=usage["available_hours"] / 24)
    out = summary.Summariser(table, devices, utilisation=usage,
                             boroughs=areas.load_boroughs()).summarise("borough")
    west = out.set_index("area_code").loc["E09000033"]
    assert west["capacity_kwh"] == pytest.approx(7.0 * 10000)
    assert west["capacity_factor_pct"] == pytest.approx(2240 / 70000 * 100)


def test_every_output_column_has_a_definition(snapshot):
    assignment, devices, connectors = snapshot
    table, small_devices, usage = _usage_fixture()
    with_usage = summary.summarise(table, small_devices, utilisation=usage,
                                   wards=assignment.wards, boroughs=assignment.boroughs,
                                   level="ward")
    plain = summary.summarise(assignment, devices, connectors)
    defined = area_table.definitions()
    assert set(with_usage.columns) | set(plain.columns) <= set(defined)
    assert all(len(text) > 10 for text in defined.values())


def test_summary_reads_the_utilisation_engine_output():
    from ev_chargepoints.core import schema
    from ev_chargepoints.core.analysis import utilisation

    devices = schema.conform(pd.DataFrame({
        "device_id": ["oxford", "romford"], "latitude": [51.5154, 51.5768],
        "longitude": [-0.1415, 0.1801], "connector_count": [2, 1],
        "max_power_kw": [7.0, 50.0], "power_class": ["slow", "rapid"],
        "created_utc": pd.to_datetime(["2021-01-01", "2021-01-01"], utc=True)}), "devices")
    connectors = schema.conform(pd.DataFrame({
        "device_id": ["oxford", "oxford", "romford"], "connector_id": ["1", "2", "1"],
        "power_kw": [7.0, 7.0, 50.0]}), "connectors")
    sessions = schema.conform(pd.DataFrame({
        "session_key": ["a", "b", "c", "d"],
        "device_id": ["oxford", "oxford", "oxford", "romford"],
        "connector_id": ["1", "2", "1", "1"],
        "start_utc": pd.to_datetime(["2022-01-05 10:00", "2022-04-05 10:00",
                                     "2022-04-06 10:00", "2022-05-01 09:00"], utc=True),
        "end_utc": pd.to_datetime(["2022-01-05 14:00", "2022-04-05 12:00",
                                   "2022-04-06 11:00", "2022-05-01 09:30"], utc=True),
        "kwh": [20.0, 10.0, 5.0, 25.0]}), "sessions")
    usage = utilisation.utilisation(sessions, devices, connectors, period="quarter")
    assignment = areas.assign_devices(devices, areas.load_wards(2018), areas.load_boroughs())
    table = summary.summarise(assignment, devices, connectors, usage, level="borough")
    assert table.attrs["period"] == "2022-Q2" and table.attrs["previous_period"] == "2022-Q1"
    by_name = table.set_index("area_name")
    westminster, havering = by_name.loc["Westminster"], by_name.loc["Havering"]
    assert (westminster["sessions"], westminster["kwh"]) == (2, 15.0)
    assert westminster["prev_sessions"] == 1 and westminster["sessions_change"] == 1
    q2 = usage[usage["period"] == "2022-Q2"].set_index("device_id")
    assert westminster["occupancy_pct"] == pytest.approx(q2.loc["oxford", "occupancy_pct"])
    assert westminster["available_hours"] == pytest.approx(q2.loc["oxford",
                                                                   "available_hours"])
    assert havering["capacity_factor_pct"] == pytest.approx(
        q2.loc["romford", "capacity_factor_pct"])
    assert table["sessions"].sum() == 3
