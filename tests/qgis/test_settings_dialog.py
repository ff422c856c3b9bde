"""The settings dialog, headless: load, edit, save, refuse bad values, test connections."""

from __future__ import annotations

import pytest
from connection_wait import run_check as wait_for_check
from qgis.core import QgsSettings
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, QEvent, QEventLoop, QSettings, Qt, QTimer
from qgis.PyQt.QtWidgets import QDialog, QDialogButtonBox
from replay_server import ReplayServer

from ev_chargepoints.core.config import OcpiFeed, Settings
from ev_chargepoints.gui.settings_dialog import COL_NAME, COL_URL, SettingsDialog
from ev_chargepoints.qgis import auth
from ev_chargepoints.qgis import settings as plugin_settings

TOKEN = "dlg-token-51c9e0"
API_KEY = "dlg-api-key-0b3f"
LOCATIONS = "/ocpi/2.2.1/locations"
CATALOGUE = "/api/v2/datasets/export.json"
WAIT_MS = 30_000  # bound on any wait for a connection test


@pytest.fixture()
def qsettings(tmp_path):
    return QgsSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture()
def secrets(auth_manager):
    ids = {"token": auth.store_secret("dialog test OCPI token", TOKEN),
           "api_key": auth.store_secret("dialog test API key", API_KEY)}
    yield ids
    for authcfg in ids.values():
        auth_manager.removeAuthenticationConfig(authcfg)


@pytest.fixture()
def server():
    with ReplayServer(token=TOKEN, api_key=API_KEY) as srv:
        yield srv


@pytest.fixture()
def dialog(qgis_app, auth_manager, qsettings):
    dlg = SettingsDialog(qsettings=qsettings, check_timeout=2)
    yield dlg
    dlg.done(QDialog.DialogCode.Rejected)
    dlg.deleteLater()


def run_check(dlg, start):
    """Start a connection test, wait for its result and check the task is released."""
    result = wait_for_check(dlg, start, WAIT_MS)
    assert not dlg.tasks, "the dialog still holds the finished task"
    return result


def bar_texts(dlg):
    return [f"{item.title()} {item.text()}" for item in dlg.bar.items()]


# --- load and save --------------------------------------------------------------------

def test_dialog_shows_the_saved_settings(qgis_app, auth_manager, secrets, qsettings, tmp_path):
    saved = Settings(datastore_url="https://example.org/datastore",
                     datastore_authcfg=secrets["api_key"], dataset_usage="evusg",
                     ocpi_feeds=[OcpiFeed("Op A", "https://a.example/ocpi/2.2.1/locations",
                                          secrets["token"], False, 120)],
                     store_path=str(tmp_path / "ws.gpkg"), occupancy_breaks=(4.0, 12.0, 30.0),
                     disclosure_threshold=7, cache_mb=250)
    plugin_settings.save(saved, qsettings)
    dlg = SettingsDialog(qsettings=qsettings)
    try:
        assert dlg.datastore_url.text() == "https://example.org/datastore"
        assert dlg.datastore_auth.configId() == secrets["api_key"]
        assert dlg.dataset_usage.text() == "evusg"
        assert dlg.feeds.rowCount() == 1
        assert dlg.feeds.item(0, COL_NAME).text() == "Op A"
        assert [b.value() for b in dlg.breaks] == [4.0, 12.0, 30.0]
        assert dlg.disclosure.value() == 7 and dlg.cache_mb.value() == 250
        assert dlg.store_path.filePath() == str(tmp_path / "ws.gpkg")
        assert dlg.settings() == saved
    finally:
        dlg.deleteLater()


