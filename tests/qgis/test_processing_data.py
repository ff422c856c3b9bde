"""Data algorithms through processing.run, as models and batch use them."""

from __future__ import annotations

import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer
from replay_server import NCR_ID, ReplayServer

from ev_chargepoints.core.paths import RESOURCES
from ev_chargepoints.core.store.geopackage import HistoryStore

DUNDEE = RESOURCES / "data" / "dundee"


def run(alg, params):
    import processing
    return processing.run(f"evchargepoints:{alg}", params)


def test_provider_lists_the_data_algorithms(ev_provider):
    ids = {a.name() for a in ev_provider.algorithms()}
    assert {"importfiles", "fetchdatastore", "fetchocpi", "utilisation"} <= ids


def test_import_then_utilisation_table(ev_provider, tmp_path):
    store = str(tmp_path / "store.gpkg")
    result = run("importfiles", {"FILES": [str(DUNDEE / "cpdata.csv.gz")], "FORMAT": 0,
                                 "STORE": store})
    assert result["ROWS_ADDED"] == 15_497
    assert "15,502 rows read" in result["REPORT"] and "5 rejected" in result["REPORT"]
    again = run("importfiles", {"FILES": [str(DUNDEE / "cpdata.csv.gz")], "STORE": store})
    assert again["ROWS_ADDED"] == 0 and "already imported" in again["REPORT"]

    out = str(tmp_path / "util.gpkg")
    table = run("utilisation", {"STORE": store, "PERIOD": 1, "BY": 0, "OUTPUT": out})
    layer = QgsVectorLayer(table["OUTPUT"], "u", "ogr")
    assert layer.isValid() and layer.featureCount() > 50
    names = layer.fields().names()
    assert {"device_id", "period", "occupancy_pct", "sessions_per_day"} <= set(names)
    assert {f["period"] for f in layer.getFeatures()} >= {"2017-Q3", "2017-Q4"}


def test_broken_file_is_reported_and_store_unchanged(ev_provider, tmp_path):
    store = str(tmp_path / "store.gpkg")
    run("importfiles", {"FILES": [str(DUNDEE / "cpdata.csv.gz")], "STORE": store})
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [{"id": "GB-1", "name": "cut sho')
    result = run("importfiles", {"FILES": [str(broken)], "STORE": store})
    assert result["ROWS_ADDED"] == 0 and "not imported" in result["REPORT"]
    with HistoryStore.create_or_open(store) as hs:
        assert hs.counts()["sessions"] == 15_497


def test_fetch_datastore_through_qgis_network(ev_provider, tmp_path):
    store = str(tmp_path / "store.gpkg")
    with ReplayServer() as server:
        result = run("fetchdatastore", {"BASE_URL": server.url, "DATASET": NCR_ID,
                                        "STORE": store})
    assert result["ROWS_ADDED"] > 8_940
    with HistoryStore.create_or_open(store) as hs:
        assert hs.counts()["devices"] == 8_940


def test_fetch_errors_are_one_readable_line(ev_provider, tmp_path):
    with ReplayServer() as server:
        with pytest.raises(QgsProcessingException) as exc:
            run("fetchdatastore", {"BASE_URL": server.url, "DATASET": "nosuchid",
                                   "STORE": str(tmp_path / "s.gpkg")})
    assert "HTTP 404" in str(exc.value) and "Traceback" not in str(exc.value)


def test_fetch_ocpi_with_token_from_auth_database(ev_provider, auth_manager, tmp_path):
    from ev_chargepoints.qgis import auth

    token = "ocpi-proc-token-1b7e"
    authcfg = auth.store_secret("replay ocpi", token)
    store = str(tmp_path / "s.gpkg")
    try:
        with ReplayServer(token=token) as server:
            result = run("fetchocpi", {"URL": server.url + "/ocpi/2.2.1/locations",
                                       "AUTHCFG": authcfg, "BASE64": True, "STORE": store})
    finally:
        auth_manager.removeAuthenticationConfig(authcfg)
    assert result["ROWS_ADDED"] > 0
    with HistoryStore.create_or_open(store) as hs:
        counts = hs.counts()
    assert counts["devices"] == 245 and counts["status_snapshots"] > 0
    assert token not in result["REPORT"]


def test_validate_algorithm_writes_the_report(ev_provider, tmp_path):
    examples = RESOURCES / "standard" / "examples"
    result = run("validate", {
        "FILES": [str(examples / "usage_return_check_overlapping_sessions.csv")],
        "REFERENCE": [str(examples / "device_reference_valid.csv")],
        "OUTPUT_FOLDER": str(tmp_path / "report")})
    html = (tmp_path / "report" / "report.html").read_text()
    assert result["REPORT_HTML"].endswith("report.html") and "<table" in html
    assert "FAIL" in result["VERDICTS"]
