"""Walking catchments in the candidate-sites dock (issue #24): the bundled OpenStreetMap
street network (tests/data/networks, © OpenStreetMap contributors, ODbL) as a line layer
of the project (EPSG:4326), the snapshot store's real devices, sites placed with the map
tool inside the network's box. The dock's walking figures are checked against the
command line's path (the core reading the same GeoPackage) and against the
straight-line ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from event_wait import wait_for
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsGraduatedSymbolRenderer,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)

from ev_chargepoints.core.analysis import demand
from ev_chargepoints.core.analysis.siting.network import read_network, walk_metres
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.gui import sites_form as form_module
from ev_chargepoints.gui import sites_walking as walking_module
from ev_chargepoints.gui.site_tool import scratch_layer
from ev_chargepoints.gui.sites_dock import KEY, SCOPE, CandidateSitesDock
from ev_chargepoints.gui.sites_results import WALK_ROLE
from ev_chargepoints.qgis.loader import ROLE_PROPERTY
from ev_chargepoints.qgis.street_network import OSM_ATTRIBUTION
from tests.qgis.test_sites_dock import (
    layer_points,
    number,
    pixel,
    press_release,
    rows_by_site,
    sites_store,
)

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "tests" / "data" / "networks" / "central_london_highways_osm.gpkg"
STYLE = ROOT / "resources" / "styles" / "candidate_site_catchments.qml"
NETWORK_BOX = QgsRectangle(529_700, 179_750, 531_450, 182_000)  # EPSG:27700
SITES = [(530_300.0, 180_900.0), (530_800.0, 181_300.0), (530_950.0, 180_400.0),
         (530_100.0, 181_600.0)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return sites_store(tmp_path_factory)


@pytest.fixture()
def canvas(qgis_canvas, qgis_new_project):
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:27700"))
    qgis_canvas.setExtent(NETWORK_BOX)
    qgis_canvas.refresh()
    return qgis_canvas


@pytest.fixture()
def network_layer(canvas):
    layer = QgsVectorLayer(f"{OSM}|layername=highways", "highways (OSM)", "ogr")
    assert layer.isValid() and layer.featureCount() == 1220
    QgsProject.instance().addMapLayer(layer)
    return layer


@pytest.fixture()
def dock(qgis_iface, canvas, store):
    widget = CandidateSitesDock(qgis_iface)
    widget.store_path = str(store)
    yield widget
    widget.cleanup()
    widget.deleteLater()


def expected_walking(store, points, walk_m=400.0) -> pd.DataFrame:
    """The command line's figures for the same sites: the core reads the GeoPackage."""
    sites = pd.DataFrame({"site_id": [str(f) for f in points],
                          "x": [p[0] for p in points.values()],
                          "y": [p[1] for p in points.values()]})
    with Workspace(store, create=False) as ws:
        long = ws.analyse_sites(sites, network=read_network(OSM), walk_m=walk_m)
    return long.set_index("site_id")


def features_by_site(layer) -> dict:
    return {f["site_id"]: f for f in layer.getFeatures()}


def walking_ready(dock, n):
    """Ready, with ``n`` walking polygons drawn."""
    layer = dock.walking_layer()
    return dock.is_ready() and layer is not None and layer.featureCount() == n


