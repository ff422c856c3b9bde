"""The Processing algorithms on the shared store: a saved QGIS PostgreSQL connection
(credentials in a QGIS authentication configuration) on a real PostgreSQL +
PostGIS 3, chosen with STORE_CONNECTION or in the plugin settings.

Both stores get the same files through the import algorithm: the real NCR
snapshot of London (May 2022) and a usage return of SYNTHETIC sessions for
Camden's devices drawn from the real Dundee distributions (March and April 2022).
The summaries and utilisation tables of the two stores must agree.
"""

from __future__ import annotations

import math
import time

import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsSettings
from qgis_shared_store import CAMDEN, NCR_FILE, camden_slice, saved_connection, write_usage_return

from ev_chargepoints.core.config import Settings
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.store.postgis.access import ACCESS_COLUMN, EVERY_DEVICE
from ev_chargepoints.qgis import settings as plugin_settings

PASSWORD = "Processing-SECRET-pw-51c2e8"
LONDON_DEVICES = 8_940         # devices in the NCR snapshot of London, May 2022
DEVICES_IN_BOROUGHS = 8_538   # of them, inside a London borough
CAMDEN_DEVICES = 397
SESSIONS = 5_466


class Log(QgsProcessingFeedback):
    """Everything an algorithm writes to the Processing log."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def pushInfo(self, info):
        self.lines.append(info)
        super().pushInfo(info)

    def reportError(self, error, fatalError=False):
        self.lines.append(error)
        super().reportError(error, fatalError)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def run(alg, params, log=None):
    import processing
    return processing.run(f"evchargepoints:{alg}", params, feedback=log or Log())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    _ncr, usage = camden_slice()
    folder = tmp_path_factory.mktemp("shared_store_files")
    usage_return = write_usage_return(usage.tables["sessions"],
                                      folder / "camden_usage_2022-03_04.csv")
    return [str(LONDON_SNAPSHOT / NCR_FILE), str(usage_return)], usage.tables["sessions"]


@pytest.fixture(scope="module")
def stores(ev_provider, pg_cluster, auth_manager, files, tmp_path_factory):
    """The same files imported by the algorithm into a PostGIS database (through a saved
    connection) and into a GeoPackage; yields both runs' results and logs."""
    paths, _sessions = files
    dbname = pg_cluster.create_database()
    gpkg = str(tmp_path_factory.mktemp("shared_store_gpkg") / "london.gpkg")
    try:
        with saved_connection(pg_cluster, dbname, auth_manager, PASSWORD) as officer:
            pg_log, gpkg_log = Log(), Log()
            imported = {
                "pg": run("importfiles", {"FILES": paths, "STORE_CONNECTION":
                                          officer["connection"]}, pg_log),
                "gpkg": run("importfiles", {"FILES": paths, "STORE": gpkg}, gpkg_log)}
            yield {"officer": officer, "gpkg": gpkg, "imported": imported,
                   "logs": {"pg": pg_log, "gpkg": gpkg_log}}
    finally:
        pg_cluster.drop_database(dbname)


def pg_params(stores) -> dict:
    return {"STORE_CONNECTION": stores["officer"]["connection"]}


