"""Runs inside real QGIS Desktop (started by tools/desktop_run.py with --code).

Drives the plugin through its own actions, as a GIS officer would: "Load London
charge points" (the real registry devices into the workspace store, no usage invented;
timed, then loaded and timed again: ``load_first_s`` and ``load_second_s`` in the JSON)
and "Watch live status" on a loopback OCPI feed until the live-status layer shows;
then load the demo (the bundled London devices with a year of SYNTHETIC usage: the map,
the summary chart and the site scores are about usage), open the area summary and pick
a borough, add two candidate sites with the map tool, export the borough's committee
page. Takes screenshots of the main window, records Python errors from the QGIS message
log, writes a JSON result and quits QGIS the way a user does (Project ▸ Exit QGIS:
the project is closed, then the plugin unloaded), so QGIS must exit with status 0.
The verdict is in the JSON; Python errors logged while QGIS closes are appended to
python_errors.txt, which tools/desktop_run.py reads after QGIS has gone.
"""

import json
import os
import time
import traceback
from pathlib import Path

from qgis.core import Qgis, QgsApplication, QgsPointXY, QgsProject
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt, QTimer
from qgis.utils import iface, plugins

OUT = Path(os.environ.get("EVCP_OUT", "."))
OCPI_URL = os.environ.get("EVCP_OCPI_URL", "")
NETWORK = os.environ.get("EVCP_NETWORK", "")
RESULT = Path(os.environ.get("EVCP_RESULT", OUT / "desktop_result.json"))
KEEP_OPEN = os.environ.get("EVCP_KEEP_OPEN") == "1"
TIMEOUT_S = float(os.environ.get("EVCP_STEP_TIMEOUT", "900"))
# the targets for "Load London charge points" (trigger to the layers on the map)
LOAD_TARGETS_S = {"first": 10.0, "second": 3.0}

steps = []
python_errors = []
plugin_log = []
state = {}


def on_message(message, tag, level):
    if tag == "Python error" or (level == Qgis.MessageLevel.Critical and "Traceback" in message):
        python_errors.append(f"[{tag}] {message[:2000]}")
        RESULT.with_name("python_errors.txt").write_text(json.dumps(python_errors),
                                                         encoding="utf-8")
    elif tag == "EV Chargepoints":
        plugin_log.append(message[:500])
        RESULT.with_name("plugin_log.txt").write_text("\n".join(plugin_log), encoding="utf-8")


QgsApplication.messageLog().messageReceived.connect(on_message)


def screenshot(name):
    canvas = iface.mapCanvas()
    started = time.monotonic()
    # Run the event loop for a second first: a new layer reaches the canvas and a repaint
    # starts from queued events (QGIS 3.40 shot the candidate sites without their
    # catchments otherwise), then let the map finish drawing.
    while time.monotonic() - started < 1.0 or canvas.isDrawing():
        if time.monotonic() - started > 30:
            break
        QgsApplication.processEvents()
        time.sleep(0.05)
    path = OUT / f"{name}.png"
    iface.mainWindow().grab().save(str(path))
    return str(path)


def record(name, func):
    try:
        detail = func()
        steps.append({"step": name, "ok": True, "detail": detail})
        return True
    except Exception:  # noqa: BLE001 - every failure is reported in the JSON
        steps.append({"step": name, "ok": False, "detail": traceback.format_exc()})
        return False


def wait_then(predicate, then, label, started=None, poll_ms=500):
    """Poll ``predicate`` from the event loop (never blocking it), then call ``then``
    (every ``poll_ms``: 20 where the wait is what is timed)."""
    started = started or time.monotonic()
    try:
        ready = predicate()
    except Exception:  # noqa: BLE001
        ready = False
    if ready:
        then()
    elif time.monotonic() - started > TIMEOUT_S:
        steps.append({"step": label, "ok": False, "detail": f"timed out after {TIMEOUT_S} s"})
        finish()
    else:
        QTimer.singleShot(poll_ms, lambda: wait_then(predicate, then, label, started,
                                                     poll_ms))


def plugin():
    return plugins["ev_chargepoints"]


def dock_titled(title):
    return next(d for d in plugin().docks if d.windowTitle() == title)


# --- the workflow ----------------------------------------------------------------------

def start():
    ok = record("plugin loaded", lambda: "ev_chargepoints" in plugins or (_ for _ in ()).throw(
        AssertionError(f"plugin not loaded; loaded: {sorted(plugins)}")))
    record("menu Web > EV Charge Points", lambda: _menu_titles())
    record("processing provider", lambda: [a.id() for a in QgsApplication.processingRegistry()
                                           .providerById("evchargepoints").algorithms()])
    record("screenshot start", lambda: screenshot("01-start"))
    if not ok:
        return finish()
    load_london()


