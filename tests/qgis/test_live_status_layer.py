"""The "Live status" map layer: added by the map load when the store holds status,
refreshed as watching polls, styled by status class, optional on committee pages.

Stores hold the 8,940 real registry devices and a status history really polled from the
loopback OCPI feed (tests/support/watched_history.py: seven EVSEs of four London
Locations, which the reconciliation joins by reference to seven registry devices; the
replay feed names each EVSE by the registry device it was built from, which the expected
values below use). Watching polls the same server through QGIS's network stack.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from event_wait import wait_for
from qgis.core import (
    QgsApplication,
    QgsFeatureRequest,
    QgsMapSettings,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsRenderContext,
    QgsSettings,
)
from qgis.PyQt.QtCore import QCoreApplication, QSettings, QThread, QTimer
from qgis.PyQt.QtGui import QColor, QImage
from qgis.PyQt.QtWidgets import QDialog, QDialogButtonBox
from replay_server import ReplayServer
from watched_history import LOCATIONS, STATUS, chosen_locations, evse_uids, poll_history

from ev_chargepoints.core.config import OcpiFeed, Settings
from ev_chargepoints.core.errors import EvChargepointsError
from ev_chargepoints.core.outputs import styling
from ev_chargepoints.core.progress import Progress
from ev_chargepoints.core.store.history_parts import copy_store  # the GeoPackage and its history
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.gui.settings_dialog import SettingsDialog
from ev_chargepoints.qgis import layers as map_layers
from ev_chargepoints.qgis import loader, watch
from ev_chargepoints.qgis import settings as plugin_settings
from ev_chargepoints.qgis.render import render_png

# Written out here: OCPI status -> map class, and the order in which a device's EVSEs
# decide (one free EVSE makes the device available).
CLASS_OF = {"AVAILABLE": "available", "CHARGING": "charging", "BLOCKED": "charging",
            "RESERVED": "charging", "OUTOFORDER": "out_of_order",
            "INOPERATIVE": "out_of_order", "UNKNOWN": "unknown"}
LABELS = {"available": "Available", "charging": "Charging", "out_of_order": "Out of order",
          "unknown": "Unknown"}
FEED = "127.0.0.1"  # the feed name poll_history's polls got (the server's host)
# What the feed says when watching starts: BP Pulse's older Location is no longer in it
WATCHED = {("pod", 0): "UNKNOWN", ("pod", 1): "OUTOFORDER", ("pod", 2): "CHARGING",
           ("ubi", 0): "AVAILABLE", ("ubi", 1): "BLOCKED", ("bp_new", 0): "AVAILABLE"}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """(registry only, registry + watched history, poll times, EVSE ids)."""
    folder = tmp_path_factory.mktemp("live-status-layer")
    registry = folder / "registry.gpkg"
    with Workspace(registry) as ws:
        ws.import_bundled_snapshot(synthetic_usage=False)
    watched = copy_store(registry, folder / "watched.gpkg")
    with ReplayServer() as server, Workspace(watched) as ws:
        times = poll_history(ws, server)
        uids = evse_uids(server)
    return registry, watched, times, uids


def expected_after_history(uids) -> dict:
    """Registry device -> class at the last poll (one EVSE per registry device)."""
    return {uids[key][1]: CLASS_OF[statuses[-1]] for key, statuses in STATUS.items()}


def features(layer) -> dict:
    return {f["device_id"]: f for f in layer.getFeatures()}


def legend_keys(layer) -> dict:
    """Device -> the renderer's legend keys (live status classes) drawing it."""
    renderer = layer.renderer().embeddedRenderer()
    context = QgsRenderContext()
    renderer.startRender(context, layer.fields())
    try:
        return {f["device_id"]: set(renderer.legendKeysForFeature(f, context)) &
                {s.key for s in styling.LIVE_STATUS_STYLES} for f in layer.getFeatures()}
    finally:
        renderer.stopRender(context)