def test_import_into_the_shared_store_as_into_a_geopackage(stores, files):
    pg, gpkg = stores["imported"]["pg"], stores["imported"]["gpkg"]
    assert pg["ROWS_ADDED"] == gpkg["ROWS_ADDED"] > LONDON_DEVICES + SESSIONS
    assert pg["REPORT"] == gpkg["REPORT"]
    assert f"{SESSIONS:,} rows read" in pg["REPORT"]

    officer = stores["officer"]
    pg_log = stores["logs"]["pg"].text
    assert f"Store: PostgreSQL {officer['dbname']} on 127.0.0.1:" in pg_log
    assert f"Store: {stores['gpkg']}" in stores["logs"]["gpkg"].text
    assert PASSWORD not in pg_log

    conn = officer["cluster"].connect(officer["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM ev_chargepoints.devices), "
                        "(SELECT count(*) FROM ev_chargepoints.sessions), "
                        "(SELECT tableowner FROM pg_tables WHERE schemaname = "
                        "'ev_chargepoints' AND tablename = 'sessions')")
            devices, sessions, owner = cur.fetchone()
    finally:
        conn.close()
    assert (devices, sessions) == (LONDON_DEVICES, SESSIONS)
    assert owner == officer["role"]            # created by the role logging in with the password

    again = run("importfiles", {"FILES": files[0], **pg_params(stores)})
    assert again["ROWS_ADDED"] == 0 and "already imported" in again["REPORT"]


def test_summary_by_area_on_the_shared_store_equals_the_geopackage(stores, files):
    _paths, sessions = files
    outputs = {"OUTPUT": "memory:", "TABLE": "memory:"}
    pg = run("summarisebyarea", {"LEVEL": 0, **outputs, **pg_params(stores)})
    gpkg = run("summarisebyarea", {"LEVEL": 0, "STORE": stores["gpkg"], **outputs})
    assert pg["PERIOD_SHOWN"] == gpkg["PERIOD_SHOWN"] == "2022-Q2"
    assert pg["DEVICES"] == gpkg["DEVICES"] == DEVICES_IN_BOROUGHS
    pg_rows, gpkg_rows = rows(pg["TABLE"]), rows(gpkg["TABLE"])
    assert len(pg_rows) == len(gpkg_rows) == 33
    assert pg_rows.keys() == gpkg_rows.keys()
    for code, row in gpkg_rows.items():
        # the login that created the store reads every device, and the table says so
        assert pg_rows[code].pop(ACCESS_COLUMN) == EVERY_DEVICE
        assert same(pg_rows[code], row), code
    camden = pg_rows[CAMDEN]
    april = sessions[sessions["start_utc"] >= "2022-03-31T23:00:00Z"]   # UK time: BST
    assert camden["devices"] == CAMDEN_DEVICES
    assert camden["sessions"] == len(april)
    assert camden["kwh"] == pytest.approx(april["kwh"].sum(), rel=1e-9)
    assert sum(r["sessions"] or 0 for r in pg_rows.values()) == len(april)
    polygons = pg["OUTPUT"]
    assert polygons.featureCount() == 33 and all(f.hasGeometry()
                                                 for f in polygons.getFeatures())


def test_utilisation_on_the_shared_store_equals_the_geopackage(stores, files):
    _paths, sessions = files
    pg = run("utilisation", {"PERIOD": 1, "BY": 0, "OUTPUT": "memory:", **pg_params(stores)})
    gpkg = run("utilisation", {"PERIOD": 1, "BY": 0, "OUTPUT": "memory:",
                               "STORE": stores["gpkg"]})
    pg_rows = {(r["device_id"], r["period"]): r for r in features(pg["OUTPUT"])}
    gpkg_rows = {(r["device_id"], r["period"]): r for r in features(gpkg["OUTPUT"])}
    assert pg_rows.keys() == gpkg_rows.keys()
    assert {period for _device, period in pg_rows} >= {"2022-Q1", "2022-Q2"}
    for key, row in gpkg_rows.items():
        assert same(pg_rows[key], row), key
    assert sum(r["sessions"] or 0 for r in pg_rows.values()) == SESSIONS
    assert sum(r["kwh"] or 0 for r in pg_rows.values()) == \
        pytest.approx(sessions["kwh"].sum(), rel=1e-9)


def test_in_a_background_task_as_the_processing_dialog_runs_it(stores, tmp_path):
    """The dialog prepares the algorithm on the main thread (the password is read from
    the authentication database there) and runs it in a worker thread."""
    from qgis.core import (
        QgsApplication,
        QgsProcessingAlgRunnerTask,
        QgsProcessingContext,
        QgsTask,
        QgsVectorLayer,
    )
    from qgis.PyQt.QtCore import QCoreApplication

    alg = QgsApplication.processingRegistry().createAlgorithmById("evchargepoints:utilisation")
    context, log = QgsProcessingContext(), Log()
    out = str(tmp_path / "utilisation.gpkg")
    task = QgsProcessingAlgRunnerTask(alg, {"PERIOD": 1, "BY": 0, "OUTPUT": out,
                                            **pg_params(stores)}, context, log)
    done = {}
    task.executed.connect(lambda ok, results: done.update(ok=ok, results=results))
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + 60
    while "ok" not in done and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.02)
    assert done.get("ok"), log.text
    assert "Store: PostgreSQL" in log.text and PASSWORD not in log.text
    layer = QgsVectorLayer(done["results"]["OUTPUT"], "utilisation", "ogr")
    assert layer.isValid()
    assert sum(r["sessions"] or 0 for r in features(layer)) == SESSIONS
    assert task.status() == QgsTask.TaskStatus.Complete


