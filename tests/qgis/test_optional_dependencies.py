"""Without pandas or pyogrio the plugin still loads, says once what is missing, and
registers only what works.

Each case runs in a fresh Python process (a package cannot be un-imported) that
hides the packages (``sys.modules[name] = None``: importing them raises
ImportError, ``find_spec`` returns None), starts a QgsApplication with its own
profile, loads the plugin through ``classFactory`` with a minimal iface, calls
``initGui`` and ``unload``, and prints what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PANDAS_FREE_ACTIONS = {"EvChargepoints_show_about", "EvChargepoints_show_settings"}
PANDAS_FREE_ALGORITHMS: set = set()  # every Processing algorithm needs pandas today

SCRIPT = textwrap.dedent(r'''
    import importlib.util
    import json
    import sys
    import traceback

    root, hidden = sys.argv[1], [n for n in sys.argv[2].split(",") if n]
    locale = sys.argv[3] if len(sys.argv) > 3 else ""
    load_store = sys.argv[4] if len(sys.argv) > 4 else ""  # then "Load London charge points"
    click_install = len(sys.argv) > 5 and sys.argv[5] == "click"  # the notice's button
    for name in hidden:
        sys.modules[name] = None  # import raises ImportError; find_spec returns None

    errors = []

    def excepthook(kind, value, tb):  # exceptions escaping Qt slots land here
        errors.append("".join(traceback.format_exception(kind, value, tb)))

    sys.excepthook = excepthook

    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QCoreApplication

    QCoreApplication.setOrganizationName("QGIS")
    QCoreApplication.setApplicationName("QGIS3")
    app = QgsApplication([], True)
    app.initQgis()
    if locale:
        from qgis.core import QgsSettings
        QgsSettings().setValue("locale/userLocale", locale)

    from qgis.gui import QgsMapCanvas
    from qgis.PyQt.QtWidgets import QMainWindow


    class Bar:
        def __init__(self):
            self.messages = []
            self.items = []

        def _push(self, level, title, text=None, *args, **kwargs):
            self.messages.append([level, str(title), str(text or "")])

        def pushWarning(self, title, text):
            self._push("warning", title, text)

        def pushInfo(self, title, text):
            self._push("info", title, text)

        def pushSuccess(self, title, text):
            self._push("success", title, text)

        def pushCritical(self, title, text):
            self._push("critical", title, text)

        def pushMessage(self, title, text=None, *args, **kwargs):
            self._push("message", title, text)

        def pushItem(self, item):  # the notice with its "Install missing packages…" button
            from qgis.core import Qgis
            level = {Qgis.MessageLevel.Warning: "warning", Qgis.MessageLevel.Info: "info",
                     Qgis.MessageLevel.Success: "success"}.get(item.level(), "critical")
            self.messages.append([level, str(item.title()), str(item.text())])
            self.items.append(item)

        def popWidget(self, item):
            self.items.remove(item)


    class Iface:
        """Just what a plugin may call; anything else is recorded and does nothing."""

        def __init__(self):
            self.window = QMainWindow()
            self.canvas = QgsMapCanvas(self.window)
            self.bar = Bar()
            self.other_calls = []

        def mainWindow(self):
            return self.window

        def messageBar(self):
            return self.bar

        def mapCanvas(self):
            return self.canvas

        def addToolBar(self, name):
            return self.window.addToolBar(name)

        def addDockWidget(self, area, dock):
            self.window.addDockWidget(area, dock)

        def removeDockWidget(self, dock):
            self.window.removeDockWidget(dock)

        def __getattr__(self, name):
            def call(*args, **kwargs):
                self.other_calls.append(name)
            return call


    def load_london(plugin, store):
        """The toolbar's "Load London charge points" on ``store``, waited for."""
        import importlib
        import time

        from qgis.core import QgsProject

        base = "ev_chargepoints_plugin.ev_chargepoints."
        config = importlib.import_module(base + "core.config")
        importlib.import_module(base + "qgis.settings").save(
            config.Settings(store_path=store))
        plugin.load_action.trigger()
        started = time.monotonic()
        while plugin.loading and time.monotonic() - started < 600:
            QCoreApplication.processEvents()
            time.sleep(0.05)
        for _ in range(20):
            QCoreApplication.processEvents()
        loaded = plugin.loaded
        if loaded is None:
            return {"loaded": False, "still_loading": plugin.loading}
        return {"loaded": True, "devices": loaded.devices.featureCount(),
                "wards": loaded.wards.featureCount(),
                "boroughs": loaded.boroughs.featureCount(),
                "names": [loaded.devices.name(), loaded.wards.name(), loaded.boroughs.name()],
                "synthetic": bool(loaded.info.synthetic_usage),
                "periods": list(loaded.info.periods),
                "in_project": len(QgsProject.instance().mapLayers())}

    def open_install_dialog(button):
        """Click "Install missing packages…", note what the dialog lists, close it."""
        from qgis.PyQt.QtCore import QTimer
        from qgis.PyQt.QtWidgets import QApplication

        seen = {}

        def look():
            dialog = QApplication.activeModalWidget()
            if dialog is None:
                QTimer.singleShot(50, look)
                return
            seen.update(title=dialog.windowTitle(), packages=dialog.packages.text(),
                        where=dialog.where.text(), pid=dialog.task is not None)
            dialog.reject()

        QTimer.singleShot(50, look)
        button.click()
        return seen

    out = {"hidden": hidden}
    try:
        spec = importlib.util.spec_from_file_location(
            "ev_chargepoints_plugin", root + "/__init__.py", submodule_search_locations=[root])
        package = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = package
        spec.loader.exec_module(package)
        iface = Iface()
        plugin = package.classFactory(iface)
        plugin.initGui()
        QCoreApplication.processEvents()
        provider = QgsApplication.processingRegistry().providerById("evchargepoints")
        out["provider"] = provider is not None
        out["algorithms"] = sorted(a.name() for a in provider.algorithms()) if provider else []
        out["actions"] = {a.objectName(): [a.isEnabled(), a.toolTip()] for a in plugin.actions}
        if load_store:
            out["load"] = load_london(plugin, load_store)
        out["messages"] = list(iface.bar.messages)
        out["notice_buttons"] = [i.widget().text() for i in iface.bar.items if i.widget()]
        if click_install:
            out["install_dialog"] = open_install_dialog(iface.bar.items[0].widget())
        plugin.unload()
        QCoreApplication.processEvents()
        out["notices_after_unload"] = len(iface.bar.items)
        out["provider_after_unload"] = (
            QgsApplication.processingRegistry().providerById("evchargepoints") is not None)
    except Exception:
        errors.append(traceback.format_exc())
    out["errors"] = errors
    out["imported"] = sorted(n for n in hidden if sys.modules.get(n) is not None)
    print("RESULT " + json.dumps(out), flush=True)
    app.exitQgis()