def assert_renderer_has_the_classes(layer, max_age: int) -> None:
    renderer = layer.renderer()
    assert renderer.type() == "pointDisplacement"
    rules = renderer.embeddedRenderer().rootRule().children()
    assert [r.ruleKey() for r in rules] == ["available", "charging", "out_of_order", "unknown",
                                            "stale"]
    assert [r.label() for r in rules] == [
        "Available", "Charging", "Out of order", "Unknown",
        f"Stale (no report for over {max_age} min)"]
    by_key = {s.key: s for s in styling.LIVE_STATUS_STYLES}
    for rule in rules:
        symbol = rule.symbol()
        fill = "#ffffff" if by_key[rule.ruleKey()].hollow else by_key[rule.ruleKey()].colour
        assert symbol.color().name() == fill


def serve_watched_statuses(server) -> None:
    chosen = chosen_locations(server)
    now = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    feed = []
    for key, loc in chosen.items():
        if key == "bp":
            continue
        loc = copy.deepcopy(loc)
        loc["last_updated"] = now
        for i, evse in enumerate(loc["evses"]):
            evse["status"], evse["last_updated"] = WATCHED[(key, i)], now
        feed.append(loc)
    server.fixtures.locations = feed


def group_names(project) -> list:
    return [n.name() for n in project.layerTreeRoot().findGroup("EV charge points").children()]


# --- loading the map ----------------------------------------------------------------------

def test_loading_a_store_with_status_adds_the_live_status_layer(stores, qgis_new_project):
    _registry, watched, times, uids = stores
    info = loader.prepare_map(str(watched), "quarter", Progress(),
                              status_now=times[-1] + pd.Timedelta(minutes=5),
                              status_max_age_minutes=30)
    project = QgsProject.instance()
    loaded = loader.build_layers(info, project=project, store_path=str(watched))
    status = loaded.status
    assert status is not None and status.isValid()
    assert status.name() == "Live status, 04 Mar 2024 13:30 UK time"  # 13:30 UTC, GMT
    assert group_names(project) == [status.name(), loaded.devices.name(),
                                    loaded.boroughs.name(), loaded.wards.name()]
    assert loader.find_loaded(project).status.id() == status.id()

    expected = expected_after_history(uids)
    assert status.featureCount() == len(expected) == 7
    shown = features(status)
    assert {d: f["live_status"] for d, f in shown.items()} == expected
    assert all(f["last_status"] == f["live_status"] for f in shown.values())
    assert {f["observed_utc"].toSecsSinceEpoch() for f in shown.values()} == \
        {int(times[-1].timestamp())}
    assert {f["source"] for f in shown.values()} == {f"ocpi:{FEED}"}
    assert {f["age_minutes"] for f in shown.values()} == {5.0}
    operators = {uids[key][1]: LOCATIONS[key[0]][1] for key in STATUS}
    assert {d: f["operator"] for d, f in shown.items()} == operators

    # each device where the occupancy layer puts it
    for device_id, feature in shown.items():
        request = QgsFeatureRequest().setFilterExpression(f"\"device_id\" = '{device_id}'")
        device = next(loaded.devices.getFeatures(request))
        assert feature.geometry().asPoint().distance(device.geometry().asPoint()) < 0.01

    assert_renderer_has_the_classes(status, 30)
    assert legend_keys(status) == {d: {cls} for d, cls in expected.items()}
    assert "ocpi:127.0.0.1" in status.metadata().abstract()


def test_status_older_than_the_limit_is_stale(stores, qgis_new_project):
    _registry, watched, times, uids = stores
    info = loader.prepare_map(str(watched), "quarter", Progress(),
                              status_now=times[-1] + pd.Timedelta(minutes=12),
                              status_max_age_minutes=10)
    assert info.status.classes == {"available": 0, "charging": 0, "out_of_order": 0,
                                   "unknown": 0, "stale": 7}
    loaded = loader.build_layers(info, project=QgsProject.instance(), store_path=str(watched))
    shown = features(loaded.status)
    assert {f["live_status"] for f in shown.values()} == {"stale"}
    assert {d: f["last_status"] for d, f in shown.items()} == expected_after_history(uids)
    assert_renderer_has_the_classes(loaded.status, 10)
    assert set().union(*legend_keys(loaded.status).values()) == {"stale"}
    # only the file this layer shows is left of the two loads' files
    folder = info.status.path.parent
    assert sorted(folder.glob("*.gpkg")) == [info.status.path]


