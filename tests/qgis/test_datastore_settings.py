"""The Datastore settings are what a fetch uses: the Processing algorithm left empty and
the plugin's "Fetch from the London Datastore" action take the address, datasets and
API key (from the QGIS authentication database) of the settings.

Against the loopback replay server (DataPress-shaped API) serving real files: the
registry extract of 2lzpg, the Dundee usage return (restricted: needs the key) and
the GLA boundary GeoPackages.
"""

from __future__ import annotations

import csv
import gzip

import pytest
from event_wait import wait_for
from qgis.core import QgsProcessingException, QgsSettings
from replay_server import NCR_FILE, USAGE_ID, ReplayServer

from ev_chargepoints.core.config import Settings
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, RESOURCES
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.qgis import settings as plugin_settings

API_KEY = "dp-key-settings-81b2f0"
BOUNDARY_LAYERS = ["london_boroughs", "london_wards_2011", "london_wards_2018"]


def run(alg, params):
    import processing
    return processing.run(f"evchargepoints:{alg}", params)


def dc_devices() -> set:
    """The registry devices with a DC connector: what the replayed 2lzpg extract lists."""
    with gzip.open(LONDON_SNAPSHOT / NCR_FILE, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        col = {n: i for i, n in enumerate(header)}
        return {r[0] for r in reader if len(r) == len(header) and any(
            r[col[f"connector{n}ChargeMethod"]] == "DC" for n in range(1, 9))}


@pytest.fixture(scope="module")
def usage_sessions(tmp_path_factory) -> int:
    """Sessions of the Dundee usage file the restricted dataset serves, imported directly."""
    store = tmp_path_factory.mktemp("direct") / "direct.gpkg"
    with HistoryStore.create_or_open(store) as hs:
        hs.import_file(RESOURCES / "data" / "dundee" / "cpdata.csv.gz")
        return hs.counts()["sessions"]


@pytest.fixture()
def configured(auth_manager, tmp_path):
    """The replay server, an authentication configuration holding its API key, and
    plugin settings naming both (restored afterwards)."""
    from ev_chargepoints.qgis import auth

    qsettings = QgsSettings()
    key = plugin_settings.PREFIX + "settings_json"
    saved = qsettings.value(key, None)
    authcfg = auth.store_secret("replay datastore", API_KEY)
    store = tmp_path / "workspace.gpkg"
    with ReplayServer(api_key=API_KEY) as server:
        plugin_settings.save(Settings(
            datastore_url=server.url, datastore_authcfg=authcfg, dataset_chargepoints="2lzpg",
            dataset_usage=USAGE_ID, dataset_boundaries="bndry", store_path=str(store)))
        try:
            yield server, store
        finally:
            auth_manager.removeAuthenticationConfig(authcfg)
            if saved is None:
                qsettings.remove(key)
            else:
                qsettings.setValue(key, saved)


def check_store(store, usage_sessions):
    with HistoryStore.create_or_open(store) as hs:
        assert set(hs.devices()["device_id"]) >= dc_devices()
        assert hs.counts()["sessions"] == usage_sessions
        assert hs.area_layers() == BOUNDARY_LAYERS


def keys_sent(server, prefix):
    return [h.get("Authorization") for p, h in server.requests if p.startswith(prefix)]


def test_processing_fetch_left_empty_uses_the_settings(ev_provider, configured,
                                                       usage_sessions):
    server, store = configured
    result = run("fetchdatastore", {})
    check_store(store, usage_sessions)
    assert result["ROWS_ADDED"] > len(dc_devices()) + usage_sessions
    assert keys_sent(server, f"/api/dataset/{USAGE_ID}") == [API_KEY]
    assert API_KEY not in result["REPORT"]


def test_the_settings_key_goes_to_the_settings_address_only(ev_provider, configured,
                                                           tmp_path):
    server, _ = configured
    elsewhere = server.url.replace("127.0.0.1", "localhost")  # another origin
    with pytest.raises(QgsProcessingException) as info:
        run("fetchdatastore", {"BASE_URL": elsewhere, "DATASET": USAGE_ID,
                               "STORE": str(tmp_path / "other.gpkg")})
    assert "HTTP 401" in str(info.value)
    assert keys_sent(server, f"/api/dataset/{USAGE_ID}") == [None]


def test_processing_fetch_of_nothing_readable_fails_with_the_reasons(ev_provider, configured,
                                                                    tmp_path):
    server, _ = configured
    data = (LONDON_SNAPSHOT / "ward-profiles-excel-version.csv").read_bytes()
    url = server.fixtures.add_file("2lzpg", "res-profiles", "profiles.csv", data)
    server.datasets["2lzpg"]["resources"] = {
        "res-profiles": {"title": "Ward profiles", "format": "csv", "url": url}}
    with pytest.raises(QgsProcessingException) as info:
        run("fetchdatastore", {"DATASET": "2lzpg", "STORE": str(tmp_path / "s.gpkg")})
    message = str(info.value)
    assert "Nothing was imported from datastore:2lzpg" in message
    assert "Ward profiles (resource res-profiles)" in message
    assert "unrecognised CSV header" in message


def test_plugin_fetch_action_uses_the_settings(configured, usage_sessions, qgis_iface,
                                              plugin_package):
    server, store = configured
    plugin = plugin_package.classFactory(qgis_iface)
    try:
        plugin.initGui()
        action = plugin.fetch_action
        assert action in plugin.actions and not plugin.toolbar.actions().count(action)
        action.trigger()
        assert not action.isEnabled()
        wait_for(lambda: plugin.fetch_outcomes is not None and action.isEnabled(),
                 "the background fetch")
    finally:
        plugin.unload()
    assert [o.source for o in plugin.fetch_outcomes] == [
        "datastore:2lzpg", f"datastore:{USAGE_ID}", "datastore:bndry"]
    assert not any(o.imported_nothing for o in plugin.fetch_outcomes)
    check_store(store, usage_sessions)
    assert keys_sent(server, f"/api/dataset/{USAGE_ID}") == [API_KEY]
