"""Disclosure control: usage of small or single-operator cells never reaches a page."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.outputs import disclosure, styling


def device_rows():
    # A: 4 devices, 2 operators (shown); B: 2 devices (too few); C: 5 devices, one
    # operator (single operator); D: 3 devices, 2 operators (exactly the threshold)
    rows = [("A", "a1", "Op1"), ("A", "a2", "Op1"), ("A", "a3", "Op2"), ("A", "a4", "Op2"),
            ("B", "b1", "Op1"), ("B", "b2", "Op2"),
            *[("C", f"c{i}", "Solo Ltd") for i in range(5)],
            ("D", "d1", "Op1"), ("D", "d2", "Op1"), ("D", "d3", "Op3")]
    return pd.DataFrame(rows, columns=["area_code", "device_id", "operator"])


def summary_table():
    return pd.DataFrame({
        "area_code": ["A", "B", "C", "D", "E"],
        "area_name": ["Alpha", "Beta", "Gamma", "Delta", "Empty"],
        "devices": [4, 2, 5, 3, 0],
        "connectors": [8, 4, 10, 6, 0],
        "sessions": [100.0, 20.0, 50.0, 30.0, np.nan],
        "kwh": [900.0, 150.0, 400.0, 220.0, np.nan],
        "occupancy_pct": [12.5, 3.0, 20.0, 8.0, np.nan],
        "sessions_change_pct": [5.0, -2.0, 1.0, 0.0, np.nan],
        "prev_kwh": [800.0, 140.0, 390.0, 200.0, np.nan],
    })


def test_contributors_count_devices_and_operators():
    counts = disclosure.contributors(device_rows(), "area_code").set_index("area_code")
    assert counts.loc["A"].tolist() == [4, 2]
    assert counts.loc["B"].tolist() == [2, 2]
    assert counts.loc["C"].tolist() == [5, 1]
    assert counts.loc["D"].tolist() == [3, 2]


def test_operator_names_are_compared_without_case_or_spaces():
    rows = pd.DataFrame({"cell": ["X"] * 3, "device_id": ["1", "2", "3"],
                         "operator": ["Solo Ltd", " solo ltd", "SOLO LTD "]})
    assert disclosure.contributors(rows, "cell")["usage_operators"].tolist() == [1]


def test_small_and_single_operator_cells_are_suppressed_counts_kept():
    table = summary_table()
    result = disclosure.mask_usage(table, disclosure.contributors(device_rows(), "area_code"))
    out = result.table.set_index("area_code")
    assert result.suppressed == ["B", "C"]
    for code in ("B", "C"):
        for column in ("sessions", "kwh", "occupancy_pct", "sessions_change_pct", "prev_kwh"):
            assert math.isnan(out.loc[code, column]), (code, column)
    # device counts are public: untouched everywhere
    assert out["devices"].tolist() == [4, 2, 5, 3, 0]
    assert out["connectors"].tolist() == [8, 4, 10, 6, 0]
    # cells passing the rule keep their figures; D sits exactly on the threshold
    assert out.loc["A", "sessions"] == 100.0 and out.loc["D", "kwh"] == 220.0
    assert out.loc["B", "usage_disclosure"] == "suppressed: fewer than 3 devices"
    assert out.loc["C", "usage_disclosure"] == "suppressed: single operator"
    assert out.loc["A", "usage_disclosure"] == "shown"
    assert out.loc["E", "usage_disclosure"] == "no usage data"
    # the input is not modified
    assert table.loc[1, "sessions"] == 20.0


def test_note_is_the_sentence_pages_print():
    result = disclosure.mask_usage(summary_table(),
                                   disclosure.contributors(device_rows(), "area_code"))
    assert result.note == ("Usage figures for areas with fewer than 3 devices or a single "
                           "operator are suppressed")
    assert result.table.attrs["disclosure_note"] == result.note


def test_threshold_is_configurable():
    counts = disclosure.contributors(device_rows(), "area_code")
    strict = disclosure.mask_usage(summary_table(), counts, threshold=4)
    assert strict.suppressed == ["B", "C", "D"]
    assert "fewer than 4 devices" in strict.note
    lax = disclosure.mask_usage(summary_table(), counts, threshold=1)
    assert lax.suppressed == ["C"]  # one operator is suppressed whatever the threshold
    with pytest.raises(ValueError):
        disclosure.mask_usage(summary_table(), counts, threshold=0)


def test_area_contributors_use_the_periods_shown_and_the_assignment():
    assignment = pd.DataFrame({"device_id": ["a1", "a2", "a3", "b1", "x"],
                               "borough_code": ["A", "A", "A", "B", None]})
    devices = pd.DataFrame({"device_id": ["a1", "a2", "a3", "b1", "x"],
                            "operator": ["Op1", "Op2", None, "Op1", "Op9"]})
    usage = pd.DataFrame({"device_id": ["a1", "a2", "a3", "b1", "x", "a1"],
                          "period": ["2022-Q2", "2022-Q2", "2022-Q1", "2021-Q4", "2022-Q2",
                                     "2022-Q1"],
                          "sessions": [1, 2, 3, 4, 5, 6]})
    counts = disclosure.area_contributors(assignment, devices, usage, "borough_code",
                                          ["2022-Q2", "2022-Q1"]).set_index("borough_code")
    # a3 reported only in the previous period still contributes (to the change figures);
    # b1 reported in neither period; x is outside every borough
    assert counts.loc["A"].tolist() == [3, 3]
    assert "B" not in counts.index
    total = disclosure.area_contributors(assignment, devices, usage, None, ["2022-Q2"])
    assert total[["usage_devices", "usage_operators"]].iloc[0].tolist() == [3, 3]


def test_points_are_banded_never_printed_as_figures():
    points = pd.DataFrame({"device_id": ["p1", "p2", "p3"], "operator": ["A", "B", "C"],
                           "occupancy_pct": [2.0, 17.5, np.nan], "kwh": [10.0, 20.0, np.nan],
                           "sessions": [3, 4, 0]})
    banded = disclosure.band_points(points, styling.occupancy_bands())
    assert "occupancy_pct" not in banded and "kwh" not in banded and "sessions" not in banded
    assert banded["occupancy_band"].tolist() == ["< 5 % (under-used)", "15–25 % (busy)",
                                                 "no usage data"]


def test_format_figure():
    assert disclosure.format_figure(1234.56, 1, " %") == "1,234.6 %"
    assert disclosure.format_figure(float("nan")) == "–"
    assert disclosure.format_figure(-0.04, 1) == "0.0"
    assert disclosure.format_figure(12, suppressed=True) == "suppressed"


def test_a_lone_suppressed_area_gets_a_complementary_partner_when_totals_are_published():
    import pandas as pd

    from ev_chargepoints.core.outputs import disclosure

    table = pd.DataFrame({"area_code": ["A", "B", "C", "D"], "devices": [10, 2, 8, 30],
                          "sessions": [100.0, 20.0, 80.0, 300.0]})
    counts = pd.DataFrame({"area_code": ["A", "B", "C", "D"], "usage_devices": [10, 2, 8, 30],
                           "usage_operators": [3, 2, 2, 4]})
    plain = disclosure.mask_usage(table, counts, threshold=3)
    assert plain.suppressed == ["B"]
    protected = disclosure.mask_usage(table, counts, threshold=3, complementary=True)
    assert sorted(protected.suppressed) == ["B", "C"]          # C: fewest devices shown
    status = dict(zip(protected.table["area_code"], protected.table["usage_disclosure"]))
    assert status["C"] == disclosure.COMPLEMENT
    # total minus the shown areas no longer isolates B
    shown = protected.table["sessions"].dropna().sum()
    assert table["sessions"].sum() - shown == 100.0            # B + C together
    assert list(protected.table["devices"]) == [10, 2, 8, 30]  # counts never suppressed


def test_complementary_suppression_within_each_group_of_a_published_total():
    # wards of two boroughs; each borough's figure is published beside its wards
    table = pd.DataFrame({
        "area_code": ["W1", "W2", "W3", "W4", "W5", "W6"],
        "parent_code": ["B1", "B1", "B1", "B2", "B2", "B2"],
        "devices": [2, 9, 5, 6, 7, 8],
        "sessions": [20.0, 90.0, 50.0, 60.0, 70.0, 80.0]})
    counts = pd.DataFrame({"area_code": table["area_code"],
                           "usage_devices": [2, 9, 5, 6, 7, 8],
                           "usage_operators": [2, 3, 2, 2, 3, 2]})
    pooled = disclosure.mask_usage(table, counts, complementary=True)
    grouped = disclosure.mask_usage(table, counts, complementary=True, group="parent_code")
    assert pooled.suppressed == ["W1", "W3"]
    assert grouped.suppressed == ["W1", "W3"]
    # a second borough with a lone suppressed ward gets its own partner; without groups
    # the two lone wards would protect each other across boroughs and reveal both
    counts.loc[4, "usage_devices"] = 1
    pooled = disclosure.mask_usage(table, counts, complementary=True)
    grouped = disclosure.mask_usage(table, counts, complementary=True, group="parent_code")
    assert pooled.suppressed == ["W1", "W5"]
    assert grouped.suppressed == ["W1", "W3", "W4", "W5"]
    out = grouped.table.set_index("area_code")
    for parent, wards in table.groupby("parent_code"):
        hidden = out.loc[wards["area_code"], "sessions"].isna()
        assert hidden.sum() >= 2 or hidden.sum() == 0, parent
    assert out.loc["W4", "usage_disclosure"] == disclosure.COMPLEMENT
    assert out.loc["W3", "usage_disclosure"] == disclosure.COMPLEMENT


def test_points_in_a_suppressed_area_show_no_usage():
    points = pd.DataFrame({"device_id": ["p1", "p2", "p3"],
                           "borough_name": ["Sutton", "Camden", None],
                           "occupancy_pct": [2.0, 17.5, 30.0], "kwh": [10.0, 20.0, 5.0],
                           "power_class": ["fast", "rapid", "slow"]})
    hidden = disclosure.hide_points(points, "borough_name", ["Sutton"])
    assert hidden["usage_disclosure"].tolist() == [disclosure.USAGE_NOT_SHOWN,
                                                   disclosure.SHOWN, disclosure.SHOWN]
    assert hidden["occupancy_pct"].isna().tolist() == [True, False, False]
    assert hidden["kwh"].isna().tolist() == [True, False, False]
    assert hidden["kwh"].iloc[1] == 20.0 and hidden["power_class"].tolist() == \
        ["fast", "rapid", "slow"]
    assert points["kwh"].iloc[0] == 10.0   # the input is not modified


def test_internal_outputs_say_so():
    assert disclosure.INTERNAL == "INTERNAL – not for publication"
    assert disclosure.stamp("33 areas written", True) == \
        "33 areas written — INTERNAL – not for publication"
    assert disclosure.stamp("33 areas written", False) == "33 areas written"
    assert disclosure.INTERNAL_NOTE.startswith(disclosure.INTERNAL)
