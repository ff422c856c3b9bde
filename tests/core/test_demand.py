"""Demand for public charge points per ward (issue #24): the pipeline on a real store of
the bundled NCR snapshot, hand-computed wards from the bundled GLA ward profiles, blank
profile values, scenarios and presets, and the ``demand`` command."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints import cli
from ev_chargepoints.core.analysis import areas, demand
from ev_chargepoints.core.analysis.ward_population import WARD_PROFILES_FILE, read_ward_profiles
from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
NCR = LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz"
ABBEY, ALIBON, CHESSINGTON_S = "E05000026", "E05000027", "E05000405"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("demand") / "london.gpkg"
    with Workspace(path) as ws:
        ws.import_files([NCR])
    return path


@pytest.fixture(scope="module")
def wards2011():
    return areas.load_wards(2011)


def scenario(**values):
    return demand.Scenario(name="test", **values)


def test_gap_is_needed_minus_now_and_a_higher_ev_share_needs_more(store):
    with Workspace(store, create=False) as ws:
        low = ws.demand(scenario(ev_share=0.2))
        high = ws.demand(scenario(ev_share=0.4))
        summary, _ = ws.summary(level="ward", with_usage=False)
    assert len(low) == len(high) == 633
    assert list(low.columns[:8]) == demand.DEMAND_COLUMNS
    for table in (low, high):
        assert table["connectors_needed"].notna().all()
        assert (table["gap"] == table["connectors_needed"] - table["connectors_now"]).all()
    assert (low["area_code"] == high["area_code"]).all()
    assert (high["connectors_needed"] >= low["connectors_needed"]).all()
    assert (high["evs"] > low["evs"]).sum() == 633
    assert high["connectors_needed"].sum() > 1.9 * low["connectors_needed"].sum()
    # connectors now: the ward summary's reconciled connectors, ward by ward
    now = summary.set_index("area_code")["connectors"]
    assert (low.set_index("area_code")["connectors_now"] == now.reindex(low["area_code"])
            .to_numpy()).all()
    assert low["connectors_now"].sum() == now.sum() > 10_000
    assert low.attrs["totals"]["gap"] == int(low["gap"].sum())


def test_every_row_names_the_scenario_and_the_data_vintage(store):
    with Workspace(store, create=False) as ws:
        table = ws.demand(scenario(ev_share=0.3, kwh_per_ev_day=5, connector_kw=7,
                                   target_occupancy=0.2))
    assert set(table["scenario"]) == {"test"} and set(table["ev_share"]) == {0.3}
    assert set(table["kwh_per_ev_day"]) == {5.0}
    assert table["connector_kwh_per_day"].to_numpy() == pytest.approx(np.full(633, 33.6))
    inputs = table["inputs"].iloc[0]
    assert "GLA ward profiles (2015 edition)" in inputs and "2011 Census" in inputs
    assert re.search(r"[\d,]+ devices as of \d\d \w{3} 2022", inputs)
    assert table.attrs["notes"][0].startswith("Scenario 'test': 30% of cars electric")
    assert table.attrs["missing"] == []


def test_hand_computed_wards_from_the_bundled_ward_profiles(wards2011):
    # Barking and Dagenham - Abbey: 4,753 household spaces, 0.5 cars per household,
    # 22.6 % terraced + 66.3 % flats; Alibon: 4,045, 0.8, 63.8 % + 14.2 %;
    # Chessington South: 4,112, 1.4, 41.3 % + 20.9 % (ward-profiles-excel-version.csv)
    connectors = np.zeros(len(wards2011))
    connectors[list(wards2011.codes).index(ABBEY)] = 5
    inputs = demand.ward_inputs(wards2011, connectors)
    table = inputs.table_for(scenario(ev_share=0.3, kwh_per_ev_day=4.0,
                                      connector_kwh_per_day=42.0)).set_index("area_code")
    abbey, alibon, chess = table.loc[ABBEY], table.loc[ALIBON], table.loc[CHESSINGTON_S]
    assert abbey["cars"] == pytest.approx(4753 * 0.5, abs=0.05)
    assert abbey["evs"] == pytest.approx(4753 * 0.5 * 0.3, abs=0.05)
    assert abbey["no_offstreet_share"] == pytest.approx(0.889)
    assert abbey["public_evs"] == pytest.approx(4753 * 0.5 * 0.3 * 0.889, abs=0.05)
    assert abbey["connectors_needed"] == math.ceil(633.8126 * 4 / 42) == 61
    assert (abbey["connectors_now"], abbey["gap"]) == (5, 56)
    assert alibon["cars"] == pytest.approx(3236.0)
    assert alibon["public_evs"] == pytest.approx(3236 * 0.3 * 0.78, abs=0.05)
    assert alibon["connectors_needed"] == math.ceil(757.224 * 4 / 42) == 73
    assert alibon["gap"] == 73
    assert chess["cars"] == pytest.approx(4112 * 1.4, abs=0.05)
    assert chess["no_offstreet_share"] == pytest.approx(0.622)
    assert chess["connectors_needed"] == math.ceil(4112 * 1.4 * 0.3 * 0.622 * 4 / 42) == 103
    # one share for every ward, and a factor on the housing mix
    flat = inputs.table_for(scenario(ev_share=0.3, no_offstreet_share=0.5,
                                     connector_kwh_per_day=42.0)).set_index("area_code")
    assert flat.loc[ABBEY, "public_evs"] == pytest.approx(4753 * 0.5 * 0.3 * 0.5, abs=0.05)
    capped = inputs.table_for(scenario(no_offstreet_factor=2.0)).set_index("area_code")
    assert capped.loc[ABBEY, "no_offstreet_share"] == 1.0
    assert capped.loc[ALIBON, "no_offstreet_share"] == pytest.approx(1.0)
    assert capped.loc[CHESSINGTON_S, "no_offstreet_share"] == pytest.approx(1.0)


def test_2018_wards_carry_the_2011_figures_like_the_population():
    wards = areas.load_wards(2018)
    inputs = demand.ward_inputs(wards, np.zeros(len(wards)))
    old = demand.ward_inputs(areas.load_wards(2011), np.zeros(625))
    codes, old_codes = list(wards.codes), list(areas.load_wards(2011).codes)
    # an unchanged ward keeps its figures exactly
    i, j = codes.index(ABBEY), old_codes.index(ABBEY)
    assert inputs.cars[i] == old.cars[j] and inputs.offstreet_default[i] == \
        old.offstreet_default[j]
    # household spaces and cars are conserved over London (within the few old wards'
    # area no 2018 ward covers, as for the population)
    assert np.nansum(inputs.household_spaces) == pytest.approx(
        np.nansum(old.household_spaces), rel=0.002)
    assert np.nansum(inputs.cars) == pytest.approx(np.nansum(old.cars), rel=0.002)
    assert np.isfinite(inputs.cars).all() and (inputs.offstreet_default <= 1).all()


def test_blank_ward_profile_values_leave_the_ward_blank_and_say_so(tmp_path, wards2011):
    raw = pd.read_csv(LONDON_SNAPSHOT / WARD_PROFILES_FILE, encoding="latin-1", dtype=str)
    codes = raw["New code"].str.strip()
    raw.loc[codes == ABBEY, "Cars per household - 2011"] = ""
    raw.loc[codes == ALIBON, "% terraced houses - 2011"] = " "
    path = tmp_path / WARD_PROFILES_FILE
    raw.to_csv(path, index=False, encoding="latin-1")
    inputs = demand.ward_inputs(wards2011, np.ones(len(wards2011)),
                                profiles=read_ward_profiles(path))
    table = inputs.table_for(scenario(ev_share=0.3))
    by_code = table.set_index("area_code")
    assert pd.isna(by_code.loc[ABBEY, "cars"]) and pd.isna(by_code.loc[ABBEY, "gap"])
    assert pd.isna(by_code.loc[ABBEY, "connectors_needed"])
    assert by_code.loc[ABBEY, "demand_note"] == demand.NO_PROFILE
    assert by_code.loc[ALIBON, "cars"] == pytest.approx(3236.0)   # cars known,
    assert pd.isna(by_code.loc[ALIBON, "connectors_needed"])       # housing mix not
    assert table.attrs["missing"] == [ABBEY, ALIBON]
    assert "2 of 625 wards have no ward-profile figures" in table.attrs["notes"][-1]
    assert table["connectors_needed"].notna().sum() == 623
    assert table.attrs["totals"]["connectors_now"] == 625
    # one share for every ward needs no housing mix: Alibon is computed again
    shared = inputs.table_for(scenario(ev_share=0.3, no_offstreet_share=0.6))
    assert shared.set_index("area_code").loc[ALIBON, "connectors_needed"] > 0
    # and the blank cells survive the CSV writer
    out = tmp_path / "wards.csv"
    from ev_chargepoints.core.outputs.tables import write_csv
    write_csv(table, out)
    back = read_csv(out).set_index("area_code")
    assert pd.isna(back.loc[ABBEY, "connectors_needed"])
    assert back.loc[ABBEY, "demand_note"] == demand.NO_PROFILE


def test_scenario_values_are_checked_and_saved_as_json():
    with pytest.raises(ValueError, match="ev_share must be between 0 and 1"):
        demand.Scenario(ev_share=1.5)
    with pytest.raises(ValueError, match="kwh_per_ev_day must be above 0"):
        demand.Scenario(kwh_per_ev_day=0)
    with pytest.raises(ValueError, match="unknown scenario values"):
        demand.Scenario.from_dict({"ev_shares": 0.3})
    mine = demand.scenario_for(demand.GLA_2030, ev_share=0.4, kwh_per_ev_day=None)
    assert mine.ev_share == 0.4 and mine.kwh_per_ev_day == 4.0
    assert mine.name == f"{demand.GLA_2030}, adjusted: ev_share=0.4"
    assert demand.Scenario.from_json(mine.to_json()) == mine
    assert json.loads(mine.to_json())["ev_share"] == 0.4
    assert demand.Scenario(connector_kw=7, target_occupancy=0.25).delivered_kwh_per_day == 42
    assert demand.Scenario(connector_kwh_per_day=30).delivered_kwh_per_day == 30
    with pytest.raises(ValueError, match="no preset"):
        demand.scenario_for("2050")


def test_presets_are_documented_with_their_london_totals():
    doc = (ROOT / "docs" / "demand.md").read_text(encoding="utf-8")
    wards = areas.load_wards(2018)
    inputs = demand.ward_inputs(wards, np.zeros(len(wards)))
    for name, preset in demand.PRESETS.items():
        assert f"`{name}`" in doc
        total = inputs.table_for(preset).attrs["totals"]["connectors_needed"]
        assert f"{total:,}" in doc, (name, total)
    assert "40,000" in doc and "60,000" in doc


def test_demand_command_writes_the_columns_and_the_inputs(store, tmp_path, capsys):
    out = tmp_path / "wards.csv"
    assert cli.main(["-q", "demand", "--store", str(store), "--ev-share", "0.3",
                     "--kwh-per-ev-day", "5", "--out", str(out)]) == 0
    table = read_csv(out)
    assert list(table.columns[:8]) == ["area_code", "area_name", "cars", "evs", "public_evs",
                                       "connectors_needed", "connectors_now", "gap"]
    assert len(table) == 633
    assert (table["gap"] == table["connectors_needed"] - table["connectors_now"]).all()
    assert set(table["ev_share"]) == {0.3} and set(table["kwh_per_ev_day"]) == {5.0}
    assert set(table["scenario"]) == {f"{demand.GLA_2030}, adjusted: ev_share=0.3, "
                                      "kwh_per_ev_day=5"}
    assert table["inputs"].str.contains("GLA ward profiles").all()
    captured = capsys.readouterr()
    assert "633 wards written to" in captured.out
    assert "Scenario '" in captured.err
    # a saved scenario, and a value out of range
    saved = tmp_path / "mine.json"
    saved.write_text(demand.Scenario(name="mine", ev_share=0.1).to_json(), encoding="utf-8")
    assert cli.main(["-q", "demand", "--store", str(store), "--scenario", str(saved),
                     "--out", str(out)]) == 0
    assert set(read_csv(out)["scenario"]) == {"mine"}
    assert cli.main(["-q", "demand", "--store", str(store), "--ev-share", "1.5",
                     "--out", str(out)]) == 2
    assert "ev_share must be between 0 and 1" in capsys.readouterr().err


def test_gap_classes_put_every_ward_in_one_class_darker_with_the_shortfall():
    from ev_chargepoints.core.outputs import styling

    gaps = [-12.0, -1.0, 0.0, 0.0, 1.0, 3.0, 17.0, 40.0, 55.0, 56.0, 70.0, 240.0, None]
    bands = styling.gap_bands(gaps)
    assert [b.key for b in bands[:2]] == ["gap_surplus", "gap_met"]
    for value in gaps[:-1]:
        assert sum(b.contains(value) for b in bands) == 1, value
    assert not any(b.contains(None) for b in bands)
    short = [b for b in bands if b.key.startswith("gap_short")]
    assert 2 <= len(short) <= 4 and short[0].lower == 1 and short[-1].upper is None
    assert all(float(b.lower).is_integer() for b in short)   # whole connectors
    darkness = [styling.relative_luminance(b.colour) for b in short]
    assert darkness == sorted(darkness, reverse=True)
    assert styling.band_for(-12.0, bands).label == "More than needed (gap < 0)"
    assert styling.band_for(0.0, bands).label == "Met (gap 0)"
    assert styling.band_for(240.0, bands).label.endswith("connectors short")
    # no ward short: surplus, met and one open shortfall class
    assert len(styling.gap_bands([-3.0, 0.0])) == 3
