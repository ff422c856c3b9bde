"""Map layers from the bundled snapshot: counts, fields, styling, periods, rendering."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import (
    NULL,
    Qgis,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsMapRendererParallelJob,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsTemporalNavigationObject,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QSize, Qt, QTime
from qgis.PyQt.QtGui import QColor

from ev_chargepoints.core.outputs import styling
from ev_chargepoints.core.progress import Progress
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.qgis import loader


@pytest.fixture(scope="module")
def map_info(tmp_path_factory):
    store = tmp_path_factory.mktemp("map") / "london.gpkg"
    with Workspace(store) as ws:
        ws.import_bundled_snapshot(usage_start="2022-01-01", usage_end="2022-07-01")
    return loader.prepare_map(str(store), "quarter", Progress())


@pytest.fixture()
def loaded(map_info, qgis_new_project):
    return loader.build_layers(map_info, project=QgsProject.instance())


def test_two_quarters_of_synthetic_usage_are_labelled(map_info):
    assert map_info.periods == ["2022-Q1", "2022-Q2"]
    assert map_info.synthetic_usage
    assert "devices as of 04 May 2022" in map_info.vintage


def test_layers_have_the_expected_features_and_fields(loaded):
    devices, wards, boroughs = loaded.devices, loaded.wards, loaded.boroughs
    assert devices.featureCount() == 8_940          # one period shown
    assert wards.featureCount() == 633 and boroughs.featureCount() == 33
    assert devices.crs().authid() == "EPSG:27700"
    names = set(devices.fields().names())
    assert {"device_id", "occupancy_pct", "power_class", "operator", "status", "period",
            "borough_name", "ward_name", "latitude", "longitude"} <= names
    assert {"devices_per_10k", "occupancy_pct", "population"} <= set(wards.fields().names())
    group = QgsProject.instance().layerTreeRoot().findGroup("EV charge points")
    assert group is not None and len(group.findLayers()) == 3
    assert "SYNTHETIC" in devices.name() and "2022-Q2" in devices.name()


def test_provenance_is_in_metadata_and_attribution(loaded):
    metadata = loaded.devices.metadata()
    assert "Open Government Licence v3.0" in metadata.licenses()
    assert "SYNTHETIC" in metadata.abstract()
    assert "Ordnance Survey" in loaded.devices.serverProperties().attribution()
    assert "04 May 2022" in metadata.abstract()


def test_period_selector_filters_without_reloading(loaded):
    layer = loaded.devices
    layer_id = layer.id()
    q2 = {f["device_id"]: f["occupancy_pct"] for f in layer.getFeatures()}
    loader.set_period(loaded, "2022-Q1")
    assert layer.id() == layer_id and "2022-Q1" in layer.name()
    q1 = {f["device_id"]: f["occupancy_pct"] for f in layer.getFeatures()}
    assert len(q1) == len(q2) == 8_940
    assert q1 != q2
    assert {f["period"] for f in loaded.wards.getFeatures()} == {"2022-Q1"}


def _temporal_render(layer, extent, frame, size=(1400, 1000)):
    """Render ``layer`` for the time range ``frame`` as the map canvas does while the
    temporal controller runs: a temporal map whose expression context has the map
    settings' scope (@map_start_time ...)."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setOutputSize(QSize(*size))
    settings.setExtent(extent)
    settings.setBackgroundColor(QColor("white"))
    settings.setIsTemporal(True)
    settings.setTemporalRange(frame)
    context = QgsExpressionContext()
    context.appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
    context.appendScope(QgsExpressionContextUtils.mapSettingsScope(settings))
    settings.setExpressionContext(context)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage(), job.mapSettings()