def test_walking_catchments_follow_the_map_tool(dock, canvas, network_layer, store):
    sites = scratch_layer()
    dock.set_network_layer(network_layer)
    dock.set_sites_layer(sites)
    wait_for(dock.is_ready, "the network and the analysis preparation")
    print(f"network built in {dock.network_seconds:.2f} s, analyser prepared in "
          f"{dock.prepare_seconds:.2f} s")
    assert dock.networks_built == 1
    # the QGIS adapter builds the network the core builds from the same file
    network, core = dock.network(), read_network(OSM)
    assert (network.n_nodes, network.n_edges) == (core.n_nodes, core.n_edges) == (2936, 3347)
    assert network.total_length_m == pytest.approx(core.total_length_m, rel=1e-9)
    assert OSM_ATTRIBUTION in dock.network_note.text()

    dock.tool_button.setChecked(True)
    for x, y in SITES[:3]:
        press_release(canvas, dock.tool, pixel(canvas, x, y), pixel(canvas, x, y))
    points = layer_points(sites)
    assert len(points) == 3
    rows = rows_by_site(dock)
    expected = expected_walking(store, points)
    for fid in points:
        row, want = rows[str(fid)], expected.loc[str(fid)]
        walk_devices, line_devices = number(row["devices_within_walk"]), \
            number(row["devices_within"])
        assert walk_devices == want["devices_within_walk"]
        assert number(row["residents_within_walk"]) == \
            pytest.approx(want["residents_within_walk"], abs=0.51)  # shown rounded
        assert walk_devices <= line_devices
        assert number(row["residents_within_walk"]) <= number(row["residents_within"])
    assert sum(number(r["devices_within_walk"]) for r in rows.values()) > 0
    assert sum(number(r["devices_within_walk"]) for r in rows.values()) < \
        sum(number(r["devices_within"]) for r in rows.values())

    # the walking layer: one polygon per site inside its straight-line circle, styled
    layer = dock.walking_layer()
    assert layer.customProperty(ROLE_PROPERTY) == WALK_ROLE
    assert QgsProject.instance().mapLayer(layer.id()) is layer
    assert layer.crs().authid() == "EPSG:27700" and layer.featureCount() == 3
    shapes = features_by_site(layer)
    for fid, (x, y) in points.items():
        feature = shapes[str(fid)]
        geometry = feature.geometry()
        assert geometry.isGeosValid()
        assert geometry.area() == pytest.approx(feature["catchment_area_m2"]) and \
            geometry.area() > 0
        box = geometry.boundingBox()
        corners = np.array([[box.xMinimum(), box.yMinimum()],
                            [box.xMaximum(), box.yMaximum()]])
        assert (np.abs(corners - [x, y]) <= 400 + 7.1).all()
        assert geometry.area() < np.pi * 400 ** 2
        assert feature["devices_within_walk"] == expected.loc[str(fid), "devices_within_walk"]
        assert feature["score"] == pytest.approx(number(rows[str(fid)]["score"]), abs=0.051)
    style = QgsVectorLayer("Polygon?crs=EPSG:27700&field=score:double", "style", "memory")
    message, ok = style.loadNamedStyle(str(STYLE))
    assert ok, message
    renderer = layer.renderer()
    assert isinstance(renderer, QgsGraduatedSymbolRenderer)
    assert renderer.classAttribute() == style.renderer().classAttribute() == "score"
    assert [(r.lowerValue(), r.upperValue(), r.symbol().color().name()) for r in
            renderer.ranges()] == [(r.lowerValue(), r.upperValue(), r.symbol().color().name())
                                   for r in style.renderer().ranges()]
    assert layer.opacity() == pytest.approx(style.opacity())
    assert layer.metadata().rights() == [OSM_ATTRIBUTION]
    assert layer.serverProperties().attribution() == OSM_ATTRIBUTION
    assert OSM_ATTRIBUTION in layer.metadata().abstract()

    # move one site with the tool: only its polygon is drawn again
    before = {site: f.geometry().asWkb() for site, f in shapes.items()}
    fid, (x, y) = next(iter(points.items()))
    target = SITES[3]
    press_release(canvas, dock.tool, pixel(canvas, x, y), pixel(canvas, *target))
    assert dock.last_walk_computed == [str(fid)]
    print(f"move with walking: {dock.last_update_ms:.0f} ms")
    after = features_by_site(dock.walking_layer())
    assert len(after) == 3
    for site, wkb in before.items():
        assert (after[site].geometry().asWkb() == wkb) == (site != str(fid))
    moved = layer_points(sites)
    want = expected_walking(store, moved).loc[str(fid)]
    assert number(rows_by_site(dock)[str(fid)]["devices_within_walk"]) == \
        want["devices_within_walk"]
    assert after[str(fid)]["devices_within_walk"] == want["devices_within_walk"]
    centre = after[str(fid)].geometry().boundingBox().center()
    assert abs(centre.x() - moved[fid][0]) < 400 and abs(centre.y() - moved[fid][1]) < 400

    # a click adds a site: its polygon alone is drawn
    press_release(canvas, dock.tool, pixel(canvas, *SITES[0]), pixel(canvas, *SITES[0]))
    new = (set(layer_points(sites)) - set(points)).pop()
    assert dock.last_walk_computed == [str(new)]
    assert dock.walking_layer().featureCount() == 4
    assert dock.networks_built == 1  # built once for all of it

    # a longer walk: prepared again on the same network, every polygon drawn again
    dock.set_walk(10, "min")
    assert dock.walk_m() == walk_metres(10) == 800
    wait_for(lambda: walking_ready(dock, 4) and
             dock.analyser.walking.distance_m == 800, "the 800 m walk")
    assert dock.networks_built == 1
    assert sorted(dock.last_walk_computed) == sorted(str(f) for f in layer_points(sites))
    longer = features_by_site(dock.walking_layer())
    assert all(longer[s]["walk_m"] == 800 for s in longer)
    assert sum(f.geometry().area() for f in longer.values()) > \
        sum(f.geometry().area() for f in after.values())

    # straight line only: the walking layer and columns go
    dock.set_network_layer(None)
    wait_for(dock.is_ready, "the straight-line preparation")
    assert dock.walking_layer() is None
    assert not [lyr for lyr in QgsProject.instance().mapLayers().values()
                if lyr.customProperty(ROLE_PROPERTY) == WALK_ROLE]
    assert "devices_within_walk" not in dock.table_frame().columns


