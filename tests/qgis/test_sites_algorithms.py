"""Candidate-site algorithms through processing.run, sites given in WGS84."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsVectorLayer,
)

from ev_chargepoints.core.crs import bng_to_wgs84, wgs84_to_bng
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.processing.algorithms.sites_algorithms import (
    AnalyseSitesAlgorithm,
    SuggestSitesAlgorithm,
)

SITES_BNG = [(529_900.0, 179_600.0), (544_244.2, 170_351.8), (523_114.0, 191_847.1),
             (531_500.0, 181_200.0), (527_000.0, 183_000.0)]


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


@pytest.fixture()
def wgs84_sites(qgis_new_project):
    layer = QgsVectorLayer("Point?crs=EPSG:4326&field=name:string&field=score:double",
                           "lamp columns", "memory")
    features = []
    for i, (x, y) in enumerate(SITES_BNG):
        lon, lat = bng_to_wgs84(x, y)
        feature = QgsFeature(layer.fields())
        feature.setAttributes([f"lamp {i}", -1.0])
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(lon), float(lat))))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def run(alg, params):
    import processing
    return processing.run(alg.create(), params)


def _brute_force(store, x, y, distance):
    with Workspace(store) as ws:
        devices = ws.devices()
    dx, dy = wgs84_to_bng(devices["longitude"].to_numpy(float),
                          devices["latitude"].to_numpy(float))
    d = np.hypot(dx[None, :] - np.asarray(x)[:, None], dy[None, :] - np.asarray(y)[:, None])
    return (d <= distance).sum(axis=1)


def test_analyse_sites_points_and_buffers(qgis_processing, store, wgs84_sites, tmp_path):
    result = run(AnalyseSitesAlgorithm(), {
        "INPUT": wgs84_sites, "ID_FIELD": "name", "DISTANCE": 400, "RINGS": "800",
        "WEIGHTS": "new_coverage=1,gap=1", "STORE": str(store),
        "OUTPUT": str(tmp_path / "sites.gpkg"), "BUFFERS": str(tmp_path / "buffers.gpkg")})
    points = QgsVectorLayer(result["OUTPUT"], "sites", "ogr")
    assert points.isValid() and points.featureCount() == len(SITES_BNG)
    assert points.crs().authid() == "EPSG:27700"
    names = points.fields().names()
    for column in ("name", "score", "ev_score", "rank", "site_id", "devices_within",
                   "nearest_device_m", "new_coverage_residents", "devices_within_800m"):
        assert column in names, column
    features = sorted(points.getFeatures(), key=lambda f: f["name"])
    assert [f["site_id"] for f in features] == [f"lamp {i}" for i in range(len(SITES_BNG))]
    assert all(f["score"] == -1.0 for f in features)  # the input field kept as it was
    xy = np.array([[f.geometry().asPoint().x(), f.geometry().asPoint().y()]
                   for f in features])
    np.testing.assert_allclose(xy, np.array(SITES_BNG), atol=0.05)  # WGS84 -> BNG
    assert [f["devices_within"] for f in features] == \
        _brute_force(store, xy[:, 0], xy[:, 1], 400).tolist()
    assert [f["devices_within_800m"] for f in features] == \
        _brute_force(store, xy[:, 0], xy[:, 1], 800).tolist()
    assert sorted(f["rank"] for f in features) == list(range(1, len(SITES_BNG) + 1))

    buffers = QgsVectorLayer(result["BUFFERS"], "buffers", "ogr")
    assert buffers.isValid() and buffers.featureCount() == 2 * len(SITES_BNG)
    for feature in buffers.getFeatures():
        r = feature["distance_m"]
        assert feature.geometry().area() == pytest.approx(np.pi * r * r, rel=0.01)


def test_suggest_sites_gains_do_not_increase(qgis_processing, store, wgs84_sites, tmp_path):
    result = run(SuggestSitesAlgorithm(), {
        "INPUT": wgs84_sites, "DISTANCE": 400, "K": 3, "STORE": str(store),
        "OUTPUT": str(tmp_path / "picks.gpkg")})
    picks = QgsVectorLayer(result["OUTPUT"], "picks", "ogr")
    assert picks.isValid() and 1 <= picks.featureCount() <= 3
    features = sorted(picks.getFeatures(), key=lambda f: f["step"])
    gains = [f["gain_residents"] for f in features]
    assert all(g > 0 for g in gains) and gains == sorted(gains, reverse=True)
    assert all(f["name"].startswith("lamp ") for f in features)


def test_missing_store_is_one_readable_error(qgis_processing, wgs84_sites, tmp_path):
    with pytest.raises(QgsProcessingException, match="There is no store"):
        run(AnalyseSitesAlgorithm(), {"INPUT": wgs84_sites, "DISTANCE": 400,
                                      "STORE": str(tmp_path / "none.gpkg"),
                                      "OUTPUT": "memory:"})


def test_bad_weights_are_one_readable_error(qgis_processing, store, wgs84_sites):
    with pytest.raises(QgsProcessingException, match="Weights:"):
        run(AnalyseSitesAlgorithm(), {"INPUT": wgs84_sites, "DISTANCE": 400,
                                      "WEIGHTS": "coverage=1", "STORE": str(store),
                                      "OUTPUT": "memory:"})


def test_a_demand_weight_scores_the_demand_gap_of_the_chosen_scenario(
        qgis_processing, store, wgs84_sites):
    plain = run(AnalyseSitesAlgorithm(), {
        "INPUT": wgs84_sites, "ID_FIELD": "name", "DISTANCE": 400, "WEIGHTS": "residents=1",
        "STORE": str(store), "OUTPUT": "memory:"})["OUTPUT"]
    assert "demand_gap_within" not in plain.fields().names()  # weight 0: as before
    layer = run(AnalyseSitesAlgorithm(), {
        "INPUT": wgs84_sites, "ID_FIELD": "name", "DISTANCE": 400, "WEIGHTS": "residents=1",
        "DEMAND_WEIGHT": 1.0, "SCENARIO": 2, "STORE": str(store),
        "OUTPUT": "memory:"})["OUTPUT"]
    features = {f["name"]: f for f in layer.getFeatures()}
    assert {f["demand_scenario"] for f in features.values()} == \
        {"2035 (half of cars electric)"}
    gaps = {name: f["demand_gap_within"] for name, f in features.items()}
    assert all(g >= 0 for g in gaps.values()) and max(gaps.values()) > 0
    # the score: residents and demand gap, each over its largest, weighted equally
    top_residents = max(f["residents_within"] for f in features.values())
    top_gap = max(gaps.values())
    for name, f in features.items():
        expected = 100 * (f["residents_within"] / top_residents + gaps[name] / top_gap) / 2
        assert f["ev_score"] == pytest.approx(expected, abs=1e-6)
    # the same figures as the facade computes
    from ev_chargepoints.core.analysis.siting.sites import sites_from_points
    x, y = zip(*SITES_BNG)
    with Workspace(store) as ws:
        table = ws.analyse_sites(sites_from_points(list(x), list(y)),
                                 scenario="2035 (half of cars electric)")
    assert sorted(gaps.values()) == pytest.approx(sorted(table["demand_gap_within"]),
                                                  rel=1e-6)
