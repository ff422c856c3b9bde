"""Settings round-trip through QgsSettings and the project; secrets stay in the auth DB."""

from __future__ import annotations

import pytest
from qgis.core import QgsProject, QgsSettings
from qgis.PyQt.QtCore import QSettings

from ev_chargepoints.core.config import ConfigError, OcpiFeed, Settings
from ev_chargepoints.qgis import auth
from ev_chargepoints.qgis import settings as plugin_settings

TOKEN = "tok-3f9a-VERY-SECRET-7c1e"


def test_settings_round_trip_through_qgssettings(qgis_app, tmp_path):
    qs = QgsSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    wanted = Settings(datastore_url="http://127.0.0.1:9999", occupancy_breaks=(3, 10, 20),
                      ocpi_feeds=[OcpiFeed("Op A", "http://127.0.0.1:9999/ocpi/2.2.1/locations",
                                           authcfg="abcd123")], store_path=str(tmp_path / "s.gpkg"))
    plugin_settings.save(wanted, qs)
    assert plugin_settings.load(qs) == wanted


def test_default_store_lives_in_the_qgis_profile(qgis_app, tmp_path):
    qs = QgsSettings(str(tmp_path / "empty.ini"), QSettings.Format.IniFormat)
    loaded = plugin_settings.load(qs)
    assert loaded.store_path.endswith("ev_chargepoints/workspace.gpkg")


def test_invalid_settings_are_not_saved(qgis_app, tmp_path):
    qs = QgsSettings(str(tmp_path / "bad.ini"), QSettings.Format.IniFormat)
    with pytest.raises(ConfigError):
        plugin_settings.save(Settings(disclosure_threshold=0), qs)
    assert qs.value(plugin_settings.PREFIX + "settings_json", "") == ""


def test_settings_round_trip_through_the_project_file(qgis_app, tmp_path):
    project = QgsProject()
    wanted = Settings(disclosure_threshold=5)
    plugin_settings.save_to_project(wanted, project)
    path = tmp_path / "p.qgz"
    assert project.write(str(path))
    again = QgsProject()
    assert again.read(str(path))
    assert plugin_settings.load_from_project(again) == wanted


def test_secret_round_trip_keeps_only_the_id_in_settings(auth_manager, tmp_path):
    authcfg = auth.store_secret("Operator A OCPI token", TOKEN)
    try:
        assert auth.secret(authcfg) == TOKEN
        qs = QgsSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
        plugin_settings.save(Settings(ocpi_feeds=[OcpiFeed("Op A", "https://a/ocpi",
                                                           authcfg=authcfg)]), qs)
        qs.sync()
        text = (tmp_path / "s.ini").read_text()
        assert authcfg in text and TOKEN not in text
    finally:
        auth_manager.removeAuthenticationConfig(authcfg)
    with pytest.raises(auth.AuthError) as exc:
        auth.secret(authcfg)
    assert TOKEN not in exc.value.message