def test_a_changed_network_is_built_again(dock, canvas, network_layer):
    sites = scratch_layer()
    for x, y in SITES:
        sites.dataProvider().addFeatures([_point(sites, x, y)])
    dock.set_network_layer(network_layer)
    dock.set_sites_layer(sites)
    wait_for(lambda: walking_ready(dock, 4), "the walking analysis")
    full = dock.network()
    walk_devices = _walk_devices(dock)

    # another layer: the streets south of 51.512° only
    half = QgsVectorLayer("LineString?crs=EPSG:4326", "south streets", "memory")
    half.dataProvider().addFeatures([f for f in network_layer.getFeatures()
                                     if f.geometry().boundingBox().yMaximum() < 51.512])
    QgsProject.instance().addMapLayer(half)
    dock.set_network_layer(half)
    assert not dock.is_ready()
    wait_for(lambda: dock.is_ready() and dock.network() is not full,
             "the analysis on the other network", 120)
    assert dock.networks_built == 2
    south = dock.network()
    assert 0 < south.n_edges < full.n_edges
    now = _walk_devices(dock)
    assert all(w <= v for w, v in zip(now, walk_devices) if not np.isnan(w))
    # a site beyond the walk from every street left has no polygon and no walking
    # figures (not "nothing in reach"); its note says why
    unwalked = [i for i, w in enumerate(now) if np.isnan(w)]
    assert unwalked and 0 < dock.walking_layer().featureCount() <= 4 - len(unwalked)
    notes = dock.table_frame().sort_values("site_id")["note"].tolist()
    assert all("no street of the network within 400 m" in str(notes[i]) for i in unwalked)
    assert (f"{len(unwalked)} with no street of the network within 400 m: their walking "
            "figures are blank (see note).") in dock.status.text()

    # the chosen layer's features change (an edit committed): built again
    assert half.startEditing()
    assert half.deleteFeatures([f.id() for f in half.getFeatures()][::2])
    assert half.commitChanges()
    assert not dock.is_ready()
    wait_for(lambda: dock.is_ready() and dock.network() is not south,
             "the analysis on the edited network", 120)
    assert dock.networks_built == 3
    assert dock.network().n_edges < south.n_edges

    # the chosen layer leaves the project: straight line only (not the other line layer)
    QgsProject.instance().removeMapLayer(half.id())
    assert dock.network_choice() is None and dock.network() is None
    wait_for(dock.is_ready, "the straight-line preparation", 120)
    assert dock.walking_layer() is None