def load_demo():
    state["t_load"] = time.monotonic()
    record("trigger Load demo usage (synthetic)", lambda: plugin().demo_action.trigger())
    wait_then(lambda: plugin().loaded is not None and plugin().loaded.info.synthetic_usage
              and plugin().load_action.isEnabled(), after_load, "load the demo")


def _menu_titles():
    titles = [a.text().replace("&", "") for a in iface.webMenu().actions()]
    assert "EV Charge Points" in titles, titles
    return titles


def after_load():
    def check():
        loaded = plugin().loaded
        group = QgsProject.instance().layerTreeRoot().findGroup("EV charge points")
        assert group is not None and len(group.findLayers()) == 3
        count = loaded.devices.featureCount()
        assert count == 8940, count
        assert loaded.info.synthetic_usage and len(loaded.info.periods) > 1, loaded.info.periods
        return {"devices": count, "seconds": round(time.monotonic() - state["t_load"], 1),
                "periods": [plugin().period_box.itemText(i)
                            for i in range(plugin().period_box.count())]}
    record("layers loaded and styled", check)
    record("screenshot map", lambda: screenshot("02-map"))
    dock = dock_titled("Area summary")
    dock.show()
    dock.raise_()
    wait_then(lambda: not dock.is_busy() and len(dock.frame()) == 33,
              lambda: pick_borough(dock), "area summary ready")


def pick_borough(dock):
    def check():
        frame = dock.frame()
        row = frame[frame["area_name"] == "Camden"].iloc[0]
        dock.select_areas([row["area_code"]], zoom=True)
        selected = plugin().loaded.devices.selectedFeatureCount()
        assert selected == int(row["devices"]), (selected, row["devices"])
        return {"borough": "Camden", "devices": int(row["devices"]), "selected": selected}
    record("summary dock: pick Camden", check)
    record("screenshot summary dock", lambda: screenshot("03-area-summary"))
    tab = dock.demand_tab
    dock.tabs.setCurrentWidget(tab)  # loads the wards' inputs in a task
    wait_then(lambda: not dock.is_busy() and tab.table is not None,
              lambda: show_demand(dock), "demand tab ready")


def show_demand(dock):
    tab = dock.demand_tab

    def check():
        layer = tab.show_on_map()
        before = tab.frame().set_index("area_code")
        tab.set_values(ev_share=0.35)  # as a planner types a new share
        after = tab.frame().set_index("area_code")
        assert tab.layer() is not None and tab.layer().id() == layer.id(), "layer replaced"
        assert len(after) == 633, len(after)
        needed = after["connectors_needed"].fillna(0)
        assert (needed >= before["connectors_needed"].fillna(0).reindex(after.index)).all()
        gaps = {f["area_code"]: f["gap"] for f in layer.getFeatures()}
        known = after["gap"].notna()
        assert all(gaps[c] == g for c, g in after.loc[known, "gap"].items()), "layer not redrawn"
        return {"layer": layer.name(), "totals": tab.totals_label.text(),
                "recompute_ms": tab.last_recompute_ms}
    record("demand tab: a new EV share redraws the ward gap layer in place", check)
    record("screenshot demand tab", lambda: screenshot("06-demand"))
    if tab.layer() is not None:  # off again: the site screenshots show the devices
        node = QgsProject.instance().layerTreeRoot().findLayer(tab.layer().id())
        node.setItemVisibilityChecked(False)
    dock.tabs.setCurrentIndex(0)
    open_sites(dock)


def open_sites(dock):
    dock.hide()
    sites = dock_titled("Candidate sites")
    sites.show()
    sites.raise_()
    messages = []
    original_report = sites.report

    def report(text, *args, **kwargs):
        messages.append(text)
        return original_report(text, *args, **kwargs)

    sites.report = report
    state["sites_messages"] = messages
    sites.tool_button.setChecked(True)  # "Add sites on the map": prepares the analysis
    wait_then(lambda: sites.is_ready() or _failed_prepare(sites, messages),
              lambda: add_sites(sites), "candidate sites ready")


def _failed_prepare(sites, messages):
    return bool(messages) and not sites._preparing() and not sites.is_ready()


