"""Uptime and reliability over observed time in QGIS: the Processing algorithms (validate,
utilisation) and the Area summary dock, on a history really polled from the loopback
OCPI feed (tests/support/watched_history.py: polls at 0, 20, 40, 60, 240 and 270
minutes, so with the 1-hour cap each observation holds 20, 20, 20, 60, 30 and 60
minutes)."""

from __future__ import annotations

import time

import pytest
from event_wait import wait_idle
from qgis.core import QgsProcessingException, QgsVectorLayer
from qgis.PyQt.QtCore import QCoreApplication, Qt
from replay_server import ReplayServer
from watched_history import LOCATIONS, evse_uids, poll_history

from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.gui.summary.dock import AreaSummaryDock


def run(alg, params):
    import processing
    return processing.run(f"evchargepoints:{alg}", params)


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    store = tmp_path_factory.mktemp("qgis-watched") / "live.gpkg"
    with ReplayServer() as server, Workspace(store) as ws:
        poll_history(ws, server)
        uids = evse_uids(server)
    return str(store), uids


def test_validate_algorithm_uses_the_store_history(ev_provider, watched, tmp_path):
    store, _uids = watched
    result = run("validate", {"STATUS_HISTORY": True, "STORE": store,
                              "MIN_OBSERVED_HOURS": 3, "OUTPUT_FOLDER": str(tmp_path)})
    verdicts = {line.split(" \u2014 ")[0] for line in result["VERDICTS"].splitlines()}
    assert verdicts == {"FAIL: BP Pulse", "FAIL: POD Point", "PASS: ubitricity"}
    lines = result["RELIABILITY"].splitlines()
    # POD Point by hand (minutes): working 130 + 210 + 130 = 470, not working 80 + 20,
    # excluded 60, over 18 observations of 3 EVSEs
    assert "POD Point: rapid network 82.46% over 9.5 counted hours (10.5 observed hours, " \
           "18 observations of 3 EVSE(s)): fail" in lines
    # BP Pulse: working 120, not working 90 + 60 (an EVSE seen once holds one hour only)
    assert "BP Pulse: rapid network 44.44% over 4.5 counted hours (4.5 observed hours, " \
           "7 observations of 2 EVSE(s)): fail" in lines
    # ubitricity: working 210 + 170, BLOCKED 40 excluded, no rapid network
    assert "ubitricity: operator 100.00% over 6.3 counted hours (7.0 observed hours, " \
           "12 observations of 2 EVSE(s)): pass" in lines
    assert "FAIL: POD Point" in result["VERDICTS"]
    assert (tmp_path / "report.json").is_file()


def test_validate_algorithm_default_minimum_is_not_enough(ev_provider, watched, tmp_path):
    store, _uids = watched
    result = run("validate", {"STATUS_HISTORY": True, "STORE": store,
                              "OUTPUT_FOLDER": str(tmp_path)})
    assert "not enough observed time" in result["RELIABILITY"]
    assert "FAIL" not in result["VERDICTS"]


def test_validate_algorithm_needs_files_or_the_history(ev_provider, tmp_path):
    with pytest.raises(QgsProcessingException) as exc:
        run("validate", {"OUTPUT_FOLDER": str(tmp_path)})
    assert "include the store's watched status history" in str(exc.value)
    assert "Traceback" not in str(exc.value)


def test_utilisation_algorithm_outputs_uptime_with_observed_hours(ev_provider, watched,
                                                                   tmp_path):
    store, uids = watched
    out = str(tmp_path / "status.gpkg")
    table = run("utilisation", {"STORE": store, "SOURCE": 1, "BY": 2, "PERIOD": 1,
                                "OUTPUT": out})
    layer = QgsVectorLayer(table["OUTPUT"], "u", "ogr")
    assert layer.isValid() and layer.featureCount() == 7
    names = set(layer.fields().names())
    assert {"evse_uid", "period", "uptime_pct", "status_observed_hours",
            "status_observations"} <= names
    rows = {(f["device_id"], f["evse_uid"]): f for f in layer.getFeatures()}
    # BP Pulse EVSE: AV 20 W, AV 20 W, AV 20 W, INOP 60 D (3 h gap capped), INOP 30 D,
    # AV 60 W (last poll, capped): 120 working of 210
    bp = rows[uids[("bp", 0)]]
    assert bp["status_observed_hours"] == pytest.approx(3.5)
    assert bp["status_observations"] == 6
    assert bp["uptime_pct"] == pytest.approx(100 * 120 / 210)
    assert rows[uids[("bp_new", 0)]]["status_observed_hours"] == pytest.approx(1.0)

    per_device = run("utilisation", {"STORE": store, "SOURCE": 1, "BY": 0, "PERIOD": 1,
                                     "MAX_GAP_HOURS": 4,
                                     "OUTPUT": str(tmp_path / "device.gpkg")})
    layer = QgsVectorLayer(per_device["OUTPUT"], "d", "ogr")
    pod = next(f for f in layer.getFeatures() if f["device_id"] == LOCATIONS["pod"][0])
    # 4-hour cap, POD Point's 3 EVSEs: every gap observed, the last poll 240 minutes
    # EVSE 1: W 20 + 20 + 30 + 240, D 20 + 180; EVSE 2: W 510; EVSE 3: D 20,
    # W 20 + 20 + 30 + 240, X 180 (UNKNOWN)
    working, down = 310 + 510 + 310, 200 + 20
    assert pod["uptime_pct"] == pytest.approx(100 * working / (working + down))
    assert pod["status_observed_hours"] == pytest.approx(3 * 510 / 60)


