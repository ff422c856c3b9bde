"""Demand for public charge points by ward, through processing.run: the same figures as
``Workspace.demand`` (the one facade), wards with polygons and a table."""

from __future__ import annotations

import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from ev_chargepoints.core.analysis import demand
from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.workspace import Workspace

ALG = "evchargepoints:warddemand"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("demand_alg") / "london.gpkg"
    with Workspace(path) as ws:
        ws.import_files([LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz"])
    return str(path)


def run(params):
    import processing
    return processing.run(ALG, params)


def test_demand_by_ward_writes_the_wards_and_the_table_as_the_facade_computes(
        ev_provider, store, tmp_path):
    result = run({"STORE": store, "EV_SHARE": 0.3, "KWH_PER_EV_DAY": 5,
                  "OUTPUT": str(tmp_path / "wards.gpkg"), "TABLE": str(tmp_path / "wards.csv")})
    layer = QgsVectorLayer(result["OUTPUT"], "wards", "ogr")
    assert layer.isValid() and layer.featureCount() == 633
    names = layer.fields().names()
    for column in demand.DEMAND_COLUMNS + ["scenario", "ev_share", "inputs", "demand_note"]:
        assert column in names
    features = list(layer.getFeatures())
    assert all(f.hasGeometry() for f in features)
    assert all(f["gap"] == f["connectors_needed"] - f["connectors_now"] for f in features)
    assert {f["ev_share"] for f in features} == {0.3}

    expected = demand.scenario_for(None, ev_share=0.3, kwh_per_ev_day=5.0)
    with Workspace(store, create=False) as ws:
        facade = ws.demand(expected).set_index("area_code")
    by_code = {f["area_code"]: f for f in features}
    assert {c: by_code[c]["connectors_needed"] for c in facade.index} == \
        facade["connectors_needed"].to_dict()
    assert result["CONNECTORS_NEEDED"] == facade["connectors_needed"].sum()
    assert result["CONNECTORS_NOW"] == facade["connectors_now"].sum() > 10_000
    assert result["GAP"] == result["CONNECTORS_NEEDED"] - result["CONNECTORS_NOW"]
    assert "GLA ward profiles (2015 edition)" in result["INPUTS"]
    assert expected.describe() in result["INPUTS"]

    table = read_csv(result["TABLE"])
    assert list(table.columns[:8]) == demand.DEMAND_COLUMNS and len(table) == 633

    more = run({"STORE": store, "EV_SHARE": 0.5, "KWH_PER_EV_DAY": 5,
                "OUTPUT": str(tmp_path / "more.gpkg")})
    assert more["CONNECTORS_NEEDED"] > result["CONNECTORS_NEEDED"]
    assert more["CONNECTORS_NOW"] == result["CONNECTORS_NOW"]


def test_a_preset_and_a_value_out_of_range(ev_provider, store, tmp_path):
    names = list(demand.PRESETS)
    result = run({"STORE": store, "PRESET": names.index("2035 (half of cars electric)"),
                  "TABLE": str(tmp_path / "t.csv")})
    assert set(read_csv(result["TABLE"])["scenario"]) == {"2035 (half of cars electric)"}
    with pytest.raises(QgsProcessingException, match="ev_share must be between 0 and 1"):
        run({"STORE": store, "EV_SHARE": 1.5, "TABLE": str(tmp_path / "u.csv")})


def test_the_wards_output_styled_by_gap(ev_provider, store, tmp_path):
    from qgis.core import QgsRenderContext

    from ev_chargepoints.qgis.styling import gap_renderer

    result = run({"STORE": store, "OUTPUT": str(tmp_path / "wards.gpkg")})
    layer = QgsVectorLayer(result["OUTPUT"], "wards", "ogr")
    gaps = [f["gap"] for f in layer.getFeatures()]
    renderer = gap_renderer(gaps)
    layer.setRenderer(renderer)
    labels = [item.label() for item in renderer.legendSymbolItems()]
    assert labels[:2] == ["More than needed (gap < 0)", "Met (gap 0)"]
    assert labels[-1] == "No data" and any("connectors short" in x for x in labels)
    context = QgsRenderContext()
    renderer.startRender(context, layer.fields())
    try:
        unstyled = [f["area_code"] for f in layer.getFeatures()
                    if len(renderer.symbolsForFeature(f, context)) != 1]
    finally:
        renderer.stopRender(context)
    assert unstyled == []