def _click(canvas, tool, x, y):
    point = canvas.getCoordinateTransform().transform(QgsPointXY(x, y))
    at = QPoint(round(point.x()), round(point.y()))
    for kind, handler in ((QEvent.Type.MouseButtonPress, tool.canvasPressEvent),
                          (QEvent.Type.MouseButtonRelease, tool.canvasReleaseEvent)):
        handler(QgsMapMouseEvent(canvas, kind, at, Qt.MouseButton.LeftButton,
                                 Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def add_sites(sites):
    def check():
        assert sites.is_ready(), f"the sites analysis was not prepared: {state['sites_messages']}"
        canvas = iface.mapCanvas()
        assert canvas.mapTool() is sites.tool
        extent = canvas.extent()
        cx, cy = extent.center().x(), extent.center().y()
        for dx, dy in ((-400, 200), (500, -300)):
            _click(canvas, sites.tool, cx + dx, cy + dy)
        QgsApplication.processEvents()
        table = sites.table_frame()
        assert len(table) == 2, len(table)
        assert sites.buffer_layer().featureCount() == 2  # one catchment per site
        return table[["site_id", "devices_within", "residents_within", "score", "rank"]] \
            .to_dict("records")
    record("candidate sites: two clicks analysed", check)
    def shot_with_catchments():
        path = screenshot("04-candidate-sites")
        assert sites.buffer_layer() in iface.mapCanvas().layers(), "catchments not on the map"
        return path
    record("screenshot candidate sites", shot_with_catchments)
    walk_on_streets(sites)


def walk_on_streets(sites):
    """The bundled OpenStreetMap network around Covent Garden as a project layer, a
    5-minute walk, two sites clicked among its streets."""
    from qgis.core import QgsRectangle, QgsVectorLayer

    def load():
        layer = QgsVectorLayer(f"{NETWORK}|layername=highways", "highways (OSM)", "ogr")
        assert layer.isValid() and layer.featureCount() == 1220, NETWORK
        QgsProject.instance().addMapLayer(layer)
        sites.set_network_layer(layer)
        sites.set_walk(5, "min")
        iface.mapCanvas().setExtent(QgsRectangle(529_700, 179_750, 531_450, 182_000))
        iface.mapCanvas().refresh()
        return {"network": layer.name(), "walk_m": sites.walk_m()}
    if not record("candidate sites: a street network and a 5-minute walk", load):
        return export_page()
    wait_then(lambda: sites.is_ready() and sites.network() is not None,
              lambda: walk_sites(sites), "walking analysis ready")


def walk_sites(sites):
    def check():
        before = set(sites.table_frame()["site_id"])
        for x, y in ((530_300, 180_900), (530_800, 181_300)):
            _click(iface.mapCanvas(), sites.tool, x, y)
        QgsApplication.processEvents()
        table = sites.table_frame()
        new = table[~table["site_id"].isin(before)]
        assert len(new) == 2, (sorted(before), table["site_id"].tolist())

        def count(column):
            return new[column].str.replace(",", "").astype(float)
        assert (count("devices_within_walk") <= count("devices_within")).all()
        assert "© OpenStreetMap contributors" in sites.network_attribution()
        return new[["site_id", "devices_within", "devices_within_walk",
                    "residents_within_walk"]].to_dict("records")
    record("candidate sites: two clicks walked along the streets", check)
    wait_then(lambda: sites.walking_layer() is not None
              and sites.walking_layer().featureCount() >= 2, shot_walking,
              "walking catchments drawn")


def shot_walking():
    # as a planner looks at streets: the area choropleths off, QGIS's notice about the
    # WGS84 layer's transform (no OSTN15 grid installed) dismissed
    root = QgsProject.instance().layerTreeRoot()
    for node in root.findLayers():
        if node.name().startswith(("Wards", "Boroughs")):
            node.setItemVisibilityChecked(False)
    iface.messageBar().clearWidgets()
    record("screenshot walking catchments", lambda: screenshot("07-walking-catchments"))
    export_page()


def export_page():
    def check():
        import processing
        store = plugin().loaded.devices.customProperty("ev_chargepoints/store")  # the demo's
        result = processing.run("evchargepoints:exportcommitteemap", {
            "STORE": store, "BOROUGHS": "Camden", "OUTPUT_FOLDER": str(OUT / "export")})
        pdfs = sorted((OUT / "export").glob("*.pdf"))
        assert pdfs and pdfs[0].stat().st_size > 50_000, pdfs
        return {"pdf": str(pdfs[0]), "outputs": list(result)}
    record("export the Camden committee page", check)
    finish()


def load_london():
    """The officer's own workspace: real registry devices, a watched OCPI feed."""
    import importlib

    # the plugin's own modules, under the name QGIS loaded the plugin folder with
    package = type(plugin()).__module__.rsplit(".gui.", 1)[0]
    config = importlib.import_module(package + ".core.config")
    plugin_settings = importlib.import_module(package + ".qgis.settings")
    OcpiFeed, Settings = config.OcpiFeed, config.Settings
    workspace = str(OUT / "workspace.gpkg")

    def configure():
        assert OCPI_URL, "no loopback OCPI feed (EVCP_OCPI_URL)"
        plugin_settings.save(Settings(store_path=workspace, ocpi_feeds=[
            OcpiFeed("London replay feed", OCPI_URL, poll_seconds=30)]))
        return {"store": workspace, "feed": OCPI_URL}
    if not record("settings: workspace store and an OCPI feed", configure):
        return finish()
    timed_london_load("first", workspace, lambda: load_london_again(workspace))


def timed_london_load(which, workspace, then):
    """Trigger "Load London charge points" and time it until the new map's layers are in
    the project (``load_<which>_s``), then check them and go on with ``then``."""
    before = plugin().loaded
    started = time.monotonic()
    record(f"trigger Load London charge points ({which})",
           lambda: plugin().load_action.trigger())

    def loaded():
        layers = plugin().loaded
        return (layers is not None and layers is not before
                and plugin().load_action.isEnabled()
                and layers.devices.customProperty("ev_chargepoints/store") == workspace)

    def done():
        seconds = time.monotonic() - started
        state[f"load_{which}_s"] = round(seconds, 2)

        def check_load():
            layers = plugin().loaded
            count = layers.devices.featureCount()
            assert count == 8940, count
            assert not layers.info.synthetic_usage
            assert "SYNTHETIC" not in layers.devices.name(), layers.devices.name()
            return {"devices": count, "seconds": round(seconds, 2),
                    "target_s": LOAD_TARGETS_S[which],
                    "met": seconds <= LOAD_TARGETS_S[which],
                    "status_layer_before_watching": layers.status is not None}
        label = "London loaded: real devices, no usage invented"
        record(label if which == "first" else f"{label} ({which} load)", check_load)
        then()
    wait_then(loaded, done, f"load London charge points ({which})", poll_ms=20)


def load_london_again(workspace):
    """The same store again (a second load in the session: the map is reused)."""
    timed_london_load("second", workspace, watch_live_status)


def watch_live_status():
    record("trigger Watch live status", lambda: plugin().watch_action.trigger())

    def status_layer():
        group = QgsProject.instance().layerTreeRoot().findGroup("EV charge points")
        found = [node.layer() for node in group.findLayers()
                 if node.layer().customProperty("ev_chargepoints/role") == "status"]
        return found[0] if found and found[0].featureCount() > 0 else None

    def shown():
        def check():
            layer = status_layer()
            classes = sorted({str(f["live_status"]) for f in layer.getFeatures()})
            return {"layer": layer.name(), "features": layer.featureCount(),
                    "classes": classes}
        record("live status layer on the map", check)
        record("screenshot live status", lambda: screenshot("05-live-status"))
        plugin().watch_action.trigger()  # stop watching
        wait_then(lambda: plugin().watch_task is None or not plugin().watch_task.isActive(),
                  load_demo, "watching stopped")
    wait_then(lambda: status_layer() is not None, shown, "live status layer appears")


def finish(started=None, cancelled=False):
    """Wait (from the event loop) until no task runs, then write the result and quit.

    QGIS asks before quitting while tasks run. Ours should be done by now: tasks still
    running after a minute are a failed step, cancelled, and waited for again.
    """
    started = started or time.monotonic()
    active = [t.description() for t in QgsApplication.taskManager().activeTasks()]
    if active and time.monotonic() - started < 60:
        QTimer.singleShot(500, lambda: finish(started, cancelled))
        return
    if active and not cancelled:
        steps.append({"step": "no tasks still running at the end", "ok": False,
                      "detail": active})
        QgsApplication.taskManager().cancelAll()
        QTimer.singleShot(500, lambda: finish(time.monotonic(), True))
        return
    write_result_and_quit()


def write_result_and_quit():
    ok = all(s["ok"] for s in steps) and not python_errors
    RESULT.write_text(json.dumps({"ok": ok, "steps": steps, "python_errors": python_errors,
                                  "load_first_s": state.get("load_first_s"),
                                  "load_second_s": state.get("load_second_s"),
                                  "load_targets_s": LOAD_TARGETS_S,
                                  "plugin_log": plugin_log[-50:]},
                                 indent=2, default=str), encoding="utf-8")
    if KEEP_OPEN:
        return
    # Project ▸ Exit QGIS, as a user quits: QGIS closes the project while its windows
    # still exist, then unloads the plugin and exits with status 0. (QgsApplication.exit()
    # with layers still loaded skips that and QGIS 3.40 itself dies clearing the project
    # in its destructor, signal 11 in QgisApp::updateNewLayerInsertionPoint, with or
    # without this plugin.)
    iface.actionExit().trigger()


iface.mainWindow().resize(1600, 1000)
QTimer.singleShot(3000, start)