def test_utilisation_algorithm_per_evse_needs_status(ev_provider, watched, tmp_path):
    store, _uids = watched
    with pytest.raises(QgsProcessingException) as exc:
        run("utilisation", {"STORE": store, "SOURCE": 0, "BY": 2,
                            "OUTPUT": str(tmp_path / "x.gpkg")})
    assert "watched live status" in str(exc.value)


def test_summary_dock_shows_uptime_with_observed_hours(watched, qgis_iface):
    store, _uids = watched
    dock = AreaSummaryDock(qgis_iface, store_path=store)
    try:
        dock.show()
        wait_idle(dock)
        assert dock.period == "2024-Q1" or dock.frame().attrs.get("period") == "2024-Q1"
        dock.set_filters({"operator": ["POD Point"]})
        wait_idle(dock)
        columns = dock.model.columns()
        assert "uptime_pct" in columns and "status_observed_hours" in columns
        frame = dock.frame()
        observed = frame[frame["status_observed_hours"] > 0]
        assert len(observed) == 1
        # POD Point by hand: 470 working of 570 counted minutes, 630 observed minutes
        assert observed["uptime_pct"].iloc[0] == pytest.approx(100 * 470 / 570)
        assert observed["status_observed_hours"].iloc[0] == pytest.approx(10.5)
        # and the table shows them
        code = observed["area_code"].iloc[0]
        row = next(r for r in range(dock.model.rowCount())
                   if dock.model.code_at(r) == code)
        uptime = dock.model.index(row, columns.index("uptime_pct")).data(
            Qt.ItemDataRole.DisplayRole)
        hours = dock.model.index(row, columns.index("status_observed_hours")).data(
            Qt.ItemDataRole.DisplayRole)
        assert uptime.replace(",", ".") == "82.46" and hours.replace(",", ".") == "10.5"
        header = dock.model.headerData(columns.index("status_observed_hours"),
                                       Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
        assert "at most 1 hour" in header
    finally:
        dock.unload()
        dock.deleteLater()


def test_conformance_dialog_includes_the_store_history(watched, qgis_iface, tmp_path):
    from qgis.PyQt.QtWidgets import QDialog

    from ev_chargepoints.gui.conformance_dialog import (
        COL_OPERATOR,
        COL_REASONS,
        COL_VERDICT,
        ConformanceDialog,
    )

    store, _uids = watched
    dialog = ConformanceDialog(out_dir=tmp_path / "report")
    try:
        dialog.store_reference = store
        dialog.check_button.click()           # no files and no history: says what to do
        assert dialog.task is None and "Choose at least one file" in dialog.last_error
        dialog.use_history.setChecked(True)
        done = []
        dialog.checkFinished.connect(lambda ok, message: done.append((ok, message)))
        dialog.check_button.click()
        assert dialog.task is not None, dialog.last_error
        deadline = time.monotonic() + 120
        while not done and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.01)
        assert done == [(True, "")]
        shown = {dialog.table.item(r, COL_OPERATOR).text():
                 (dialog.table.item(r, COL_VERDICT).text(),
                  dialog.table.item(r, COL_REASONS).text())
                 for r in range(dialog.table.rowCount())}
        assert set(shown) == {"BP Pulse", "POD Point", "ubitricity"}
        # the default minimum (24 counted hours): nothing judged, figures with their hours
        verdict, reasons = shown["POD Point"]
        assert verdict == "PASS"
        assert "Reliability: rapid network 82.46% over 9.5 counted hours (10.5 observed " \
               "hours, 18 observations of 3 EVSE(s)): not enough observed time" in reasons
        assert (tmp_path / "report" / "report.html").is_file()
    finally:
        dialog.done(QDialog.DialogCode.Rejected)
        dialog.deleteLater()