def test_disclosure_tooltip_says_what_the_policy_says(qgis_app, qsettings):
    """The tooltip states the disclosure policy of the user guide (§10), word for word:
    what leaves the plugin is suppressed, the map in QGIS shows the officer's data."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "user-guide.md").read_text(
        encoding="utf-8")
    dlg = SettingsDialog(qsettings=qsettings)
    try:
        tip = dlg.disclosure.toolTip()
    finally:
        dlg.deleteLater()
    assert tip in " ".join(guide.split())
    assert "usage not shown" in tip and "in full" in tip
    # it no longer claims that rows and points of what QGIS shows are suppressed
    assert not re.search(r"\bpoints\)", tip) and "rows" not in tip


def test_filled_fields_round_trip_through_qgssettings(dialog, secrets, qsettings, tmp_path):
    dialog.datastore_url.setText("https://data.example.gov.uk")
    dialog.datastore_auth.setConfigId(secrets["api_key"])
    dialog.dataset_chargepoints.setText("2lzpg")
    dialog.dataset_usage.setText("evusg")
    dialog.dataset_boundaries.setText("bndry")
    dialog.add_feed_button.click()
    row = dialog.feeds.rowCount() - 1
    dialog.feeds.item(row, COL_NAME).setText("Operator B")
    dialog.feeds.item(row, COL_URL).setText("https://b.example/ocpi/versions")
    dialog.feeds.cellWidget(row, 2).setConfigId(secrets["token"])
    dialog.feeds.item(row, 3).setCheckState(Qt.CheckState.Unchecked)
    dialog.feeds.cellWidget(row, 4).setValue(600)
    dialog.store_path.setFilePath(str(tmp_path / "my_store"))  # suffix added
    for spin, value in zip(dialog.breaks, (2.5, 10.0, 20.0)):
        spin.setValue(value)
    dialog.disclosure.setValue(5)
    dialog.cache_mb.setValue(1000)

    dialog.show()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.last_error is None

    loaded = plugin_settings.load(qsettings)
    assert loaded == Settings(
        datastore_url="https://data.example.gov.uk", datastore_authcfg=secrets["api_key"],
        dataset_chargepoints="2lzpg", dataset_usage="evusg", dataset_boundaries="bndry",
        ocpi_feeds=[OcpiFeed("Operator B", "https://b.example/ocpi/versions",
                             secrets["token"], False, 600)],
        store_path=str(tmp_path / "my_store.gpkg"), occupancy_breaks=(2.5, 10.0, 20.0),
        disclosure_threshold=5, cache_mb=1000)
    qsettings.sync()
    text = (tmp_path / "settings.ini").read_text()
    assert secrets["token"] in text and TOKEN not in text and API_KEY not in text


def test_removing_a_feed(dialog, qsettings):
    dialog.add_feed(OcpiFeed("One", "https://one.example/locations"))
    dialog.add_feed(OcpiFeed("Two", "https://two.example/locations"))
    dialog.feeds.selectRow(0)
    dialog.remove_feed_button.click()
    assert [f.name for f in dialog.feeds_from_table()] == ["Two"]
    assert dialog.save()
    assert [f.name for f in plugin_settings.load(qsettings).ocpi_feeds] == ["Two"]


# --- invalid values -----------------------------------------------------------------------

def test_invalid_address_is_refused_with_a_message_and_kept(dialog, qsettings, tmp_path):
    dialog.datastore_url.setText("https://data.example.gov.uk")
    assert dialog.save()
    before = plugin_settings.load(qsettings)

    dialog.datastore_url.setText("data.london.gov.uk")
    dialog.disclosure.setValue(9)
    dialog.tabs.setCurrentIndex(2)
    dialog.show()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.last_error == ("The Datastore address must be an http(s) address, not "
                                 "'data.london.gov.uk'.")
    assert any(dialog.last_error in text for text in bar_texts(dialog))
    assert dialog.tabs.currentIndex() == 0
    assert dialog.datastore_url.text() == "data.london.gov.uk"   # the input is kept
    assert dialog.disclosure.value() == 9
    assert plugin_settings.load(qsettings) == before              # nothing was written


@pytest.mark.parametrize("change, expected, tab", [
    (lambda d: [s.setValue(v) for s, v in zip(d.breaks, (20.0, 10.0, 30.0))],
     "Utilisation bands", 2),
    (lambda d: d.disclosure.setValue(0), "disclosure threshold must be at least 1", 2),
    (lambda d: (d.add_feed(OcpiFeed("Same", "https://a.example/l")),
                d.add_feed(OcpiFeed("Same", "https://b.example/l"))),
     "Two OCPI feeds have the same name", 1),
    (lambda d: d.add_feed(OcpiFeed("Fast", "https://a.example/l", poll_seconds=5)),
     "poll at most every 30 seconds", 1),
    (lambda d: d.add_feed(OcpiFeed("Creds", "https://u:p@a.example/l")),
     "must not contain a user name or password", 1),
    (lambda d: d.add_feed(OcpiFeed("", "https://a.example/l")), "needs a name", 1),
    (lambda d: d.store_path.setFilePath("/tmp/store.sqlite"), "must be a GeoPackage", 2),
])
def test_other_invalid_values_are_refused(dialog, qsettings, change, expected, tab):
    change(dialog)
    shown = dialog.settings()
    assert not dialog.save()
    assert expected in dialog.last_error
    assert dialog.tabs.currentIndex() == tab
    assert any(expected in text for text in bar_texts(dialog))
    assert dialog.settings() == shown                  # every value still in its widget
    assert qsettings.value(plugin_settings.PREFIX + "settings_json", "") == ""


# --- Test connection --------------------------------------------------------------------

def test_datastore_connection_good_with_api_key(dialog, secrets, server):
    dialog.datastore_url.setText(server.url)
    dialog.datastore_auth.setConfigId(secrets["api_key"])
    dialog.dataset_usage.setText("evusg")
    target, ok, message = run_check(dialog, dialog.test_datastore_button.click)
    assert (target, ok) == ("datastore", True)
    assert message.startswith(f"Datastore reachable: {len(server.datasets)} datasets in the "
                              "catalogue.")
    assert "restricted; the API key was accepted" in message
    assert dialog.datastore_result.text() == message
    assert dialog.test_datastore_button.isEnabled()
    assert API_KEY not in message


def test_datastore_connection_401_without_api_key(dialog, server):
    dialog.datastore_url.setText(server.url)
    dialog.dataset_usage.setText("evusg")
    _, ok, message = run_check(dialog, dialog.test_datastore_button.click)
    assert not ok
    assert f"But dataset 'evusg': HTTP 401 from {server.url}/api/dataset/evusg: the server " \
           "needs valid credentials" in message


def test_datastore_connection_timeout(dialog, server):
    dialog.check_timeout = 1
    server.fault(CATALOGUE, "latency", delay=6)
    dialog.datastore_url.setText(server.url)
    _, ok, message = run_check(dialog, dialog.test_datastore_button.click)
    assert not ok
    assert message == f"{server.url}{CATALOGUE} did not answer within 1 s."
    assert dialog.datastore_result.text() == message


def test_ocpi_connection_good(dialog, secrets, server):
    row = dialog.add_feed(OcpiFeed("Replay", server.url + LOCATIONS, secrets["token"]))
    target, ok, message = run_check(dialog, dialog.test_button(row).click)
    assert (target, ok) == ("ocpi:Replay", True)
    assert message == f"OCPI feed answered: {len(server.fixtures.locations)} locations on 5 " \
                      "pages."
    assert dialog.feed_result.text() == f"Replay: {message}"
    assert dialog.test_button(row).toolTip() == message


def test_ocpi_connection_401_without_token(dialog, server):
    row = dialog.add_feed(OcpiFeed("Anonymous", server.url + LOCATIONS))
    _, ok, message = run_check(dialog, dialog.test_button(row).click)
    assert not ok
    assert message.startswith(f"HTTP 401 from {server.url}{LOCATIONS}: the server needs "
                              "valid credentials")


def test_ocpi_connection_timeout(dialog, secrets, server):
    dialog.check_timeout = 1
    server.fault(LOCATIONS, "latency", delay=6)
    row = dialog.add_feed(OcpiFeed("Slow", server.url + LOCATIONS, secrets["token"]))
    _, ok, message = run_check(dialog, dialog.test_button(row).click)
    assert not ok
    assert message == f"{server.url}{LOCATIONS} did not answer within 1 s."


def test_deleted_auth_configuration_is_reported_without_a_request(dialog, auth_manager,
                                                                  server):
    authcfg = auth.store_secret("soon deleted", TOKEN)
    row = dialog.add_feed(OcpiFeed("Gone", server.url + LOCATIONS, authcfg))
    assert auth_manager.removeAuthenticationConfig(authcfg)
    server.reset_hits()
    target, ok, message = run_check(dialog, dialog.test_button(row).click)
    assert (target, ok) == ("ocpi:Gone", False)
    assert message == (f"The authentication configuration '{authcfg}' could not be read (is "
                       "the master password entered, and does it still exist?).")
    assert not server.hits


def test_stale_auth_configuration_in_settings_is_pointed_out(qgis_app, auth_manager,
                                                             qsettings):
    plugin_settings.save(Settings(ocpi_feeds=[OcpiFeed("Old", "https://old.example/l",
                                                       "nosuch1")]), qsettings)
    dlg = SettingsDialog(qsettings=qsettings)
    try:
        assert dlg.feed_at(0).authcfg == ""
        assert any("'nosuch1'" in text and "feed 'Old'" in text for text in bar_texts(dlg))
    finally:
        dlg.deleteLater()


def test_closing_the_dialog_during_a_test_cancels_it_safely(qgis_app, auth_manager, qsettings,
                                                           server):
    server.fault(CATALOGUE, "latency", delay=30)
    dlg = SettingsDialog(qsettings=qsettings, check_timeout=20)
    dlg.datastore_url.setText(server.url)
    dlg.test_datastore_button.click()
    assert len(dlg.tasks) == 1 and not dlg.test_datastore_button.isEnabled()
    task = dlg.tasks[0]
    ended = []
    loop = QEventLoop()
    task.taskCompleted.connect(lambda: (ended.append("completed"), loop.quit()))
    task.taskTerminated.connect(lambda: (ended.append("terminated"), loop.quit()))
    dlg.done(QDialog.DialogCode.Rejected)
    dlg.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert sip.isdeleted(dlg)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(WAIT_MS)
    if not ended:
        loop.exec()
    timer.stop()
    assert ended == ["terminated"]
    assert "cancel" in task.error_message.lower()