def test_the_temporal_controller_animates_every_quarter(map_info, loaded, tmp_path):
    """The project's time range spans the periods loaded, one frame per quarter; with
    the controller running, each frame draws that quarter's devices in that quarter's
    occupancy colours, and stopping it brings back the period box's quarter."""
    project = QgsProject.instance()
    time = project.timeSettings()
    first = QDate.fromString(map_info.period_ranges[0][0], Qt.DateFormat.ISODate)
    last = QDate.fromString(map_info.period_ranges[-1][1], Qt.DateFormat.ISODate)
    assert time.temporalRange().begin() == QDateTime(first, QTime(0, 0))
    assert time.temporalRange().end() == QDateTime(last, QTime(0, 0))
    assert (time.timeStep(), time.timeStepUnit()) == (3, Qgis.TemporalUnit.Months)

    controller = QgsTemporalNavigationObject()
    unlink = loader.follow_temporal_controller(loaded, controller, project)
    controller.setNavigationMode(Qgis.TemporalNavigationMode.Animated)
    assert controller.totalFrameCount() == len(map_info.periods) == 2

    layer = loaded.devices
    every = {}                                  # period -> device -> (x, y, occupancy)
    for f in layer.dataProvider().getFeatures():
        value = f["occupancy_pct"]
        every.setdefault(f["period"], {})[f["device_id"]] = (
            f.geometry().asPoint().x(), f.geometry().asPoint().y(),
            None if value in (None, NULL) else float(value))
    ids = sorted(every["2022-Q1"])
    xy = np.array([every["2022-Q1"][d][:2] for d in ids])
    bands = styling.occupancy_bands()
    isolated = _isolated(xy, 700)
    # isolated devices whose band differs between the quarters tell the frames apart
    telling = {i for i in isolated
               if styling.band_for(every["2022-Q1"][ids[i]][2], bands)
               != styling.band_for(every["2022-Q2"][ids[i]][2], bands)}
    assert len(telling) >= 10
    extent = QgsRectangle(503000, 155000, 562000, 201500)
    for number, period in enumerate(map_info.periods):
        frame = controller.dateTimeRangeForFrameNumber(number)
        assert frame.begin().date() == QDate.fromString(
            map_info.period_ranges[number][0], Qt.DateFormat.ISODate)
        image, settings = _temporal_render(layer, extent, frame)
        image.save(str(tmp_path / f"frame_{number}.png"))
        matched = drawn = told = 0
        for i in isolated:
            x, y, value = every[period][ids[i]]
            pixel = settings.mapToPixel().transform(QgsPointXY(x, y))
            px, py = int(round(pixel.x())), int(round(pixel.y()))
            if not (5 <= px < image.width() - 5 and 5 <= py < image.height() - 5):
                continue
            colour = image.pixelColor(px, py)
            band = styling.band_for(value, bands)
            expected = QColor(band.colour) if band else QColor("#ffffff")
            drawn += colour.name() != "#ffffff" or band is None
            same = max(abs(colour.red() - expected.red()),
                       abs(colour.green() - expected.green()),
                       abs(colour.blue() - expected.blue())) <= 40
            matched += same
            told += same and i in telling
        assert drawn >= 50 and matched == drawn and told >= 8, (period, matched, drawn,
                                                                told)

    # the period box moves the running controller to its quarter, keeping every quarter
    controller.setCurrentFrameNumber(1)
    loader.set_period(loaded, "2022-Q1")
    assert controller.currentFrameNumber() == 0 and layer.subsetString() == ""
    assert "2022-Q1" in layer.name()
    # controller off: a static map of the period box's quarter again
    controller.setNavigationMode(Qgis.TemporalNavigationMode.NavigationOff)
    assert {f["period"] for f in layer.getFeatures()} == {"2022-Q1"}
    unlink()
    props = layer.temporalProperties()
    assert props.isActive()


def test_legend_lists_every_band_with_units_and_no_data(loaded):
    labels = [item.label() for item in loaded.devices.renderer().legendSymbolItems()]
    for band in styling.occupancy_bands():
        assert band.label in labels
    assert styling.NO_DATA_LABEL in labels
    assert any("%" in label for label in labels)


def _render(layer, extent, size=(1400, 1000)):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setOutputSize(QSize(*size))
    settings.setExtent(extent)
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage(), job.mapSettings()