def test_no_status_in_the_store_no_status_layer(stores, qgis_new_project):
    registry = stores[0]
    info = loader.prepare_map(str(registry), "quarter", Progress())
    assert info.status is None
    loaded = loader.build_layers(info, project=QgsProject.instance(), store_path=str(registry))
    assert loaded.status is None
    assert len(group_names(QgsProject.instance())) == 3
    assert not registry.with_name("registry_live_status").exists()


def test_a_status_file_gone_before_its_layer_leaves_the_map_without_it(stores, caplog,
                                                                      qgis_new_project):
    watched, times = stores[1], stores[2]
    info = loader.prepare_map(str(watched), "quarter", Progress(),
                              status_now=times[-1] + pd.Timedelta(minutes=5))
    info.status.path.unlink()   # e.g. tidied away by a second QGIS on the same store
    loaded = loader.build_layers(info, project=QgsProject.instance(), store_path=str(watched))
    assert loaded.status is None and loaded.devices.featureCount() == 8_940
    assert len(group_names(QgsProject.instance())) == 3
    assert "Could not open the live status layer" in caplog.text
    assert "The map is shown without live status." in caplog.text


# --- refreshed while watching -------------------------------------------------------------

def test_a_watch_poll_adds_the_layer_to_a_map_loaded_without_status(stores, qgis_new_project,
                                                                    tmp_path):
    store = copy_store(stores[0], tmp_path / "registry.gpkg")
    uids = stores[3]
    project = QgsProject.instance()
    info = loader.prepare_map(str(store), "quarter", Progress())
    loaded = loader.build_layers(info, project=project, store_path=str(store))
    assert loaded.status is None
    received, stopped, ticks = [], {}, []
    main_thread = QCoreApplication.instance().thread()

    def on_status(status_info):
        received.append(QThread.currentThread() == main_thread)
        received.append(loader.show_live_status(status_info, str(store), project))

    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    with ReplayServer() as server:
        serve_watched_statuses(server)
        feed = OcpiFeed(FEED, server.url + "/ocpi/2.2.1/locations", poll_seconds=30)
        timer.start()
        started = time.monotonic()
        task = watch.start_watching(str(store), [feed], lambda r: stopped.setdefault("polls", r),
                                    lambda m: stopped.setdefault("error", m),
                                    on_status=on_status, max_polls=1)
        wait_for(lambda: stopped and received, "one watch poll and its status layer")
        took = time.monotonic() - started
        timer.stop()
    assert stopped == {"polls": 1} and not task.isActive()
    assert received[0] is True, "the layer was changed outside the main thread"
    layer = received[1]
    # the main thread kept serving its timer while the task polled and wrote (no freeze)
    assert len(ticks) >= 0.5 * took / 0.05, (len(ticks), took)
    assert group_names(project)[:2] == [layer.name(), loaded.devices.name()]
    assert layer.customProperty(loader.ROLE_PROPERTY) == "status"
    watched = {uids[key][1]: CLASS_OF[s] for key, s in WATCHED.items()}
    assert {d: f["live_status"] for d, f in features(layer).items()} == watched
    assert legend_keys(layer) == {d: {cls} for d, cls in watched.items()}


def test_watching_without_duckdb_stops_at_once_and_says_why(tmp_path, monkeypatch):
    """Without duckdb no status can be stored: watching stops with the one line that says
    what to install, instead of failing and retrying every poll."""
    monkeypatch.setitem(sys.modules, "duckdb", None)  # importing duckdb now fails
    stopped = {}
    with ReplayServer() as server:
        serve_watched_statuses(server)
        feed = OcpiFeed(FEED, server.url + "/ocpi/2.2.1/locations", poll_seconds=30)
        task = watch.start_watching(str(tmp_path / "workspace.gpkg"), [feed],
                                    lambda r: stopped.setdefault("polls", r),
                                    lambda m: stopped.setdefault("error", m), max_polls=1)
        wait_for(lambda: stopped, "the watch to stop")
        assert not server.requests, server.requests  # no poll was made
    assert "pip install duckdb" in stopped.get("error", ""), stopped
    assert not task.isActive()


