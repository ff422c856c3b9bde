"""Walking catchments through the Analyse candidate sites algorithm (issue #24): the
bundled OpenStreetMap street network (© OpenStreetMap contributors, ODbL) as a QGIS
line layer in EPSG:4326, sites in the same box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer

from ev_chargepoints.core.crs import bng_to_wgs84
from ev_chargepoints.processing.algorithms.sites_algorithms import AnalyseSitesAlgorithm
from tests.qgis.test_sites_algorithms import run, sites_store

OSM = Path(__file__).resolve().parents[1] / "data" / "networks" / \
    "central_london_highways_osm.gpkg"
SITES_BNG = [(530_300.0, 180_900.0), (530_800.0, 181_300.0), (530_950.0, 180_400.0),
             (530_100.0, 181_600.0)]


def _sites_layer():
    layer = QgsVectorLayer("Point?crs=EPSG:4326&field=name:string", "sites", "memory")
    features = []
    for i, (x, y) in enumerate(SITES_BNG):
        lon, lat = bng_to_wgs84(x, y)
        feature = QgsFeature(layer.fields())
        feature.setAttributes([f"site {i}"])
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(lon), float(lat))))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def test_walking_catchments_beside_the_straight_line(qgis_processing, qgis_new_project,
                                                      tmp_path_factory, tmp_path):
    store = sites_store(tmp_path_factory)
    network = QgsVectorLayer(f"{OSM}|layername=highways", "highways", "ogr")
    assert network.isValid() and network.featureCount() == 1220
    result = run(AnalyseSitesAlgorithm(), {
        "INPUT": _sites_layer(), "ID_FIELD": "name", "DISTANCE": 400, "STORE": str(store),
        "NETWORK": network, "WALK": 400,
        "OUTPUT": str(tmp_path / "sites.gpkg"), "CATCHMENTS": str(tmp_path / "walk.gpkg")})
    points = QgsVectorLayer(result["OUTPUT"], "sites", "ogr")
    assert points.featureCount() == len(SITES_BNG)
    rows = [f.attributes() for f in points.getFeatures()]
    names = points.fields().names()
    col = {name: [r[names.index(name)] for r in rows] for name in
           ("devices_within", "devices_within_walk", "residents_within",
            "residents_within_walk", "walk_m")}
    assert col["walk_m"] == [400.0] * len(SITES_BNG)
    assert all(w <= s for w, s in zip(col["devices_within_walk"], col["devices_within"]))
    assert all(w <= s + 1e-9 for w, s in zip(col["residents_within_walk"],
                                             col["residents_within"]))
    assert sum(col["devices_within_walk"]) > 0
    catchments = QgsVectorLayer(result["CATCHMENTS"], "walk", "ogr")
    assert catchments.isValid() and catchments.featureCount() == len(SITES_BNG)
    assert catchments.crs().authid() == "EPSG:27700"
    for feature, (x, y) in zip(catchments.getFeatures(), SITES_BNG):
        geometry = feature.geometry()
        assert geometry.isGeosValid()
        assert geometry.area() == feature["catchment_area_m2"] > 0
        # inside the straight-line circle (10 m lattice squares: up to 7.1 m beyond)
        box = geometry.boundingBox()
        corners = np.array([[box.xMinimum(), box.yMinimum()], [box.xMaximum(),
                                                                box.yMaximum()]])
        assert (np.abs(corners - [x, y]) <= 400 + 7.1).all()
        assert feature["reachable_network_m"] > 0