def _isolated(points: np.ndarray, min_gap_m: float) -> np.ndarray:
    """Indices of points with no other point within ``min_gap_m`` (brute force)."""
    keep = []
    for i, (x, y) in enumerate(points):
        d = np.hypot(points[:, 0] - x, points[:, 1] - y)
        d[i] = np.inf
        if d.min() > min_gap_m:
            keep.append(i)
    return np.asarray(keep, dtype=int)


def test_devices_are_drawn_in_their_band_colour_at_their_position(loaded, tmp_path):
    layer = loaded.devices
    features = [f for f in layer.getFeatures()]
    xy = np.array([[f.geometry().asPoint().x(), f.geometry().asPoint().y()] for f in features])
    occupancy = [None if f.attribute("occupancy_pct") in (None, NULL)
                 else float(f["occupancy_pct"]) for f in features]
    extent = QgsRectangle(503000, 155000, 562000, 201500)
    image, settings = _render(layer, extent)
    image.save(str(tmp_path / "devices.png"))
    to_pixel = settings.mapToPixel()
    isolated = _isolated(xy, 700)
    bands = styling.occupancy_bands()
    checked = {b.key: 0 for b in bands}
    checked["no_data"] = 0
    for i in isolated:
        value = occupancy[i]
        band = styling.band_for(value, bands)
        pixel = to_pixel.transform(QgsPointXY(*xy[i]))
        px, py = int(round(pixel.x())), int(round(pixel.y()))
        if not (5 <= px < image.width() - 5 and 5 <= py < image.height() - 5):
            continue  # outside the rendered London extent
        colour = image.pixelColor(px, py)
        if band is None:
            expected, key = QColor("#ffffff"), "no_data"   # hollow grey ring
        else:
            expected, key = QColor(band.colour), band.key
        diff = max(abs(colour.red() - expected.red()), abs(colour.green() - expected.green()),
                   abs(colour.blue() - expected.blue()))
        assert diff <= 40, (features[i]["device_id"], value, colour.name(), expected.name())
        checked[key] += 1
    assert all(checked[b.key] >= 1 for b in bands), checked

    # devices without usage data: zoom in on the loneliest one, drawn as a hollow grey ring
    no_data = [i for i, v in enumerate(occupancy) if v is None]
    assert no_data, "the synthetic set leaves some devices without usage"
    gaps = []
    for i in no_data:
        d = np.hypot(xy[:, 0] - xy[i, 0], xy[:, 1] - xy[i, 1])
        d[i] = np.inf
        gaps.append(d.min())
    lonely = no_data[int(np.argmax(gaps))]
    x, y = xy[lonely]
    image, settings = _render(layer, QgsRectangle(x - 400, y - 300, x + 400, y + 300), (800, 600))
    pixel = settings.mapToPixel().transform(QgsPointXY(x, y))
    centre = image.pixelColor(int(round(pixel.x())), int(round(pixel.y())))
    assert centre.name() == "#ffffff"
    ring = [image.pixelColor(int(round(pixel.x())) + dx, int(round(pixel.y())))
            for dx in range(1, 12)]
    assert any(c.name() != "#ffffff" and abs(c.red() - c.green()) < 8 and c.red() < 230
               for c in ring), [c.name() for c in ring]


def test_symbol_size_follows_the_power_class(loaded):
    from qgis.core import QgsExpression, QgsExpressionContext, QgsExpressionContextUtils

    from ev_chargepoints.qgis.styling import power_size_expression

    expression = QgsExpression(power_size_expression())
    assert not expression.hasParserError(), expression.parserErrorString()
    context = QgsExpressionContext()
    context.appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(loaded.devices))
    sizes = {}
    for feature in loaded.devices.getFeatures():
        context.setFeature(feature)
        sizes.setdefault(feature["power_class"], expression.evaluate(context))
    for power_class, size in styling.POWER_CLASS_SIZE_MM.items():
        if power_class in sizes:
            assert sizes[power_class] == size, (power_class, sizes)
    assert len({v for k, v in sizes.items() if k in styling.POWER_CLASS_SIZE_MM}) >= 3


def test_a_new_project_takes_british_national_grid(loaded):
    assert QgsProject.instance().crs().authid() == "EPSG:27700"
