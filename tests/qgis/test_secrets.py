"""A token kept in the QGIS auth database never appears anywhere else.

The token (and an API key) go through every path that touches them: a Processing
fetch, the settings dialog's Test connection, saving settings and a project, and
error paths (expired token, refused key). Afterwards every place a secret could
leak to is searched for it, raw and Base64-encoded: the QgsSettings ini files,
the saved .qgz (unzipped) and .qgs, the QGIS message log, Python logging, the
store GeoPackage (SQL dump and raw bytes), the fetch report file, what the
dialog shows, error messages, and every other file the test wrote.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import zipfile
from pathlib import Path

import processing
import pytest
from connection_wait import run_check as wait_for_check
from qgis.core import QgsApplication, QgsProcessingException, QgsProject, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QSettings
from qgis.PyQt.QtWidgets import QDialog
from replay_server import ReplayServer

from ev_chargepoints.core.config import OcpiFeed, Settings
from ev_chargepoints.gui.settings_dialog import SettingsDialog
from ev_chargepoints.qgis import auth
from ev_chargepoints.qgis import log as qgis_log
from ev_chargepoints.qgis import settings as plugin_settings

TOKEN = "ocpi-SECRET-tok-4e1d9b77a2"
API_KEY = "ds-SECRET-key-08c3f5e6d1"
LOCATIONS = "/ocpi/2.2.1/locations"
WAIT_MS = 30_000


def needles():
    out = {}
    for name, value in (("token", TOKEN), ("api key", API_KEY)):
        out[name] = value
        out[f"{name} (Base64)"] = base64.b64encode(value.encode()).decode()
    return out


def run_check(dlg, start):
    return wait_for_check(dlg, start, WAIT_MS)


def fetch(url, authcfg, store):
    return processing.run("evchargepoints:fetchocpi", {
        "URL": url, "AUTHCFG": authcfg, "BASE64": True, "FEED_NAME": "Secret feed",
        "STORE": str(store)})


def gpkg_dump(path: Path) -> str:
    con = sqlite3.connect(str(path))
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


@pytest.fixture()
def profile_settings(qgis_app):
    """The test profile's own QgsSettings; the plugin's key is put back afterwards."""
    qs = QgsSettings()
    key = plugin_settings.PREFIX + "settings_json"
    previous = qs.value(key, None)
    yield qs
    if previous is None:
        qs.remove(key)
    else:
        qs.setValue(key, previous)
    qs.sync()


def test_secrets_never_leave_the_auth_database(qgis_app, auth_manager, ev_provider, tmp_path,
                                               caplog, profile_settings):
    caplog.set_level(logging.DEBUG)
    message_log = []

    def collect(message, tag, level):
        message_log.append(f"[{tag}] {message}")

    QgsApplication.messageLog().messageReceived.connect(collect)
    bridge = qgis_log.install("ev_chargepoints")  # Python logging into the message log too
    caplog.set_level(logging.DEBUG, logger="ev_chargepoints")  # after install(): all levels
    token_cfg = auth.store_secret("secrets test OCPI token", TOKEN)
    key_cfg = auth.store_secret("secrets test API key", API_KEY)
    qs_file = tmp_path / "settings.ini"
    qs = QgsSettings(str(qs_file), QSettings.Format.IniFormat)
    store = tmp_path / "store.gpkg"
    shown = []  # every message the user was shown
    dlg = None
    try:
        with ReplayServer(token=TOKEN, api_key=API_KEY) as server:
            url = server.url + LOCATIONS
            plugin_settings.save(Settings(
                datastore_url=server.url, datastore_authcfg=key_cfg, dataset_usage="evusg",
                ocpi_feeds=[OcpiFeed("Secret feed", url, token_cfg)],
                store_path=str(store)), qs)

            # a fetch through Processing, with the token required
            result = fetch(url, token_cfg, store)
            assert result["ROWS_ADDED"] > 0
            (tmp_path / "fetch-report.txt").write_text(result["REPORT"], encoding="utf-8")
            shown.append(result["REPORT"])

            # the dialog's Test connection for the feed and the Datastore (key required)
            dlg = SettingsDialog(qsettings=qs, check_timeout=5)
            _, ok, message = run_check(dlg, dlg.test_button(0).click)
            assert ok, message
            shown.append(message)
            _, ok, message = run_check(dlg, dlg.test_datastore_button.click)
            assert ok and "the API key was accepted" in message, message
            shown.append(message)

            # save the settings (the dialog's file and the profile's own) and a project
            assert dlg.save()
            plugin_settings.save(dlg.settings())  # default QgsSettings: the test profile
            project = QgsProject()
            plugin_settings.save_to_project(dlg.settings(), project)
            assert project.write(str(tmp_path / "project.qgz"))
            assert project.write(str(tmp_path / "project.qgs"))

            # error paths: the token expired, the key is refused
            server.fault(LOCATIONS, "expired_token")
            with pytest.raises(QgsProcessingException) as failed:
                fetch(url, token_cfg, store)
            assert "Token expired" in str(failed.value)
            shown.append(str(failed.value))
            _, ok, message = run_check(dlg, dlg.test_button(0).click)
            assert not ok and "Token expired" in message
            shown.append(message)
            server.api_key = "another-key"
            _, ok, message = run_check(dlg, dlg.test_datastore_button.click)
            assert not ok and "HTTP 403" in message
            shown.append(message)
            shown += [dlg.datastore_result.text(), dlg.feed_result.text(),
                      dlg.test_button(0).toolTip()]
            shown += [f"{item.title()} {item.text()}" for item in dlg.bar.items()]
    finally:
        if dlg is not None:
            dlg.done(QDialog.DialogCode.Rejected)
            dlg.deleteLater()
        for authcfg in (token_cfg, key_cfg):
            auth_manager.removeAuthenticationConfig(authcfg)
        qgis_log.uninstall(bridge)
        QCoreApplication.processEvents()  # deliver queued message-log signals from threads
        QgsApplication.messageLog().messageReceived.disconnect(collect)

    qs.sync()
    profile_settings.sync()
    places = {}
    profile_ini = Path(profile_settings.fileName())
    profile = Path(QgsApplication.qgisSettingsDirPath())
    for ini in sorted(set(profile.rglob("*.ini")) | {qs_file, profile_ini}):
        places[f"settings {ini}"] = ini.read_text(encoding="utf-8", errors="replace")
    with zipfile.ZipFile(tmp_path / "project.qgz") as qgz:
        for member in qgz.namelist():
            places[f"project.qgz:{member}"] = qgz.read(member).decode("utf-8", "replace")
    places["project.qgs"] = (tmp_path / "project.qgs").read_text(encoding="utf-8")
    places["QGIS message log"] = "\n".join(message_log)
    places["Python logging"] = caplog.text + "\n".join(
        r.getMessage() for r in caplog.records)
    places["store (SQL dump)"] = gpkg_dump(store)
    places["fetch report file"] = (tmp_path / "fetch-report.txt").read_text(encoding="utf-8")
    places["shown to the user"] = "\n".join(shown)
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        places[f"file {path.name}"] = path.read_bytes().decode("latin-1")

    # the search is meaningful: each place holds what it should
    for ini in (qs_file, profile_ini):
        assert token_cfg in places[f"settings {ini}"] and key_cfg in places[f"settings {ini}"]
    assert token_cfg in places["project.qgs"]
    assert any(token_cfg in text for name, text in places.items()
               if name.startswith("project.qgz:"))
    assert "Secret feed" in places["store (SQL dump)"]
    assert "OCPI locations page" in places["QGIS message log"]
    assert "Token expired" in places["QGIS message log"] or \
        "Token expired" in places["shown to the user"]
    assert "OCPI locations page" in places["Python logging"]

    leaks = [f"{what} in {where}" for where, text in places.items()
             for what, needle in needles().items() if needle in text]
    assert not leaks, "secret found: " + "; ".join(leaks)