def test_watching_from_the_plugin_refreshes_the_layer_it_loaded(
        stores, qgis_iface, plugin_package, qgis_new_project, tmp_path):
    """Load London charge points, then Watch live status: the same layer shows the new
    poll; BP Pulse's Location, no longer in the feed, turns stale."""
    store = copy_store(stores[1], tmp_path / "workspace.gpkg")
    times, uids = stores[2], stores[3]
    qsettings = QgsSettings()
    key = plugin_settings.PREFIX + "settings_json"
    saved = qsettings.value(key, None)
    plugin = plugin_package.classFactory(qgis_iface)
    with ReplayServer() as server:
        serve_watched_statuses(server)
        url = server.url + "/ocpi/2.2.1/locations"
        try:
            plugin_settings.save(Settings(store_path=str(store), status_max_age_minutes=30,
                                          ocpi_feeds=[OcpiFeed(FEED, url, poll_seconds=30)]))
            plugin.initGui()
            plugin.load_action.trigger()
            wait_for(lambda: plugin.loaded is not None and plugin.load_action.isEnabled(),
                     "the map load")
            layer = plugin.loaded.status
            # the history's last poll is long ago: every device is stale
            assert {f["live_status"] for f in layer.getFeatures()} == {"stale"}
            assert layer.featureCount() == 7
            layer_id, first_file = layer.id(), Path(map_layers.status_source_file(layer))
            renderer_type = layer.renderer().type()

            plugin.watch_action.trigger()
            assert plugin.watch_action.isChecked()
            wait_for(lambda: Path(map_layers.status_source_file(layer)) != first_file,
                     "the refresh after the first watch poll")
            plugin.watch_action.trigger()   # stop watching
            wait_for(lambda: plugin.watch_task is None or not plugin.watch_task.isActive(),
                     "the end of watching")
        finally:
            plugin.unload()
            if saved is None:
                qsettings.remove(key)
            else:
                qsettings.setValue(key, saved)

    project = QgsProject.instance()
    assert project.mapLayer(layer_id) is layer and layer.isValid()
    assert group_names(project)[0] == layer.name()
    assert layer.renderer().type() == renderer_type
    shown = features(layer)
    expected = {uids[k][1]: CLASS_OF[s] for k, s in WATCHED.items()}
    expected[uids[("bp", 0)][1]] = "stale"
    assert {d: f["live_status"] for d, f in shown.items()} == expected
    bp = shown[uids[("bp", 0)][1]]
    assert bp["last_status"] == "available"   # its last poll in the history said AVAILABLE
    assert bp["observed_utc"].toSecsSinceEpoch() == int(times[-1].timestamp())
    now = int(time.time())
    fresh = [f for d, f in shown.items() if f["live_status"] != "stale"]
    assert all(abs(f["observed_utc"].toSecsSinceEpoch() - now) < 600 for f in fresh)
    assert legend_keys(layer) == {d: {cls} for d, cls in expected.items()}
    assert not first_file.exists(), "the file the layer showed before stays behind"
    assert sorted(first_file.parent.glob("*.gpkg")) == \
        [Path(map_layers.status_source_file(layer))]

    _check_drawing(layer, shown, tmp_path)
    loaded = loader.find_loaded(project)
    picture = render_png([layer, loaded.devices, loaded.boroughs, loaded.wards],
                         tmp_path / "live_status_map.png", size=(1600, 1200))
    assert QImage(str(picture)).width() == 1600