def test_building_the_network_can_be_cancelled(dock, canvas, network_layer):
    dock.set_sites_layer(scratch_layer())
    wait_for(dock.is_ready, "the straight-line preparation")
    dock.set_network_layer(network_layer)
    [task] = [t for t in dock.tasks if getattr(t, "_network_for", None)]
    task.cancel()
    wait_for(lambda: task not in dock.tasks, "the cancelled network task to end")
    assert task.was_cancelled
    assert dock.network() is None and not dock.is_ready() and dock.networks_built == 0
    assert "cancelled" in dock.status.text()
    dock.prepare()  # Analyse layer: built again, then prepared
    wait_for(dock.is_ready, "the preparation after the cancel")
    assert dock.networks_built == 1 and dock.analyser.walking is not None


def test_the_network_and_walk_are_saved_with_the_project(dock, canvas, network_layer):
    dock.set_walk(6, "min")
    dock.set_network_layer(network_layer)
    saved = json.loads(QgsProject.instance().readEntry(SCOPE, KEY, "")[0])
    assert saved["network"] == {"layer_id": network_layer.id()}
    assert (saved["walk"], saved["walk_unit"]) == (6.0, "min")
    other = CandidateSitesDock(dock.iface)
    try:
        assert other.network_choice() == ("layer", network_layer.id())
        assert other.walk_m() == pytest.approx(480.0)
        assert other.walk_unit.currentData() == "min"
    finally:
        other.cleanup()
        other.deleteLater()

    dock.set_network_file(OSM)
    dock.walk_unit.setCurrentIndex(dock.walk_unit.findData("m"))  # 6 min is 480 m
    assert dock.walk_spin.value() == 480 and dock.walk_m() == 480
    saved = json.loads(QgsProject.instance().readEntry(SCOPE, KEY, "")[0])
    assert saved["network"] == {"file": str(OSM)} and saved["walk_unit"] == "m"
    wait_for(lambda: dock.network() is not None, "the network read from the file")
    assert dock.network().n_edges == 3347
    assert dock.network_attribution() == OSM_ATTRIBUTION
    other = CandidateSitesDock(dock.iface)
    try:
        assert other.network_choice() == ("file", str(OSM)) and other.walk_m() == 480
    finally:
        other.cleanup()
        other.deleteLater()


def test_many_new_sites_are_drawn_in_a_task(dock, canvas, network_layer, monkeypatch):
    monkeypatch.setattr(walking_module, "WALK_INLINE_SITES", 2)
    sites = scratch_layer()
    for x, y in SITES:
        sites.dataProvider().addFeatures([_point(sites, x, y)])
    drawn_in_tasks = []
    draw = dock._draw_walking_task
    monkeypatch.setattr(dock, "_draw_walking_task",
                        lambda rows, walking: drawn_in_tasks.append(sorted(rows["site_id"]))
                        or draw(rows, walking))
    dock.set_network_layer(network_layer)
    dock.set_sites_layer(sites)
    wait_for(lambda: walking_ready(dock, 4), "the walking polygons drawn in a task", 120)
    assert drawn_in_tasks == [sorted(str(f) for f in layer_points(sites))]
    assert not [t for t in dock.tasks if "walking" in t.description()]
    assert dock.last_walk_computed == []  # after the task: nothing left to draw


def test_weights_for_criteria_the_dock_does_not_know(qgis_iface, canvas, monkeypatch):
    monkeypatch.setattr(form_module, "CRITERIA",
                        ("new_coverage", "gap", "demand_gap", "a_future_criterion"))
    widget = CandidateSitesDock(qgis_iface)
    try:
        assert set(widget.weight_spins) == {"new_coverage", "gap", "demand_gap",
                                            "a_future_criterion"}
        labels = [w.text() for w in widget.findChildren(form_module.QLabel)]
        assert "Demand gap (wards)" in labels and "a_future_criterion" in labels
        assert widget.weights()["a_future_criterion"] == 0.0
    finally:
        widget.cleanup()
        widget.deleteLater()


