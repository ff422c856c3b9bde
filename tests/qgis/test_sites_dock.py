"""The candidate-sites dock driven through its map tool, on the bundled snapshot.

Sites are clicked on the canvas with mouse events sent to the tool; the dock's
table is read back and checked against plain numpy distances to every device.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from event_wait import wait_for
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsGraduatedSymbolRenderer,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt

from ev_chargepoints.core.analysis import site_files
from ev_chargepoints.core.analysis.siting.analyser import definitions
from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.store.usage_kind import NOTE
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.gui.site_tool import scratch_layer
from ev_chargepoints.gui.sites_dock import KEY, SCOPE, CandidateSitesDock

EXTENT = QgsRectangle(526_000, 177_000, 534_000, 183_000)  # central London


def sites_store(tmp_path_factory):
    """One snapshot store per test session, shared by the candidate-site modules."""
    path = tmp_path_factory.getbasetemp() / "sites-store" / "london.gpkg"
    if not path.exists():
        with Workspace(path) as ws:
            ws.import_bundled_snapshot(usage_start="2022-04-01", usage_end="2022-07-01")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return sites_store(tmp_path_factory)


@pytest.fixture(scope="module")
def device_xy(store):
    with Workspace(store) as ws:
        devices = ws.devices()
    return wgs84_to_bng(devices["longitude"].to_numpy(float),
                        devices["latitude"].to_numpy(float))


def within(device_xy, x, y, distance):
    dx, dy = device_xy
    return int((np.hypot(dx - x, dy - y) <= distance).sum())


@pytest.fixture()
def canvas(qgis_canvas, qgis_new_project):
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:27700"))
    qgis_canvas.setExtent(EXTENT)
    qgis_canvas.refresh()
    return qgis_canvas


@pytest.fixture()
def dock(qgis_iface, canvas, store):
    widget = CandidateSitesDock(qgis_iface)
    widget.store_path = str(store)
    yield widget
    widget.cleanup()
    widget.deleteLater()


def pixel(canvas, x, y) -> QPoint:
    point = canvas.getCoordinateTransform().transform(QgsPointXY(x, y))
    return QPoint(round(point.x()), round(point.y()))


def map_point(canvas, at: QPoint):
    point = canvas.getCoordinateTransform().toMapCoordinates(at.x(), at.y())
    return point.x(), point.y()


def press_release(canvas, tool, start: QPoint, end: QPoint):
    for kind, at, handler in ((QEvent.Type.MouseButtonPress, start, tool.canvasPressEvent),
                              (QEvent.Type.MouseMove, end, tool.canvasMoveEvent),
                              (QEvent.Type.MouseButtonRelease, end, tool.canvasReleaseEvent)):
        handler(QgsMapMouseEvent(canvas, kind, at, Qt.MouseButton.LeftButton,
                                 Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def click(canvas, tool, x, y):
    at = pixel(canvas, x, y)
    press_release(canvas, tool, at, at)


def layer_points(layer) -> dict:
    return {f.id(): (f.geometry().asPoint().x(), f.geometry().asPoint().y())
            for f in layer.getFeatures()}


def rows_by_site(dock) -> dict:
    table = dock.table_frame()
    return {row["site_id"]: row for _, row in table.iterrows()}


def number(text: str) -> float:
    return float(text.replace(",", "")) if text else float("nan")


def test_clicked_sites_are_analysed_and_follow_a_move(dock, canvas, device_xy, tmp_path):
    layer = scratch_layer()
    dock.set_sites_layer(layer)
    assert dock.sites_layer() is layer and layer.crs().authid() == "EPSG:27700"
    wait_for(dock.is_ready, "the analysis preparation")
    print(f"analyser prepared in {dock.prepare_seconds:.2f} s")
    dock.tool_button.setChecked(True)
    assert canvas.mapTool() is dock.tool

    clicks = [(529_000.0, 180_000.0), (531_500.0, 181_500.0), (527_500.0, 178_200.0)]
    for x, y in clicks:
        click(canvas, dock.tool, x, y)
    assert layer.featureCount() == 3
    points = layer_points(layer)
    rows = rows_by_site(dock)
    assert set(rows) == {str(fid) for fid in points}
    for fid, (x, y) in points.items():
        row = rows[str(fid)]
        assert number(row["devices_within"]) == within(device_xy, x, y, 400)
    expected = [map_point(canvas, pixel(canvas, cx, cy)) for cx, cy in clicks]
    np.testing.assert_allclose(sorted(points.values()), sorted(expected), atol=1e-6)
    assert sorted(number(r["rank"]) for r in rows.values()) == [1, 2, 3]
    assert sum(number(r["devices_within"]) for r in rows.values()) > 10
    print(f"per-site update {dock.last_update_ms:.1f} ms "
          f"(analyser {dock.last_analysis_ms:.1f} ms)")
    assert dock.last_update_ms is not None

    # move the first site: press on it, drag, release 1.5 km away
    fid, (x, y) = next(iter(points.items()))
    before = rows[str(fid)]
    target = (x + 1_500.0, y - 900.0)
    press_release(canvas, dock.tool, pixel(canvas, x, y), pixel(canvas, *target))
    assert layer.featureCount() == 3
    nx, ny = layer_points(layer)[fid]
    np.testing.assert_allclose((nx, ny), map_point(canvas, pixel(canvas, *target)), atol=1e-6)
    after = rows_by_site(dock)[str(fid)]
    assert number(after["devices_within"]) == within(device_xy, nx, ny, 400)
    assert (after["devices_within"], after["nearest_device_m"]) != \
        (before["devices_within"], before["nearest_device_m"])
    print(f"move update {dock.last_update_ms:.1f} ms (analyser {dock.last_analysis_ms:.1f} ms)")

    # the catchment layer: one buffer per site, styled by score
    buffers = dock.buffer_layer()
    assert buffers.featureCount() == 3
    assert isinstance(buffers.renderer(), QgsGraduatedSymbolRenderer)
    assert buffers.renderer().classAttribute() == "score"
    moved = [f for f in buffers.getFeatures() if f["site_id"] == str(fid)][0]
    centre = moved.geometry().centroid().asPoint()
    assert abs(centre.x() - nx) < 1 and abs(centre.y() - ny) < 1
    assert moved.geometry().area() == pytest.approx(np.pi * 400 ** 2, rel=0.01)

    # column definitions as header tooltips
    headers = {dock.table.horizontalHeaderItem(j).text(): dock.table.horizontalHeaderItem(j)
               for j in range(dock.table.columnCount())}
    assert headers["new_coverage_residents"].toolTip() == \
        definitions()["new_coverage_residents"]

    # exports
    gpkg = dock.export(tmp_path / "sites.gpkg")
    with sqlite3.connect(gpkg) as conn:
        described = conn.execute("SELECT description FROM gpkg_contents").fetchone()[0]
    assert described.endswith("— SYNTHETIC usage")
    exported = QgsVectorLayer(str(gpkg), "exported", "ogr")
    assert exported.isValid() and exported.featureCount() == 3
    assert exported.crs().authid() == "EPSG:27700"
    csv_path = dock.export(tmp_path / "sites.csv")   # the store's usage is SYNTHETIC
    assert csv_path.read_text(encoding="utf-8").splitlines()[0] == f'"{NOTE}"'
    csv = pd.read_csv(csv_path, skiprows=1)
    assert sorted(csv["site_id"].astype(str)) == sorted(str(f) for f in points)
    assert {"devices_within", "score", "rank", "residents_within"} <= set(csv.columns)


def test_weights_rings_state_and_suggestions(dock, canvas, device_xy):
    layer = scratch_layer()
    dock.set_sites_layer(layer)
    wait_for(dock.is_ready, "the analysis preparation")
    # two central sites, two in outer London where residents are still uncovered
    for x, y in [(528_000.0, 179_000.0), (532_000.0, 182_000.0), (544_244.2, 170_351.8),
                 (523_114.0, 191_847.1)]:
        dock.tool.add_site(QgsPointXY(x, y))
    scores = [number(s) for s in dock.table_frame().sort_values("site_id")["score"]]

    dock.weight_spins["new_coverage"].setValue(0.0)
    dock.weight_spins["demand"].setValue(0.0)
    dock.weight_spins["gap"].setValue(1.0)
    gap_scores = [number(s) for s in dock.table_frame().sort_values("site_id")["score"]]
    assert gap_scores != scores
    saved = json.loads(QgsProject.instance().readEntry(SCOPE, KEY, "")[0])
    assert saved["weights"]["gap"] == 1.0 and saved["layer_id"] == layer.id()

    dock.ring_boxes[800.0].setChecked(True)
    assert not dock.is_ready()  # a new distance needs a new preparation
    wait_for(dock.is_ready, "the preparation for 800 m")
    assert dock.analyser.distances == [400.0, 800.0]
    assert dock.analyser.weights == dock.weights()  # the chosen weights survive
    rows = rows_by_site(dock)
    assert len(rows) == 4
    points = layer_points(layer)
    for fid, (x, y) in points.items():
        assert number(rows[str(fid)]["devices_within" + site_files.ring_suffix(800)]) == \
            within(device_xy, x, y, 800)
    assert dock.buffer_layer().featureCount() == 8
    saved = json.loads(QgsProject.instance().readEntry(SCOPE, KEY, "")[0])
    assert saved["distances"] == [400.0, 800.0]

    other = CandidateSitesDock(dock.iface)  # a second dock reads the project's state
    try:
        assert other.distances() == [400.0, 800.0]
        assert other.weights()["gap"] == 1.0 and other.weights()["new_coverage"] == 0.0
        assert other.sites_layer() is layer
    finally:
        other.cleanup()
        other.deleteLater()

    dock.k_spin.setValue(3)
    assert dock.suggest() is not None
    wait_for(lambda: dock.suggestions is not None, "the suggestions")
    gains = dock.suggestions["gain_residents"].tolist()
    assert 2 <= len(gains) <= 3 and gains == sorted(gains, reverse=True) and gains[-1] > 0
    assert dock.suggest_table.rowCount() == len(gains)
    assert {str(f) for f in layer.selectedFeatureIds()} == set(dock.suggestions["site_id"])


def test_an_editable_layer_in_an_edit_session(dock, canvas, device_xy):
    layer = QgsVectorLayer("Point?crs=EPSG:4326&field=name:string", "car parks", "memory")
    QgsProject.instance().addMapLayer(layer)
    dock.set_sites_layer(layer)
    wait_for(dock.is_ready, "the analysis preparation")
    layer.startEditing()
    click(canvas, dock.tool, 530_000.0, 180_000.0)
    click(canvas, dock.tool, 532_500.0, 181_000.0)
    assert layer.featureCount() == 2 and len(dock.table_frame()) == 2
    assert layer.commitChanges()
    rows = rows_by_site(dock)  # reloaded with the committed feature ids
    assert set(rows) == {str(f.id()) for f in layer.getFeatures()}
    for feature in layer.getFeatures():
        lon, lat = feature.geometry().asPoint().x(), feature.geometry().asPoint().y()
        assert 51.4 < lat < 51.6 and -0.2 < lon < 0.0  # stored in the layer's CRS
        x, y = wgs84_to_bng(lon, lat)
        assert number(rows[str(feature.id())]["devices_within"]) == \
            within(device_xy, float(x), float(y), 400)
    layer.startEditing()
    assert layer.deleteFeature(next(layer.getFeatures()).id())
    assert len(dock.table_frame()) == 1
    layer.rollBack()
    assert len(dock.table_frame()) == 2


def test_a_click_without_a_usable_layer_is_reported_not_raised(dock, canvas, qgis_iface):
    qgis_iface.messageBar().clear_messages()
    dock.tool.setLayer(None)
    click(canvas, dock.tool, 530_000.0, 180_000.0)  # must not raise into Qt
    messages = qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical)
    assert any("No candidate-sites layer is chosen." in m for m in messages), messages
    assert dock.status.text() == "No candidate-sites layer is chosen."