def _check_drawing(layer, shown, tmp_path) -> None:
    """Each device is drawn in its class's colour (filled) or as the stale outline, near
    its place (devices of one site sit in a small ring around it)."""
    by_key = {s.key: s for s in styling.LIVE_STATUS_STYLES}
    for device_id, feature in shown.items():
        point = feature.geometry().asPoint()
        extent = QgsRectangle(point.x() - 150, point.y() - 100, point.x() + 150, point.y() + 100)
        path = render_png([layer], tmp_path / f"status_{device_id}.png", extent=extent,
                          size=(600, 400))
        image = QImage(str(path))
        settings = QgsMapSettings()
        settings.setOutputSize(image.size())
        settings.setExtent(extent)
        centre = settings.mapToPixel().transform(QgsPointXY(point))
        style = by_key[feature["live_status"]]
        want = QColor(style.colour)
        found = False
        cx, cy = int(centre.x()), int(centre.y())
        for y in range(max(0, cy - 40), min(image.height(), cy + 41)):
            for x in range(max(0, cx - 40), min(image.width(), cx + 41)):
                c = image.pixelColor(x, y)
                if abs(c.red() - want.red()) + abs(c.green() - want.green()) + \
                        abs(c.blue() - want.blue()) <= 24:
                    found = True
                    break
            if found:
                break
        assert found, (device_id, feature["live_status"])


# --- settings -----------------------------------------------------------------------------

def test_the_settings_dialog_edits_when_status_turns_stale(qgis_app, auth_manager, tmp_path):
    qsettings = QgsSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    plugin_settings.save(Settings(store_path=str(tmp_path / "ws.gpkg"),
                                  status_max_age_minutes=45), qsettings)
    dialog = SettingsDialog(qsettings=qsettings)
    try:
        assert dialog.status_max_age.value() == 45
        dialog.status_max_age.setValue(12)
        dialog.show()
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert plugin_settings.load(qsettings).status_max_age_minutes == 12
    finally:
        dialog.deleteLater()


# --- committee pages ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def feed_store(tmp_path_factory):
    """The watched history alone (four feed devices): quick committee pages."""
    store = tmp_path_factory.mktemp("live-status-committee") / "feed.gpkg"
    with ReplayServer() as server, Workspace(store) as ws:
        times = poll_history(ws, server)
    return store, times


def pdf_text(pdf: Path) -> str:
    import subprocess

    raw = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    return " ".join(raw.replace("\ufb01", "fi").replace("\ufb02", "fl").split())


def test_committee_page_shows_live_status_only_when_asked(feed_store, tmp_path, qgis_app):
    from ev_chargepoints.qgis.layout_export.export import export_committee_maps

    store, times = feed_store
    plain = export_committee_maps(store, tmp_path / "plain")
    assert plain.live_status_devices is None
    text = pdf_text(next(f for f in plain.files if f.suffix == ".pdf"))
    assert "Live status" not in text

    live = export_committee_maps(store, tmp_path / "live", live_status=True, png_dpi=110,
                                 status_now=times[-1] + pd.Timedelta(minutes=5))
    files = live.files
    assert live.live_status_devices == 4
    text = pdf_text(next(f for f in files if f.suffix == ".pdf"))
    # the last poll, by Location: POD Point AV/CH/AV, ubitricity AV/AV, BP Pulse AV,
    # BP Pulse (new) OUTOFORDER: the legend lists the classes on the page
    assert "Live status, 04 Mar 2024 13:30 UK time 4 devices; OCPI: 127.0.0.1 " \
           "Latest report, not a figure of the period Available" in text
    assert "Out of order" in text
    assert "Charging" not in text and "Stale" not in text
    assert any(f.suffix == ".png" for f in files)


def test_committee_export_of_a_store_without_status_says_so(stores, tmp_path, qgis_app):
    from ev_chargepoints.qgis.layout_export.export import export_committee_maps

    with pytest.raises(EvChargepointsError) as exc:
        export_committee_maps(stores[0], tmp_path, live_status=True)
    assert "holds no live status to show" in exc.value.message
    assert not list(tmp_path.glob("*.pdf"))


@pytest.fixture()
def provider(qgis_processing):
    """The plugin's provider for one test, the registry left as it was found (a provider
    left registered trips the plugin lifecycle tests that run after this file)."""
    from ev_chargepoints.processing.provider import EvChargepointsProvider

    registry = QgsApplication.processingRegistry()
    if registry.providerById("evchargepoints") is not None:
        yield registry.providerById("evchargepoints")
        return
    provider = EvChargepointsProvider()
    assert registry.addProvider(provider)
    yield provider
    registry.removeProvider(provider)