def _walk_devices(dock):
    frame = dock.table_frame().sort_values("site_id")
    return [number(v) for v in frame["devices_within_walk"]]


def _point(layer, x, y):
    from qgis.core import QgsFeature, QgsGeometry

    feature = QgsFeature(layer.fields())
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
    return feature


def place_sites(dock, canvas) -> pd.DataFrame:
    """SITES placed with the dock's map tool on a new scratch layer once the analysis is
    prepared; the sites as the core takes them (site_id, x, y)."""
    sites = scratch_layer()
    dock.set_sites_layer(sites)
    wait_for(dock.is_ready, "the analysis preparation")
    dock.tool_button.setChecked(True)
    for x, y in SITES:
        press_release(canvas, dock.tool, pixel(canvas, x, y), pixel(canvas, x, y))
    points = layer_points(sites)
    return pd.DataFrame({"site_id": [str(f) for f in points],
                         "x": [p[0] for p in points.values()],
                         "y": [p[1] for p in points.values()]})


def test_the_demand_gap_weight_ranks_the_dock_sites_live(dock, canvas, store):
    """The dock's analyser carries the ward demand (default preset): giving "Demand gap
    (wards)" all the weight ranks the sites by the demand gap they reach, as the core
    ranks them."""
    frame = place_sites(dock, canvas)
    for name, spin in dock.weight_spins.items():
        spin.setValue(1.0 if name == "demand_gap" else 0.0)
    rows = rows_by_site(dock)
    gaps = {site: number(row["demand_gap_within"]) for site, row in rows.items()}
    assert len(gaps) == len(SITES) and max(gaps.values()) > 0
    with Workspace(store, create=False) as ws:
        want = ws.analyse_sites(frame, weights={"demand_gap": 1.0},
                                scenario=demand.DEFAULT_PRESET).set_index("site_id")
    for site, row in rows.items():
        assert number(row["demand_gap_within"]) == pytest.approx(
            want.loc[site, "demand_gap_within"], abs=0.051)  # shown to one decimal
        assert int(number(row["rank"])) == int(want.loc[site, "rank"])


def test_the_demand_gap_follows_the_demand_tabs_scenario(dock, canvas, store):
    """The dock weighs the demand gap under the scenario the summary dock's Demand tab
    left in the project (its values as shown); a scenario changed there is taken when
    the dock is next shown or its weights change, without reopening anything."""
    frame = place_sites(dock, canvas)

    def expected(scenario):
        with Workspace(store, create=False) as ws:
            return ws.analyse_sites(frame, weights={"demand_gap": 1.0},
                                    scenario=scenario).set_index("site_id")

    def shown():
        return {site: number(row["demand_gap_within"])
                for site, row in rows_by_site(dock).items()}

    for name, spin in dock.weight_spins.items():
        spin.setValue(1.0 if name == "demand_gap" else 0.0)
    before = shown()   # nothing in the project yet: the default preset
    want = expected(demand.DEFAULT_PRESET)
    for site, gap in before.items():
        assert gap == pytest.approx(want.loc[site, "demand_gap_within"], abs=0.051)

    from ev_chargepoints.gui.summary.demand_map import CURRENT_KEY, SELECTED_KEY
    from ev_chargepoints.gui.summary.state import PROJECT_SCOPE

    busier = demand.scenario_for(None, demand.PRESETS["2035 (half of cars electric)"],
                                 ev_share=0.7)
    project = QgsProject.instance()
    project.writeEntry(PROJECT_SCOPE, SELECTED_KEY, "2035 (half of cars electric)")
    project.writeEntry(PROJECT_SCOPE, CURRENT_KEY, busier.to_json())   # as the tab does
    dock.weight_spins["demand_gap"].setValue(2.0)
    wait_for(dock.is_ready, "the analysis prepared again under the new scenario")
    after = shown()
    want = expected(busier)
    assert sum(after.values()) > sum(before.values())
    for site, gap in after.items():
        assert gap == pytest.approx(want.loc[site, "demand_gap_within"], abs=0.051)
