"""Committee page data: London totals from sums, masked cells printed as 'suppressed'."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ev_chargepoints.core.outputs import committee, disclosure


def boroughs():
    return pd.DataFrame({
        "area_code": ["E09000001", "E09000029"], "area_name": ["City of London", "Sutton"],
        "population": [8_000.0, 200_000.0], "devices": [70, 63], "connectors": [140, 100],
        "slow_devices": [55, 60], "fast_devices": [14, 1], "rapid_devices": [1, 2],
        "ultra_devices": [0, 0], "unknown_power_devices": [0, 0],
        "devices_with_usage": [66, 60], "sessions": [5_000.0, 3_000.0],
        "kwh": [40_000.0, 20_000.0], "plugged_hours": [100.0, 900.0],
        "available_hours": [1_000.0, 9_000.0], "capacity_kwh": [1e6, 3e6],
        "prev_sessions": [4_000.0, 3_000.0], "prev_kwh": [30_000.0, 20_000.0],
        "prev_occupancy_pct": [20.0, 5.0], "occupancy_pct": [10.0, 10.0],
        "rapid_share_pct": [1.4, 3.2], "devices_per_10k": [87.5, 3.15],
        "capacity_factor_pct": [4.0, 0.67], "occupancy_pct_change": [-10.0, 5.0],
        "sessions_change_pct": [25.0, 0.0],
    })


def test_london_total_is_recomputed_from_sums_not_averaged():
    total = committee.london_total(boroughs()).iloc[0]
    assert total["devices"] == 133 and total["connectors"] == 240
    assert total["occupancy_pct"] == 1_000 / 10_000 * 100           # 10 %, from hours
    assert math.isclose(total["devices_per_10k"], 133 / 208_000 * 10_000)
    assert math.isclose(total["rapid_share_pct"], 3 / 133 * 100)
    assert math.isclose(total["sessions_change_pct"], 1_000 / 7_000 * 100)
    # previous occupancy weighted by hours: (0.2*1000 + 0.05*9000) / 10000 = 6.5 %
    assert math.isclose(total["prev_occupancy_pct"], 6.5)


def masked_data():
    table = boroughs()
    table["mwh"] = table["kwh"] / 1000
    counts = pd.DataFrame({"area_code": ["E09000001", "E09000029"], "usage_devices": [66, 60],
                           "usage_operators": [4, 1]})
    masked = disclosure.mask_usage(table, counts).table
    london = committee.london_total(boroughs())
    london["mwh"] = london["kwh"] / 1000
    london[disclosure.STATUS_COLUMN] = disclosure.SHOWN
    return committee.CommitteeData("2022-Q2", "2022-Q1", masked, london,
                                   disclosure.note(3), 3, "abc123def456", {}, "", True,
                                   "london_boroughs@x", "28 November 2026")


def test_borough_table_prints_counts_and_suppresses_usage():
    header, rows = committee.borough_table(masked_data(), "sutton")
    assert header == ["Measure", "Sutton", "London"]
    cells = {row[0]: row[1:] for row in rows}
    assert cells["Charge devices"] == ["63", "133"]
    assert cells["Sessions"] == ["suppressed", "8,000"]
    assert cells["Energy delivered (MWh)"] == ["suppressed", "60.0"]
    assert cells["Occupancy"][0] == "suppressed"
    city = dict((row[0], row[1]) for row in committee.borough_table(masked_data(),
                                                                     "E09000001")[1])
    assert city["Sessions"] == "5,000" and city["Occupancy"] == "10.0 %"


def test_overview_lists_every_borough_then_london():
    header, rows = committee.overview_table(masked_data())
    assert header[0] == "Borough" and rows[-1][0] == "London"
    sutton = next(r for r in rows if r[0] == "Sutton")
    assert sutton[1] == "63" and sutton[4:] == ["suppressed"] * 3
    frame = committee.page_table_frame(header, rows)
    assert list(frame.columns) == header and len(frame) == 3
    assert np.all(frame["Borough"].to_numpy() == ["City of London", "Sutton", "London"])


def test_demand_line_sums_a_boroughs_wards_and_names_the_scenario():
    from ev_chargepoints.core.analysis import demand

    wards = pd.DataFrame({"area_code": ["W1", "W2", "W3"], "area_name": ["a", "b", "c"],
                          "parent_code": ["E09000001", "E09000029", "E09000029"],
                          "parent_name": ["City of London", "Sutton", "Sutton"]})
    # 100 cars, half without off-street parking; 200 with none; a ward without figures
    inputs = demand.WardInputs(wards, np.array([80.0, 150.0, np.nan]),
                               np.array([100.0, 200.0, np.nan]), np.array([0.5, 0.0, np.nan]),
                               np.array([3.0, 4.0, 1.0]), ["test"],
                               "1,234 devices as of 04 May 2022")
    scenario = demand.Scenario(name="half", ev_share=0.5, kwh_per_ev_day=4.0,
                               connector_kwh_per_day=10.0)
    lines = committee.demand_lines(inputs.table_for(scenario))
    # City: 100 cars x 0.5 electric x 0.5 without a drive = 25 EVs x 4 kWh / 10 = 10 needed
    assert lines["E09000001"] == (
        "Demand, scenario 'half' (4 kWh per EV a day, one public connector 10 kWh a day): "
        "10 connectors needed with 50% of cars electric, 3 now, gap 7; devices as of "
        "04 May 2022.")
    # Sutton: none needed (all off-street), 4 now; the ward without figures left out
    assert lines["E09000029"] == (
        "Demand, scenario 'half' (4 kWh per EV a day, one public connector 10 kWh a day): "
        "0 connectors needed with 50% of cars electric, 4 now, gap -4 (1 of 2 wards without "
        "figures left out); devices as of 04 May 2022.")
    data = committee.CommitteeData("2022-Q2", None, boroughs(), committee.london_total(
        boroughs()), "note", 3, "fp", {}, "", False, "b", "today", demand=lines)
    notes = committee.notes_lines(data, "sutton")
    assert notes[-2] == lines["E09000029"] and notes[-1].startswith("Sources:")
    assert committee.notes_lines(data) == committee.definition_lines(data) + \
        committee.provenance_lines(data)
