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


def _store_and_outputs(alg):
    params = [(p.name(), p.description(), p.type()) for p in alg.parameterDefinitions()
              if p.name() in ("STORE", "STORE_CONNECTION")]
    return params, [(o.name(), o.description(), o.type()) for o in alg.outputDefinitions()]


def test_the_fetch_algorithms_share_their_store_outputs_and_report(ev_provider, tmp_path):
    """One definition of the fetch algorithms' store parameters, outputs and report: a
    resource that cannot be read is logged as skipped, each import as the store
    recorded it, and ROWS_ADDED is what the store's import log says was added."""
    from qgis.core import QgsProcessingFeedback

    from ev_chargepoints.core.paths import LONDON_SNAPSHOT

    algorithms = {a.name(): a for a in ev_provider.algorithms()}
    shared = _store_and_outputs(algorithms["fetchdatastore"])
    assert shared == _store_and_outputs(algorithms["fetchocpi"])
    assert [p[0] for p in shared[0]] == ["STORE", "STORE_CONNECTION"]
    assert [o[0] for o in shared[1]] == ["ROWS_ADDED", "REPORT"]

    import processing

    profiles = (LONDON_SNAPSHOT / "ward-profiles-excel-version.csv").read_bytes()
    store = tmp_path / "s.gpkg"
    feedback = QgsProcessingFeedback()
    with ReplayServer() as server:
        url = server.fixtures.add_file(NCR_ID, "res-ward-profiles", "ward-profiles.csv",
                                       profiles)
        server.datasets[NCR_ID]["resources"]["res-ward-profiles"] = {
            "title": "Ward profiles", "format": "csv", "url": url, "size": len(profiles)}
        result = processing.run("evchargepoints:fetchdatastore",
                                {"BASE_URL": server.url, "DATASET": NCR_ID,
                                 "STORE": str(store)}, feedback=feedback)
    log = feedback.textLog()
    skipped = [line for line in log.splitlines() if line.startswith("Skipped ")]
    assert len(skipped) == 1 and "Ward profiles (resource res-ward-profiles)" in skipped[0]
    assert "unrecognised CSV header" in skipped[0]
    with HistoryStore.create_or_open(store) as hs:
        imports = hs.import_log()
    assert len(imports) == 1 and imports["file_name"].iloc[0].startswith(f"{NCR_ID}/")
    assert result["ROWS_ADDED"] == int(imports["rows_added"].sum()) > 8_940
    line = result["REPORT"]
    assert line.startswith(imports["file_name"].iloc[0] + ": ")
    assert f"{int(imports['rows_read'].iloc[0]):,} rows read" in line and line in log