def test_the_plugin_settings_choose_the_shared_store(stores, tmp_path):
    qsettings = QgsSettings()
    key = plugin_settings.PREFIX + "settings_json"
    saved = qsettings.value(key, None)
    missing = tmp_path / "not-this.gpkg"
    try:
        plugin_settings.save(Settings(store_path=str(missing),
                                      store_connection=stores["officer"]["connection"]))
        log = Log()
        shared = run("summarisebyarea", {"LEVEL": 0, "OUTPUT": "memory:", "TABLE": "memory:"},
                     log)
        assert shared["DEVICES"] == DEVICES_IN_BOROUGHS and shared["PERIOD_SHOWN"] == "2022-Q2"
        assert f"Store: PostgreSQL {stores['officer']['dbname']}" in log.text
        assert not missing.exists() and PASSWORD not in log.text

        plugin_settings.save(Settings(store_path=stores["gpkg"]))        # a GeoPackage again
        log = Log()
        local = run("utilisation", {"PERIOD": 1, "BY": 0, "OUTPUT": "memory:"}, log)
        assert f"Store: {stores['gpkg']}" in log.text
        assert sum(r["sessions"] or 0 for r in features(local["OUTPUT"])) == SESSIONS

        plugin_settings.save(Settings(store_path=str(missing)))
        with pytest.raises(QgsProcessingException, match="There is no store at .*not-this"):
            run("summarisebyarea", {"LEVEL": 0, "OUTPUT": "memory:", "TABLE": "memory:"})
    finally:
        if saved is None:
            qsettings.remove(key)
        else:
            qsettings.setValue(key, saved)


def test_the_connection_wins_over_a_geopackage_and_a_missing_one_is_named(stores, tmp_path):
    log = Log()
    both = run("summarisebyarea", {"LEVEL": 0, "OUTPUT": "memory:", "TABLE": "memory:",
                                   "STORE": str(tmp_path / "empty.gpkg"), **pg_params(stores)},
               log)
    assert both["DEVICES"] == DEVICES_IN_BOROUGHS and "Store: PostgreSQL" in log.text
    assert not (tmp_path / "empty.gpkg").exists()
    with pytest.raises(QgsProcessingException,
                       match="no saved PostgreSQL connection named 'Nowhere'"):
        run("utilisation", {"OUTPUT": "memory:", "STORE_CONNECTION": "Nowhere"})


def features(layer) -> list[dict]:
    names = layer.fields().names()
    return [dict(zip(names, (None if v is None or str(v) == "NULL" else v
                             for v in f.attributes()))) for f in layer.getFeatures()]


def rows(layer) -> dict:
    return {r["area_code"]: r for r in features(layer)}


def same(a: dict, b: dict) -> bool:
    """Equal records: numbers to 1e-9 (relative), missing values alike, text exactly."""
    return a.keys() == b.keys() and all(_equal(a[key], b[key]) for key in a)


def _equal(x, y) -> bool:
    if _missing(x) or _missing(y):
        return _missing(x) and _missing(y)
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
    return x == y


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