''')


def load_plugin_without(tmp_path, *hidden, locale="", load_store="", click_install=False):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"),
               XDG_RUNTIME_DIR=str(tmp_path))
    env.pop("QGIS_OPTIONS_PATH", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), ",".join(hidden), locale,
                           str(load_store), "click" if click_install else ""],
                          env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"the QGIS process failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(lines[-1][len("RESULT "):])
    assert not result["errors"], "\n".join(result["errors"])
    assert result["provider"] and not result["provider_after_unload"]
    return result


def about(result, package):
    return [m for m in result["messages"] if package in m[2]]


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    return load_plugin_without(tmp_path_factory.mktemp("complete"))


def test_with_everything_installed_nothing_is_reported(complete):
    assert not about(complete, "Missing Python package")
    assert complete["notice_buttons"] == []
    assert {"fetchocpi", "fetchdatastore", "importfiles", "utilisation"} <= set(
        complete["algorithms"])
    assert not [name for name, (_, tooltip) in complete["actions"].items()
                if "pip install" in tooltip]


def test_without_pandas_the_plugin_loads_says_so_once_and_offers_what_works(tmp_path,
                                                                            complete):
    result = load_plugin_without(tmp_path, "pandas")
    assert result["imported"] == [], "something imported pandas anyway"

    notices = about(result, "pandas")
    assert len(notices) == 1, result["messages"]
    level, title, text = notices[0]
    assert level == "warning" and title == "EV Charge Points"
    assert text.startswith("Missing Python package(s): pandas (needed for importing, "
                           "utilisation, summaries and site analysis).")
    assert "python3 -m pip install pandas" in text and "sudo apt install python3-pandas" in text
    assert result["notice_buttons"] == ["Install missing packages…"]

    assert set(result["algorithms"]) <= PANDAS_FREE_ALGORITHMS
    assert set(complete["algorithms"]) - set(result["algorithms"]) >= {"fetchocpi"}
    assert set(result["actions"]) == set(complete["actions"])
    for name, (enabled, tooltip) in result["actions"].items():
        if name in PANDAS_FREE_ACTIONS:
            assert enabled, name
        else:
            assert not enabled and "pip install pandas" in tooltip, name


def test_without_pyogrio_everything_but_other_boundary_formats_works(tmp_path, complete):
    result = load_plugin_without(tmp_path, "pyogrio")
    assert result["imported"] == []
    notices = about(result, "pyogrio")
    assert len(notices) == 1, result["messages"]
    level, _, text = notices[0]
    assert level == "info"
    assert "other than GeoPackage" in text and "pip install pyogrio" in text
    assert "apt install" not in text  # Debian has no pyogrio package
    assert result["algorithms"] == complete["algorithms"]
    assert result["actions"] == complete["actions"]  # nothing switched off


def test_without_both_one_message_names_both(tmp_path):
    result = load_plugin_without(tmp_path, "pandas", "pyogrio")
    notices = about(result, "Missing Python package")
    assert len(notices) == 1, result["messages"]
    assert "pip install pandas pyogrio" in notices[0][2]
    assert result["algorithms"] == []


def test_the_notice_is_in_the_users_language(tmp_path):
    """With QGIS in Welsh, the notice (message bar and the switched-off actions' tooltips)
    is the Welsh of i18n/ev_chargepoints_cy.ts; the commands stay as they are."""
    from tests.qgis.test_translation_cy import _welsh, compile_welsh

    compile_welsh()
    result = load_plugin_without(tmp_path, "pandas", locale="cy_GB")

    def cy(text):
        return _welsh("OptionalPackages", text)

    listed = cy("{name} (needed for {use})").format(
        name="pandas", use=cy("importing, utilisation, summaries and site analysis"))
    expected = cy("Missing Python package(s): {listed}. Install them into the Python QGIS "
                  "uses, e.g. '{command}' (OSGeo4W shell on Windows){debian}, then restart "
                  "QGIS.").format(
        listed=listed, command="python3 -m pip install pandas",
        debian=cy(" or '{command}' on Debian/Ubuntu").format(
            command="sudo apt install python3-pandas"))
    expected += cy(" Until then the features that need them are switched off.")
    assert not expected.startswith("Missing Python package")
    notices = about(result, "pip install pandas")
    assert len(notices) == 1, result["messages"]
    level, title, text = notices[0]
    assert level == "warning" and title == _welsh("EvChargepointsPlugin", "EV Charge Points")
    assert text == expected
    switched_off = [tooltip for name, (enabled, tooltip) in result["actions"].items()
                    if not enabled]
    assert switched_off and set(switched_off) == {expected}


# --- duckdb: the usage history's engine ----------------------------------------------------

DUCKDB_USE = "usage history: sessions, status and utilisation"


def test_without_duckdb_the_plugin_loads_and_says_what_is_missing_once(tmp_path, complete):
    """Everything stays on (charge points and areas need no duckdb); one warning names
    the package, what it is for and the command that adds it."""
    result = load_plugin_without(tmp_path, "duckdb")
    assert result["imported"] == [], "something imported duckdb anyway"
    notices = about(result, "duckdb")
    assert len(notices) == 1, result["messages"]
    level, title, text = notices[0]
    assert level == "warning" and title == "EV Charge Points"
    assert text.startswith(f"Missing Python package(s): duckdb (needed for {DUCKDB_USE}).")
    assert "python3 -m pip install duckdb" in text
    assert "apt install" not in text  # Debian has no duckdb package
    assert text.endswith(" Until then charge points and areas load without usage.")
    # the notice offers to install it, and goes with the plugin
    assert result["notice_buttons"] == ["Install missing packages…"]
    assert result["notices_after_unload"] == 0
    assert result["algorithms"] == complete["algorithms"]
    assert result["actions"] == complete["actions"]  # nothing switched off


def test_the_notices_button_offers_exactly_the_missing_package(tmp_path):
    """"Install missing packages…" opens the confirmation: duckdb at the pin of
    requirements/runtime.txt, into the profile's own package folder; nothing runs."""
    result = load_plugin_without(tmp_path, "duckdb", click_install=True)
    seen = result["install_dialog"]
    assert seen["title"] == "Install missing packages"
    assert seen["packages"] == f"• duckdb==2.0.1: {DUCKDB_USE}"
    folder = tmp_path / "profile" / "profiles" / "default" / "python" / \
        "ev_chargepoints-packages"
    assert f"Folder: {folder}" in seen["where"]
    assert f"--target {folder}" in seen["where"] and seen["where"].endswith(" duckdb==2.0.1")
    assert seen["pid"] is False  # nothing started before the user confirms
    assert not folder.exists()


@pytest.fixture(scope="module")
def store_with_usage(tmp_path_factory):
    """A workspace store of real data, made with duckdb present: the bundled registry
    devices and the real Dundee sessions of March to May 2018."""
    from ev_chargepoints.core.paths import LONDON_SNAPSHOT, RESOURCES
    from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
    from ev_chargepoints.core.workspace import Workspace

    path = tmp_path_factory.mktemp("usage") / "workspace.gpkg"
    with Workspace(path) as ws:
        reports = ws.import_files([LONDON_SNAPSHOT / NCR_SNAPSHOT, RESOURCES / "data" /
                                   "dundee" / "cp-data-mar-may-2018.csv.gz"])
        assert [r.outcome for r in reports] == ["imported", "imported"]
        assert ws.store.counts()["sessions"] > 0
    return path


@pytest.mark.parametrize("store", ["fresh", "with usage"])
def test_without_duckdb_load_london_still_loads_devices_and_areas(tmp_path, store,
                                                                   store_with_usage):
    """"Load London charge points" without duckdb: into a fresh workspace store (the
    bundled devices are imported) and on a store whose usage history duckdb would read:
    the devices, wards and boroughs are on the map, the one line says what is missing."""
    path = tmp_path / "fresh" / "workspace.gpkg" if store == "fresh" else store_with_usage
    result = load_plugin_without(tmp_path, "duckdb", load_store=path)
    assert result["imported"] == []
    load = result["load"]
    assert load["loaded"], (load, result["messages"])
    assert load["devices"] > 8000 and load["boroughs"] == 33 and load["wards"] > 600, load
    assert not load["synthetic"] and not any("SYNTHETIC" in n for n in load["names"])
    assert [m[0] for m in about(result, "pip install duckdb")] == ["warning"], \
        result["messages"]
    assert not [m for m in result["messages"] if m[0] in ("warning", "critical")
                and "duckdb" not in m[2]], result["messages"]


def test_the_duckdb_notice_is_in_the_users_language(tmp_path):
    from tests.qgis.test_translation_cy import _welsh, compile_welsh

    compile_welsh()
    result = load_plugin_without(tmp_path, "duckdb", locale="cy_GB")

    def cy(text):
        return _welsh("OptionalPackages", text)

    expected = cy("Missing Python package(s): {listed}. Install them into the Python QGIS "
                  "uses, e.g. '{command}' (OSGeo4W shell on Windows){debian}, then restart "
                  "QGIS.").format(
        listed=cy("{name} (needed for {use})").format(name="duckdb", use=cy(DUCKDB_USE)),
        command="python3 -m pip install duckdb", debian="")
    expected += cy(" Until then charge points and areas load without usage.")
    assert cy(DUCKDB_USE) and cy(DUCKDB_USE) != DUCKDB_USE
    notices = about(result, "pip install duckdb")
    assert len(notices) == 1 and notices[0][2] == expected, result["messages"]