def test_processing_export_takes_the_live_status_option(provider, feed_store, tmp_path):
    import processing

    store, _times = feed_store
    result = processing.run("evchargepoints:exportcommitteemap", {
        "STORE": str(store), "LIVE_STATUS": True, "OUTPUT_FOLDER": str(tmp_path)})
    text = pdf_text(next(Path(f) for f in result["FILES"] if f.endswith(".pdf")))
    # printed now, long after the 2024 polls: every device is stale
    max_age = plugin_settings.load().status_max_age_minutes
    assert "4 devices; OCPI: 127.0.0.1 Latest report, not a figure of the period" in text
    assert f"Stale (no report for over {max_age} min)" in text
    assert "Available" not in text and "Out of order" not in text
    assert QgsApplication.taskManager().countActiveTasks() == 0


def test_cli_export_takes_the_live_status_and_its_age_limit(feed_store, tmp_path):
    import os
    import subprocess
    import sys

    store, _times = feed_store
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    command = [sys.executable, "-m", "ev_chargepoints", "export", "--store", str(store),
               "--london", "--live-status", "--out", str(tmp_path)]
    run = subprocess.run(command + ["--stale-after", "45"], cwd=root, capture_output=True,
                         text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr
    text = pdf_text(next(tmp_path.glob("*_london_portrait.pdf")))
    assert "4 devices; OCPI: 127.0.0.1" in text
    assert "Stale (no report for over 45 min)" in text   # printed long after the polls
    refused = subprocess.run(command + ["--stale-after", "0"], cwd=root, capture_output=True,
                             text=True, timeout=600, env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: --stale-after must be 1 to 10080 minutes."]


# --- shared store -------------------------------------------------------------------------

def test_a_shared_store_draws_its_live_status_from_a_local_file(pg_database, auth_manager,
                                                                qgis_new_project):
    """The map tables stay in PostGIS; the live status each officer's QGIS draws is a
    GeoPackage in the plugin's folder, made from the store's reconciled status."""
    import shutil

    from qgis_shared_store import saved_connection

    from ev_chargepoints.qgis import pg_connection

    cluster, dbname = pg_database
    with saved_connection(cluster, dbname, auth_manager, "Live-status-pw-3e9a") as officer:
        reference = plugin_settings.CONNECTION_REFERENCE + officer["connection"]
        target = pg_connection.store_target(officer["connection"])
        with ReplayServer() as server, Workspace(target) as ws:
            times = poll_history(ws, server)
            folder = loader.status_folder_for(ws)
        try:
            info = loader.prepare_map(target, "quarter", Progress(),
                                      import_bundled_if_empty=False,
                                      status_now=times[-1] + pd.Timedelta(minutes=5))
            assert info.database_schema and info.status.path.parent == folder
            assert folder.parent == Path(plugin_settings.default_store_path()).parent / \
                "live_status"
            loaded = loader.build_layers(info, project=QgsProject.instance(),
                                         store_path=reference)
            assert loaded.devices.providerType() == "postgres"
            assert loaded.status.providerType() == "ogr"
            # the feed alone: one device per Location; POD Point AV/CH/AV and ubitricity
            # AV/AV are available, the new BP Pulse Location OUTOFORDER
            shown = {f["device_id"]: (f["live_status"], f["evses"])
                     for f in loaded.status.getFeatures()}
            assert shown == {LOCATIONS["pod"][0]: ("available", 3),
                             LOCATIONS["bp"][0]: ("available", 1),
                             LOCATIONS["bp_new"][0]: ("out_of_order", 1),
                             LOCATIONS["ubi"][0]: ("available", 2)}
            assert group_names(QgsProject.instance())[0] == loaded.status.name()
        finally:
            QgsProject.instance().clear()
            shutil.rmtree(folder, ignore_errors=True)
            if folder.parent.is_dir() and not any(folder.parent.iterdir()):
                folder.parent.rmdir()
